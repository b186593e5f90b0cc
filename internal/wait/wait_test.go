package wait

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPoll(t *testing.T) {
	n := 0
	err := Poll(context.Background(), time.Millisecond, time.Minute, "three calls", func(context.Context) (bool, string, error) {
		n++
		return n == 3, "", nil
	})
	if err != nil || n != 3 {
		t.Errorf("err %v after %d calls", err, n)
	}
	err = Poll(context.Background(), time.Millisecond, 20*time.Millisecond, "the impossible", func(context.Context) (bool, string, error) {
		return false, "still nothing", nil
	})
	if err == nil || !strings.Contains(err.Error(), "waiting for the impossible; last seen: still nothing") {
		t.Errorf("timeout error %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	err = Poll(ctx, time.Millisecond, time.Minute, "a cancelled wait", func(context.Context) (bool, string, error) {
		cancel()
		return false, "before the cancel", nil
	})
	if !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "timed out") {
		t.Errorf("a cancelled parent reads as %v, want context.Canceled and no timeout", err)
	}
	boom := errors.New("boom")
	if err := Poll(context.Background(), time.Millisecond, time.Minute, "x", func(context.Context) (bool, string, error) { return false, "", boom }); !errors.Is(err, boom) {
		t.Errorf("cond's error lost: %v", err)
	}
}
