package sfmc_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/sfmc"
	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
)

// sentQuery is the part of a POST /assets/query body the tests inspect.
type sentQuery struct {
	Page struct {
		Page     int `json:"page"`
		PageSize int `json:"pageSize"`
	} `json:"page"`
	Query  json.RawMessage `json:"query"`
	Fields []string        `json:"fields"`
}

func sentQueries(t *testing.T, srv *sfmctest.Server) []sentQuery {
	t.Helper()
	var out []sentQuery
	for _, r := range srv.Requests() {
		if r.Route != "query" {
			continue
		}
		var q sentQuery
		if err := json.Unmarshal(r.Body, &q); err != nil {
			t.Fatalf("query body %s: %v", r.Body, err)
		}
		out = append(out, q)
	}
	return out
}

// setDates gives ids modifiedDates from start, step apart.
func setDates(t testing.TB, srv *sfmctest.Server, ids []int64, start time.Time, step time.Duration) {
	t.Helper()
	for i, id := range ids {
		if err := srv.SetModifiedDate(0, id, start.Add(time.Duration(i)*step)); err != nil {
			t.Fatal(err)
		}
	}
}

var base = time.Date(2024, 1, 1, 0, 0, 0, 0, time.FixedZone("", -6*3600))

func TestQueryBeyondResultWindow(t *testing.T) {
	e := newEnv(t, sfmctest.Options{}, nil)
	ids := e.srv.AddBlocks(0, 12000, 197)
	setDates(t, e.srv, ids, base, 7*time.Millisecond)
	got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}})
	checkExactlyOnce(t, e, 0, got, ids)
	for i := 1; i < len(got) && e.cfg.ListConcurrency == 1; i++ {
		// A serial listing keeps (modifiedDate, id) order; partitions do not.
		if got[i].ModifiedDate.Before(got[i-1].ModifiedDate) {
			t.Fatalf("item %d out of modifiedDate order", i)
		}
	}
	st := e.srv.Stats()
	if st.ByRouteStatus["query 400"] != 0 {
		t.Errorf("%d queries failed (result window?)", st.ByRouteStatus["query 400"])
	}
	for _, q := range sentQueries(t, e.srv) {
		if q.Page.Page*q.Page.PageSize > 10000 {
			t.Errorf("deep offset page %d × %d", q.Page.Page, q.Page.PageSize)
		}
	}
	maxQueries := (12000+499)/500 + 3 + e.partitionAllowance()
	if n := st.ByRoute["query"]; n > maxQueries {
		t.Errorf("query requests = %d, want ≤ %d", n, maxQueries)
	}
}

func TestQueryTiesAcrossPageBoundary(t *testing.T) {
	tests := []struct {
		name               string
		before, tie, after int
	}{
		{"600 ties from the start", 0, 600, 300},
		{"ties straddling the boundary", 450, 600, 300},
		{"tie cluster of 1,300 (three pages)", 250, 1300, 700},
		{"only ties, exactly a page", 0, 500, 0},
		{"ties at the end", 700, 600, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, sfmctest.Options{}, nil)
			ids := e.srv.AddBlocks(0, tt.before+tt.tie+tt.after, 197)
			tieAt := base.Add(time.Hour)
			setDates(t, e.srv, ids[:tt.before], base, 3*time.Millisecond)
			setDates(t, e.srv, ids[tt.before:tt.before+tt.tie], tieAt, 0)
			setDates(t, e.srv, ids[tt.before+tt.tie:], tieAt.Add(3*time.Millisecond), 3*time.Millisecond)
			got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}, PageSize: 500})
			checkExactlyOnce(t, e, 0, got, ids)
		})
	}
}

func TestQuerySeededTies(t *testing.T) {
	// The emulator's awkward fixture set, including its 600-block tie.
	e := newEnv(t, sfmctest.Options{TickRounding: true}, nil)
	e.srv.Seed(sfmctest.SeedOptions{ExtraBlocks: 700})
	var want []int64
	types := map[int]bool{}
	for _, raw := range e.srv.Dump(0) {
		var a sfmc.Asset
		if err := json.Unmarshal(raw, &a); err != nil {
			t.Fatal(err)
		}
		want = append(want, a.ID)
		types[a.AssetType.ID] = true
	}
	var typeIDs []int
	for id := range types {
		typeIDs = append(typeIDs, id)
	}
	got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: typeIDs})
	checkExactlyOnce(t, e, 0, got, want)
}

func TestQueryTieClusterBeyondWindow(t *testing.T) {
	// One modifiedDate for more assets than the result window allows (what
	// AddBlocks produces): the cluster is walked by id, never by offset.
	tests := []struct {
		name         string
		window, ties int
		after        int
	}{
		{"12,000 ties, default window", 0, 12000, 0},
		{"1,200 ties, window 1,000, more after", 1000, 1200, 900},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, sfmctest.Options{ResultWindow: tt.window}, nil)
			ids := e.srv.AddBlocks(0, tt.ties, 197)
			more := e.srv.AddBlocks(0, tt.after, 197)
			setDates(t, e.srv, more, base.Add(time.Hour), time.Second)
			// Make some later assets have lower ids than the cluster's end,
			// the case the id condition holds back until the cluster is done.
			setDates(t, e.srv, ids[:tt.ties/10], base.Add(30*time.Minute), 0)
			setDates(t, e.srv, ids[tt.ties/10:], base, 0)
			got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}})
			checkExactlyOnce(t, e, 0, got, append(ids, more...))
			st := e.srv.Stats()
			if st.ByRouteStatus["query 400"] != 0 {
				t.Errorf("%d queries failed", st.ByRouteStatus["query 400"])
			}
			for _, q := range sentQueries(t, e.srv) {
				if q.Page.Page != 1 {
					t.Fatalf("offset page %d requested", q.Page.Page)
				}
			}
			n := tt.ties + tt.after
			if limit := (n+499)/500 + 6 + e.partitionAllowance(); st.ByRoute["query"] > limit {
				t.Errorf("query requests = %d, want ≤ %d", st.ByRoute["query"], limit)
			}
		})
	}
}

func TestQueryTypeChunks(t *testing.T) {
	e := newEnv(t, sfmctest.Options{}, nil)
	blockTypes := []int{195, 196, 197, 198, 199, 200, 201, 202, 203, 210, 211, 212, 213, 219, 220, 221, 223, 224, 225, 226}
	var want []int64
	for i, typ := range blockTypes {
		ids := e.srv.AddBlocks(0, 3+i, typ)
		want = append(want, ids...)
	}
	excluded := e.srv.AddBlocks(0, 5, 207) // an email type not asked for
	// 120 ids, in 3 chunks; ids with no assets pad the list.
	var typeIDs []int
	for id := 100; len(typeIDs) < 120-len(blockTypes); id++ {
		typeIDs = append(typeIDs, id)
	}
	typeIDs = append(typeIDs, blockTypes...)
	typeIDs = append(typeIDs, 197) // duplicates are ignored
	got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: typeIDs})
	checkExactlyOnce(t, e, 0, got, want)
	for _, a := range got {
		if slices.Contains(excluded, a.ID) {
			t.Errorf("asset %d of an unrequested type listed", a.ID)
		}
	}
	var qs []sentQuery
	for _, q := range sentQueries(t, e.srv) {
		if q.Page.PageSize != 1 { // not a partitioned listing's probe
			qs = append(qs, q)
		}
	}
	if len(qs) != 3 {
		t.Errorf("query requests = %d, want 3 (one per chunk of ≤ 50 type ids)", len(qs))
	}
	for _, q := range qs {
		var n int
		walkIn(q.Query, func(values int) { n = max(n, values) })
		if n == 0 || n > 50 {
			t.Errorf("in-list of %d values: %s", n, q.Query)
		}
	}
}

// walkIn calls fn with the length of every "in" value list in a query tree.
func walkIn(raw json.RawMessage, fn func(int)) {
	var node struct {
		LeftOperand    json.RawMessage `json:"leftOperand"`
		RightOperand   json.RawMessage `json:"rightOperand"`
		SimpleOperator string          `json:"simpleOperator"`
		Value          json.RawMessage `json:"value"`
	}
	if json.Unmarshal(raw, &node) != nil {
		return
	}
	if strings.EqualFold(node.SimpleOperator, "in") {
		var vals []json.RawMessage
		_ = json.Unmarshal(node.Value, &vals)
		fn(len(vals))
	}
	if node.LeftOperand != nil {
		walkIn(node.LeftOperand, fn)
	}
	if node.RightOperand != nil {
		walkIn(node.RightOperand, fn)
	}
}

func TestQueryModifiedSince(t *testing.T) {
	// The emulator reads offset-less filter values as -06:00 or as UTC; the
	// client sends explicit offsets, so both give the same result.
	for name, zone := range map[string]*time.Location{"offset-less as -06:00": nil, "offset-less as UTC": time.UTC} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, sfmctest.Options{FilterZone: zone}, nil)
			ids := e.srv.AddBlocks(0, 1000, 197)
			setDates(t, e.srv, ids, base, 10*time.Second)
			since := base.Add(400 * 10 * time.Second) // ids[400] exactly: ≥ includes it
			got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}, ModifiedSince: since.UTC()})
			checkExactlyOnce(t, e, 0, got, ids[400:])
			first := sentQueries(t, e.srv)[0]
			if !strings.Contains(string(first.Query), `"2024-01-01T01:06:40.000-06:00"`) {
				t.Errorf("first query %s does not filter on an explicit -06:00 millisecond timestamp", first.Query)
			}
		})
	}
}

func TestQueryStopsWithoutExtraRequests(t *testing.T) {
	tests := []struct {
		n, size   int
		omitEmpty bool
		want      int
	}{
		{0, 500, false, 1},
		{0, 500, true, 1},
		{499, 500, false, 1},
		{500, 500, false, 1}, // count says done: no empty page
		{501, 500, true, 2},
		{1000, 500, false, 3}, // 500, then 1 repeated + 499, then the repeated one + 1
		{120, 50, false, 3},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d items at %d", tt.n, tt.size), func(t *testing.T) {
			e := newEnv(t, sfmctest.Options{OmitEmptyItems: tt.omitEmpty}, nil)
			ids := e.srv.AddBlocks(0, tt.n, 197)
			setDates(t, e.srv, ids, base, time.Second)
			got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}, PageSize: tt.size})
			checkExactlyOnce(t, e, 0, got, ids)
			if n := e.srv.Stats().ByRoute["query"]; n != tt.want {
				t.Errorf("query requests = %d, want %d", n, tt.want)
			}
		})
	}
}

func TestQueryRequestCountBound(t *testing.T) {
	// 1 token + ceil(N/pageSize) pages, plus at most a few.
	const n, size = 5000, 500
	e := newEnv(t, sfmctest.Options{}, nil)
	ids := e.srv.AddBlocks(0, n, 197)
	setDates(t, e.srv, ids, base, 20*time.Millisecond)
	got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}})
	checkExactlyOnce(t, e, 0, got, ids)
	st := e.c.Stats()
	total := st[sfmc.StatToken] + st[sfmc.StatQuery]
	if limit := int64(1 + (n+size-1)/size + 2 + e.partitionAllowance()); total > limit {
		t.Errorf("requests = %d (token %d, query %d), want ≤ %d", total, st[sfmc.StatToken], st[sfmc.StatQuery], limit)
	}
}

func TestQueryClampedPageSize(t *testing.T) {
	// A server that clamps pageSize to 100 must not end the listing early.
	e := newEnv(t, sfmctest.Options{MaxPageSize: 100}, nil)
	ids := e.srv.AddBlocks(0, 450, 197)
	setDates(t, e.srv, ids, base, time.Second)
	got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}, PageSize: 500})
	checkExactlyOnce(t, e, 0, got, ids)
}

func TestQueryFieldsAndRetries(t *testing.T) {
	e := newEnv(t, sfmctest.Options{}, nil)
	ids := e.srv.AddBlocks(0, 1200, 197)
	setDates(t, e.srv, ids, base, time.Second)
	e.srv.InjectFault(sfmctest.Fault{Route: "query", After: 1, Drop: true})
	e.srv.InjectFault(sfmctest.Fault{Route: "query", After: 2, Status: 429, RetryAfter: 1})
	got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}, Fields: []string{"content", "id"}})
	seen := map[int64]bool{}
	for _, a := range got {
		if seen[a.ID] {
			t.Fatalf("asset %d repeated", a.ID)
		}
		seen[a.ID] = true
		if a.CustomerKey == "" || a.ModifiedDate.IsZero() {
			t.Fatalf("projection lost a required field: %s", a.Raw)
		}
	}
	if len(seen) != len(ids) {
		t.Errorf("got %d assets, want %d", len(seen), len(ids))
	}
	fields := sentQueries(t, e.srv)[0].Fields
	for _, f := range []string{"id", "customerKey", "assetType", "name", "modifiedDate", "content"} {
		if !slices.Contains(fields, f) {
			t.Errorf("fields %v lack %q", fields, f)
		}
	}
	if c := strings.Count(strings.Join(fields, ","), "id,"); c > 1 {
		t.Errorf("fields %v repeat id", fields)
	}
}

func TestQueryCallbackErrorStops(t *testing.T) {
	e := newEnv(t, sfmctest.Options{}, nil)
	e.srv.AddBlocks(0, 1500, 197)
	stop := errors.New("stop here")
	calls := 0
	err := e.c.QueryAssets(t.Context(), sfmc.AssetQuery{TypeIDs: []int{197}}, func(sfmc.Asset) error {
		calls++
		if calls == 10 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 10 {
		t.Errorf("err = %v after %d calls, want the callback's error after 10", err, calls)
	}
	if n := e.srv.Stats().ByRoute["query"]; n != 1 {
		t.Errorf("query requests = %d, want 1", n)
	}
}

func TestQueryModifiedDuringListing(t *testing.T) {
	// An asset updated while the listing runs moves to the end; it is seen
	// again with its new modifiedDate, and nothing is skipped.
	clk := newClock()
	e := newEnv(t, sfmctest.Options{Now: clk.Now}, nil)
	ids := e.srv.AddBlocks(0, 1500, 197)
	setDates(t, e.srv, ids, base, time.Second)
	clk.Advance(time.Hour)
	pages := 0
	e.srv.OnRequest(func(r sfmctest.RequestInfo) {
		if r.Route != "query" {
			return
		}
		pages++
		if pages == 2 {
			if err := e.srv.UpdateAsset(0, ids[10], func(s *sfmctest.AssetSpec) { s.Content = "changed" }); err != nil {
				t.Error(err)
			}
		}
	})
	got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}})
	count := map[int64]int{}
	for _, a := range got {
		count[a.ID]++
	}
	for _, id := range ids {
		if count[id] == 0 {
			t.Fatalf("asset %d skipped", id)
		}
	}
	if count[ids[10]] != 2 || len(got) != len(ids)+1 {
		t.Errorf("updated asset seen %d times, total %d; want 2 and %d", count[ids[10]], len(got), len(ids)+1)
	}
}
