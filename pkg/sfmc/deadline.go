package sfmc

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// attemptCtx is the context of one attempt. Its deadline (the request
// timeout) stands still while the caller's callback runs: pages are streamed
// item by item, and a callback that waits (the engine's worker pool when the
// destination is slow) must not use up the time the server has to answer.
// Err is context.DeadlineExceeded when the timeout ran out, the parent's
// error when the parent ended.
type attemptCtx struct {
	context.Context // the parent: Value and Deadline

	done       chan struct{}
	mu         sync.Mutex
	err        error
	timer      *time.Timer
	left       time.Duration // time left while paused
	since      time.Time     // when the timer was last (re)started
	stopParent func() bool
}

type attemptKey struct{}

// newAttemptCtx returns a context that ends after d of unpaused time, or
// with parent; release it with the returned func.
func newAttemptCtx(parent context.Context, d time.Duration) (*attemptCtx, func()) {
	c := &attemptCtx{Context: parent, done: make(chan struct{}), left: d, since: time.Now()}
	c.mu.Lock()
	c.timer = time.AfterFunc(d, func() { c.end(context.DeadlineExceeded) })
	c.mu.Unlock()
	c.stopParent = context.AfterFunc(parent, func() { c.end(parent.Err()) })
	return c, func() {
		c.mu.Lock()
		c.timer.Stop()
		c.mu.Unlock()
		c.stopParent()
		c.end(context.Canceled)
	}
}

func (c *attemptCtx) Done() <-chan struct{} { return c.done }

func (c *attemptCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *attemptCtx) Value(k any) any {
	if k == (attemptKey{}) {
		return c
	}
	return c.Context.Value(k)
}

func (c *attemptCtx) end(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
		close(c.done)
	}
}

// pause stops the timeout clock; resume restarts it with the time left.
func (c *attemptCtx) pause() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil && c.timer.Stop() {
		c.left -= time.Since(c.since)
	}
}

func (c *attemptCtx) resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	c.since = time.Now()
	c.timer.Reset(max(c.left, 0))
}

// outsideTimeout runs f with the request timeout of resp's attempt paused.
func outsideTimeout(resp *http.Response, f func() error) error {
	if resp.Request != nil {
		if c, ok := resp.Request.Context().Value(attemptKey{}).(*attemptCtx); ok {
			c.pause()
			defer c.resume()
		}
	}
	return f()
}
