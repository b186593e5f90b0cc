package status

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestPlainLines(t *testing.T) {
	var b syncBuffer
	s := New(&b, false)
	_ = s.Step("Creating the cluster", func() error { return nil })
	err := s.Step("Installing Falco", func() error { return errors.New("boom") })
	if err == nil {
		t.Fatal("Step lost the error")
	}
	s.Start("Deploying workloads")
	s.End(true)
	s.End(true) // nothing to end: prints nothing
	re := regexp.MustCompile(`^ • Creating the cluster \.\.\.\n ✓ Creating the cluster \(\d.*s\)\n • Installing Falco \.\.\.\n ✗ Installing Falco \(.*s\)\n • Deploying workloads \.\.\.\n ✓ Deploying workloads \(.*s\)\n$`)
	if !re.MatchString(b.String()) {
		t.Errorf("output:\n%s", b.String())
	}
	if strings.Contains(b.String(), "\r") || strings.Contains(b.String(), "\x1b") {
		t.Error("plain output has terminal control characters")
	}
}

func TestSpinner(t *testing.T) {
	var b syncBuffer
	s := New(&b, true)
	s.Start("Creating the cluster")
	s.Start("Installing Falco") // ends the first step
	s.End(false)
	out := b.String()
	for _, want := range []string{"\r\x1b[K ⠋ Creating the cluster", " ✓ Creating the cluster (", " ✗ Installing Falco ("} {
		if !strings.Contains(out, want) {
			t.Errorf("%q not in %q", want, out)
		}
	}
	if !strings.HasSuffix(out, ")\n") {
		t.Errorf("the last step's line is not finished: %q", out)
	}
}
