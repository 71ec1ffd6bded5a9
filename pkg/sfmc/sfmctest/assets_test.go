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
)

func TestGetAssetByteEqualToQueryItems(t *testing.T) {
	s := New(t, Options{})
	s.Seed(SeedOptions{LargeBlocks: true, TieBlocks: 60})
	r := newRest(t, s)
	n := 0
	for p := 1; ; p++ {
		res, q := r.query(map[string]any{"query": simple("id", "greaterThan", 0), "page": map[string]int{"page": p, "pageSize": 200}})
		if res.Status != 200 {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		if len(q.Items) == 0 {
			break
		}
		for _, it := range q.Items {
			h := itemHead{ID: leadingID(t, it)}
			get := r.do(http.MethodGet, "/asset/v1/content/assets/"+itoa(h.ID), nil)
			if get.Status != 200 || !bytes.Equal(get.Body, it) {
				t.Fatalf("asset %d: GET differs from query item", h.ID)
			}
			admin, ok := s.AssetJSON(0, h.ID)
			if !ok || !bytes.Equal(admin, it) {
				t.Fatalf("asset %d: AssetJSON differs", h.ID)
			}
			n++
		}
	}
	if n != s.AssetCount(0) {
		t.Errorf("compared %d of %d", n, s.AssetCount(0))
	}
	if res := r.do(http.MethodGet, "/asset/v1/content/assets/999999999", nil); res.Status != 404 ||
		string(res.Body) != `{"message":"Object not found","errorcode":30003,"documentation":""}` {
		t.Errorf("unknown id: %d %s", res.Status, res.Body)
	}
}

func TestAssetFile(t *testing.T) {
	s := New(t, Options{})
	pngBytes := seedPNG(newTestRand(), 4, 3)
	img := mustCreate(t, s, 0, AssetSpec{Name: "pic.png", TypeID: 28, File: pngBytes})
	block := mustCreate(t, s, 0, AssetSpec{Name: "block", Content: "x"})
	r := newRest(t, s)
	res := r.do(http.MethodGet, "/asset/v1/content/assets/"+itoa(img)+"/file", nil)
	if res.Status != 200 {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	got, err := base64.StdEncoding.DecodeString(string(res.Body))
	if err != nil || !bytes.Equal(got, pngBytes) {
		t.Fatalf("file body is not the base64 of the binary: %v", err)
	}
	doc := r.do(http.MethodGet, "/asset/v1/content/assets/"+itoa(img), nil).json(t)
	fp := doc["fileProperties"].(map[string]any)
	if fp["extension"] != "png" || fp["fileSize"] != float64(len(pngBytes)) || fp["width"] != float64(4) || fp["height"] != float64(3) ||
		!strings.HasPrefix(fp["publishedURL"].(string), "https://") || fp["fileName"] != "pic.png" {
		t.Errorf("fileProperties %v", fp)
	}
	if _, hasContent := doc["content"]; hasContent {
		t.Errorf("image has content")
	}
	if res := r.do(http.MethodGet, "/asset/v1/content/assets/"+itoa(block)+"/file", nil); res.Status != 400 {
		t.Errorf("non-file asset: %d", res.Status)
	}
	if res := r.do(http.MethodGet, "/asset/v1/content/assets/424242/file", nil); res.Status != 404 {
		t.Errorf("unknown asset: %d", res.Status)
	}
	s2 := New(t, Options{FileAsJSONString: true})
	img2 := mustCreate(t, s2, 0, AssetSpec{Name: "pic.png", TypeID: 28, File: pngBytes})
	res = newRest(t, s2).do(http.MethodGet, "/asset/v1/content/assets/"+itoa(img2)+"/file", nil)
	var str string
	if err := json.Unmarshal(res.Body, &str); err != nil || str != base64.StdEncoding.EncodeToString(pngBytes) {
		t.Errorf("JSON string form: %s", res.Body)
	}
}

func TestCreateAsset(t *testing.T) {
	clock := newClock(time.Date(2024, 7, 4, 9, 30, 15, 120_000_000, time.UTC))
	s := New(t, Options{Now: clock.Now})
	r := newRest(t, s)
	body := `{"Name":"Footer legal DE","CustomerKey":"footer-legal-de","assetType":{"id":197,"name":"wrong"},` +
		`"content":"<p>Impressum \u00fc &amp; <b>x</b></p>\n","meta":{"wrapperStyles":{"mobile":{"visible":true},"styling":{}}},` +
		`"slots":{"b":{"content":"<div>\"q\"</div>","blocks":{}}},"data":{"email":{"x":[1,2.50,"\u003c"]}},` +
		`"id":5,"createdDate":"2000-01-01T00:00:00-06:00","owner":{"id":1},"memberId":1,"enterpriseId":2,"unknownField":1}`
	res := r.do(http.MethodPost, "/asset/v1/content/assets", body)
	if res.Status != 201 {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	for _, frag := range []string{
		`"content":"<p>Impressum \u00fc &amp; <b>x</b></p>\n"`,
		`"meta":{"wrapperStyles":{"mobile":{"visible":true},"styling":{}}}`,
		`"slots":{"b":{"content":"<div>\"q\"</div>","blocks":{}}}`,
		`"data":{"email":{"x":[1,2.50,"\u003c"]}}`,
		`"assetType":{"id":197,"name":"htmlblock","displayName":"HTML Block"}`,
		`"createdDate":"2024-07-04T03:30:15.12-06:00"`,
		`"modifiedDate":"2024-07-04T03:30:15.12-06:00"`,
		`"status":{"id":1,"name":"Draft"}`,
		`"enterpriseId":100000,"memberId":100001`,
		`"availableViews":[],"modelVersion":2}`,
		`"email":"","name":"SFMC Emulator app user"`,
	} {
		if !strings.Contains(string(res.Body), frag) {
			t.Errorf("created doc lacks %s:\n%s", frag, res.Body)
		}
	}
	doc := res.json(t)
	if doc["id"] == float64(5) || strings.Contains(string(res.Body), "unknownField") {
		t.Errorf("read-only or unknown fields taken: %s", res.Body)
	}
	id := int64(doc["id"].(float64))
	get := r.do(http.MethodGet, "/asset/v1/content/assets/"+itoa(id), nil)
	if !bytes.Equal(get.Body, res.Body) {
		t.Errorf("GET after create differs")
	}
	cat := doc["category"].(map[string]any)
	if cat["name"] != "Content Builder" || cat["parentId"] != float64(0) {
		t.Errorf("default category %v", cat)
	}
	// A generated customerKey is a GUID.
	res = r.do(http.MethodPost, "/asset/v1/content/assets", map[string]any{"name": "no key", "assetType": map[string]int{"id": 196}})
	if k := res.json(t)["customerKey"].(string); len(k) != 36 || strings.Count(k, "-") != 4 {
		t.Errorf("generated key %q", k)
	}
	s3 := New(t, Options{CreateStatus: 200})
	if res := newRest(t, s3).do(http.MethodPost, "/asset/v1/content/assets", map[string]any{"name": "x", "assetType": map[string]int{"id": 196}}); res.Status != 200 {
		t.Errorf("CreateStatus 200: %d", res.Status)
	}
}

func TestCreateValidation(t *testing.T) {
	s := New(t, Options{MIDs: []int64{100001, 100002}})
	mustCreate(t, s, 100001, AssetSpec{Name: "Taken", CustomerKey: "taken-key", Content: "x"})
	mustCreate(t, s, 100001, AssetSpec{Name: "Taken (1)", Content: "x"})
	mustCreate(t, s, 100002, AssetSpec{Name: "Other BU", CustomerKey: "bu2-key", Content: "x"})
	folder, err := s.CreateCategory(100001, "Sub", 0)
	if err != nil {
		t.Fatal(err)
	}
	r := newRest(t, s)
	msg := func(m string) string {
		return `{"message":"Request contained some validation errors.","errorcode":10006,"documentation":"","validationErrors":[{"message":` +
			string(appendString(nil, m)) + `,"errorcode":10005,"documentation":""}]}`
	}
	tests := []struct {
		name string
		body map[string]any
		want string
	}{
		{"duplicate name same folder and type", map[string]any{"name": "tAkEn", "assetType": map[string]int{"id": 197}},
			msg("Asset names within a category and asset type must be unique. tAkEn is already taken. Suggested name: tAkEn (2)")},
		{"duplicate customerKey in another BU", map[string]any{"name": "new", "customerKey": "bu2-key", "assetType": map[string]int{"id": 197}},
			msg("Asset CustomerKey must be unique within the enterprise. bu2-key is already taken.")},
		{"customerKey too long", map[string]any{"name": "new", "customerKey": strings.Repeat("k", 37), "assetType": map[string]int{"id": 197}},
			msg("Asset CustomerKey cannot be longer than 36 characters.")},
		{"prohibited character", map[string]any{"name": "new", "customerKey": "a<b", "assetType": map[string]int{"id": 197}},
			msg("Asset CustomerKey contains prohibited characters.")},
		{"name too long", map[string]any{"name": strings.Repeat("n", 201), "assetType": map[string]int{"id": 197}},
			msg("Asset Name cannot be longer than 200 characters.")},
		{"name too long in UTF-16 units", map[string]any{"name": strings.Repeat("😀", 101), "assetType": map[string]int{"id": 197}},
			msg("Asset Name cannot be longer than 200 characters.")},
		{"unknown category", map[string]any{"name": "new", "assetType": map[string]int{"id": 197}, "category": map[string]int{"id": 4242}},
			msg("Category 4242 does not exist.")},
		{"unknown asset type", map[string]any{"name": "new", "assetType": map[string]int{"id": 204}},
			msg("Asset type 204 is not a valid asset type.")},
		{"missing asset type", map[string]any{"name": "new"}, msg("Asset AssetType.Id is required.")},
		{"missing name", map[string]any{"assetType": map[string]int{"id": 197}}, msg("Asset Name is required.")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := r.do(http.MethodPost, "/asset/v1/content/assets", tc.body)
			if res.Status != 400 || string(res.Body) != tc.want {
				t.Errorf("got %d %s\nwant %s", res.Status, res.Body, tc.want)
			}
		})
	}
	// The same name is fine in another folder or with another type; 36 characters is fine.
	for _, body := range []map[string]any{
		{"name": "Taken", "assetType": map[string]int{"id": 197}, "category": map[string]int64{"id": folder}},
		{"name": "Taken", "assetType": map[string]int{"id": 196}},
		{"name": "ok", "customerKey": strings.Repeat("k", 36), "assetType": map[string]int{"id": 197}},
		{"name": strings.Repeat("n", 200), "assetType": map[string]int{"id": 197}},
	} {
		if res := r.do(http.MethodPost, "/asset/v1/content/assets", body); res.Status != 201 {
			t.Errorf("%v: %d %s", body, res.Status, res.Body)
		}
	}
	if res := r.do(http.MethodPost, "/asset/v1/content/assets", `{"name":`); res.Status != 400 || res.json(t)["errorcode"] != float64(10004) {
		t.Errorf("malformed: %d %s", res.Status, res.Body)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL()+"/asset/v1/content/assets", strings.NewReader(`name=x`))
	req.Header.Set("Authorization", "Bearer "+r.token)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("form body: %d", res.StatusCode)
	}
}

func TestUpdateAndDelete(t *testing.T) {
	clock := newClock(time.Date(2024, 2, 1, 8, 0, 0, 0, time.UTC))
	s := New(t, Options{Now: clock.Now})
	id := mustCreate(t, s, 0, AssetSpec{Name: "Orig", CustomerKey: "orig", Content: "<p>1</p>", Meta: json.RawMessage(`{"a":1}`),
		Extra: map[string]json.RawMessage{"description": json.RawMessage(`"desc"`)}})
	other := mustCreate(t, s, 0, AssetSpec{Name: "Other", CustomerKey: "other", Content: "x"})
	r := newRest(t, s)
	path := "/asset/v1/content/assets/" + itoa(id)
	before := r.do(http.MethodGet, path, nil).json(t)

	clock.Advance(90*time.Second + 7*time.Millisecond)
	res := r.do(http.MethodPatch, path, map[string]any{"id": id, "content": "<p>2</p>"})
	if res.Status != 200 {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	after := res.json(t)
	if after["content"] != "<p>2</p>" || after["description"] != "desc" || after["name"] != "Orig" {
		t.Errorf("PATCH did not merge: %s", res.Body)
	}
	if after["modifiedDate"] != "2024-02-01T02:01:30.007-06:00" || after["createdDate"] != before["createdDate"] {
		t.Errorf("dates after PATCH: %v %v", after["createdDate"], after["modifiedDate"])
	}
	if after["modifiedBy"].(map[string]any)["name"] != "SFMC Emulator app user" {
		t.Errorf("modifiedBy %v", after["modifiedBy"])
	}
	// Uniqueness is rechecked.
	if res := r.do(http.MethodPatch, path, map[string]any{"name": "other"}); res.Status != 400 ||
		!strings.Contains(string(res.Body), "Suggested name: other (1)") {
		t.Errorf("rename onto taken name: %d %s", res.Status, res.Body)
	}
	if res := r.do(http.MethodPatch, path, map[string]any{"customerKey": "other"}); res.Status != 400 {
		t.Errorf("key onto taken key: %d", res.Status)
	}
	// PUT replaces writable fields.
	res = r.do(http.MethodPut, path, map[string]any{"name": "Put", "assetType": map[string]int{"id": 197}, "content": "<p>3</p>"})
	put := res.json(t)
	if res.Status != 200 || put["description"] != nil || put["meta"] != nil || put["content"] != "<p>3</p>" || put["customerKey"] != "orig" {
		t.Errorf("PUT: %d %s", res.Status, res.Body)
	}
	if res := r.do(http.MethodPatch, "/asset/v1/content/assets/777", map[string]any{"name": "x"}); res.Status != 404 {
		t.Errorf("PATCH unknown: %d", res.Status)
	}
	// DELETE: 200 "OK", then 404, gone from queries, key reusable.
	res = r.do(http.MethodDelete, path, nil)
	if res.Status != 200 || string(res.Body) != "OK" {
		t.Fatalf("DELETE: %d %s", res.Status, res.Body)
	}
	if res := r.do(http.MethodGet, path, nil); res.Status != 404 {
		t.Errorf("GET after delete: %d", res.Status)
	}
	if res := r.do(http.MethodDelete, path, nil); res.Status != 404 {
		t.Errorf("second DELETE: %d", res.Status)
	}
	_, q := r.query(map[string]any{"query": simple("id", "greaterThan", 0)})
	if got := ids(heads(t, q.Items)); !slices.Equal(got, []int64{other}) {
		t.Errorf("query after delete: %v", got)
	}
	if res := r.do(http.MethodPost, "/asset/v1/content/assets", map[string]any{"name": "Put", "customerKey": "orig", "assetType": map[string]int{"id": 197}}); res.Status != 201 {
		t.Errorf("reuse key and name: %d %s", res.Status, res.Body)
	}
	if st := s.Stats(); st.Writes != 8 || st.ByRouteStatus["delete 200"] != 1 || st.ByRouteStatus["update 400"] != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestDateRendering(t *testing.T) {
	cstZone := time.FixedZone("", -6*3600)
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2024, 1, 8, 8, 26, 58, 277_000_000, cstZone), "2024-01-08T08:26:58.277-06:00"},
		{time.Date(2024, 1, 8, 8, 26, 58, 600_000_000, cstZone), "2024-01-08T08:26:58.6-06:00"},
		{time.Date(2024, 1, 8, 8, 26, 58, 60_000_000, cstZone), "2024-01-08T08:26:58.06-06:00"},
		{time.Date(2024, 1, 8, 8, 26, 58, 0, cstZone), "2024-01-08T08:26:58-06:00"},
		{time.Date(2024, 7, 15, 16, 2, 11, 0, time.UTC), "2024-07-15T10:02:11-06:00"},
		{time.Date(2024, 7, 15, 10, 2, 11, 0, time.FixedZone("CEST", 2*3600)), "2024-07-15T02:02:11-06:00"},
	}
	for _, tc := range tests {
		if got := formatDate(tc.in); got != tc.want {
			t.Errorf("formatDate(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
	// Through the API, in July, with sub-millisecond clock noise.
	clock := newClock(time.Date(2024, 7, 20, 18, 36, 50, 60_400_000, time.UTC))
	s := New(t, Options{Now: clock.Now})
	id := mustCreate(t, s, 0, AssetSpec{Name: "x", Content: "x"})
	doc, _ := s.AssetJSON(0, id)
	if !strings.Contains(string(doc), `"modifiedDate":"2024-07-20T12:36:50.06-06:00"`) {
		t.Errorf("rendered %s", doc)
	}
	if got := formatDateNoOffset(time.Date(2020, 10, 20, 16, 37, 59, 827_000_000, time.UTC)); got != "2020-10-20T10:37:59.827" {
		t.Errorf("no-offset form %s", got)
	}
}

func TestTickRounding(t *testing.T) {
	tests := []struct {
		ms   int // input milliseconds (+ 0.4 ms noise)
		want string
	}{
		{0, "12:00:00-06:00"}, {1, "12:00:00-06:00"}, {2, "12:00:00.003-06:00"}, {5, "12:00:00.007-06:00"},
		{9, "12:00:00.01-06:00"}, {277, "12:00:00.277-06:00"}, {997, "12:00:00.997-06:00"}, {999, "12:00:01-06:00"},
	}
	for _, tc := range tests {
		clock := newClock(time.Date(2024, 1, 1, 18, 0, 0, tc.ms*1_000_000+400_000, time.UTC))
		s := New(t, Options{Now: clock.Now, TickRounding: true})
		id := mustCreate(t, s, 0, AssetSpec{Name: "x", Content: "x"})
		doc, _ := s.AssetJSON(0, id)
		if !strings.Contains(string(doc), `"modifiedDate":"2024-01-01T`+tc.want+`"`) {
			t.Errorf("%d ms: %s", tc.ms, doc)
		}
	}
}

func TestSimpleGet(t *testing.T) {
	f := newQueryFixture(t, Options{})
	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{"default id asc", "", []string{"k-alpha", "k-beta", "k-gamma", "k-delta", "k-epsilon"}},
		{"orderBy desc", "?$orderBy=modifiedDate%20desc", []string{"k-epsilon", "k-delta", "k-gamma", "k-beta", "k-alpha"}},
		{"filter bare value", "?$filter=customerKey%20eq%20k-beta", []string{"k-beta"}},
		{"filter quoted value with space", "?$filter=name%20like%20'a%20foot'", []string{"k-alpha"}},
		{"filter gte date", "?$filter=modifiedDate%20gte%202024-07-01T13:00:00.333-06:00", []string{"k-delta", "k-epsilon"}},
		{"filter number", "?$filter=assetType.id%20lt%20197", []string{"k-beta", "k-gamma"}},
		{"param names case-insensitive", "?$PAGESIZE=2&$Page=2", []string{"k-gamma", "k-delta"}},
		{"pagesize spelled pageSize", "?$pageSize=2", []string{"k-alpha", "k-beta"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := f.r.do(http.MethodGet, "/asset/v1/content/assets"+tc.query, nil)
			if res.Status != 200 {
				t.Fatalf("%d %s", res.Status, res.Body)
			}
			var q queryResult
			if err := json.Unmarshal(res.Body, &q); err != nil {
				t.Fatal(err)
			}
			if got := f.keys(t, q.Items); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	res := f.r.do(http.MethodGet, "/asset/v1/content/assets?$fields=id,name", nil)
	if strings.Contains(string(res.Body), `"content"`) || !strings.Contains(string(res.Body), `"modelVersion"`) {
		t.Errorf("$fields: %s", res.Body)
	}
	if res := f.r.do(http.MethodGet, "/asset/v1/content/assets?$orderBy=nope%20asc", nil); res.Status != 400 {
		t.Errorf("bad orderBy: %d", res.Status)
	}
}

func TestDeletedAssets(t *testing.T) {
	clock := newClock(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC))
	s := New(t, Options{Now: clock.Now})
	block := mustCreate(t, s, 0, AssetSpec{Name: "block", Content: "x"})
	email := mustCreate(t, s, 0, AssetSpec{Name: "email", TypeID: 208})
	img := mustCreate(t, s, 0, AssetSpec{Name: "img.png", TypeID: 28, File: []byte("png")})
	for _, id := range []int64{block, email, img} {
		if err := s.DeleteAsset(0, id); err != nil {
			t.Fatal(err)
		}
	}
	r := newRest(t, s)
	res := r.do(http.MethodGet, "/asset/v1/content/deletedAssets", nil)
	want := `{"count":1,"page":1,"pageSize":50,"links":{},"items":[{"id":` + itoa(img) + `,"eID":100000,"mID":100001,"customerKey":`
	if res.Status != 200 || !strings.HasPrefix(string(res.Body), want) || !strings.Contains(string(res.Body), `"modifiedDate":"2024-05-01T06:00:00"`) {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	res = r.do(http.MethodPatch, "/asset/v1/content/deletedAssets/"+itoa(img), map[string]any{"name": "restored.png"})
	if res.Status != 200 || string(res.Body) != `{"asset":{"href":"asset/v1//Content/Assets/`+itoa(img)+`"}}` {
		t.Fatalf("restore: %d %s", res.Status, res.Body)
	}
	if doc := r.do(http.MethodGet, "/asset/v1/content/assets/"+itoa(img), nil).json(t); doc["name"] != "restored.png" {
		t.Errorf("restored %v", doc["name"])
	}
	if res := r.do(http.MethodPatch, "/asset/v1/content/deletedAssets/"+itoa(block), nil); res.Status != 404 {
		t.Errorf("blocks cannot be restored: %d", res.Status)
	}
	clock.Advance(31 * 24 * time.Hour)
	if err := s.DeleteAsset(0, img); err != nil {
		t.Fatal(err)
	}
	clock.Advance(31 * 24 * time.Hour)
	r = newRest(t, s)
	if res := r.do(http.MethodGet, "/asset/v1/content/deletedAssets", nil); !strings.HasPrefix(string(res.Body), `{"count":0,`) {
		t.Errorf("after 30 days: %s", res.Body)
	}
}

func TestUnknownRoutes(t *testing.T) {
	s := New(t, Options{})
	tok := getToken(t, s, 0)
	for _, p := range []string{"/asset/v1/content/nothing", "//asset/v1/content/assets/1", "/asset/v1/content/assets/abc", "/v1/requestToken", "/"} {
		res := do(t, http.MethodGet, s.URL()+p, tok, nil)
		if res.Status != 404 || string(res.Body) != routeNotFoundBody {
			t.Errorf("%s: %d %s", p, res.Status, res.Body)
		}
	}
	if res := do(t, http.MethodGet, s.URL()+"/v2/token", "", nil); res.Status != 404 {
		t.Errorf("GET token: %d", res.Status)
	}
	if res := do(t, http.MethodGet, s.URL()+"/ASSET/v1/Content/Assets?$pagesize=1", tok, nil); res.Status != 200 {
		t.Errorf("path case: %d", res.Status)
	}
}
