package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"sigs.k8s.io/kind/pkg/log"
)

// Logger is a kind-compatible logger that writes plain lines: warnings and
// errors always, info at or below its verbosity (-v).
type Logger struct {
	mu        sync.Mutex
	w         io.Writer
	verbosity log.Level
}

// NewLogger returns a logger writing to w.
func NewLogger(w io.Writer, verbosity int) *Logger {
	return &Logger{w: w, verbosity: log.Level(verbosity)}
}

func (l *Logger) write(prefix, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(l.w, prefix+strings.TrimRight(msg, "\n"))
}

// Warn implements log.Logger.
func (l *Logger) Warn(message string) { l.write("WARNING: ", message) }

// Warnf implements log.Logger.
func (l *Logger) Warnf(format string, args ...any) { l.Warn(fmt.Sprintf(format, args...)) }

// Error implements log.Logger.
func (l *Logger) Error(message string) { l.write("ERROR: ", message) }

// Errorf implements log.Logger.
func (l *Logger) Errorf(format string, args ...any) { l.Error(fmt.Sprintf(format, args...)) }

// V implements log.Logger.
func (l *Logger) V(level log.Level) log.InfoLogger {
	return infoLogger{l: l, enabled: level <= l.verbosity}
}

type infoLogger struct {
	l       *Logger
	enabled bool
}

func (i infoLogger) Info(message string) {
	if i.enabled {
		i.l.write("", message)
	}
}

func (i infoLogger) Infof(format string, args ...any) {
	if i.enabled {
		i.l.write("", fmt.Sprintf(format, args...))
	}
}

func (i infoLogger) Enabled() bool { return i.enabled }
