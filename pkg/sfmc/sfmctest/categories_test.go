package sfmctest

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

type catList struct {
	Count    int `json:"count"`
	Page     int `json:"page"`
	PageSize int `json:"pageSize"`
	Items    []struct {
		ID           int64  `json:"id"`
		Name         string `json:"name"`
		ParentID     int64  `json:"parentId"`
		CategoryType string `json:"categoryType"`
	} `json:"items"`
}

func (r *rest) categories(t *testing.T, query string) (resp, catList) {
	t.Helper()
	res := r.do(http.MethodGet, "/asset/v1/content/categories"+query, nil)
	var l catList
	if res.Status == 200 {
		if err := json.Unmarshal(res.Body, &l); err != nil {
			t.Fatal(err)
		}
	}
	return res, l
}

func TestCategoriesRead(t *testing.T) {
	s := New(t, Options{})
	root := s.RootCategoryID(0)
	var made []int64
	for _, n := range []string{"b/slash", "A folder", "c"} {
		id, err := s.CreateCategory(0, n, 0)
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, id)
	}
	child, err := s.CreateCategory(0, "child", made[0])
	if err != nil {
		t.Fatal(err)
	}
	r := newRest(t, s)

	res, l := r.categories(t, "")
	if res.Status != 200 || l.Count != 5 || l.Page != 1 || l.PageSize != 50 {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	if l.Items[0].ID != root || l.Items[0].Name != "Content Builder" || l.Items[0].ParentID != 0 || l.Items[0].CategoryType != "asset" {
		t.Errorf("root %+v", l.Items[0])
	}
	want := `{"id":` + itoa(made[0]) + `,"description":"","enterpriseId":100000,"memberId":100001,"name":"b/slash","parentId":` + itoa(root) + `,"categoryType":"asset"}`
	if got := r.do(http.MethodGet, "/asset/v1/content/categories/"+itoa(made[0]), nil); got.Status != 200 || string(got.Body) != want {
		t.Errorf("GET by id: %s\nwant %s", got.Body, want)
	}
	if got := r.do(http.MethodGet, "/asset/v1/content/categories/99", nil); got.Status != 404 || got.json(t)["errorcode"] != float64(30003) {
		t.Errorf("unknown: %d %s", got.Status, got.Body)
	}

	tests := []struct {
		name  string
		query string
		want  []int64
		count int
	}{
		{"filter parentId", "?$filter=parentId%20eq%20" + itoa(made[0]), []int64{child}, 1},
		{"filter root children", "?$filter=parentId%20eq%20" + itoa(root), made, 3},
		{"paging", "?$page=2&$pagesize=2", []int64{made[1], made[2]}, 5},
		{"pageSize spelling", "?$PageSize=1&$page=5", []int64{child}, 5},
		{"orderBy name", "?$orderBy=name%20asc&$filter=parentId%20eq%20" + itoa(root), []int64{made[1], made[0], made[2]}, 3},
		{"orderBy name desc", "?$orderBy=name%20desc&$filter=parentId%20eq%20" + itoa(root), []int64{made[2], made[0], made[1]}, 3},
		{"shared scope", "?scope=Shared", []int64{root + 1}, 1},
		{"both scopes", "?scope=Ours,Shared&$pagesize=2", []int64{root, root + 1}, 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, l := r.categories(t, tc.query)
			if res.Status != 200 {
				t.Fatalf("%d %s", res.Status, res.Body)
			}
			var got []int64
			for _, it := range l.Items {
				got = append(got, it.ID)
			}
			if !slices.Equal(got, tc.want) || l.Count != tc.count {
				t.Errorf("got %v (count %d), want %v (count %d)", got, l.Count, tc.want, tc.count)
			}
		})
	}
	for _, q := range []string{"?$filter=name%20eq%20c", "?$orderBy=bogus", "?$filter=parentId"} {
		if res, _ := r.categories(t, q); res.Status != 400 {
			t.Errorf("%s: %d", q, res.Status)
		}
	}
}

func TestCategoriesWrite(t *testing.T) {
	s := New(t, Options{})
	root := s.RootCategoryID(0)
	r := newRest(t, s)
	res := r.do(http.MethodPost, "/asset/v1/content/categories", map[string]any{"Name": "News/2024", "ParentId": root})
	if res.Status != 201 {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	id := int64(res.json(t)["id"].(float64))
	for _, tc := range []struct {
		name string
		body any
	}{
		{"missing name", map[string]any{"parentId": root}},
		{"missing parent", map[string]any{"name": "x"}},
		{"unknown parent", map[string]any{"name": "x", "parentId": 4242}},
		{"duplicate sibling", map[string]any{"name": "news/2024", "parentId": root}},
	} {
		if res := r.do(http.MethodPost, "/asset/v1/content/categories", tc.body); res.Status != 400 || res.json(t)["errorcode"] != float64(10006) {
			t.Errorf("%s: %d %s", tc.name, res.Status, res.Body)
		}
	}
	// PUT renames; assets in the folder show the new name.
	asset := mustCreate(t, s, 0, AssetSpec{Name: "in folder", Content: "x", CategoryID: id})
	res = r.do(http.MethodPut, "/asset/v1/content/categories/"+itoa(id), map[string]any{"id": id, "name": "Renamed", "parentId": root})
	if res.Status != 200 || res.json(t)["name"] != "Renamed" {
		t.Fatalf("PUT: %d %s", res.Status, res.Body)
	}
	doc, _ := s.AssetJSON(0, asset)
	if !strings.Contains(string(doc), `"category":{"id":`+itoa(id)+`,"name":"Renamed","parentId":`+itoa(root)+`}`) {
		t.Errorf("asset category not updated: %s", doc)
	}
	if res := r.do(http.MethodPut, "/asset/v1/content/categories/"+itoa(root), map[string]any{"name": "x"}); res.Status != 400 {
		t.Errorf("PUT root: %d", res.Status)
	}
	if res := r.do(http.MethodPut, "/asset/v1/content/categories/"+itoa(id), map[string]any{"parentId": id}); res.Status != 400 {
		t.Errorf("move into itself: %d", res.Status)
	}
	// DELETE: a non-empty folder is refused; an empty one goes.
	if res := r.do(http.MethodDelete, "/asset/v1/content/categories/"+itoa(id), nil); res.Status != 400 {
		t.Errorf("delete non-empty: %d %s", res.Status, res.Body)
	}
	if err := s.DeleteAsset(0, asset); err != nil {
		t.Fatal(err)
	}
	if res := r.do(http.MethodDelete, "/asset/v1/content/categories/"+itoa(id), nil); res.Status != 200 {
		t.Errorf("delete empty: %d %s", res.Status, res.Body)
	}
	if res := r.do(http.MethodGet, "/asset/v1/content/categories/"+itoa(id), nil); res.Status != 404 {
		t.Errorf("after delete: %d", res.Status)
	}
	if res := r.do(http.MethodDelete, "/asset/v1/content/categories/"+itoa(root), nil); res.Status != 400 {
		t.Errorf("delete root: %d", res.Status)
	}
	if got := s.Stats().Writes; got != 11 {
		t.Errorf("writes %d", got)
	}
}
