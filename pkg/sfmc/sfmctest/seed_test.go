package sfmctest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestSeedDeterministic(t *testing.T) {
	opts := SeedOptions{ExtraBlocks: 50, LargeBlocks: true}
	a, b := New(t, Options{}), New(t, Options{})
	a.Seed(opts)
	b.Seed(opts)
	da, db := a.Dump(0), b.Dump(0)
	if len(da) != len(db) || len(da) == 0 {
		t.Fatalf("dump sizes %d %d", len(da), len(db))
	}
	for i := range da {
		if !bytes.Equal(da[i], db[i]) {
			t.Fatalf("asset %d differs:\n%.300s\n%.300s", i, da[i], db[i])
		}
	}
	if !slices.Equal(a.Categories(0), b.Categories(0)) {
		t.Error("categories differ")
	}
	// Served bytes are identical too (a query page and a file).
	qa, qb := newRest(t, a), newRest(t, b)
	body := map[string]any{"query": simple("id", "greaterThan", 0), "page": map[string]int{"page": 2, "pageSize": 100}}
	if ra, rb := qa.do(http.MethodPost, "/asset/v1/content/assets/query", body), qb.do(http.MethodPost, "/asset/v1/content/assets/query", body); !bytes.Equal(ra.Body, rb.Body) {
		t.Error("query pages differ")
	}
	// Seeding does not depend on the clock.
	c := New(t, Options{Now: func() time.Time { return time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC) }})
	c.Seed(SeedOptions{ExtraBlocks: 50})
	if dc := c.Dump(0); !bytes.Equal(dc[0], da[0]) || !bytes.Equal(dc[40], da[40]) {
		t.Error("seed depends on the clock")
	}
}

// seededDocs decodes the seeded documents of a server.
func seededDocs(t *testing.T, s *Server) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, raw := range s.Dump(0) {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func TestSeedAwkwardCases(t *testing.T) {
	s := New(t, Options{})
	s.Seed(SeedOptions{ExtraBlocks: 10, LargeBlocks: true})
	docs := seededDocs(t, s)
	typeCount := map[int]int{}
	names := map[string][]int64{}
	modCount := map[string]int{}
	var keys []string
	var large, empty, longName int
	for _, d := range docs {
		typ := int(d["assetType"].(map[string]any)["id"].(float64))
		typeCount[typ]++
		name := d["name"].(string)
		cat := int64(d["category"].(map[string]any)["id"].(float64))
		names[name] = append(names[name], cat)
		modCount[d["modifiedDate"].(string)]++
		keys = append(keys, d["customerKey"].(string))
		if c, ok := d["content"].(string); ok {
			if len(c) >= 1<<20 {
				large++
			}
			if c == "" {
				empty++
			}
		}
		if utf8.RuneCountInString(name) > 250 {
			longName++
		}
	}
	for _, typ := range append(DefaultBlockTypes(), 207, 208, 28) {
		if typeCount[typ] == 0 {
			t.Errorf("no asset of type %d", typ)
		}
	}
	for _, n := range []string{SeedNameSpecial, "..", ".", SeedNameUnicode} {
		if len(names[n]) == 0 {
			t.Errorf("no asset named %q", n)
		}
	}
	if cats := names[SeedNameDuplicate]; len(cats) < 2 || cats[0] == cats[1] {
		t.Errorf("duplicate name in different folders: %v", cats)
	}
	if large != 3 || empty == 0 || longName == 0 {
		t.Errorf("large %d empty %d long names %d", large, empty, longName)
	}
	var spaced, leading, trailing bool
	for _, k := range keys {
		spaced = spaced || strings.Contains(strings.TrimSpace(k), " ")
		leading = leading || strings.HasPrefix(k, " ")
		trailing = trailing || strings.HasSuffix(k, " ")
	}
	if !spaced || !leading || !trailing {
		t.Errorf("customer keys: spaces %v leading %v trailing %v", spaced, leading, trailing)
	}
	maxTie := 0
	for _, n := range modCount {
		maxTie = max(maxTie, n)
	}
	if maxTie < 600 {
		t.Errorf("largest modifiedDate tie %d", maxTie)
	}
	var slashFolder bool
	for _, c := range s.Categories(0) {
		slashFolder = slashFolder || strings.Contains(c.Name, "/")
	}
	if !slashFolder {
		t.Error("no folder name with /")
	}
	// The png has a real binary behind /file.
	r := newRest(t, s)
	_, q := r.query(map[string]any{"query": simple("assetType.id", "equal", 28)})
	if len(q.Items) == 0 {
		t.Fatal("no png")
	}
	res := r.do(http.MethodGet, "/asset/v1/content/assets/"+itoa(heads(t, q.Items)[0].ID)+"/file", nil)
	bin, err := base64.StdEncoding.DecodeString(string(res.Body))
	if err != nil || !bytes.HasPrefix(bin, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("png file: %v %.20q", err, bin)
	}
	// The July block renders -06:00.
	if !slices.ContainsFunc(docs, func(d map[string]any) bool { return d["modifiedDate"] == "2024-07-15T10:02:11.6-06:00" }) {
		t.Error("no July timestamp")
	}
	// Without LargeBlocks there are none; TieBlocks -1 removes the ties.
	s2 := New(t, Options{})
	s2.Seed(SeedOptions{TieBlocks: -1})
	if n := s2.AssetCount(0); n >= s.AssetCount(0)-600 {
		t.Errorf("small seed has %d assets", n)
	}
}

func TestSeedSeveralMIDs(t *testing.T) {
	s := New(t, Options{MIDs: []int64{100001, 100002}})
	s.Seed(SeedOptions{MID: 100001})
	s.Seed(SeedOptions{MID: 100002})
	if s.AssetCount(100001) != s.AssetCount(100002) || s.AssetCount(100001) == 0 {
		t.Errorf("counts %d %d", s.AssetCount(100001), s.AssetCount(100002))
	}
}

func TestAddBlocks(t *testing.T) {
	clock := newClock(time.Date(2024, 9, 1, 0, 0, 0, 0, time.UTC))
	s := New(t, Options{Now: clock.Now})
	got := s.AddBlocks(0, 3, 196)
	if len(got) != 3 || !slices.Equal(s.AssetIDs(0), got) {
		t.Fatalf("ids %v", got)
	}
	doc, _ := s.AssetJSON(0, got[1])
	if !strings.Contains(string(doc), `"modifiedDate":"2024-08-31T18:00:00-06:00"`) || !strings.Contains(string(doc), `"name":"textblock"`) {
		t.Errorf("doc %s", doc)
	}
}

// TestSeedAccount checks the realistic account's shape: its size and mix,
// ids in creation order, dates over years with ties, a folder tree, and
// that the block query returns its blocks and nothing else.
func TestSeedAccount(t *testing.T) {
	const n = 4000
	a, b := New(t, Options{}), New(t, Options{})
	a.Seed(SeedOptions{Assets: n, TieBlocks: -1})
	b.Seed(SeedOptions{Assets: n, TieBlocks: -1})
	fixture := New(t, Options{})
	fixture.Seed(SeedOptions{TieBlocks: -1})
	da, db := a.Dump(0), b.Dump(0)
	if len(da) != len(db) || len(da) != fixture.AssetCount(0)+n {
		t.Fatalf("assets %d and %d, want %d", len(da), len(db), fixture.AssetCount(0)+n)
	}
	for i := range da {
		if !bytes.Equal(da[i], db[i]) {
			t.Fatalf("asset %d differs:\n%.300s\n%.300s", i, da[i], db[i])
		}
	}
	// The fixture before the account is the fixture alone.
	if df := fixture.Dump(0); !bytes.Equal(df[len(df)-1], da[len(df)-1]) {
		t.Error("the account changed the fixture")
	}
	docs := seededDocs(t, a)[fixture.AssetCount(0):]
	var blocks, blockBytes int
	var prevCreated time.Time
	var prevID int64
	types := map[int]int{}
	mods := map[string]int{}
	cats := map[int64]bool{}
	var first, last time.Time
	for i, d := range docs {
		id := int64(d["id"].(float64))
		typ := int(d["assetType"].(map[string]any)["id"].(float64))
		created, err1 := time.Parse(time.RFC3339Nano, d["createdDate"].(string))
		modified, err2 := time.Parse(time.RFC3339Nano, d["modifiedDate"].(string))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if id <= prevID || created.Before(prevCreated) {
			t.Fatalf("asset %d: id %d created %s after id %d created %s", i, id, created, prevID, prevCreated)
		}
		if modified.Before(created) {
			t.Fatalf("asset %d modified %s before it was created %s", id, modified, created)
		}
		prevID, prevCreated = id, created
		if first.IsZero() || modified.Before(first) {
			first = modified
		}
		if modified.After(last) {
			last = modified
		}
		types[typ]++
		cats[int64(d["category"].(map[string]any)["id"].(float64))] = true
		if slices.Contains(DefaultBlockTypes(), typ) {
			blocks++
			mods[d["modifiedDate"].(string)]++
			raw, _ := json.Marshal(d)
			blockBytes += len(raw) + len(d["content"].(string))
		}
	}
	if share := float64(blocks) / n; share < 0.65 || share > 0.75 {
		t.Errorf("blocks are %.2f of the assets", share)
	}
	if per := blockBytes / blocks; per < 3500 || per > 5500 {
		t.Errorf("%d bytes of JSON and content per block", per)
	}
	for _, typ := range []int{197, 195, 196, 199, 220, 207, 208, 214, 28, 23, 127} {
		if types[typ] == 0 {
			t.Errorf("no asset of type %d", typ)
		}
	}
	if last.Sub(first) < 2*365*24*time.Hour {
		t.Errorf("modifiedDates span only %s to %s", first, last)
	}
	var pairs, big int
	for _, c := range mods {
		if c >= 2 {
			pairs++
		}
		big = max(big, c)
	}
	if pairs < 3 || big != accountBigTie {
		t.Errorf("%d shared modifiedDates, the largest shared by %d blocks", pairs, big)
	}
	if len(cats) < 40 {
		t.Errorf("assets in %d folders", len(cats))
	}
	depth := 0
	byID := map[int64]Category{}
	for _, c := range a.Categories(0) {
		byID[c.ID] = c
	}
	for id := range cats {
		d := 0
		for c, ok := byID[id]; ok && c.ParentID != 0; c, ok = byID[c.ParentID] {
			d++
		}
		depth = max(depth, d)
	}
	if depth < 4 {
		t.Errorf("folder tree %d deep", depth)
	}
	// The block query returns the blocks; an image has its binary.
	r := newRest(t, a)
	q := map[string]any{"query": and(simple("assetType.id", "in", DefaultBlockTypes()), simple("id", "greaterThan", prevID-int64(n))),
		"page": map[string]int{"page": 1, "pageSize": 1}}
	if _, res := r.query(q); res.Count != blocks {
		t.Errorf("block query counts %d, want %d", res.Count, blocks)
	}
	_, imgs := r.query(map[string]any{"query": and(simple("assetType.id", "equal", 23), simple("id", "greaterThan", prevID-int64(n)))})
	if len(imgs.Items) == 0 {
		t.Fatal("no jpg in the account")
	}
	res := r.do(http.MethodGet, "/asset/v1/content/assets/"+itoa(heads(t, imgs.Items)[0].ID)+"/file", nil)
	if bin, err := base64.StdEncoding.DecodeString(string(res.Body)); err != nil || !bytes.HasPrefix(bin, []byte("\xff\xd8")) {
		t.Errorf("jpg file: %v %.20q", err, bin)
	}
}
