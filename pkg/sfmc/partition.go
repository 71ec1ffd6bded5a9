package sfmc

// Partitioned listing: a long listing is split into disjoint id ranges that
// are paged concurrently, because one keyset walk cannot go faster than one
// page per round trip.
//
// How a type chunk is listed (listChunk):
//
//  1. The first page is fetched as in a serial listing. If the server counts
//     few assets beyond it, the walk simply goes on: small incremental runs
//     cost nothing extra.
//  2. Otherwise three one-item probes, sent together, find the smallest and
//     the largest id still to come and how many assets changed in the last
//     sweepMargin. The id range is cut into ListConcurrency partitions of
//     equal width; the first and the last are open-ended, so together they
//     cover every id exactly once (an asset created during the run has a
//     larger id and falls into the last one).
//  3. Each partition continues the keyset walk from where the first page
//     left it, restricted to its ids. A partition never loses an asset
//     edited while it runs: the edit moves the asset to the end of its own
//     walk. But it can finish before another partition does, and an asset
//     of its range edited after that would be missed; so
//  4. once every partition is done, one serial sweep lists everything
//     modified since SFMC's clock at the split, minus sweepMargin. Any edit
//     made after the split is dated after that, so the sweep finds it;
//     versions the partitions already emitted are skipped.
//
// fn is never called concurrently: the partitions take turns (a mutex), and
// a slow fn holds them all back, which is what bounds memory.
//
// SFMC answers too many concurrent requests with 429 and errorcode 50200;
// every such answer halves the partitions allowed to have a request in
// flight (down to one), and a run of successful pages lets one more back.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// DefaultListConcurrency is the number of partitions a long listing is split
// into (Config.ListConcurrency). SFMC's safe ceiling is about five concurrent
// requests per tenant.
const DefaultListConcurrency = 4

// MaxListConcurrency bounds Config.ListConcurrency.
const MaxListConcurrency = 16

// codeBlocked is SFMC's errorcode for "requests temporarily blocked" (too
// many concurrent requests), sent with 429 and no Retry-After.
const codeBlocked = 50200

// sweepMargin is how far before SFMC's clock at the split the final sweep of
// a partitioned listing starts. It covers the difference between the clock
// of the Date header (one-second resolution) and the clock that stamps
// modifiedDate: a few minutes between servers, and an hour where a stack
// stamps Mountain time with the -06:00 offset (sfmc-api §5.1, unconfirmed),
// which puts every stamp an hour behind the Date header.
const sweepMargin = 65 * time.Minute

// minPagesPerPartition: a listing is split only when what remains after its
// first page fills at least this many pages per partition; below that the
// probes and the sweep cost more round trips than the partitions save.
const minPagesPerPartition = 2

// listChunk lists the assets of one type chunk, partitioned when it is long.
func (c *Client) listChunk(ctx context.Context, typeIDs []int, since time.Time, expect, size int, fields []string, fn func(Asset) error) error {
	k := c.newKeyset(typeIDs, since, size, fields)
	parts := c.cfg.ListConcurrency
	now, known := c.ServerNow()
	sweepFrom := now.Add(-sweepMargin).Truncate(time.Millisecond)
	var early chan probeOutcome
	if parts > 1 && known && since.IsZero() && (expect <= 0 || expect >= minPagesPerPartition*parts*size) {
		// A full listing is long unless the account is small: probe while
		// the first page is on its way. The probes' id bounds then cover
		// the first page's ids too, which does no harm.
		pctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		// Nothing of the listing outlives it: a listing that ends early
		// (short, or failed) stops the probes and waits for them.
		defer func() { cancel(); wg.Wait() }()
		early = make(chan probeOutcome, 1)
		kc := *k
		wg.Go(func() { early <- c.probeRest(pctx, &kc, sweepFrom) })
	}
	for {
		// Decide after a page sent in normal mode: its count is what is
		// left. A listing that starts in a cluster of equal dates walks it
		// first.
		tie := k.afterID > 0
		done, err := k.step(ctx, fn)
		if err != nil || done {
			return err
		}
		if !tie && k.afterID == 0 {
			break
		}
	}
	if early == nil {
		// The sweep starts from SFMC's clock at the split.
		now, known = c.ServerNow()
		sweepFrom = now.Add(-sweepMargin).Truncate(time.Millisecond)
	}
	if parts <= 1 || !known || k.count < 0 || k.count-k.n < minPagesPerPartition*parts*k.eff {
		return c.walk(ctx, k, fn)
	}
	var pr probeOutcome
	if early != nil {
		pr = <-early
	} else {
		pr = c.probeRest(ctx, k, sweepFrom)
	}
	if pr.err != nil {
		return pr.err
	}
	ps := c.planPartitions(k, parts, pr)
	if ps == nil {
		return c.walk(ctx, k, fn)
	}
	return c.runPartitions(ctx, k, ps, sweepFrom, fn)
}

// probe asks for the first asset of q's filter in the given order and
// returns it with the server's count (nil when the server sends none or no
// asset matches).
func (c *Client) probe(ctx context.Context, q queryBody, sort ...querySort) (*Asset, *int, error) {
	q.Page.PageSize = 1
	q.Sort = sort
	q.Fields = alwaysFields
	var first *Asset
	p, err := c.queryPage(ctx, q, pageHooks{}, func(a Asset) error {
		if first == nil {
			a.Raw, a.Content = nil, ""
			first = &a
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return first, p.count, nil
}

// probeOutcome is what the probes of a listing found: the smallest and the
// largest id of what is left, how many assets are left (total) and how many
// of them changed since the sweep's start. refused says SFMC refused a
// probe's query (400): the listing then goes on serially.
type probeOutcome struct {
	lowest, highest *Asset
	total, changed  *int
	refused         bool
	err             error
}

// probeRest sends the three probes of k's walk (from its position now)
// together.
func (c *Client) probeRest(ctx context.Context, k *keyset, sweepFrom time.Time) (out probeOutcome) {
	// The id probes carry conditions that every id meets, in the operators
	// the partitions use, so that a server refusing them is found before
	// any partition has started.
	lowProbe, highProbe := *k, *k
	lowProbe.idFrom, highProbe.idTo = 1, math.MaxInt64
	recent := *k
	if sweepFrom.After(recent.lower) {
		recent.lower = sweepFrom
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		out.lowest, out.total, err = c.probe(gctx, lowProbe.page(), querySort{"id", "ASC"})
		return err
	})
	g.Go(func() (err error) {
		out.highest, _, err = c.probe(gctx, highProbe.page(), querySort{"id", "DESC"})
		return err
	})
	g.Go(func() (err error) {
		_, out.changed, err = c.probe(gctx, recent.page(), querySort{"modifiedDate", "ASC"}, querySort{"id", "ASC"})
		return err
	})
	if err := g.Wait(); err != nil {
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusBadRequest {
			c.log.Warn().Err(err).Msg("sfmc: SFMC refused a query that partitioned listing needs: listing serially (set sfmc.list_concurrency: 1 to skip the attempt)")
			return probeOutcome{refused: true}
		}
		return probeOutcome{err: err}
	}
	return out
}

// planPartitions cuts the rest of k's walk into at most parts walks over
// disjoint id ranges, from what the probes found. It returns nil when
// splitting does not pay: a probe refused, too few ids, or most of what is
// left would be listed again by the sweep.
func (c *Client) planPartitions(k *keyset, parts int, pr probeOutcome) []*keyset {
	if pr.refused || pr.lowest == nil || pr.highest == nil || pr.total == nil || pr.changed == nil || 2**pr.changed > *pr.total {
		return nil
	}
	// Ids are positive; a probe that says otherwise must not produce a
	// bound ≤ 0, which means "unbounded" and would overlap the ranges.
	lo, hi := max(pr.lowest.ID, 1), pr.highest.ID
	if hi < lo {
		return nil
	}
	if span := hi - lo + 1; span < int64(parts) {
		parts = int(max(span, 1))
	}
	if parts <= 1 {
		return nil
	}
	bounds := partitionBounds(lo, hi, parts)
	ps := make([]*keyset, parts)
	for i := range ps {
		p := *k
		p.idFrom, p.idTo = bounds[i], bounds[i+1]
		p.pages, p.maxCount, p.prevLast, p.askTwice = 0, 0, nil, true
		p.seen = maps.Clone(k.seen)
		maps.DeleteFunc(p.seen, func(key assetKey, _ struct{}) bool { return !p.owns(key.id) })
		ps[i] = &p
	}
	c.log.Debug().Int("assets", *pr.total).Int("partitions", parts).Int64("id_from", lo).Int64("id_to", hi).
		Int("recent", *pr.changed).Msg("sfmc: listing in partitions")
	return ps
}

// partitionBounds cuts [lo, hi] into parts ranges of equal width. Range i is
// [b[i], b[i+1]); b[0] and b[parts] are 0, meaning unbounded, so the ranges
// cover every id exactly once.
func partitionBounds(lo, hi int64, parts int) []int64 {
	b := make([]int64, parts+1)
	width := (hi - lo + 1) / int64(parts)
	for i := 1; i < parts; i++ {
		b[i] = lo + int64(i)*width
	}
	return b
}

// owns reports whether id lies in the walk's id range (always, outside a
// partition).
func (k *keyset) owns(id int64) bool {
	return (k.idFrom <= 0 || id >= k.idFrom) && (k.idTo <= 0 || id < k.idTo)
}

// runPartitions runs the partition walks concurrently and then the sweep.
func (c *Client) runPartitions(ctx context.Context, k *keyset, ps []*keyset, sweepFrom time.Time, fn func(Asset) error) error {
	sweep := c.newKeyset(k.typeIDs, sweepFrom, k.size, k.fields)
	if k.lower.After(sweep.lower) {
		// The first pages delivered everything before k's position: the
		// sweep need not list it again (probes that undercounted recent
		// changes let a listing of recent assets be split). What they
		// delivered at the boundary k still knows.
		sweep.lower = k.lower
		for key := range k.seen {
			sweep.seen[key] = struct{}{}
		}
	}
	sweep.advance(sweep.lower)
	var (
		mu sync.Mutex // fn is called by one partition at a time; guards sweep.seen and failed
		// failed is fn's error: once fn has failed it is not called again,
		// even by a partition that takes the mutex before the group's
		// context is cancelled.
		failed error
	)
	g, gctx := errgroup.WithContext(ctx)
	emit := func(a Asset) error {
		mu.Lock()
		defer mu.Unlock()
		if failed != nil {
			return failed
		}
		if err := gctx.Err(); err != nil {
			return fmt.Errorf("sfmc: asset query: %w", context.Cause(gctx))
		}
		if !a.ModifiedDate.Before(sweep.horizon) {
			sweep.seen[keyOf(a)] = struct{}{} // the sweep lists it again: skip it there
		}
		failed = fn(a)
		return failed
	}
	gate := newGate(len(ps))
	for _, p := range ps {
		p.onBlocked = func() {
			if n := gate.halve(); n > 0 {
				c.log.Warn().Int("partitions_in_flight", n).Msg("sfmc: too many concurrent requests (429, errorcode 50200): listing with fewer partitions at once")
			}
		}
		g.Go(func() error {
			return p.runAhead(gctx, int(c.cfg.ListReadAhead)/len(ps), gate, emit)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return c.walk(ctx, sweep, fn)
}

// walk runs the rest of a listing that one walk does alone (a serial
// listing after its first page, the final sweep) reading one page ahead
// with the whole read-ahead budget, or item by item when read-ahead is off.
func (c *Client) walk(ctx context.Context, k *keyset, fn func(Asset) error) error {
	if c.cfg.ListReadAhead <= 0 {
		return k.run(ctx, fn)
	}
	return k.runAhead(ctx, int(c.cfg.ListReadAhead), newGate(1), fn)
}

// DefaultListReadAhead is the default Config.ListReadAhead: the bytes of
// assets a serial walk, or all partitions of a listing split evenly, hold
// read ahead (see runAhead). A 500-asset page of typical content blocks is about
// 2 MiB, so four partitions each read a whole page ahead.
const DefaultListReadAhead = 16 << 20

// runAhead runs k to the end, handing its items to emit, and reads one page
// ahead: as soon as a page has been read (and the keyset has moved past
// it), the request for the next one goes out, while the page is handed on.
// A walk whose emit is slow (the engine's writers) then waits for SFMC and
// for its writers at the same time, not one after the other.
//
// The next page's items are only read once the page before has been handed
// on, so a walk holds one page at most, and at most budget bytes of it:
// beyond that the rest of the page is handed on as it is read. gate bounds
// the requests in flight.
func (k *keyset) runAhead(ctx context.Context, budget int, gate *gate, emit func(Asset) error) error {
	g, gctx := errgroup.WithContext(ctx)
	pages := make(chan []Asset)    // a page read, to hand on
	idle := make(chan struct{}, 1) // a token: the page before has been handed on
	idle <- struct{}{}
	waitIdle := func() error {
		select {
		case <-idle:
			return nil
		case <-gctx.Done():
			return fmt.Errorf("sfmc: asset query: %w", context.Cause(gctx))
		}
	}
	g.Go(func() error {
		defer close(pages)
		for {
			var (
				buf       []Asset
				size      int
				streaming bool // over budget: hand items on as they come
				turn      bool // this page holds the idle token
			)
			k.beforeBody = func() error {
				if turn {
					return nil // a retried attempt
				}
				err := waitIdle()
				turn = err == nil
				return err
			}
			if err := gate.acquire(gctx); err != nil {
				return fmt.Errorf("sfmc: asset query: %w", err)
			}
			done, err := k.step(gctx, func(a Asset) error {
				if !streaming && size+len(a.Raw)+len(a.Content) <= budget {
					buf = append(buf, a)
					size += len(a.Raw) + len(a.Content)
					return nil
				}
				if !streaming {
					streaming = true
					for i := range buf {
						if err := emit(buf[i]); err != nil {
							return err
						}
					}
					buf = nil
				}
				return emit(a)
			})
			gate.release()
			if err != nil {
				return err
			}
			if !turn {
				if err := waitIdle(); err != nil {
					return err
				}
			}
			select {
			case pages <- buf:
			case <-gctx.Done():
				return fmt.Errorf("sfmc: asset query: %w", context.Cause(gctx))
			}
			if done {
				return nil
			}
		}
	})
	g.Go(func() error {
		for page := range pages {
			for i := range page {
				if err := emit(page[i]); err != nil {
					return err
				}
				page[i] = Asset{} // let it go as soon as the writer has it
			}
			idle <- struct{}{}
		}
		return nil
	})
	return g.Wait()
}

// gate bounds how many partitions have a request in flight. halve lowers the
// bound (not below one); every 4×bound successful requests raise it by one,
// up to its size.
type gate struct {
	mu           sync.Mutex
	size, limit  int
	active, calm int
	// halved says no request has completed since the last halving: the
	// partitions blocked in one burst halve the bound once, not each.
	halved bool
	wake   chan struct{} // closed when a slot may have become free
}

func newGate(size int) *gate {
	return &gate{size: size, limit: size, wake: make(chan struct{})}
}

func (g *gate) acquire(ctx context.Context) error {
	for {
		g.mu.Lock()
		if g.active < g.limit {
			g.active++
			g.mu.Unlock()
			return nil
		}
		w := g.wake
		g.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.active--
	g.calm++
	g.halved = false
	if g.limit < g.size && g.calm >= 4*g.limit {
		g.limit++
		g.calm = 0
	}
	close(g.wake)
	g.wake = make(chan struct{})
}

// halve halves the bound and returns the new one, or 0 when it did not
// change (already one, or halved in this burst).
func (g *gate) halve() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calm = 0
	if g.limit <= 1 || g.halved {
		return 0
	}
	g.halved = true
	g.limit = max(1, g.limit/2)
	return g.limit
}
