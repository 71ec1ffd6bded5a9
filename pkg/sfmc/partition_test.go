package sfmc_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/sfmc"
	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
)

// withPartitions sets the listing concurrency and a small page, so that a
// few thousand assets make a listing long enough to be split.
func withPartitions(k int) func(*sfmc.Config) {
	return func(c *sfmc.Config) {
		c.ListConcurrency = k
		c.PageSize = 50
	}
}

// idBounds are the id conditions of one sent query.
type idBounds struct{ from, to int64 }

// queryIDBounds returns the id ≥ / id < conditions of a query filter.
func queryIDBounds(t *testing.T, raw json.RawMessage) idBounds {
	t.Helper()
	var b idBounds
	var walk func(json.RawMessage)
	walk = func(raw json.RawMessage) {
		var q struct {
			Property       string          `json:"property"`
			SimpleOperator string          `json:"simpleOperator"`
			Value          json.RawMessage `json:"value"`
			Left           json.RawMessage `json:"leftOperand"`
			Right          json.RawMessage `json:"rightOperand"`
		}
		if err := json.Unmarshal(raw, &q); err != nil {
			t.Fatalf("query %s: %v", raw, err)
		}
		if q.Left != nil {
			walk(q.Left)
			walk(q.Right)
			return
		}
		var v int64
		if q.Property == "id" {
			_ = json.Unmarshal(q.Value, &v)
		}
		switch {
		case q.Property == "id" && q.SimpleOperator == "greaterThanOrEqual":
			b.from = v
		case q.Property == "id" && q.SimpleOperator == "lessThan":
			b.to = v
		}
	}
	walk(raw)
	return b
}

// partitionsSent returns the distinct id ranges of the paged (not probe)
// queries, sorted.
func partitionsSent(t *testing.T, srv *sfmctest.Server) []idBounds {
	t.Helper()
	set := map[idBounds]bool{}
	for _, q := range sentQueries(t, srv) {
		if q.Page.PageSize == 1 {
			continue // a probe
		}
		if b := queryIDBounds(t, q.Query); b != (idBounds{}) {
			set[b] = true
		}
	}
	out := slices.Collect(func(yield func(idBounds) bool) {
		for b := range set {
			if !yield(b) {
				return
			}
		}
	})
	slices.SortFunc(out, func(x, y idBounds) int { return int(x.from - y.from) })
	return out
}

func TestPartitionedListingCoversEveryIDOnce(t *testing.T) {
	for _, k := range []int{2, 3, 4, 7} {
		t.Run(fmt.Sprintf("K=%d", k), func(t *testing.T) {
			e := newEnv(t, sfmctest.Options{}, withPartitions(k))
			ids := e.srv.AddBlocks(0, 3001, 197)
			setDates(t, e.srv, ids, base, 3*time.Millisecond)
			got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}})
			checkExactlyOnce(t, e, 0, got, ids)

			// The partitions sent are k ranges that tile the id space: the
			// first open below, the last open above, each starting where
			// the one before ends.
			parts := partitionsSent(t, e.srv)
			if len(parts) != k {
				t.Fatalf("%d partitions sent (%v), want %d", len(parts), parts, k)
			}
			if parts[0].from != 0 || parts[len(parts)-1].to != 0 {
				t.Errorf("partitions %v: the first must be open below and the last open above", parts)
			}
			for i := 1; i < len(parts); i++ {
				if parts[i].from != parts[i-1].to || parts[i].from <= parts[i-1].from {
					t.Errorf("partitions %v: %d starts at %d, the one before ends at %d", parts, i, parts[i].from, parts[i-1].to)
				}
			}
		})
	}
}

func TestPartitionedListingRequestBound(t *testing.T) {
	// The same listing serially and in 4 partitions: the partitions may cost
	// at most 3 requests each more than the serial listing.
	const n = 4000
	count := func(k int) int {
		e := newEnv(t, sfmctest.Options{}, withPartitions(k))
		ids := e.srv.AddBlocks(0, n, 197)
		setDates(t, e.srv, ids, base, 3*time.Millisecond)
		got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}})
		checkExactlyOnce(t, e, 0, got, ids)
		if k > 1 && len(partitionsSent(t, e.srv)) != k {
			t.Fatalf("K=%d: listing was not partitioned", k)
		}
		return e.srv.Stats().ByRoute["query"]
	}
	serial, parted := count(1), count(4)
	if parted > serial+3*4 {
		t.Errorf("partitioned listing sent %d queries, serial %d: more than 3 per partition extra", parted, serial)
	}
	t.Logf("queries: serial %d, 4 partitions %d", serial, parted)
}

func TestPartitionedListingSmallListingStaysSerial(t *testing.T) {
	// A listing that fits a few pages costs no probe.
	e := newEnv(t, sfmctest.Options{}, withPartitions(4))
	ids := e.srv.AddBlocks(0, 120, 197)
	setDates(t, e.srv, ids, base, time.Second)
	got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}})
	checkExactlyOnce(t, e, 0, got, ids)
	for _, q := range sentQueries(t, e.srv) {
		if q.Page.PageSize == 1 || queryIDBounds(t, q.Query) != (idBounds{}) {
			t.Fatalf("a small listing sent a probe or partition query: %s", q.Query)
		}
	}
}

func TestPartitionedListingSeesEditsAfterItsPartitionEnds(t *testing.T) {
	// The lowest id range holds only 10 assets, so its partition ends after
	// one page; those 10 are then edited while the other partitions are
	// still paging. Only the final sweep can see the new versions.
	e := newEnv(t, sfmctest.Options{}, withPartitions(4))
	ids := e.srv.AddBlocks(0, 4000, 197)
	for _, id := range ids[10:1000] {
		if err := e.srv.DeleteAsset(0, id); err != nil {
			t.Fatal(err)
		}
	}
	live := append(slices.Clone(ids[:10]), ids[1000:]...)
	// Oldest first from the highest id, so the serial first page takes high
	// ids and the low range is left to its partition.
	rev := slices.Clone(live)
	slices.Reverse(rev)
	setDates(t, e.srv, rev, base, 3*time.Millisecond)

	var mu sync.Mutex
	partitionQueries, edited := 0, 0
	e.srv.OnRequest(func(r sfmctest.RequestInfo) {
		body := string(r.Body)
		if r.Route != "query" || !strings.Contains(body, `"property":"id","simpleOperator":"lessThan"`) &&
			!strings.Contains(body, `"property":"id","simpleOperator":"greaterThanOrEqual"`) {
			return // not a partition's query
		}
		mu.Lock()
		defer mu.Unlock()
		partitionQueries++
		if partitionQueries > 8 && edited < 10 {
			if err := e.srv.UpdateAsset(0, ids[edited], func(s *sfmctest.AssetSpec) { s.Content = "edited during the listing" }); err != nil {
				t.Error(err)
			}
			edited++
		}
	})
	got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}})
	if edited != 10 {
		t.Fatalf("only %d assets edited during the listing: the test did not run as designed", edited)
	}
	type ver struct {
		id int64
		md time.Time
	}
	versions := map[ver]int{}
	byID := map[int64]int{}
	for _, a := range got {
		versions[ver{a.ID, a.ModifiedDate.UTC()}]++
		byID[a.ID]++
	}
	for v, n := range versions {
		if n > 1 {
			t.Errorf("asset %d at %s emitted %d times", v.id, v.md, n)
		}
	}
	for _, id := range live {
		if byID[id] == 0 {
			t.Errorf("asset %d missed", id)
		}
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
		if versions[ver{id, md.UTC()}] != 1 {
			t.Errorf("asset %d: its version edited during the listing (%s) was not emitted", id, cur.ModifiedDateRaw)
		}
	}
}

func TestPartitionedListingFaults(t *testing.T) {
	// Every kind of failed request, injected while the partitions page: the
	// retried pages emit nothing twice and lose nothing.
	faults := []struct {
		name string
		f    sfmctest.Fault
	}{
		{"dropped connection", sfmctest.Fault{Route: "query", After: 6, Drop: true}},
		{"500 twice", sfmctest.Fault{Route: "query", After: 9, Status: 500, Times: 2}},
		{"503 Retry-After", sfmctest.Fault{Route: "query", After: 12, Status: 503, RetryAfter: 1}},
		{"429 rate limit", sfmctest.Fault{Route: "query", After: 15, Status: 429, RetryAfter: 1}},
		{"429 blocked 50200", sfmctest.Fault{Route: "query", After: 18, Status: 429}},
		{"slow responses", sfmctest.Fault{Route: "query", After: 7, Times: 3, Latency: 20 * time.Millisecond}},
	}
	for _, tc := range faults {
		f := tc.f
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sfmctest.Options{}, withPartitions(4))
			ids := e.srv.AddBlocks(0, 3000, 197)
			setDates(t, e.srv, ids, base, 3*time.Millisecond)
			e.srv.InjectFault(f)
			got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}})
			checkExactlyOnce(t, e, 0, got, ids)
			if len(partitionsSent(t, e.srv)) != 4 {
				t.Fatal("listing was not partitioned")
			}
		})
	}
}

func TestPartitionedListingTiesAcrossPartitions(t *testing.T) {
	// Clusters of one modifiedDate larger than a page, spread over every id
	// range: each partition walks its share of a cluster by id.
	e := newEnv(t, sfmctest.Options{TickRounding: true}, withPartitions(4))
	ids := e.srv.AddBlocks(0, 3000, 197)
	setDates(t, e.srv, ids, base, 3*time.Millisecond)
	var tie1, tie2 []int64
	for i, id := range ids {
		switch i % 5 {
		case 1:
			tie1 = append(tie1, id)
		case 3:
			tie2 = append(tie2, id)
		}
	}
	setDates(t, e.srv, tie1, base.Add(time.Hour), 0)
	setDates(t, e.srv, tie2, base.Add(2*time.Hour), 0)
	got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}})
	checkExactlyOnce(t, e, 0, got, ids)
	if len(partitionsSent(t, e.srv)) != 4 {
		t.Fatal("listing was not partitioned")
	}
}

func TestPartitionedListingHalvesOnBlocked(t *testing.T) {
	// A tenant that allows two concurrent requests: 4 partitions get 429 /
	// 50200 and back off to two in flight.
	e := newEnv(t, sfmctest.Options{MaxConcurrent: 2, Latency: 5 * time.Millisecond}, func(c *sfmc.Config) {
		withPartitions(4)(c)
		// Real waits, long against the latency, as SFMC's are (seconds).
		c.Sleep, c.RetryBaseDelay, c.RetryMaxDelay, c.MaxAttempts = nil, 20*time.Millisecond, 80*time.Millisecond, 8
	})
	ids := e.srv.AddBlocks(0, 3000, 197)
	setDates(t, e.srv, ids, base, 3*time.Millisecond)
	got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}})
	checkExactlyOnce(t, e, 0, got, ids)
	st := e.srv.Stats()
	blocked := st.ByRouteStatus["query 429"]
	pages := st.ByRoute["query"] - blocked
	if blocked == 0 {
		t.Fatal("no request was blocked: the test did not exercise the limit")
	}
	// Each halving follows one burst of blocked requests (at most one per
	// partition); recovering one partition at a time after calm pages costs
	// a few more. Without halving about every other request is blocked.
	if blocked > pages/4 {
		t.Errorf("%d requests blocked for %d pages: the partitions did not back off", blocked, pages)
	}
	t.Logf("%d pages, %d blocked", pages, blocked)
}

func TestPartitionedListingCallbackErrorStopsAll(t *testing.T) {
	e := newEnv(t, sfmctest.Options{}, withPartitions(4))
	ids := e.srv.AddBlocks(0, 3000, 197)
	setDates(t, e.srv, ids, base, 3*time.Millisecond)
	stop := errors.New("stop here")
	calls := 0
	err := e.c.QueryAssets(t.Context(), sfmc.AssetQuery{TypeIDs: []int{197}}, func(sfmc.Asset) error {
		calls++ // not atomic: the callback is never called concurrently (-race checks it)
		if calls == 500 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 500 {
		t.Errorf("err = %v after %d calls, want the callback's error after 500", err, calls)
	}
}

func TestPartitionedListingServerIgnoringIDRanges(t *testing.T) {
	// A server that drops the partitions' id conditions sends every
	// partition the assets of the others: each keeps only its own ids, so
	// nothing is emitted twice (and nothing is lost).
	e := newEnv(t, sfmctest.Options{}, withPartitions(4))
	ids := e.srv.AddBlocks(0, 3000, 197)
	setDates(t, e.srv, ids, base, 3*time.Millisecond)
	e.srv.InjectFault(sfmctest.Fault{Route: "query", Times: -1, IgnoreIDRange: true})
	got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}})
	checkExactlyOnce(t, e, 0, got, ids)
	if len(partitionsSent(t, e.srv)) != 4 {
		t.Fatal("listing was not partitioned")
	}
}

func TestPartitionedListingFallsBackWhenAProbeIsRefused(t *testing.T) {
	// A server that refuses a query the partitions need (400 on a probe):
	// the listing goes on serially and still lists everything once.
	e := newEnv(t, sfmctest.Options{}, withPartitions(4))
	ids := e.srv.AddBlocks(0, 3000, 197)
	setDates(t, e.srv, ids, base, 3*time.Millisecond)
	e.srv.InjectFault(sfmctest.Fault{Route: "query", After: 1, Status: 400, Message: "Error: 'id' is not a valid property name"})
	got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}})
	checkExactlyOnce(t, e, 0, got, ids)
	if p := partitionsSent(t, e.srv); len(p) != 0 {
		t.Errorf("partitions %v sent after a refused probe", p)
	}
}

func TestPartitionedListingAfterALeadingTieCluster(t *testing.T) {
	// The oldest assets share one modifiedDate, more than a page of them:
	// the listing walks that cluster by id first and then partitions the
	// rest.
	e := newEnv(t, sfmctest.Options{}, withPartitions(4))
	ids := e.srv.AddBlocks(0, 3000, 197)
	setDates(t, e.srv, ids[:120], base, 0)
	setDates(t, e.srv, ids[120:], base.Add(time.Hour), 3*time.Millisecond)
	got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}})
	checkExactlyOnce(t, e, 0, got, ids)
	if len(partitionsSent(t, e.srv)) != 4 {
		t.Fatal("a listing that starts with a tie cluster was not partitioned")
	}
}

// TestPartitionedListingReadsAhead: while the callback holds the first item,
// every partition has already sent its request for the page after its
// first: the wait for SFMC overlaps the work on the page before. Without
// read-ahead no partition sends another request until the callback returns.
func TestPartitionedListingReadsAhead(t *testing.T) {
	const k = 3
	e := newEnv(t, sfmctest.Options{}, withPartitions(k))
	ids := e.srv.AddBlocks(0, 3000, 197)
	setDates(t, e.srv, ids, base, 3*time.Millisecond)
	var (
		mu      sync.Mutex
		perPart = map[idBounds]int{}
		ahead   = make(chan struct{}) // closed when every partition has sent 2 requests
		closed  bool
	)
	e.srv.OnRequest(func(r sfmctest.RequestInfo) {
		if r.Route != "query" {
			return
		}
		var q sentQuery
		if err := json.Unmarshal(r.Body, &q); err != nil || q.Page.PageSize == 1 {
			return // a probe
		}
		b := queryIDBounds(t, q.Query)
		if b == (idBounds{}) {
			return // the first page or the sweep
		}
		mu.Lock()
		defer mu.Unlock()
		perPart[b]++
		n := 0
		for _, c := range perPart {
			if c >= 2 {
				n++
			}
		}
		if n == k && !closed {
			closed = true
			close(ahead)
		}
	})
	var got []sfmc.Asset
	err := e.c.QueryAssets(t.Context(), sfmc.AssetQuery{TypeIDs: []int{197}}, func(a sfmc.Asset) error {
		if len(got) == 50 { // the first page is serial; this is a partition's first item
			select {
			case <-ahead:
			case <-time.After(10 * time.Second):
				mu.Lock()
				defer mu.Unlock()
				return fmt.Errorf("while the callback held a partition's first item, the partitions sent %v requests: they did not read ahead", perPart)
			}
		}
		got = append(got, a)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, e, 0, got, ids)
}

// TestSerialListingReadsAhead: a listing that one walk pages alone sends
// its next request while the callback still holds the page before.
func TestSerialListingReadsAhead(t *testing.T) {
	e := newEnv(t, sfmctest.Options{}, withPartitions(1))
	ids := e.srv.AddBlocks(0, 300, 197)
	setDates(t, e.srv, ids, base, 3*time.Millisecond)
	var (
		mu      sync.Mutex
		queries int
		ahead   = make(chan struct{}) // closed at the third query
	)
	e.srv.OnRequest(func(r sfmctest.RequestInfo) {
		if r.Route != "query" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if queries++; queries == 3 {
			close(ahead)
		}
	})
	var got []sfmc.Asset
	err := e.c.QueryAssets(t.Context(), sfmc.AssetQuery{TypeIDs: []int{197}}, func(a sfmc.Asset) error {
		if len(got) == 50 { // the second page's first item
			select {
			case <-ahead:
			case <-time.After(10 * time.Second):
				mu.Lock()
				defer mu.Unlock()
				return fmt.Errorf("while the callback held the second page's first item, the listing had sent %d queries: it did not read ahead", queries)
			}
		}
		got = append(got, a)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, e, 0, got, ids)
}

// TestPartitionedListingSweepReadsAhead: the final sweep of a partitioned
// listing reads ahead too. 150 assets are edited as the sweep's first query
// arrives, so only the sweep can see their new versions, over three pages.
func TestPartitionedListingSweepReadsAhead(t *testing.T) {
	e := newEnv(t, sfmctest.Options{}, withPartitions(4))
	ids := e.srv.AddBlocks(0, 3000, 197)
	setDates(t, e.srv, ids, base, 3*time.Millisecond)
	const edits = 150
	var (
		mu            sync.Mutex
		partitioned   bool
		sweepQueries  int
		sweepThird    = make(chan struct{}) // closed at the sweep's third query
		editedVersion = base.Add(365 * 24 * time.Hour)
	)
	e.srv.OnRequest(func(r sfmctest.RequestInfo) {
		if r.Route != "query" {
			return
		}
		var q sentQuery
		if err := json.Unmarshal(r.Body, &q); err != nil || q.Page.PageSize == 1 {
			return // a probe
		}
		mu.Lock()
		defer mu.Unlock()
		if queryIDBounds(t, q.Query) != (idBounds{}) {
			partitioned = true
			return
		}
		if !partitioned {
			return // the first page
		}
		if sweepQueries++; sweepQueries == 1 {
			for _, id := range ids[:edits] {
				if err := e.srv.UpdateAsset(0, id, func(s *sfmctest.AssetSpec) { s.Content = "edited before the sweep" }); err != nil {
					t.Error(err)
				}
			}
		} else if sweepQueries == 3 {
			close(sweepThird)
		}
	})
	var got []sfmc.Asset
	swept := 0
	err := e.c.QueryAssets(t.Context(), sfmc.AssetQuery{TypeIDs: []int{197}}, func(a sfmc.Asset) error {
		got = append(got, a)
		if a.ModifiedDate.Before(editedVersion) {
			return nil
		}
		if swept++; swept == 51 { // the sweep's second page's first item
			select {
			case <-sweepThird:
			case <-time.After(10 * time.Second):
				mu.Lock()
				defer mu.Unlock()
				return fmt.Errorf("while the callback held the sweep's second page, the sweep had sent %d queries: it did not read ahead", sweepQueries)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if swept != edits {
		t.Fatalf("the sweep delivered %d edited versions, want %d", swept, edits)
	}
	byID := map[int64]int{}
	for _, a := range got {
		byID[a.ID]++
	}
	for i, id := range ids {
		want := 1
		if i < edits {
			want = 2 // the version the partitions saw and the edited one
		}
		if byID[id] != want {
			t.Errorf("asset %d delivered %d times, want %d", id, byID[id], want)
		}
	}
}

// TestPartitionedListingReadAheadBudgets: with no read-ahead, a budget
// smaller than one asset, one that runs out within a page and the default,
// the listing has every asset exactly once, also when answers break off and
// are retried (the items read before the break stay held, the retry skips
// them).
func TestPartitionedListingReadAheadBudgets(t *testing.T) {
	for _, budget := range []int64{-1, 1, 40 << 10, 0} {
		t.Run(fmt.Sprint(budget), func(t *testing.T) {
			e := newEnv(t, sfmctest.Options{}, func(c *sfmc.Config) {
				withPartitions(4)(c)
				c.ListReadAhead = budget
			})
			ids := e.srv.AddBlocks(0, 3000, 197)
			setDates(t, e.srv, ids, base, 3*time.Millisecond)
			e.srv.InjectFault(sfmctest.Fault{Route: "query", After: 8, Times: 3, CutAfterBytes: 20000})
			got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}})
			checkExactlyOnce(t, e, 0, got, ids)
			if len(partitionsSent(t, e.srv)) != 4 {
				t.Fatal("listing was not partitioned")
			}
			if r := e.c.Stats()[sfmc.StatRetries]; r != 3 {
				t.Errorf("%d retries, want 3 (one per answer broken off)", r)
			}
		})
	}
}

// TestPartitionedFullListingProbesWithTheFirstPage: a full listing, once
// SFMC's clock is known, sends its probes together with its first page
// instead of after it: the emulator holds the first page until all three
// probes have arrived. The listing is still exactly once and partitioned.
func TestPartitionedFullListingProbesWithTheFirstPage(t *testing.T) {
	e := newEnv(t, sfmctest.Options{}, withPartitions(4))
	ids := e.srv.AddBlocks(0, 3000, 197)
	setDates(t, e.srv, ids, base, 3*time.Millisecond)
	if err := e.c.Authenticate(t.Context()); err != nil { // SFMC's clock is now known
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		probes int
		all    = make(chan struct{})
		first  = true
		waited error
	)
	e.srv.OnRequest(func(r sfmctest.RequestInfo) {
		if r.Route != "query" {
			return
		}
		var q sentQuery
		_ = json.Unmarshal(r.Body, &q)
		mu.Lock()
		if q.Page.PageSize == 1 {
			if probes++; probes == 3 {
				close(all)
			}
			mu.Unlock()
			return
		}
		hold := first
		first = false
		mu.Unlock()
		if hold {
			select {
			case <-all:
			case <-time.After(10 * time.Second):
				mu.Lock()
				waited = fmt.Errorf("%d probes arrived while the first page was held, want 3", probes)
				mu.Unlock()
			}
		}
	})
	got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}})
	if waited != nil {
		t.Fatal(waited)
	}
	checkExactlyOnce(t, e, 0, got, ids)
	if len(partitionsSent(t, e.srv)) != 4 {
		t.Fatal("listing was not partitioned")
	}
}

// TestPartitionedFullListingFallsBackWhenAnEarlyProbeIsRefused: a probe
// sent with the first page and refused (400) leaves the listing serial and
// complete.
func TestPartitionedFullListingFallsBackWhenAnEarlyProbeIsRefused(t *testing.T) {
	e := newEnv(t, sfmctest.Options{}, withPartitions(4))
	ids := e.srv.AddBlocks(0, 3000, 197)
	setDates(t, e.srv, ids, base, 3*time.Millisecond)
	if err := e.c.Authenticate(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.srv.InjectFault(sfmctest.Fault{Route: "query", PageSize: 1, Status: 400, Message: "Error: 'id' is not a valid property name"})
	got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}})
	checkExactlyOnce(t, e, 0, got, ids)
	if n := len(partitionsSent(t, e.srv)); n != 0 {
		t.Errorf("%d partitions sent after a refused probe, want a serial listing", n)
	}
}

// TestFullListingExpectedShortSendsNoProbes: a full listing the caller
// expects to be short (deletion tracking's id listing of a small account)
// costs its pages only, even with SFMC's clock known.
func TestFullListingExpectedShortSendsNoProbes(t *testing.T) {
	e := newEnv(t, sfmctest.Options{}, withPartitions(4))
	ids := e.srv.AddBlocks(0, 30, 197)
	setDates(t, e.srv, ids, base, 3*time.Millisecond)
	if err := e.c.Authenticate(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}, Expect: 30})
	checkExactlyOnce(t, e, 0, got, ids)
	if n := e.srv.Stats().ByRoute["query"]; n != 1 {
		t.Errorf("%d query requests for one page expected short, want 1", n)
	}
}
