package sfmctest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// queryFixture builds a small known data set on a fixed clock.
type queryFixture struct {
	s    *Server
	r    *rest
	ids  map[string]int64
	base time.Time
}

func newQueryFixture(t *testing.T, opts Options) *queryFixture {
	t.Helper()
	base := time.Date(2024, 7, 1, 10, 0, 0, 0, time.FixedZone("", -6*3600))
	clock := newClock(base)
	opts.Now = clock.Now
	s := New(t, opts)
	f := &queryFixture{s: s, ids: map[string]int64{}, base: base}
	cat, err := s.CreateCategory(0, "Folder/With Slash", 0)
	if err != nil {
		t.Fatal(err)
	}
	specs := []AssetSpec{
		{Name: "Alpha footer", CustomerKey: "k-alpha", Content: "<p>Hello brave new world</p>", TypeID: 197},
		{Name: "Beta header", CustomerKey: "k-beta", Content: "hello world", TypeID: 196, CategoryID: cat},
		{Name: "Gamma", CustomerKey: "k-gamma", Content: "", TypeID: 195, Extra: map[string]json.RawMessage{"tags": json.RawMessage(`["Legal","footer"]`)}},
		{Name: "Delta email", CustomerKey: "k-delta", TypeID: 208, Extra: map[string]json.RawMessage{
			"data": json.RawMessage(`{"email":{"legacy":{"legacyId":4711}}}`), "description": json.RawMessage(`"has a description"`)}},
		{Name: "Epsilon", CustomerKey: "k-epsilon", Content: "brave", TypeID: 197, CategoryID: cat},
	}
	for i, sp := range specs {
		id := mustCreate(t, s, 0, sp)
		f.ids[sp.CustomerKey] = id
		// modifiedDate: base + i hours + i*111 ms.
		if err := s.SetModifiedDate(0, id, base.Add(time.Duration(i)*time.Hour+time.Duration(i*111)*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute)
	}
	f.r = newRest(t, s)
	return f
}

func (f *queryFixture) keys(t *testing.T, items []json.RawMessage) []string {
	t.Helper()
	var out []string
	for _, h := range heads(t, items) {
		out = append(out, h.CustomerKey)
	}
	return out
}

func TestQueryOperators(t *testing.T) {
	f := newQueryFixture(t, Options{})
	tests := []struct {
		name  string
		query any
		want  []string // customer keys, ascending id
	}{
		{"equal", simple("customerKey", "equal", "k-beta"), []string{"k-beta"}},
		{"equals alias", simple("customerKey", "equals", "k-beta"), []string{"k-beta"}},
		{"operator case-insensitive", simple("customerKey", "EQUALS", "k-beta"), []string{"k-beta"}},
		{"property case-insensitive", simple("CustomerKey", "equal", "k-beta"), []string{"k-beta"}},
		{"equal is exact", simple("customerKey", "equal", "K-BETA"), nil},
		{"notEqual", simple("assetType.id", "notEqual", 197), []string{"k-beta", "k-gamma", "k-delta"}},
		{"number as string", simple("assetType.id", "equal", "196"), []string{"k-beta"}},
		{"lessThan", simple("assetType.id", "lessThan", 197), []string{"k-beta", "k-gamma"}},
		{"lessThanOrEqual", simple("assetType.id", "lessThanOrEqual", 196), []string{"k-beta", "k-gamma"}},
		{"greaterThan", simple("assetType.id", "greaterThan", 197), []string{"k-delta"}},
		{"greaterThanOrEqual", simple("assetType.id", "greaterthanorequal", 197), []string{"k-alpha", "k-delta", "k-epsilon"}},
		{"like substring case-insensitive", simple("name", "like", "FOOT"), []string{"k-alpha"}},
		{"like with percent", simple("name", "like", "%eader%"), []string{"k-beta"}},
		{"startsWith", simple("name", "startsWith", "ga"), []string{"k-gamma"}},
		{"contains any word", simple("content", "contains", "world nothing"), []string{"k-alpha", "k-beta"}},
		{"mustContain all words", simple("content", "mustcontain", "brave world"), []string{"k-alpha"}},
		{"in with value", simple("assetType.id", "in", []int{195, 196}), []string{"k-beta", "k-gamma"}},
		{"in with values", map[string]any{"property": "assetType.id", "simpleOperator": "in", "values": []int{208}}, []string{"k-delta"}},
		{"in on strings", simple("customerKey", "in", []string{"k-alpha", "k-epsilon", "nope"}), []string{"k-alpha", "k-epsilon"}},
		{"isNull", map[string]any{"property": "description", "simpleOperator": "isNull"}, []string{"k-alpha", "k-beta", "k-gamma", "k-epsilon"}},
		{"isNotNull", map[string]any{"property": "description", "simpleOperator": "isNotNull"}, []string{"k-delta"}},
		{"isNull on content of an email", map[string]any{"property": "content", "simpleOperator": "isNull"}, []string{"k-delta"}},
		{"where on tags", simple("tags", "where", "legal"), []string{"k-gamma"}},
		{"dotted assetType.name", simple("assetType.name", "equal", "textblock"), []string{"k-beta"}},
		{"dotted category.name", simple("category.name", "equal", "Folder/With Slash"), []string{"k-beta", "k-epsilon"}},
		{"dotted owner.userId", simple("owner.userId", "equal", "700304523"), []string{"k-alpha", "k-beta", "k-gamma", "k-delta", "k-epsilon"}},
		{"deep generic path", simple("data.email.legacy.legacyId", "equal", 4711), []string{"k-delta"}},
		{"AND", and(simple("assetType.id", "equal", 197), simple("content", "like", "brave")), []string{"k-alpha", "k-epsilon"}},
		{"OR", or(simple("customerKey", "equal", "k-alpha"), simple("customerKey", "equal", "k-gamma")), []string{"k-alpha", "k-gamma"}},
		{"nested three levels", and(
			or(simple("assetType.id", "equal", 197), simple("assetType.id", "equal", 196)),
			or(and(simple("name", "like", "a"), simple("content", "like", "world")), simple("customerKey", "equal", "k-epsilon")),
		), []string{"k-alpha", "k-beta", "k-epsilon"}},
		{"logical operator lower case", map[string]any{"leftOperand": simple("id", "greaterThan", 0), "logicalOperator": "and",
			"rightOperand": simple("customerKey", "equal", "k-alpha")}, []string{"k-alpha"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, q := f.r.query(map[string]any{"query": tc.query})
			if res.Status != 200 {
				t.Fatalf("status %d: %s", res.Status, res.Body)
			}
			got := f.keys(t, q.Items)
			if !slices.Equal(got, tc.want) || q.Count != len(tc.want) {
				t.Errorf("got %v (count %d), want %v", got, q.Count, tc.want)
			}
		})
	}
}

func TestQueryDates(t *testing.T) {
	// Asset i has modifiedDate 2024-07-01T10:00:00-06:00 + i h + i*111 ms
	// (i = 0..4: alpha, beta, gamma, delta, epsilon).
	tests := []struct {
		name  string
		zone  *time.Location
		query any
		want  []string
	}{
		{"explicit -06:00 with fraction", nil, simple("modifiedDate", "greaterThanOrEqual", "2024-07-01T12:00:00.222-06:00"), []string{"k-gamma", "k-delta", "k-epsilon"}},
		{"fraction excludes by one ms", nil, simple("modifiedDate", "greaterThanOrEqual", "2024-07-01T12:00:00.223-06:00"), []string{"k-delta", "k-epsilon"}},
		{"greaterThan is strict", nil, simple("modifiedDate", "greaterThan", "2024-07-01T12:00:00.222-06:00"), []string{"k-delta", "k-epsilon"}},
		{"UTC Z", nil, simple("modifiedDate", "greaterThanOrEqual", "2024-07-01T18:00:00.222Z"), []string{"k-gamma", "k-delta", "k-epsilon"}},
		{"+02:00 offset", nil, simple("modifiedDate", "lessThan", "2024-07-01T19:00:00.111+02:00"), []string{"k-alpha"}},
		{"nanosecond fraction", nil, simple("modifiedDate", "lessThanOrEqual", "2024-07-01T11:00:00.111000000-06:00"), []string{"k-alpha", "k-beta"}},
		{"equal on instant", nil, simple("modifiedDate", "equal", "2024-07-01T17:00:00.111Z"), []string{"k-beta"}},
		{"offset-less read as -06:00 by default", nil, simple("modifiedDate", "greaterThanOrEqual", "2024-07-01T13:00:00"), []string{"k-delta", "k-epsilon"}},
		{"offset-less in UTC mode", time.UTC, simple("modifiedDate", "greaterThanOrEqual", "2024-07-01T19:00:00"), []string{"k-delta", "k-epsilon"}},
		{"date only", nil, simple("modifiedDate", "lessThan", "2024-07-02"), []string{"k-alpha", "k-beta", "k-gamma", "k-delta", "k-epsilon"}},
		{"date only excludes all", nil, simple("modifiedDate", "lessThan", "2024-07-01"), nil},
		{"date only in UTC mode", time.UTC, simple("modifiedDate", "greaterThan", "2024-07-01"), []string{"k-alpha", "k-beta", "k-gamma", "k-delta", "k-epsilon"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newQueryFixture(t, Options{FilterZone: tc.zone})
			res, q := f.r.query(map[string]any{"query": tc.query})
			if res.Status != 200 {
				t.Fatalf("status %d: %s", res.Status, res.Body)
			}
			if got := f.keys(t, q.Items); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestQuerySort(t *testing.T) {
	f := newQueryFixture(t, Options{})
	all := simple("id", "greaterThan", 0)
	sortBy := func(kv ...string) []map[string]string {
		var out []map[string]string
		for i := 0; i < len(kv); i += 2 {
			out = append(out, map[string]string{"property": kv[i], "direction": kv[i+1]})
		}
		return out
	}
	tests := []struct {
		name string
		sort any
		want []string
	}{
		{"none is id asc", nil, []string{"k-alpha", "k-beta", "k-gamma", "k-delta", "k-epsilon"}},
		{"modifiedDate desc", sortBy("modifiedDate", "DESC"), []string{"k-epsilon", "k-delta", "k-gamma", "k-beta", "k-alpha"}},
		{"two keys", sortBy("assetType.id", "asc", "name", "desc"), []string{"k-gamma", "k-beta", "k-epsilon", "k-alpha", "k-delta"}},
		{"name", sortBy("name", "ASC"), []string{"k-alpha", "k-beta", "k-delta", "k-epsilon", "k-gamma"}},
		{"category then id desc", sortBy("category.id", "DESC", "id", "DESC"), []string{"k-epsilon", "k-beta", "k-delta", "k-gamma", "k-alpha"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := map[string]any{"query": all}
			if tc.sort != nil {
				body["sort"] = tc.sort
			}
			res, q := f.r.query(body)
			if res.Status != 200 {
				t.Fatalf("status %d: %s", res.Status, res.Body)
			}
			if got := f.keys(t, q.Items); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	res, _ := f.r.query(map[string]any{"query": all, "sort": sortBy("modifiedDate", "ASC", "bogus", "ASC")})
	want := `{"message":"Error: 'bogus' is not a valid property name","errorcode":10004,"documentation":""}`
	if res.Status != 400 || string(res.Body) != want {
		t.Errorf("unknown sort property: %d %s", res.Status, res.Body)
	}
}

func TestQueryErrors(t *testing.T) {
	f := newQueryFixture(t, Options{})
	tests := []struct {
		name     string
		body     string
		wantCode float64
	}{
		{"missing query", `{"page":{"page":1,"pageSize":5}}`, 10002},
		{"null query", `{"query":null}`, 10002},
		{"malformed JSON", `{"query":`, 10004},
		{"unknown operator", `{"query":{"property":"id","simpleOperator":"between","value":1}}`, 10003},
		{"unknown filter property", `{"query":{"property":"nope","simpleOperator":"equal","value":1}}`, 10004},
		{"bad logical operator", `{"query":{"leftOperand":{"property":"id","simpleOperator":"equal","value":1},"logicalOperator":"XOR","rightOperand":{"property":"id","simpleOperator":"equal","value":1}}}`, 10003},
		{"bad date", `{"query":{"property":"modifiedDate","simpleOperator":"greaterThan","value":"yesterday"}}`, 10001},
		{"in without array", `{"query":{"property":"assetType.id","simpleOperator":"in","value":197}}`, 10001},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := f.r.do(http.MethodPost, "/asset/v1/content/assets/query", tc.body)
			if res.Status != 400 {
				t.Fatalf("status %d: %s", res.Status, res.Body)
			}
			if got := res.json(t)["errorcode"]; got != tc.wantCode {
				t.Errorf("errorcode %v, want %v: %s", got, tc.wantCode, res.Body)
			}
		})
	}
}

func TestQueryFieldsProjection(t *testing.T) {
	f := newQueryFixture(t, Options{})
	res, q := f.r.query(map[string]any{"query": simple("customerKey", "equal", "k-delta"), "fields": []string{"modifiedDate", "Data", "category.name"}})
	if res.Status != 200 || len(q.Items) != 1 {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(q.Items[0], &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"assetType", "category", "customerKey", "data", "id", "modelVersion", "modifiedDate", "name"}
	if !slices.Equal(keys, want) {
		t.Errorf("fields %v, want %v", keys, want)
	}
	// Without fields: the full document, byte-equal to GET by id.
	_, full := f.r.query(map[string]any{"query": simple("customerKey", "equal", "k-delta")})
	get := f.r.do(http.MethodGet, "/asset/v1/content/assets/"+itoa(f.ids["k-delta"]), nil)
	if !bytes.Equal(full.Items[0], get.Body) {
		t.Errorf("query item and GET differ:\n%s\n%s", full.Items[0], get.Body)
	}
	// $fields on GET by id.
	proj := f.r.do(http.MethodGet, "/asset/v1/content/assets/"+itoa(f.ids["k-delta"])+"?$fields=name,memberId", nil)
	pm := proj.json(t)
	if _, ok := pm["memberId"]; !ok || pm["content"] != nil || pm["owner"] != nil {
		t.Errorf("$fields projection: %s", proj.Body)
	}
}

func TestQueryPaging(t *testing.T) {
	s := New(t, Options{})
	blockIDs := s.AddBlocks(0, 1203, 197)
	r := newRest(t, s)
	all := simple("assetType.id", "equal", 197)
	page := func(p, size int) (resp, queryResult) {
		body := map[string]any{"query": all, "sort": []map[string]string{{"property": "id", "direction": "ASC"}}}
		if p != 0 || size != 0 {
			body["page"] = map[string]int{"page": p, "pageSize": size}
		}
		return r.query(body)
	}
	t.Run("defaults page 1 size 50", func(t *testing.T) {
		_, q := page(0, 0)
		if q.Page != 1 || q.PageSize != 50 || len(q.Items) != 50 || q.Count != 1203 || len(q.Links) != 0 {
			t.Errorf("page %d size %d items %d count %d links %v", q.Page, q.PageSize, len(q.Items), q.Count, q.Links)
		}
		if got := ids(heads(t, q.Items)); !slices.Equal(got, blockIDs[:50]) {
			t.Errorf("first page ids")
		}
	})
	t.Run("pages cover everything once", func(t *testing.T) {
		var got []int64
		for p := 1; ; p++ {
			_, q := page(p, 500)
			if len(q.Items) == 0 {
				break
			}
			got = append(got, ids(heads(t, q.Items))...)
		}
		if !slices.Equal(got, blockIDs) {
			t.Errorf("paged %d ids, want %d", len(got), len(blockIDs))
		}
	})
	t.Run("page size clamped to 500", func(t *testing.T) {
		_, q := page(1, 1000)
		if q.PageSize != 500 || len(q.Items) != 500 {
			t.Errorf("pageSize %d items %d", q.PageSize, len(q.Items))
		}
	})
	t.Run("page past the end", func(t *testing.T) {
		res, q := page(100, 50)
		if res.Status != 200 || q.Count != 1203 || q.Items == nil || len(q.Items) != 0 {
			t.Errorf("%d %s", res.Status, res.Body)
		}
		if !strings.Contains(string(res.Body), `"items":[]`) {
			t.Errorf("items not an empty array: %s", res.Body)
		}
	})
	t.Run("reject mode", func(t *testing.T) {
		s2 := New(t, Options{PageSizeMode: "reject", MaxPageSize: 100})
		res, _ := newRest(t, s2).query(map[string]any{"query": all, "page": map[string]int{"page": 1, "pageSize": 101}})
		if res.Status != 400 {
			t.Errorf("status %d", res.Status)
		}
	})
	t.Run("omit empty items", func(t *testing.T) {
		s2 := New(t, Options{OmitEmptyItems: true})
		res, _ := newRest(t, s2).query(map[string]any{"query": all})
		if res.Status != 200 || strings.Contains(string(res.Body), "items") {
			t.Errorf("%s", res.Body)
		}
	})
}

func TestQueryResultWindow(t *testing.T) {
	tests := []struct {
		name       string
		opts       Options
		page, size int
		wantStatus int
	}{
		{"last page inside the window", Options{}, 20, 500, 200},
		{"first page beyond", Options{}, 21, 500, 400},
		{"small pages", Options{}, 200, 50, 200},
		{"small pages beyond", Options{}, 201, 50, 400},
		{"clamped size counts", Options{}, 21, 1000, 400},
		{"custom status", Options{ResultWindowStatus: 500}, 21, 500, 500},
		{"disabled", Options{ResultWindow: -1}, 21, 500, 200},
		{"custom window", Options{ResultWindow: 100}, 3, 50, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(t, tc.opts)
			res, q := newRest(t, s).query(map[string]any{"query": simple("id", "greaterThan", 0), "page": map[string]int{"page": tc.page, "pageSize": tc.size}})
			if res.Status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", res.Status, tc.wantStatus, res.Body)
			}
			if res.Status != 200 && !strings.Contains(string(res.Body), "all shards failed") {
				t.Errorf("message lacks 'all shards failed': %s", res.Body)
			}
			if res.Status == 200 && len(q.Items) != 0 {
				t.Errorf("items on empty server")
			}
		})
	}
}

func TestQueryInLimit(t *testing.T) {
	vals := func(n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = 150 + i
		}
		return out
	}
	tests := []struct {
		name       string
		opts       Options
		prop       string
		n          int
		wantStatus int
	}{
		{"50 values", Options{}, "assetType.id", 50, 200},
		{"51 values", Options{}, "assetType.id", 51, 400},
		{"other property unlimited", Options{}, "id", 200, 200},
		{"disabled", Options{MaxInValues: -1}, "assetType.id", 200, 200},
		{"custom limit", Options{MaxInValues: 5}, "assetType.id", 6, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(t, tc.opts)
			res, _ := newRest(t, s).query(map[string]any{"query": simple(tc.prop, "in", vals(tc.n))})
			if res.Status != tc.wantStatus {
				t.Fatalf("status %d: %s", res.Status, res.Body)
			}
			if tc.wantStatus == 400 {
				want := `{"message":"DbUtility.GetPagedCollection passing through non-timeout DB error (30001)","errorcode":30001,"documentation":""}`
				if string(res.Body) != want {
					t.Errorf("body %s", res.Body)
				}
			}
		})
	}
}

func TestQueryTiesAcrossPages(t *testing.T) {
	s := New(t, Options{})
	s.Seed(SeedOptions{})
	r := newRest(t, s)
	seen := map[int64]bool{}
	for p := 1; ; p++ {
		res, q := r.query(map[string]any{
			"query": simple("category.name", "equal", SeedFolderTies),
			"page":  map[string]int{"page": p, "pageSize": 250},
			"sort":  []map[string]string{{"property": "modifiedDate", "direction": "ASC"}, {"property": "id", "direction": "ASC"}},
		})
		if res.Status != 200 {
			t.Fatal(res.Status)
		}
		if len(q.Items) == 0 {
			break
		}
		for _, h := range heads(t, q.Items) {
			if seen[h.ID] {
				t.Fatalf("id %d twice", h.ID)
			}
			seen[h.ID] = true
			if h.ModifiedDate != "2024-01-11T00:00:00.5-06:00" {
				t.Fatalf("tie block date %s", h.ModifiedDate)
			}
		}
	}
	if len(seen) != 600 {
		t.Errorf("saw %d tie blocks", len(seen))
	}
}

func TestUnstableTies(t *testing.T) {
	s := New(t, Options{UnstableTies: true, Now: newClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)).Now})
	s.AddBlocks(0, 40, 197) // all share one modifiedDate
	r := newRest(t, s)
	order := func() []int64 {
		_, q := r.query(map[string]any{"query": simple("id", "greaterThan", 0),
			"sort": []map[string]string{{"property": "modifiedDate", "direction": "ASC"}}})
		return ids(heads(t, q.Items))
	}
	a, b := order(), order()
	if slices.Equal(a, b) {
		t.Errorf("tie order stable across requests with UnstableTies")
	}
	_, q := r.query(map[string]any{"query": simple("id", "greaterThan", 0),
		"sort": []map[string]string{{"property": "modifiedDate", "direction": "ASC"}, {"property": "id", "direction": "ASC"}}})
	if got := ids(heads(t, q.Items)); !slices.IsSorted(got) {
		t.Errorf("total sort not honoured")
	}
}

func TestIndexLag(t *testing.T) {
	clock := newClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	s := New(t, Options{Now: clock.Now, IndexLag: 2 * time.Second})
	s.Seed(SeedOptions{TieBlocks: -1})
	seeded := s.AssetCount(0)
	r := newRest(t, s)
	count := func() int {
		_, q := r.query(map[string]any{"query": simple("id", "greaterThan", 0)})
		return q.Count
	}
	if got := count(); got != seeded {
		t.Fatalf("seeded assets hidden: %d of %d", got, seeded)
	}
	id := mustCreate(t, s, 0, AssetSpec{Name: "fresh", Content: "x"})
	if got := count(); got != seeded {
		t.Errorf("new asset visible before the lag: %d", got)
	}
	if res := r.do(http.MethodGet, "/asset/v1/content/assets/"+itoa(id), nil); res.Status != 200 {
		t.Errorf("GET by id during lag: %d", res.Status)
	}
	clock.Advance(2 * time.Second)
	if got := count(); got != seeded+1 {
		t.Errorf("after the lag: %d", got)
	}
	if err := s.UpdateAsset(0, id, func(a *AssetSpec) { a.Content = "y" }); err != nil {
		t.Fatal(err)
	}
	if got := count(); got != seeded {
		t.Errorf("updated asset visible during lag: %d", got)
	}
}
