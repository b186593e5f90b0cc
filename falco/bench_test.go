package falco

import (
	"bufio"
	"bytes"
	"fmt"
	"sync"
	"testing"
)

var (
	syslogOnce sync.Once
	syslogData []byte
)

// BenchmarkParseSyslog parses 1,000,000 /var/log/syslog lines (a mix of the
// real samples, classic and RFC 3339 stamps, alerts and other programs'
// lines) read through a bufio.Scanner, as a grader reading a node's syslog
// does. Reported: ns/line; B/op covers the whole million lines.
func BenchmarkParseSyslog(b *testing.B) {
	fx := fixtures(b)
	var sample []string
	for _, tag := range []string{"2", "4a", "4b", "5", "7", "9s"} {
		sample = append(sample, fx[tag])
	}
	sample = append(sample,
		"Sep 16 06:23:48 cluster1-node1 falco: 06:23:48.830962378: Error Package management process launched in container | evt_type=execve user=root user_uid=0 user_loginuid=-1 process=apk proc_exepath=/sbin/apk parent=sh command=apk terminal=0 container_id=090aad374a0a container_name=nginx container_image_repository=library/nginx container_image_tag=1.19.2-alpine k8s_pod_name=webapi-6d8c9b7f5d-x2x9q k8s_ns_name=team-blue",
		"Sep 16 06:23:49 cluster1-node1 kubelet[812]: I0916 06:23:49.000000 812 kubelet.go:2400] \"SyncLoop (PLEG): event for pod\" pod=\"team-blue/webapi\"",
		"Sep 16 06:23:50 cluster1-node1 containerd[90]: time=\"2026-09-16T06:23:50Z\" level=info msg=\"StartContainer\"",
	)
	const lines = 1_000_000
	syslogOnce.Do(func() {
		var buf bytes.Buffer
		for i := 0; i < lines; i++ {
			buf.WriteString(sample[i%len(sample)])
			buf.WriteByte('\n')
		}
		syslogData = buf.Bytes()
	})
	data := syslogData
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 64<<10), 64<<10)
		alerts := 0
		for sc.Scan() {
			if _, err := ParseLine(sc.Text()); err == nil {
				alerts++
			}
		}
		if want := lines * 7 / len(sample); alerts < want-1 || alerts > want+1 {
			b.Fatalf("parsed %d alerts, want about %d", alerts, want)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/lines, "ns/line")
}

func BenchmarkParseLine(b *testing.B) {
	for _, tag := range []string{"1", "2", "9s", "12", "16"} {
		line := fixtures(b)[tag]
		b.Run(fmt.Sprintf("fixture-%s", tag), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := ParseLine(line); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
