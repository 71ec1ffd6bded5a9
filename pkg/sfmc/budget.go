package sfmc

import (
	"context"
	"fmt"
	"sync/atomic"
)

// Budget bounds the HTTP requests in flight of every Client that shares it
// (Config.Budget): several business units backed up in parallel by one
// process stay within one concurrency budget towards SFMC, which limits
// concurrent API calls per tenant and answers 429 above the limit. A slot is
// held from sending an attempt until its response body has been read and
// closed, except for an asset query, whose slot is released once SFMC has
// answered: its items go to a callback while the body is read, and that
// callback may need a slot itself (the engine fetches file assets during the
// listing), which would otherwise wait forever for slots the listing holds.
// Waits between retries hold none. A Budget is safe for concurrent use.
type Budget struct {
	slots   chan struct{}
	waiting atomic.Int64 // requests waiting for a slot (tests observe it)
}

// NewBudget returns a budget of n requests in flight (at least 1).
func NewBudget(n int) *Budget {
	return &Budget{slots: make(chan struct{}, max(n, 1))}
}

// Size returns how many requests may be in flight at once.
func (b *Budget) Size() int { return cap(b.slots) }

// acquire waits for a free slot or until ctx ends.
func (b *Budget) acquire(ctx context.Context, name string) error {
	b.waiting.Add(1)
	defer b.waiting.Add(-1)
	select {
	case b.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sfmc: %s: waiting for a free request slot: %w", name, ctx.Err())
	}
}

func (b *Budget) release() { <-b.slots }
