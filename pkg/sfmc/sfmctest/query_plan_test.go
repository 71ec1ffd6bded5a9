package sfmctest

import (
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestQueryPlanSelectsWhatThePredicateSelects runs queries through the
// indexed plan and through the plain predicate (every asset, in id order,
// then sorted) and requires the same count and the same page, for the
// listing's conditions and for ones the plan must leave to the predicate.
func TestQueryPlanSelectsWhatThePredicateSelects(t *testing.T) {
	s := New(t, Options{})
	s.Seed(SeedOptions{Assets: 3000})
	st := s.store(0)
	ids := s.AssetIDs(0)
	lo, hi := ids[len(ids)/4], ids[len(ids)/2]
	types := DefaultBlockTypes()
	dates := []string{"2022-06-01T00:00:00.000-06:00", "2023-03-15T10:20:30.467-06:00", "2021-01-01", "1900-01-01T00:00:00Z", "2024-01-10T00:00:00.5"}
	// An exact modifiedDate of the account, shared by the big tie.
	var tie string
	mods := map[string]int{}
	for _, d := range seededDocs(t, s) {
		md := d["modifiedDate"].(string)
		if mods[md]++; mods[md] > 100 {
			tie = md
		}
	}
	if tie == "" {
		t.Fatal("no large tie in the account")
	}
	dates = append(dates, tie)
	var queries []any
	for _, d := range dates {
		for _, op := range []string{"greaterThanOrEqual", "greaterThan", "lessThan", "lessThanOrEqual", "equal"} {
			since := simple("modifiedDate", op, d)
			queries = append(queries, since, and(simple("assetType.id", "in", types), since))
		}
	}
	base := and(simple("assetType.id", "in", types), simple("modifiedDate", "greaterThanOrEqual", dates[0]))
	for _, r := range [][2]any{{lo, hi}, {float64(lo) + 0.5, float64(hi) - 0.5}, {strconv.FormatInt(lo, 10), hi}, {hi, lo}, {-5, 1e300}} {
		queries = append(queries,
			and(and(base, simple("id", "greaterThanOrEqual", r[0])), simple("id", "lessThan", r[1])),
			and(simple("id", "greaterThan", r[0]), simple("id", "lessThanOrEqual", r[1])))
	}
	queries = append(queries,
		simple("id", "greaterThan", 0),
		simple("assetType.id", "equal", 197),
		simple("assetType.id", "notEqual", 197),
		and(simple("assetType.id", "in", []int{197, 196}), simple("assetType.id", "in", []int{196, 28})),
		or(simple("assetType.id", "equal", 28), and(simple("id", "lessThan", lo), simple("assetType.id", "equal", 197))),
		and(base, simple("name", "like", "Spring")),
		and(base, simple("category.name", "equal", "Headers")),
		and(simple("id", "equal", lo), simple("modifiedDate", "greaterThan", "2000-01-01")),
	)
	byMod := []map[string]string{{"property": "modifiedDate", "direction": "ASC"}, {"property": "id", "direction": "ASC"}}
	sorts := [][]map[string]string{nil, byMod,
		{{"property": "modifiedDate", "direction": "DESC"}, {"property": "id", "direction": "DESC"}},
		{{"property": "id", "direction": "ASC"}}, {{"property": "id", "direction": "DESC"}},
		{{"property": "modifiedDate", "direction": "DESC"}}, {{"property": "name", "direction": "ASC"}}}
	ran := 0
	for qi, q := range queries {
		raw, err := json.Marshal(q)
		if err != nil {
			t.Fatal(err)
		}
		for si, sort := range sorts {
			for _, pr := range []pageRequest{{page: 1, size: 500}, {page: 2, size: 500}, {page: 1, size: 1}} {
				s.readLocked(st, func() {
					pred, aerr := s.compileQuery(st, raw, 0)
					if aerr != nil {
						t.Fatalf("query %d: %v", qi, aerr)
					}
					plan, aerr := s.planQuery(st, raw)
					if aerr != nil {
						t.Fatalf("query %d: plan: %v", qi, aerr)
					}
					var keys []sortKey
					for _, k := range sort {
						sk, aerr := s.parseSortKey(st, k["property"], k["direction"])
						if aerr != nil {
							t.Fatal(aerr)
						}
						keys = append(keys, sk)
					}
					n1, got := s.runQuery(st, plan, keys, pr, 1)
					n2, want := s.runQuery(st, openPlan(pred), keys, pr, 1)
					if n1 != n2 || !slices.Equal(got, want) {
						t.Errorf("query %d %s sort %d page %v: plan %d items (count %d), predicate %d items (count %d)",
							qi, raw, si, pr, len(got), n1, len(want), n2)
					}
					ran++
				})
			}
		}
	}
	// The listing query itself selects something, so the check is not vacuous.
	s.readLocked(st, func() {
		raw, _ := json.Marshal(base)
		plan, _ := s.planQuery(st, raw)
		if n, _ := s.runQuery(st, plan, nil, pageRequest{page: 1, size: 1}, 1); n < 1000 {
			t.Errorf("listing query counts %d", n)
		}
	})
	t.Logf("%d comparisons", ran)
}

// TestQueryPlanIndexLag: assets still hidden by the search index lag stay
// hidden on the indexed path.
func TestQueryPlanIndexLag(t *testing.T) {
	clock := newClock(time.Date(2024, 9, 1, 0, 0, 0, 0, time.UTC))
	s := New(t, Options{Now: clock.Now, IndexLag: time.Minute})
	s.Seed(SeedOptions{Assets: 200, TieBlocks: -1})
	before := s.AssetCount(0)
	s.AddBlocks(0, 3, 197)
	r := newRest(t, s)
	q := map[string]any{"query": and(simple("assetType.id", "in", DefaultBlockTypes()), simple("id", "greaterThan", 0)),
		"sort": []map[string]string{{"property": "id", "direction": "DESC"}}, "page": map[string]int{"page": 1, "pageSize": 500}}
	_, res := r.query(q)
	for _, h := range heads(t, res.Items) {
		if h.ID > s.AssetIDs(0)[before-1] {
			t.Fatalf("asset %d seen before the index caught up", h.ID)
		}
	}
	clock.Advance(2 * time.Minute)
	if _, res2 := r.query(q); res2.Count != res.Count+3 {
		t.Errorf("after the lag: count %d, want %d", res2.Count, res.Count+3)
	}
}

// TestListBodyBytes: the piecewise list response is byte for byte the
// envelope, with a Content-Length that matches.
func TestListBodyBytes(t *testing.T) {
	docs := [][]byte{[]byte(`{"id":1}`), []byte(`{"id":2,"name":"ü"}`)}
	for _, c := range []struct {
		docs      [][]byte
		omitEmpty bool
	}{{docs, false}, {docs[:1], true}, {nil, false}, {nil, true}} {
		pr := pageRequest{page: 3, size: 50}
		rec := httptest.NewRecorder()
		(&listBody{count: 7, pr: pr, docs: c.docs, omitEmpty: c.omitEmpty}).write(rec)
		want := listEnvelope(7, pr, c.docs, c.omitEmpty)
		if got := rec.Body.String(); got != string(want) {
			t.Errorf("body %s, want %s", got, want)
		}
		if cl := rec.Header().Get("Content-Length"); cl != strconv.Itoa(len(want)) {
			t.Errorf("Content-Length %s for %d bytes", cl, len(want))
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Errorf("invalid JSON %s", rec.Body.Bytes())
		}
	}
}
