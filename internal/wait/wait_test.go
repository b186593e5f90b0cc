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
	boom := errors.New("boom")
	if err := Poll(context.Background(), time.Millisecond, time.Minute, "x", func(context.Context) (bool, string, error) { return false, "", boom }); !errors.Is(err, boom) {
		t.Errorf("cond's error lost: %v", err)
	}
}
