// Package status shows the steps of a long operation, one line each: with a
// spinner on a terminal, as plain lines otherwise (CI logs, pipes).
package status

import (
	"fmt"
	"io"
	"sync"
	"time"
)

var frames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// Status prints step lines. It is safe for one step at a time.
type Status struct {
	w        io.Writer
	spinner  bool
	interval time.Duration

	mu      sync.Mutex
	msg     string
	started time.Time
	stop    chan struct{}
	done    chan struct{}
}

// New returns a Status writing to w; spinner animates the current step
// (only for a terminal).
func New(w io.Writer, spinner bool) *Status {
	return &Status{w: w, spinner: spinner, interval: 100 * time.Millisecond}
}

// Start begins a step, ending the previous one as successful.
func (s *Status) Start(msg string) {
	s.End(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msg, s.started = msg, time.Now()
	if !s.spinner {
		fmt.Fprintf(s.w, " • %s ...\n", msg)
		return
	}
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go s.spin(msg, s.stop, s.done)
}

func (s *Status) spin(msg string, stop, done chan struct{}) {
	defer close(done)
	tick := time.NewTicker(s.interval)
	defer tick.Stop()
	for i := 0; ; i++ {
		s.mu.Lock()
		fmt.Fprintf(s.w, "\r\x1b[K %s %s", frames[i%len(frames)], msg)
		s.mu.Unlock()
		select {
		case <-stop:
			return
		case <-tick.C:
		}
	}
}

// End ends the current step, if any, with a tick or a cross and its duration.
func (s *Status) End(ok bool) {
	s.mu.Lock()
	msg, stop, done := s.msg, s.stop, s.done
	s.msg, s.stop, s.done = "", nil, nil
	s.mu.Unlock()
	if msg == "" {
		return
	}
	if stop != nil {
		close(stop)
		<-done
	}
	mark := "✓"
	if !ok {
		mark = "✗"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.spinner {
		fmt.Fprint(s.w, "\r\x1b[K")
	}
	fmt.Fprintf(s.w, " %s %s (%s)\n", mark, msg, time.Since(s.started).Round(100*time.Millisecond))
}

// Step runs fn as one step.
func (s *Status) Step(msg string, fn func() error) error {
	s.Start(msg)
	err := fn()
	s.End(err == nil)
	return err
}
