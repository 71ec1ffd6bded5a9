package sfmc_test

// Attacks on the asset listing (keyset walk, partitions, read-ahead, early
// probes, sweep) by a broken or hostile SFMC. Each test states the
// invariant it checks: no asset missed, no (id, modifiedDate) delivered
// twice, no goroutine of the listing left once it returns, errors that name
// the problem without secrets or forged log lines, prompt cancellation.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/sfmc"
	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
	"github.com/rs/zerolog"
)

// hostileEnv is a partitioned (or, with k = 1, serial) client over 3000
// blocks dated 3 ms apart, pages of 50.
func hostileEnv(t *testing.T, k int, opts sfmctest.Options, mod func(*sfmc.Config)) (*env, []int64) {
	t.Helper()
	e := newEnv(t, opts, func(c *sfmc.Config) {
		withPartitions(k)(c)
		if mod != nil {
			mod(c)
		}
	})
	ids := e.srv.AddBlocks(0, 3000, 197)
	setDates(t, e.srv, ids, base, 3*time.Millisecond)
	return e, ids
}

// version is one (id, modifiedDate) of an asset.
type version struct {
	id int64
	md time.Time
}

func versionOf(a sfmc.Asset) version { return version{a.ID, a.ModifiedDate.UTC()} }

// noVersionTwice fails for every (id, modifiedDate) delivered more than once.
func noVersionTwice(t *testing.T, got []sfmc.Asset) {
	t.Helper()
	n := map[version]int{}
	for _, a := range got {
		n[versionOf(a)]++
	}
	var dup []string
	for v, c := range n {
		if c > 1 {
			dup = append(dup, fmt.Sprintf("%d@%s×%d", v.id, v.md.Format(time.RFC3339Nano), c))
		}
	}
	slices.Sort(dup)
	if len(dup) > 0 {
		t.Errorf("%d versions delivered more than once, e.g. %v", len(dup), dup[:min(len(dup), 8)])
	}
}

// sfmcGoroutines returns the stacks of the goroutines running code of
// package sfmc (not its tests, not the emulator).
func sfmcGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		// A frame of package sfmc itself: ".../pkg/sfmc.(*keyset).runAhead",
		// ".../pkg/sfmc.(*Client).probe", ... (not sfmc_test, not
		// sfmc/sfmctest). "created by" lines name the creator only.
		for line := range strings.SplitSeq(g, "\n") {
			if strings.HasPrefix(line, "created by") {
				continue
			}
			if strings.Contains(line, "backup-creator/pkg/sfmc.") {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

// noListingGoroutines fails if goroutines of package sfmc are still there
// once the listing has returned. Goroutines that are ending (a timer's
// callback, a context.AfterFunc) get until a generous deadline to go; the
// loop yields, it does not sleep.
func noListingGoroutines(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := sfmcGoroutines()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines of the listing outlived it:\n%s", len(left), strings.Join(left, "\n\n"))
		}
		runtime.Gosched()
	}
}

// isPartitionQuery reports whether a query request is a partition's page
// (not the first page, not a probe, not the sweep).
func isPartitionQuery(t *testing.T, r sfmctest.RequestInfo) bool {
	if r.Route != "query" {
		return false
	}
	var q sentQuery
	if err := json.Unmarshal(r.Body, &q); err != nil || q.Page.PageSize == 1 {
		return false
	}
	return queryIDBounds(t, q.Query) != (idBounds{})
}

// TestHostileReplayedPage: one answer in the middle of the listing is a
// stale page from the start of the walk (a lagging replica or a cache: the
// server ignores the filter once). Nothing may be delivered twice or
// missed.
func TestHostileReplayedPage(t *testing.T) {
	for _, k := range []int{1, 4} {
		t.Run(fmt.Sprintf("K=%d", k), func(t *testing.T) {
			e, ids := hostileEnv(t, k, sfmctest.Options{}, nil)
			// The 9th page of 50 (not a probe): a page of the serial walk,
			// or a partition's.
			e.srv.InjectFault(sfmctest.Fault{Route: "query", PageSize: 50, After: 8, IgnoreKeyset: true})
			got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}})
			if e.srv.Stats().ByRoute["query"] < 10 {
				t.Fatal("the listing ended before the fault")
			}
			checkExactlyOnce(t, e, 0, got, ids)
		})
	}
}

// TestHostileEmptyPageMidListing: one answer in the middle of the listing
// is 200 with an empty page and a count of 0 (a glitching search index).
// The listing must not end silently with the assets after that point
// missing: in a partitioned listing the other partitions go on, so the
// watermark passes the assets the glitching partition left out and the next
// incremental run never lists them.
func TestHostileEmptyPageMidListing(t *testing.T) {
	for _, k := range []int{1, 4} {
		t.Run(fmt.Sprintf("K=%d", k), func(t *testing.T) {
			e, ids := hostileEnv(t, k, sfmctest.Options{}, nil)
			e.srv.InjectFault(sfmctest.Fault{Route: "query", PageSize: 50, After: 8, EmptyPage: true})
			var got []sfmc.Asset
			err := e.c.QueryAssets(t.Context(), sfmc.AssetQuery{TypeIDs: []int{197}}, func(a sfmc.Asset) error {
				got = append(got, a)
				return nil
			})
			if err != nil {
				return // failing loudly is fine; silently short is not
			}
			checkExactlyOnce(t, e, 0, got, ids)
		})
	}
}

// TestHostileBrokenPageInTieCluster: 300 assets share one modifiedDate,
// more than a page, so the walk goes through them by id; one of those
// pages comes back empty, or as a stale page from the start (as in
// TestHostileReplayedPage). The cluster's remaining assets must not be
// skipped.
func TestHostileBrokenPageInTieCluster(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    sfmctest.Fault
	}{
		// Pages: 3 before the cluster, then the cluster by id.
		{"empty", sfmctest.Fault{Route: "query", After: 5, EmptyPage: true}},
		{"replayed", sfmctest.Fault{Route: "query", After: 5, IgnoreKeyset: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sfmctest.Options{}, withPartitions(1))
			ids := e.srv.AddBlocks(0, 600, 197)
			setDates(t, e.srv, ids[:150], base, time.Second)
			setDates(t, e.srv, ids[150:450], base.Add(time.Hour), 0)
			setDates(t, e.srv, ids[450:], base.Add(2*time.Hour), time.Second)
			e.srv.InjectFault(tc.f)
			var got []sfmc.Asset
			err := e.c.QueryAssets(t.Context(), sfmc.AssetQuery{TypeIDs: []int{197}}, func(a sfmc.Asset) error {
				got = append(got, a)
				return nil
			})
			if err != nil {
				return // failing loudly is fine
			}
			checkExactlyOnce(t, e, 0, got, ids)
		})
	}
}

// TestHostileCancelAtEveryQuery: the caller's context is cancelled while
// the n-th query of the listing is on its way, for every n of a full
// partitioned listing (first page with its early probes, the partitions,
// their read-ahead, the sweep; every fifth n in the middle). The listing
// returns an error matching context.Canceled (or, when the cancel loses the
// race with the last answer it needed, nil with every asset delivered), fn
// is never called after it returned, and no goroutine of the listing is
// left.
func TestHostileCancelAtEveryQuery(t *testing.T) {
	e, ids := hostileEnv(t, 4, sfmctest.Options{}, nil)
	if err := e.c.Authenticate(t.Context()); err != nil { // early probes
		t.Fatal(err)
	}
	before := e.srv.Stats().ByRoute["query"]
	checkExactlyOnce(t, e, 0, listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}}), ids)
	total := e.srv.Stats().ByRoute["query"] - before
	if len(partitionsSent(t, e.srv)) != 4 {
		t.Fatal("listing was not partitioned")
	}
	// Every one of the first queries (first page, probes, the partitions'
	// first pages and read-ahead) and of the last (the sweep), every
	// fifth in between.
	for n := 1; n <= total; n++ {
		if n > 14 && n < total-4 && n%5 != 0 {
			continue
		}
		ctx, cancel := context.WithCancel(t.Context())
		var (
			mu       sync.Mutex
			seen     int
			returned bool
			late     int
		)
		e.srv.OnRequest(func(r sfmctest.RequestInfo) {
			if r.Route != "query" {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if seen++; seen == n {
				cancel()
			}
		})
		var got []sfmc.Asset
		err := e.c.QueryAssets(ctx, sfmc.AssetQuery{TypeIDs: []int{197}}, func(a sfmc.Asset) error {
			mu.Lock()
			defer mu.Unlock()
			if returned {
				late++
			}
			got = append(got, a)
			return nil
		})
		mu.Lock()
		returned = true
		mu.Unlock()
		switch {
		case err == nil:
			// The cancel raced with an answer that was already on its
			// way, and that was the last one needed: fine if complete.
			checkExactlyOnce(t, e, 0, got, ids)
		case !errors.Is(err, context.Canceled):
			t.Fatalf("cancelled at query %d of %d: err = %v, want context.Canceled", n, total, err)
		}
		noListingGoroutines(t)
		mu.Lock()
		if late > 0 {
			t.Errorf("cancelled at query %d: fn called %d times after QueryAssets returned", n, late)
		}
		mu.Unlock()
		cancel()
	}
	e.srv.OnRequest(nil)
}

// TestHostileCancelInCallback: the context is cancelled from inside fn at
// item i. The listing stops within the page at hand (fn is not called for
// more than one page's items after the cancel) and returns
// context.Canceled, unless every asset had been delivered.
func TestHostileCancelInCallback(t *testing.T) {
	e, ids := hostileEnv(t, 4, sfmctest.Options{}, nil)
	if err := e.c.Authenticate(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{1, 50, 51, 52, 120, 777, 1500, 2999, 3000} {
		ctx, cancel := context.WithCancel(t.Context())
		calls, after := 0, 0
		err := e.c.QueryAssets(ctx, sfmc.AssetQuery{TypeIDs: []int{197}}, func(sfmc.Asset) error {
			calls++
			if calls > i {
				after++
			}
			if calls == i {
				cancel()
			}
			return nil
		})
		cancel()
		switch {
		case err == nil && calls != len(ids):
			t.Errorf("cancelled at item %d: no error after %d of %d assets", i, calls, len(ids))
		case err != nil && !errors.Is(err, context.Canceled):
			t.Errorf("cancelled at item %d: err = %v, want context.Canceled", i, err)
		}
		if after > 50 {
			t.Errorf("cancelled at item %d: fn called %d more times", i, after)
		}
		noListingGoroutines(t)
	}
}

// TestHostileCallbackErrorWhileReadAheadInFlight: fn fails while every
// partition has its read-ahead request held by the server (it never
// answers until the test ends). QueryAssets returns fn's error at once,
// without waiting for the server, calls fn no more, and leaves no
// goroutine behind.
func TestHostileCallbackErrorWhileReadAheadInFlight(t *testing.T) {
	e, _ := hostileEnv(t, 4, sfmctest.Options{}, nil)
	release := make(chan struct{})
	defer close(release)
	var (
		mu    sync.Mutex
		parts = map[idBounds]int{}
		held  = make(chan struct{}, 64)
	)
	e.srv.OnRequest(func(r sfmctest.RequestInfo) {
		if !isPartitionQuery(t, r) {
			return
		}
		var q sentQuery
		_ = json.Unmarshal(r.Body, &q)
		b := queryIDBounds(t, q.Query)
		mu.Lock()
		parts[b]++
		hold := parts[b] > 1
		mu.Unlock()
		if hold { // every partition's second page: its read-ahead
			held <- struct{}{}
			<-release
		}
	})
	stop := errors.New("writer failed")
	calls, after := 0, 0
	failed := false
	err := e.c.QueryAssets(t.Context(), sfmc.AssetQuery{TypeIDs: []int{197}}, func(sfmc.Asset) error {
		calls++
		if failed {
			after++
		}
		if calls == 50+60 { // a partition's item, once all read ahead
			for range 4 {
				<-held
			}
			// The check below sees the partitions' goroutines while they
			// run, so its silence after the return means something.
			if g := strings.Join(sfmcGoroutines(), "\n"); !strings.Contains(g, "runAhead") {
				t.Errorf("no runAhead goroutine seen during the listing:\n%s", g)
			}
			failed = true
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("err = %v, want the callback's error", err)
	}
	if after > 0 {
		t.Errorf("fn called %d times after it failed", after)
	}
	noListingGoroutines(t)
}

// TestHostileChurnDuringListing: at the start of every query the server
// serves, a few assets are edited, one is deleted and one is created
// (late-indexed and tied timestamps in the variants). Once the listing
// returns: no version was delivered twice, every asset that survived was
// delivered in the version it has now (the last request is the sweep's, so
// every edit before it is in reach), and every created asset that survived
// was delivered.
func TestHostileChurnDuringListing(t *testing.T) {
	for _, tc := range []struct {
		name string
		k    int
		opts sfmctest.Options
	}{
		{"serial", 1, sfmctest.Options{}},
		{"partitioned", 4, sfmctest.Options{}},
		{"partitioned, tick rounding", 4, sfmctest.Options{TickRounding: true}},
		{"partitioned, unstable ties", 4, sfmctest.Options{UnstableTies: true, TickRounding: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, ids := hostileEnv(t, tc.k, tc.opts, nil)
			if err := e.c.Authenticate(t.Context()); err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			var mu sync.Mutex
			live := slices.Clone(ids)
			deleted := map[int64]bool{}
			queries := 0
			e.srv.OnRequest(func(r sfmctest.RequestInfo) {
				if r.Route != "query" {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				queries++
				for range 3 {
					id := live[rng.IntN(len(live))]
					if err := e.srv.UpdateAsset(0, id, func(s *sfmctest.AssetSpec) { s.Content = fmt.Sprintf("edit %d", queries) }); err != nil {
						t.Error(err)
					}
				}
				i := rng.IntN(len(live))
				if err := e.srv.DeleteAsset(0, live[i]); err != nil {
					t.Error(err)
				}
				deleted[live[i]] = true
				live = slices.Delete(live, i, i+1)
				id, err := e.srv.CreateAsset(0, sfmctest.AssetSpec{Name: fmt.Sprintf("created %d", queries), Content: "new"})
				if err != nil {
					t.Error(err)
				}
				live = append(live, id)
			})
			got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}})
			e.srv.OnRequest(nil)
			if tc.k > 1 && len(partitionsSent(t, e.srv)) != tc.k {
				t.Fatal("listing was not partitioned")
			}
			noVersionTwice(t, got)
			delivered := map[version]bool{}
			for _, a := range got {
				delivered[versionOf(a)] = true
			}
			var missing []string
			for _, id := range live {
				raw, ok := e.srv.AssetJSON(0, id)
				if !ok {
					t.Fatalf("asset %d gone", id)
				}
				var cur sfmc.Asset
				if err := json.Unmarshal(raw, &cur); err != nil {
					t.Fatal(err)
				}
				md, err := sfmc.ParseTime(cur.ModifiedDateRaw)
				if err != nil {
					t.Fatal(err)
				}
				if !delivered[version{id, md.UTC()}] {
					missing = append(missing, fmt.Sprintf("%d@%s", id, cur.ModifiedDateRaw))
				}
			}
			if len(missing) > 0 {
				t.Errorf("%d live assets not delivered in their current version (after %d queries with churn), e.g. %v",
					len(missing), queries, missing[:min(len(missing), 8)])
			}
		})
	}
}

// TestHostileBrokenAnswersOutsideThePartitions: answers that break off
// mid-item, dropped connections and 5xx on the requests around the
// partitions (the early probes, the first page, the sweep), and a storm of
// 429/50200 that the retries outlast. Every asset exactly once, nothing
// left running.
func TestHostileBrokenAnswersOutsideThePartitions(t *testing.T) {
	sweepFault := func(f sfmctest.Fault) func(*testing.T, *env) {
		// The sweep's request: a page of 50 without id bounds after the
		// partitions have started. The hook runs before the faults, so a
		// fault injected there hits this very request.
		return func(t *testing.T, e *env) {
			var mu sync.Mutex
			partitioned, done := false, false
			e.srv.OnRequest(func(r sfmctest.RequestInfo) {
				mu.Lock()
				defer mu.Unlock()
				if isPartitionQuery(t, r) {
					partitioned = true
					return
				}
				var q sentQuery
				if r.Route != "query" || json.Unmarshal(r.Body, &q) != nil || q.Page.PageSize != 50 || !partitioned || done {
					return
				}
				done = true
				e.srv.InjectFault(f)
			})
		}
	}
	inject := func(f sfmctest.Fault) func(*testing.T, *env) {
		return func(_ *testing.T, e *env) { e.srv.InjectFault(f) }
	}
	for _, tc := range []struct {
		name  string
		setup func(*testing.T, *env)
	}{
		{"probes cut mid-item", inject(sfmctest.Fault{Route: "query", PageSize: 1, Times: 3, CutAfterBytes: 70})},
		{"probe dropped", inject(sfmctest.Fault{Route: "query", PageSize: 1, Drop: true})},
		{"probes 500", inject(sfmctest.Fault{Route: "query", PageSize: 1, Times: 2, Status: 500})},
		{"probe 429 blocked", inject(sfmctest.Fault{Route: "query", PageSize: 1, Times: 2, Status: 429})},
		{"first page cut mid-item", inject(sfmctest.Fault{Route: "query", PageSize: 50, CutAfterBytes: 5000})},
		{"first page cut twice", inject(sfmctest.Fault{Route: "query", PageSize: 50, Times: 2, CutAfterBytes: 300})},
		{"sweep cut mid-item", sweepFault(sfmctest.Fault{Route: "query", CutAfterBytes: 40})},
		{"sweep dropped", sweepFault(sfmctest.Fault{Route: "query", Drop: true})},
		{"429 storm while reading ahead", inject(sfmctest.Fault{Route: "query", PageSize: 50, After: 6, Times: 12, Status: 429})},
		{"503 storm while reading ahead", inject(sfmctest.Fault{Route: "query", PageSize: 50, After: 6, Times: 12, Status: 503, RetryAfter: 1})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, ids := hostileEnv(t, 4, sfmctest.Options{}, func(c *sfmc.Config) { c.MaxAttempts = 16 })
			if err := e.c.Authenticate(t.Context()); err != nil {
				t.Fatal(err)
			}
			tc.setup(t, e)
			got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}})
			e.srv.OnRequest(nil)
			checkExactlyOnce(t, e, 0, got, ids)
			if len(partitionsSent(t, e.srv)) != 4 {
				t.Fatal("listing was not partitioned")
			}
			if e.c.Stats()[sfmc.StatRetries] == 0 {
				t.Error("no request was retried: the fault did not fire")
			}
			noListingGoroutines(t)
		})
	}
}

// TestHostileEndless429WhileReadingAhead: once the partitions run, every
// query is refused with 429/50200. The listing gives up with an error that
// says so (status and attempts), promptly (waits are recorded, not taken),
// and leaves nothing running.
func TestHostileEndless429WhileReadingAhead(t *testing.T) {
	e, _ := hostileEnv(t, 4, sfmctest.Options{}, nil)
	e.srv.InjectFault(sfmctest.Fault{Route: "query", PageSize: 50, After: 6, Times: -1, Status: 429})
	err := e.c.QueryAssets(t.Context(), sfmc.AssetQuery{TypeIDs: []int{197}}, func(sfmc.Asset) error { return nil })
	var api *sfmc.APIError
	if !errors.As(err, &api) || api.StatusCode != 429 || !strings.Contains(err.Error(), "gave up after") {
		t.Fatalf("err = %v, want a 429 APIError that gave up", err)
	}
	noListingGoroutines(t)
}

// TestHostileHugeItemInAPartition: one asset in the middle of the id range
// is larger than sfmc.max_item_bytes. Its partition fails with an error
// naming the asset, the others stop, and nothing is left running.
func TestHostileHugeItemInAPartition(t *testing.T) {
	e, ids := hostileEnv(t, 4, sfmctest.Options{}, func(c *sfmc.Config) { c.MaxItemBytes = 64 << 10 })
	huge := ids[1700]
	if err := e.srv.UpdateAsset(0, huge, func(s *sfmctest.AssetSpec) { s.Content = strings.Repeat("x", 200<<10) }); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.SetModifiedDate(0, huge, base.Add(1700*3*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	err := e.c.QueryAssets(t.Context(), sfmc.AssetQuery{TypeIDs: []int{197}}, func(sfmc.Asset) error { return nil })
	if !errors.Is(err, sfmc.ErrResponseTooLarge) || !strings.Contains(err.Error(), fmt.Sprintf("asset id %d", huge)) {
		t.Fatalf("err = %v, want ErrResponseTooLarge naming asset %d", err, huge)
	}
	if len(partitionsSent(t, e.srv)) != 4 {
		t.Fatal("listing was not partitioned")
	}
	noListingGoroutines(t)
}

// TestHostileItemsBeyondTheReadAheadBudget: assets each larger than a
// partition's share of the read-ahead budget, spread over every id range,
// and answers that break off inside them: exactly once.
func TestHostileItemsBeyondTheReadAheadBudget(t *testing.T) {
	e, ids := hostileEnv(t, 4, sfmctest.Options{}, func(c *sfmc.Config) {
		c.ListReadAhead = 64 << 10
		c.MaxAttempts = 8 // the four breaks may all hit one request's attempts
	})
	for i := 0; i < len(ids); i += 97 {
		if err := e.srv.UpdateAsset(0, ids[i], func(s *sfmctest.AssetSpec) { s.Content = strings.Repeat("y", 40<<10) }); err != nil {
			t.Fatal(err)
		}
	}
	setDates(t, e.srv, ids, base, 3*time.Millisecond)
	e.srv.InjectFault(sfmctest.Fault{Route: "query", PageSize: 50, After: 7, Times: 4, CutAfterBytes: 30 << 10})
	got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}})
	checkExactlyOnce(t, e, 0, got, ids)
	noListingGoroutines(t)
}

// TestHostileProbesLieAboutIDs: the one-item probes that plan the
// partitions answer with ids that the pages do not have (every probe's ids
// shifted). The pages are true, so whatever partitions come out, every
// asset must be delivered exactly once: the first and the last partition
// are open-ended, and the ranges must tile the ids whatever bounds the
// probes gave.
func TestHostileProbesLieAboutIDs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		offset func(ids []int64) int64
	}{
		{"above every id", func(ids []int64) int64 { return 10_000 }},
		{"below every id, still positive", func(ids []int64) int64 { return -(ids[0] - 100) }},
		{"range straddling zero", func(ids []int64) int64 { return -ids[1500] }},
		{"all ids negative", func(ids []int64) int64 { return -(ids[len(ids)-1] + 1000) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, ids := hostileEnv(t, 4, sfmctest.Options{}, nil)
			e.srv.InjectFault(sfmctest.Fault{Route: "query", PageSize: 1, Times: -1, IDOffset: tc.offset(ids)})
			got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}})
			checkExactlyOnce(t, e, 0, got, ids)
			noListingGoroutines(t)
		})
	}
}

// TestHostileCountsThatLie: the count of an answer is not the number of
// matches. A count larger than the truth, or one missing, may cost
// requests; one smaller than what the page itself holds (a full page of 50
// counted as 10 matches) is self-contradictory and must not end a walk
// with the rest of its assets unlisted. A listing may fail loudly
// (ErrEndlessPaging) when the pages go on far beyond the count; it must
// never be silently short.
func TestHostileCountsThatLie(t *testing.T) {
	n := func(v int) *int { return &v }
	for _, tc := range []struct {
		name string
		k    int
		f    sfmctest.Fault
	}{
		{"far too large everywhere", 4, sfmctest.Fault{Route: "query", Times: -1, Count: n(1_000_000)}},
		{"missing everywhere", 4, sfmctest.Fault{Route: "query", Times: -1, OmitCount: true}},
		{"missing on the first page", 4, sfmctest.Fault{Route: "query", OmitCount: true}},
		{"missing on the probes", 4, sfmctest.Fault{Route: "query", PageSize: 1, Times: -1, OmitCount: true}},
		{"zero on the probes", 4, sfmctest.Fault{Route: "query", PageSize: 1, Times: -1, Count: n(0)}},
		{"one more than the page, always", 4, sfmctest.Fault{Route: "query", PageSize: 50, Times: -1, Count: n(51)}},
		{"negative", 1, sfmctest.Fault{Route: "query", PageSize: 50, After: 3, Count: n(-1)}},
		{"smaller than its full page, serial", 1, sfmctest.Fault{Route: "query", PageSize: 50, After: 8, Count: n(10)}},
		{"smaller than its full page, in a partition", 4, sfmctest.Fault{Route: "query", PageSize: 50, After: 8, Count: n(10)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, ids := hostileEnv(t, tc.k, sfmctest.Options{}, nil)
			e.srv.InjectFault(tc.f)
			var got []sfmc.Asset
			err := e.c.QueryAssets(t.Context(), sfmc.AssetQuery{TypeIDs: []int{197}}, func(a sfmc.Asset) error {
				got = append(got, a)
				return nil
			})
			noListingGoroutines(t)
			if errors.Is(err, sfmc.ErrEndlessPaging) {
				return // loud, and it says why
			}
			if err != nil {
				t.Fatal(err)
			}
			checkExactlyOnce(t, e, 0, got, ids)
		})
	}
}

// forgedText is server text that would forge a log line or move the
// terminal's cursor if printed raw.
const forgedText = "\x1b[2K\r{\"level\":\"info\",\"message\":\"forged\"}\n\u009b31m"

// TestHostileServerTextInPartitionErrors: a partition's page and a probe
// are answered 400 with a message carrying control characters and the
// request's own bearer token. The partition's error names the query and
// the status, shows the message escaped and the token redacted; the probe's
// refusal, logged as a warning before the listing goes on serially, is one
// JSON log line per event with neither the forged line nor the token.
func TestHostileServerTextInPartitionErrors(t *testing.T) {
	t.Run("partition page", func(t *testing.T) {
		e, _ := hostileEnv(t, 4, sfmctest.Options{}, nil)
		var mu sync.Mutex
		injected := false
		e.srv.OnRequest(func(r sfmctest.RequestInfo) {
			mu.Lock()
			defer mu.Unlock()
			if isPartitionQuery(t, r) && !injected {
				injected = true
				e.srv.InjectFault(sfmctest.Fault{Route: "query", Status: 400, Echo: true, Message: "bad" + forgedText})
			}
		})
		err := e.c.QueryAssets(t.Context(), sfmc.AssetQuery{TypeIDs: []int{197}}, func(sfmc.Asset) error { return nil })
		var api *sfmc.APIError
		if !errors.As(err, &api) || api.StatusCode != 400 {
			t.Fatalf("err = %v, want a 400 APIError", err)
		}
		msg := err.Error()
		if strings.ContainsAny(msg, "\x1b\r\n\u009b") {
			t.Errorf("control characters reached the error text: %q", msg)
		}
		if !strings.Contains(msg, "asset query") || !strings.Contains(msg, "400") {
			t.Errorf("error %q does not name the query and its status", msg)
		}
		for _, tok := range e.spy.Seen() {
			if strings.Contains(msg, tok) {
				t.Errorf("error %q contains the bearer token", msg)
			}
		}
		noListingGoroutines(t)
	})
	t.Run("probe refused", func(t *testing.T) {
		var logs syncBuffer
		e, ids := hostileEnv(t, 4, sfmctest.Options{}, func(c *sfmc.Config) {
			c.Logger = zerolog.New(&logs).Level(zerolog.WarnLevel)
		})
		e.srv.InjectFault(sfmctest.Fault{Route: "query", PageSize: 1, Status: 400, Echo: true, Message: "refused" + forgedText})
		got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}})
		checkExactlyOnce(t, e, 0, got, ids)
		out := logs.String()
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if out == "" || len(lines) != 1 {
			t.Fatalf("want one warning line, got %q", out)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", lines[0], err)
		}
		if m["message"] == "forged" || strings.Contains(out, "\x1b") || !strings.Contains(out, "refused") {
			t.Errorf("log %q: forged or raw text, or the refusal not shown", out)
		}
		for _, tok := range e.spy.Seen() {
			if strings.Contains(out, tok) {
				t.Errorf("log %q contains the bearer token", out)
			}
		}
	})
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestHostileEarlyProbesNeverAnswered: the probes sent with the first page
// of a full listing are held by the server and never answered. A listing
// that its first page shows to be short, or whose callback fails on the
// first page, returns at once without waiting for them, and leaves no
// goroutine behind.
func TestHostileEarlyProbesNeverAnswered(t *testing.T) {
	stop := errors.New("writer failed")
	for _, tc := range []struct {
		name   string
		assets int
		fn     func(sfmc.Asset) error
		want   error
	}{
		{"short listing", 120, func(sfmc.Asset) error { return nil }, nil},
		{"callback fails on the first page", 3000, func(sfmc.Asset) error { return stop }, stop},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sfmctest.Options{}, withPartitions(4))
			ids := e.srv.AddBlocks(0, tc.assets, 197)
			setDates(t, e.srv, ids, base, 3*time.Millisecond)
			if err := e.c.Authenticate(t.Context()); err != nil {
				t.Fatal(err)
			}
			release := make(chan struct{})
			defer close(release)
			probes := make(chan struct{}, 8)
			sawProbe := make(chan struct{})
			var once sync.Once
			e.srv.OnRequest(func(r sfmctest.RequestInfo) {
				var q sentQuery
				if r.Route != "query" || json.Unmarshal(r.Body, &q) != nil {
					return
				}
				if q.Page.PageSize == 1 {
					probes <- struct{}{}
					once.Do(func() { close(sawProbe) })
					<-release
					return
				}
				if r.N == 1 {
					// The first page is answered once a probe is on its way,
					// so the listing cannot end before it sent one.
					select {
					case <-sawProbe:
					case <-time.After(10 * time.Second):
					}
				}
			})
			var got []sfmc.Asset
			err := e.c.QueryAssets(t.Context(), sfmc.AssetQuery{TypeIDs: []int{197}}, func(a sfmc.Asset) error {
				got = append(got, a)
				return tc.fn(a)
			})
			if !errors.Is(err, tc.want) || (tc.want != nil) != (err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if len(probes) == 0 {
				t.Fatal("no early probe was sent: the test did not run as designed")
			}
			if tc.want == nil {
				checkExactlyOnce(t, e, 0, got, ids)
			}
			noListingGoroutines(t)
		})
	}
}

// TestHostileDateHeaderSkew: SFMC's Date header and the clock that stamps
// modifiedDate disagree (a gateway with its own clock; the API reference,
// §5.1, reports a stack said to stamp Mountain time). The lowest id range
// holds 10 assets, so its partition ends after one page; the 10 are then
// edited while the others page. Only the final sweep can see the new
// versions, and it starts from the Date header's clock at the split minus
// a margin (65 minutes, for the hour a Mountain-time stack would be
// behind the header); with the stamps an hour behind, it must not start
// after the edits.
func TestHostileDateHeaderSkew(t *testing.T) {
	for _, skew := range []time.Duration{-time.Hour, 4 * time.Minute, time.Hour} {
		t.Run(skew.String(), func(t *testing.T) {
			e := newEnv(t, sfmctest.Options{DateSkew: skew}, withPartitions(4))
			ids := e.srv.AddBlocks(0, 4000, 197)
			for _, id := range ids[10:1000] {
				if err := e.srv.DeleteAsset(0, id); err != nil {
					t.Fatal(err)
				}
			}
			live := append(slices.Clone(ids[:10]), ids[1000:]...)
			rev := slices.Clone(live)
			slices.Reverse(rev) // oldest first from the highest id: the low range is a partition's
			setDates(t, e.srv, rev, base, 3*time.Millisecond)
			var mu sync.Mutex
			partitionQueries, edited := 0, 0
			e.srv.OnRequest(func(r sfmctest.RequestInfo) {
				if !isPartitionQuery(t, r) {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if partitionQueries++; partitionQueries > 8 && edited < 10 {
					if err := e.srv.UpdateAsset(0, ids[edited], func(s *sfmctest.AssetSpec) { s.Content = "edited" }); err != nil {
						t.Error(err)
					}
					edited++
				}
			})
			got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}})
			e.srv.OnRequest(nil)
			if edited != 10 {
				t.Fatalf("only %d assets edited during the listing", edited)
			}
			noVersionTwice(t, got)
			delivered := map[version]bool{}
			for _, a := range got {
				delivered[versionOf(a)] = true
			}
			for _, id := range ids[:10] {
				raw, _ := e.srv.AssetJSON(0, id)
				var cur sfmc.Asset
				if err := json.Unmarshal(raw, &cur); err != nil {
					t.Fatal(err)
				}
				md, err := sfmc.ParseTime(cur.ModifiedDateRaw)
				if err != nil {
					t.Fatal(err)
				}
				if !delivered[version{id, md.UTC()}] {
					t.Errorf("asset %d: its version edited during the listing (%s) was not delivered", id, cur.ModifiedDateRaw)
				}
			}
		})
	}
}

// TestHostileRetryableChaos: random retryable faults (dropped connections,
// answers broken off at a random byte, 500, 503, 429 with and without
// errorcode 50200) on a random tenth of the requests of a partitioned
// listing with tie clusters across the partitions and a server that
// sometimes ignores the id ranges (and, for some seeds, orders equal sort
// keys differently on every request). Every seed: every asset exactly once.
func TestHostileRetryableChaos(t *testing.T) {
	for seed := range uint64(6) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			e, ids := hostileEnv(t, 4, sfmctest.Options{TickRounding: true, UnstableTies: seed%3 == 1}, func(c *sfmc.Config) {
				c.MaxAttempts = 30
				c.ListReadAhead = 48 << 10
			})
			var tie []int64
			for i, id := range ids {
				if i%7 == 3 {
					tie = append(tie, id)
				}
			}
			setDates(t, e.srv, tie, base.Add(time.Hour), 0)
			if seed%2 == 0 {
				if err := e.c.Authenticate(t.Context()); err != nil { // early probes
					t.Fatal(err)
				}
			}
			rng := rand.New(rand.NewPCG(seed, 99))
			var mu sync.Mutex
			fired := 0
			e.srv.OnRequest(func(r sfmctest.RequestInfo) {
				if r.Route != "query" {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if rng.IntN(10) != 0 {
					return
				}
				fired++
				var f sfmctest.Fault
				switch rng.IntN(7) {
				case 0:
					f = sfmctest.Fault{Drop: true}
				case 1:
					f = sfmctest.Fault{CutAfterBytes: 1 + rng.Int64N(30_000)}
				case 2:
					f = sfmctest.Fault{Status: 500}
				case 3:
					f = sfmctest.Fault{Status: 503, RetryAfter: 1}
				case 4:
					f = sfmctest.Fault{Status: 429}
				case 5:
					f = sfmctest.Fault{Status: 429, RetryAfter: 2}
				case 6:
					f = sfmctest.Fault{IgnoreIDRange: true}
				}
				f.Route = "query"
				e.srv.InjectFault(f) // fires on this very request (faults follow the hook)
			})
			got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}})
			e.srv.OnRequest(nil)
			if fired == 0 {
				t.Fatal("no fault fired")
			}
			if len(partitionsSent(t, e.srv)) != 4 {
				t.Fatal("listing was not partitioned")
			}
			checkExactlyOnce(t, e, 0, got, ids)
			noListingGoroutines(t)
		})
	}
}

// TestHostileProbesUndercountRecentChanges: every asset was changed in the
// last two minutes, but the probes count none (count 0), so the listing is
// partitioned and ends with a sweep over the last 65 minutes, which
// covers every asset. The sweep must skip what the partitions and the first
// page delivered: nothing twice.
func TestHostileProbesUndercountRecentChanges(t *testing.T) {
	for _, early := range []bool{false, true} {
		t.Run(fmt.Sprintf("early probes %v", early), func(t *testing.T) {
			e, ids := hostileEnv(t, 4, sfmctest.Options{}, nil)
			setDates(t, e.srv, ids, time.Now().Add(-2*time.Minute), 3*time.Millisecond)
			if early {
				if err := e.c.Authenticate(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			zero := 0
			e.srv.InjectFault(sfmctest.Fault{Route: "query", PageSize: 1, Times: -1, Count: &zero})
			got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}})
			if len(partitionsSent(t, e.srv)) != 4 {
				t.Fatal("listing was not partitioned")
			}
			checkExactlyOnce(t, e, 0, got, ids)
		})
	}
}

// bodyCounter is a transport that counts the bytes the client has read
// from query response bodies.
type bodyCounter struct {
	next http.RoundTripper
	n    atomic.Int64
}

func (b *bodyCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := b.next.RoundTrip(r)
	if err == nil && strings.HasSuffix(r.URL.Path, "/assets/query") {
		resp.Body = &countedBody{ReadCloser: resp.Body, n: &b.n}
	}
	return resp, err
}

type countedBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c *countedBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestHostileReadAheadStaysWithinBudget: pages of 50 assets of 4 KB (about
// 200 KB a page) and a read-ahead budget of 64 KB for 4 partitions. The
// callback stops at the first item of a partition until every other
// partition is waiting to hand an item on; then what the client has read
// from the query bodies and not yet handed to the callback is at most the
// budget, plus per partition one item and the decoder's read buffer. (With
// the default budget of 16 MiB the same listing holds about 950 KB there:
// whole pages.)
func TestHostileReadAheadStaysWithinBudget(t *testing.T) {
	const budget = 64 << 10
	counter := &bodyCounter{next: http.DefaultTransport}
	e, ids := hostileEnv(t, 4, sfmctest.Options{}, func(c *sfmc.Config) {
		c.ListReadAhead = budget
		c.HTTPClient = &http.Client{Transport: counter}
	})
	content := strings.Repeat("<p>block</p>", 4<<10/12)
	for _, id := range ids {
		if err := e.srv.UpdateAsset(0, id, func(s *sfmctest.AssetSpec) { s.Content = content }); err != nil {
			t.Fatal(err)
		}
	}
	setDates(t, e.srv, ids, base, 3*time.Millisecond)
	var delivered int64
	calls := 0
	err := e.c.QueryAssets(t.Context(), sfmc.AssetQuery{TypeIDs: []int{197}}, func(a sfmc.Asset) error {
		calls++
		if calls == 51 { // the first page is serial: this is a partition's first item
			deadline := time.Now().Add(10 * time.Second)
			for waitingToEmit() < 3 {
				if time.Now().After(deadline) {
					return fmt.Errorf("the other partitions never all waited to hand an item on:\n%s", strings.Join(sfmcGoroutines(), "\n\n"))
				}
				runtime.Gosched()
			}
			held := counter.n.Load() - delivered
			const slack = 4 * (8<<10 + 64<<10) // one item and a decoder buffer per partition
			t.Logf("read ahead and not yet handed on: %d KB (budget %d KB)", held>>10, budget>>10)
			if held > budget+slack {
				t.Errorf("the client holds %d KB read ahead, more than the budget of %d KB plus %d KB", held>>10, budget>>10, slack>>10)
			}
		}
		delivered += int64(len(a.Raw))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(partitionsSent(t, e.srv)) != 4 {
		t.Fatal("listing was not partitioned")
	}
}

// waitingToEmit counts the goroutines of a partitioned listing that wait
// for their turn to call fn.
func waitingToEmit() int {
	n := 0
	for _, g := range sfmcGoroutines() {
		if strings.Contains(g, "sync.(*Mutex).Lock") && strings.Contains(g, "runPartitions.func1") {
			n++
		}
	}
	return n
}

// TestHostileTokensRevokedWhileReadingAhead: every token is revoked while
// the partitions page with requests in flight, twice. Each request that
// gets 401 refreshes once and goes on: every asset exactly once, and the
// concurrent 401s share refreshes (a few tokens, not one per request).
func TestHostileTokensRevokedWhileReadingAhead(t *testing.T) {
	e, ids := hostileEnv(t, 4, sfmctest.Options{}, nil)
	var mu sync.Mutex
	n := 0
	e.srv.OnRequest(func(r sfmctest.RequestInfo) {
		if !isPartitionQuery(t, r) {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if n++; n == 6 || n == 20 {
			e.srv.ExpireAllTokens()
		}
	})
	got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}})
	e.srv.OnRequest(nil)
	checkExactlyOnce(t, e, 0, got, ids)
	st := e.srv.Stats()
	if st.ByRouteStatus["query 401"] == 0 {
		t.Fatal("no request got 401: the test did not run as designed")
	}
	if st.TokensIssued > 1+2*4 {
		t.Errorf("%d tokens issued for two revocations: refreshes are not shared", st.TokensIssued)
	}
	noListingGoroutines(t)
}

// TestHostileCallbackRequestUnderSharedBudget: the callback makes an SFMC
// request of its own through the same client (the engine's writers fetch
// each file asset's binary with GetAssetFile), with a shared request
// Budget (set whenever account_ids lists business units; its size is
// `concurrency`). A listing attempt reads its body while handing items to
// fn (serial), or waits in it for the page before to be handed on
// (read-ahead). If such attempts held every slot, fn's request would never
// get one (they used to): the listing must still end.
// The 10 s watchdog only stops a hung test; an unhung listing takes about
// a second (with -race).
func TestHostileCallbackRequestUnderSharedBudget(t *testing.T) {
	for _, tc := range []struct {
		name      string
		k, budget int
	}{
		{"serial, budget 1", 1, 1},
		{"4 partitions, budget 4", 4, 4},
		{"4 partitions, budget 8 shared by two listings", 4, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			budget := sfmc.NewBudget(tc.budget)
			e, ids := hostileEnv(t, tc.k, sfmctest.Options{}, func(c *sfmc.Config) { c.Budget = budget })
			listings := 1
			if tc.budget > tc.k {
				listings = tc.budget / tc.k
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var waiting atomic.Int64 // requests waiting for a slot when the watchdog fired
			watchdog := time.AfterFunc(10*time.Second, func() { waiting.Store(budget.Waiting() + 1); cancel() })
			defer watchdog.Stop()
			errs := make(chan error, listings)
			for range listings {
				go func() {
					// A second listing through its own client (another
					// business unit) sharing the budget.
					c := e.c
					if listings > 1 {
						cfg := e.cfg
						cfg.Budget = budget
						var err error
						if c, err = sfmc.New(cfg); err != nil {
							errs <- err
							return
						}
					}
					var mu sync.Mutex
					n := 0
					errs <- c.QueryAssets(ctx, sfmc.AssetQuery{TypeIDs: []int{197}}, func(a sfmc.Asset) error {
						mu.Lock()
						n++
						fetch := n%10 == 1 // a file asset, say, every tenth block
						mu.Unlock()
						if fetch {
							_, err := c.GetAsset(ctx, a.ID)
							return err
						}
						return nil
					})
				}()
			}
			for range listings {
				if err := <-errs; err != nil {
					if w := waiting.Load(); w > 0 {
						t.Fatalf("the listing hung: after 10 s, %d requests waited for a slot of the budget of %d, all held by listing requests (%v)", w-1, tc.budget, err)
					}
					t.Fatal(err)
				}
			}
			_ = ids
			noListingGoroutines(t)
		})
	}
}

// TestHostileQuietPageSizeClamp: the server serves at most 20 assets a
// page but echoes the page size asked for (50), so every page looks short,
// while its count says thousands are left. The listing must not end after
// the first page.
func TestHostileQuietPageSizeClamp(t *testing.T) {
	for _, k := range []int{1, 4} {
		t.Run(fmt.Sprintf("K=%d", k), func(t *testing.T) {
			e, ids := hostileEnv(t, k, sfmctest.Options{MaxPageSize: 20, PageSizeMode: "clamp-quiet"}, nil)
			var got []sfmc.Asset
			err := e.c.QueryAssets(t.Context(), sfmc.AssetQuery{TypeIDs: []int{197}}, func(a sfmc.Asset) error {
				got = append(got, a)
				return nil
			})
			if err != nil {
				return // failing loudly is fine
			}
			checkExactlyOnce(t, e, 0, got, ids)
		})
	}
}

// TestHostileTypeFilterIgnored: a listing of more than 50 types is queried
// in chunks; a server that ignores the type condition answers every chunk
// with every type. Each asset must still come once (from its own chunk),
// serial and partitioned.
func TestHostileTypeFilterIgnored(t *testing.T) {
	for _, k := range []int{1, 4} {
		t.Run(fmt.Sprintf("K=%d", k), func(t *testing.T) {
			e := newEnv(t, sfmctest.Options{}, withPartitions(k))
			low := e.srv.AddBlocks(0, 1500, 20)   // in the first chunk of 50 type ids
			high := e.srv.AddBlocks(0, 1500, 197) // in the second
			ids := append(slices.Clone(low), high...)
			setDates(t, e.srv, ids, base, 3*time.Millisecond)
			types := []int{197}
			for id := 1; id <= 59; id++ {
				types = append(types, id)
			}
			e.srv.InjectFault(sfmctest.Fault{Route: "query", Times: -1, IgnoreTypeFilter: true})
			got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: types})
			checkExactlyOnce(t, e, 0, got, ids)
		})
	}
}

// TestHostileEmptyPageThatStays: an empty answer where the page before
// counted more, again on every retry, fails the listing loudly, naming the
// count; so does a page of nothing but stale assets. Neither ends it
// silently short.
func TestHostileEmptyPageThatStays(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    sfmctest.Fault
		want string
	}{
		{"empty", sfmctest.Fault{Route: "query", PageSize: 50, After: 8, Times: -1, EmptyPage: true}, "the page before counted"},
		{"stale", sfmctest.Fault{Route: "query", PageSize: 50, After: 8, Times: -1, IgnoreKeyset: true}, "lie outside the query (modifiedDate ≥"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := hostileEnv(t, 1, sfmctest.Options{}, nil)
			e.srv.InjectFault(tc.f)
			err := e.c.QueryAssets(t.Context(), sfmc.AssetQuery{TypeIDs: []int{197}}, func(sfmc.Asset) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "gave up after") {
				t.Fatalf("err = %v, want an error saying %q after the retries", err, tc.want)
			}
			if r := e.c.Stats()[sfmc.StatRetries]; r != int64(e.cfg.MaxAttempts-1) {
				t.Errorf("%d retries, want %d", r, e.cfg.MaxAttempts-1)
			}
		})
	}
}

// TestHostileEmptyFirstPageOfAPartition: the first answer a partition gets
// is empty (count 0). The other partitions go on and move the watermark
// past its range, so taking that answer as the end would lose the range
// for good: it is asked again once.
func TestHostileEmptyFirstPageOfAPartition(t *testing.T) {
	e, ids := hostileEnv(t, 4, sfmctest.Options{}, nil)
	var once sync.Once
	e.srv.OnRequest(func(r sfmctest.RequestInfo) {
		if isPartitionQuery(t, r) {
			// Before faults are picked: this request (or another
			// partition's first, sent at the same time) gets it.
			once.Do(func() { e.srv.InjectFault(sfmctest.Fault{Route: "query", EmptyPage: true}) })
		}
	})
	got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}})
	checkExactlyOnce(t, e, 0, got, ids)
	if r := e.c.Stats()[sfmc.StatRetries]; r != 1 {
		t.Errorf("%d retries, want 1 (the empty first page asked again)", r)
	}
}
