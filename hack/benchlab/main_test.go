package main

import (
	"os"
	"testing"
	"time"
)

func TestBusySeconds(t *testing.T) {
	if _, err := os.Stat("/proc/stat"); err != nil {
		t.Skip("no /proc/stat here:", err)
	}
	before := busySeconds()
	if before <= 0 {
		t.Fatalf("busySeconds() = %v, want the CPU time since boot (> 0)", before)
	}
	// Keep a core busy for 300 ms: whatever runs on it meanwhile, this
	// process or another, the machine's busy time grows by about that
	// (/proc/stat counts in 10 ms ticks).
	x := 0
	for start := time.Now(); time.Since(start) < 300*time.Millisecond; x++ {
	}
	if d := cpuSince(before); d < 0.2 || d > 60 {
		t.Errorf("cpuSince after 300 ms of busy work = %v s (x=%d), want at least 0.2 s", d, x)
	}
	if got := cpuSince(-1); got != -1 {
		t.Errorf("cpuSince(-1) = %v, want -1 (no reading to start from)", got)
	}
}

func TestSeriesAndMedian(t *testing.T) {
	s := series{what: "w", unit: "s", xs: []float64{3, 1, 2, 10}}
	if got, want := s.String(), "| w | 2.50 s | 1.00–10.00 | 4 |"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got := median([]float64{5, 1, 3}); got != 3 {
		t.Errorf("median(5, 1, 3) = %v, want 3", got)
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median(4, 1, 3, 2) = %v, want 2.5", got)
	}
}
