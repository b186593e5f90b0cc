package answerfile

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/ckslab/ckslab/falco"
)

// writeAnswerFile writes n well-formed answer lines, 100 ms apart.
func writeAnswerFile(b *testing.B, dir string, n int) (string, int64) {
	b.Helper()
	p := filepath.Join(dir, fmt.Sprintf("falco-%d.log", n))
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	t, _ := falco.ParseTimeOfDay("06:38:28.077150666")
	for i := 0; i < n; i++ {
		fmt.Fprintf(w, "%s,%s,nginx,root\n", t, nginxID)
		t = (t + falco.TimeOfDay(100*time.Millisecond)) % falco.Day
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	fi, _ := os.Stat(p)
	return p, fi.Size()
}

// peakHeap samples the live heap while fn runs and returns the largest value.
func peakHeap(fn func()) uint64 {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var (
		peak uint64
		mu   sync.Mutex
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		s := make([]metrics.Sample, 1)
		copy(s, sample)
		for {
			metrics.Read(s)
			mu.Lock()
			peak = max(peak, s[0].Value.Uint64())
			mu.Unlock()
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	fn()
	close(done)
	wg.Wait()
	return peak
}

// BenchmarkCheckAnswerFile grades answer files of 100,000 and 1,000,000
// lines from disk. Reported: ns/line, and the peak live heap during one
// grading (the sampled maximum of the Go heap's objects), which must not grow
// with the file.
func BenchmarkCheckAnswerFile(b *testing.B) {
	dir := b.TempDir()
	for _, n := range []int{100_000, 1_000_000} {
		path, size := writeAnswerFile(b, dir, n)
		b.Run(fmt.Sprintf("lines=%d", n), func(b *testing.B) {
			o := opts()
			o.MaxBytes = 64 << 20
			b.SetBytes(size)
			var peak uint64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var res Result
				p := peakHeap(func() {
					var err error
					res, err = Check(path, o)
					if err != nil {
						b.Fatal(err)
					}
				})
				peak = max(peak, p)
				if got := statuses(res); got != "pass pass pass pass" {
					b.Fatalf("statuses %s: %+v", got, res.Checks)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/line")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		})
	}
}
