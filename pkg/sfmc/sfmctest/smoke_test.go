package sfmctest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
)

func TestSmoke(t *testing.T) {
	s := New(t, Options{})
	s.Seed(SeedOptions{ExtraBlocks: 20})
	r := newRest(t, s)
	res, q := r.query(map[string]any{"query": simple("assetType.id", "in", []int{197}), "page": map[string]int{"page": 1, "pageSize": 5},
		"sort": []map[string]string{{"property": "modifiedDate", "direction": "ASC"}, {"property": "id", "direction": "ASC"}}})
	if res.Status != 200 {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	t.Logf("count %d first %s", q.Count, q.Items[0])
	var h itemHead
	_ = json.Unmarshal(q.Items[0], &h)
	g := r.do(http.MethodGet, "/asset/v1/content/assets/"+itoa(h.ID), nil)
	if !bytes.Equal(g.Body, q.Items[0]) {
		t.Fatalf("differs")
	}
}
