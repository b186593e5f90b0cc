// Package wait polls a condition with an interval and a timeout, and on
// timeout says what it waited for and what it last saw.
package wait

import (
	"context"
	"fmt"
	"time"
)

// Poll calls cond every interval until it reports done, returns an error,
// ctx ends, or timeout passes. When ctx itself ends (rather than the
// timeout) the error wraps ctx's error.
func Poll(parent context.Context, interval, timeout time.Duration, what string, cond func(context.Context) (done bool, seen string, err error)) error {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var last string
	for {
		done, seen, err := cond(ctx)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		last = seen
		select {
		case <-ctx.Done():
			if err := parent.Err(); err != nil {
				return fmt.Errorf("stopped waiting for %s (%w); last seen: %s", what, err, last)
			}
			return fmt.Errorf("timed out after %s waiting for %s; last seen: %s", timeout, what, last)
		case <-tick.C:
		}
	}
}
