// Package wait polls a condition with an interval and a timeout, and on
// timeout says what it waited for and what it last saw.
package wait

import (
	"context"
	"fmt"
	"time"
)

// Poll calls cond every interval until it reports done, returns an error,
// ctx ends, or timeout passes.
func Poll(ctx context.Context, interval, timeout time.Duration, what string, cond func(context.Context) (done bool, seen string, err error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
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
			return fmt.Errorf("timed out after %s waiting for %s; last seen: %s", timeout, what, last)
		case <-tick.C:
		}
	}
}
