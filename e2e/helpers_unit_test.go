//go:build e2e

package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// waitFor must say, on timeout, what it wanted and what it saw last (an observation or an error).
func TestWaitForSaysWhatItSaw(t *testing.T) {
	n := 0
	err := waitFor(context.Background(), "the answer", 300*time.Millisecond, 20*time.Millisecond, func(context.Context) (bool, string, error) {
		n++
		if n%2 == 0 {
			return false, "", errors.New("api server not ready")
		}
		return false, "saw 41", nil
	})
	if err == nil || !strings.Contains(err.Error(), "the answer") ||
		!(strings.Contains(err.Error(), "saw 41") || strings.Contains(err.Error(), "api server not ready")) {
		t.Errorf("waitFor error = %v", err)
	}
	if n < 3 {
		t.Errorf("polled %d times in 300ms at 20ms", n)
	}
	if err := waitFor(context.Background(), "done", time.Second, 10*time.Millisecond, func(context.Context) (bool, string, error) {
		return true, "ok", nil
	}); err != nil {
		t.Errorf("an immediately true condition failed: %v", err)
	}
}
