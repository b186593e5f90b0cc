//go:build linux

package main

import (
	"fmt"
	"net"
	"sync"
	"time"
)

// syslogWriter sends messages to the local syslog socket as glibc's syslog(3) does when a program has
// not called openlog, which is how Falco logs: "<PRI>Mmm dd hh:mm:ss falco: message", facility user,
// no pid. rsyslog then writes `<stamp> <host> falco: message` to /var/log/syslog.
type syslogWriter struct {
	path string
	now  func() time.Time

	mu   sync.Mutex
	conn net.Conn
}

func newSyslogWriter(path string) *syslogWriter {
	return &syslogWriter{path: path, now: time.Now}
}

const logUser = 1 << 3

// severity of Falco's own log lines (log_level info).
const severityInfo = 6

// message formats one syslog datagram.
func (s *syslogWriter) message(severity int, msg string) string {
	return fmt.Sprintf("<%d>%s falco: %s", logUser|severity, s.now().Format(time.Stamp), msg)
}

// write sends msg with the syslog severity (a Falco priority's number is its syslog severity). A lost
// socket is dialled again once; messages that still cannot be sent are dropped, as syslog(3) does.
func (s *syslogWriter) write(severity int, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := []byte(s.message(severity, msg))
	for try := 0; try < 2; try++ {
		if s.conn == nil {
			c, err := net.Dial("unixgram", s.path)
			if err != nil {
				return
			}
			s.conn = c
		}
		if _, err := s.conn.Write(b); err == nil {
			return
		}
		s.conn.Close()
		s.conn = nil
	}
}

func (s *syslogWriter) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}
