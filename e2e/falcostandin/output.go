//go:build linux

package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// outputs writes alerts where falco.yaml says (stdout, syslog, a file) and Falco's own log lines to
// stderr and syslog, and counts the alerts for the summary Falco prints when it stops.
type outputs struct {
	mu         sync.Mutex
	stdout     *bufio.Writer
	unbuffered bool
	stderr     io.Writer
	syslog     *syslogWriter
	cfg        *config
	now        func() time.Time

	file     *os.File
	fileName string

	total      int
	bySeverity map[priority]int
	byRule     map[string]int
}

func newOutputs(stdout, stderr io.Writer, unbuffered bool, sl *syslogWriter) *outputs {
	// Falco 0.32 to 0.43 buffer stdout unless -U is given, whatever buffered_outputs says (falco-facts.md §4c).
	return &outputs{stdout: bufio.NewWriterSize(stdout, 8192), unbuffered: unbuffered, stderr: stderr, syslog: sl,
		now: time.Now, bySeverity: map[priority]int{}, byRule: map[string]int{}}
}

// setConfig switches to a (re)loaded configuration.
func (o *outputs) setConfig(c *config) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.cfg = c
	if o.file != nil && (!c.fileOutput.enabled || c.fileOutput.filename != o.fileName) {
		o.file.Close()
		o.file = nil
	}
}

// logf is Falco's logger: "<ctime>: message" on stderr, "falco: message" in syslog.
func (o *outputs) logf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.logLocked(msg)
}

func (o *outputs) logLocked(msg string) {
	if o.cfg == nil || o.cfg.logStderr {
		fmt.Fprintf(o.stderr, "%s: %s\n", o.now().Format("Mon Jan _2 15:04:05 2006"), msg)
	}
	if o.syslog != nil && (o.cfg == nil || o.cfg.logSyslog) {
		o.syslog.write(severityInfo, msg)
	}
}

// alert writes one alert line.
func (o *outputs) alert(r *rule, line string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.total++
	o.bySeverity[r.priority]++
	o.byRule[r.name]++
	c := o.cfg
	if c.stdoutOutput {
		o.stdout.WriteString(line + "\n")
		if o.unbuffered {
			o.stdout.Flush()
		}
	}
	if c.syslogOutput && o.syslog != nil {
		o.syslog.write(int(r.priority), line)
	}
	if c.fileOutput.enabled {
		if o.file == nil {
			f, err := os.OpenFile(c.fileOutput.filename, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
			if err != nil {
				o.logLocked(fmt.Sprintf("stand-in: file_output %s: %v", c.fileOutput.filename, err))
				return
			}
			o.file, o.fileName = f, c.fileOutput.filename
		}
		fmt.Fprintln(o.file, line)
	}
}

// summary is what Falco prints when it stops: the drop statistics on stderr, the counts on stdout.
func (o *outputs) summary() {
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprint(o.stderr, "Syscall event drop monitoring:\n   - event drop detected: 0 occurrences\n   - num times actions taken: 0\n")
	fmt.Fprintf(o.stdout, "Events detected: %d\nRule counts by severity:\n", o.total)
	var sev []priority
	for p := range o.bySeverity {
		sev = append(sev, p)
	}
	sort.Slice(sev, func(i, j int) bool { return sev[i] < sev[j] })
	for _, p := range sev {
		fmt.Fprintf(o.stdout, "   %s: %d\n", strings.ToUpper(p.String()), o.bySeverity[p])
	}
	fmt.Fprint(o.stdout, "Triggered rules by rule name:\n")
	var names []string
	for n := range o.byRule {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(o.stdout, "   %s: %d\n", n, o.byRule[n])
	}
	o.stdout.Flush()
	if o.file != nil {
		o.file.Close()
		o.file = nil
	}
}

func (o *outputs) flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.stdout.Flush()
}
