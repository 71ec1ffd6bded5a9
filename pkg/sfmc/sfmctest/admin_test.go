package sfmctest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAdminGoAPI(t *testing.T) {
	clock := newClock(time.Date(2024, 4, 1, 12, 0, 0, 0, time.UTC))
	s := New(t, Options{Now: clock.Now})
	long := strings.Repeat("n", 260)
	id, err := s.CreateAsset(0, AssetSpec{Name: long, CustomerKey: "legacy key with spaces and a very long tail", Content: "<p>x</p>"})
	if err != nil {
		t.Fatalf("admin create must allow legacy data: %v", err)
	}
	var ve *ValidationError
	if _, err := s.CreateAsset(0, AssetSpec{Name: long, Content: "y"}); !errors.As(err, &ve) || !strings.Contains(ve.Messages[0], "Suggested name") {
		t.Errorf("duplicate name: %v", err)
	}
	if _, err := s.CreateAsset(7, AssetSpec{Name: "x"}); !errors.Is(err, ErrUnknownMID) {
		t.Errorf("unknown mid: %v", err)
	}
	if _, err := s.CreateAsset(0, AssetSpec{Name: "x", Extra: map[string]json.RawMessage{"bogus": json.RawMessage(`1`)}}); err == nil {
		t.Error("unknown extra field accepted")
	}
	clock.Advance(time.Hour)
	if err := s.UpdateAsset(0, id, func(a *AssetSpec) {
		a.Content = "<p>changed</p>"
		a.Extra["description"] = json.RawMessage(`"now described"`)
	}); err != nil {
		t.Fatal(err)
	}
	doc, ok := s.AssetJSON(0, id)
	if !ok || !strings.Contains(string(doc), `"content":"<p>changed</p>"`) || !strings.Contains(string(doc), `"description":"now described"`) ||
		!strings.Contains(string(doc), `"modifiedDate":"2024-04-01T07:00:00-06:00"`) || !strings.Contains(string(doc), `"createdDate":"2024-04-01T06:00:00-06:00"`) {
		t.Errorf("after UpdateAsset: %s", doc)
	}
	if err := s.UpdateAsset(0, 99, func(*AssetSpec) {}); !errors.Is(err, ErrAssetNotFound) {
		t.Errorf("update unknown: %v", err)
	}
	when := time.Date(2023, 12, 31, 23, 59, 59, 999_400_000, time.UTC)
	if err := s.SetModifiedDate(0, id, when); err != nil {
		t.Fatal(err)
	}
	doc, _ = s.AssetJSON(0, id)
	if !strings.Contains(string(doc), `"modifiedDate":"2023-12-31T17:59:59.999-06:00"`) {
		t.Errorf("SetModifiedDate: %s", doc)
	}
	if err := s.DeleteAsset(0, id); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.AssetJSON(0, id); ok || s.AssetCount(0) != 0 || len(s.Dump(0)) != 0 {
		t.Error("asset still there after DeleteAsset")
	}
	if err := s.DeleteAsset(0, id); !errors.Is(err, ErrAssetNotFound) {
		t.Errorf("second delete: %v", err)
	}
	if _, err := s.CreateCategory(0, "x", 4242); !errors.Is(err, ErrCategoryNotFound) {
		t.Errorf("unknown parent: %v", err)
	}
}

func TestAdminHTTP(t *testing.T) {
	s := New(t, Options{})
	admin := func(method, path string, body any) resp {
		t.Helper()
		return do(t, method, s.URL()+"/_emulator/"+path, "", body)
	}
	res := admin(http.MethodPost, "assets", map[string]any{"name": "via http", "customerKey": "http-1", "content": "<p>1</p>",
		"typeId": 196, "meta": map[string]any{"a": 1}, "extra": map[string]any{"tags": []string{"t"}}})
	if res.Status != 201 {
		t.Fatalf("create: %d %s", res.Status, res.Body)
	}
	id := int64(res.json(t)["id"].(float64))
	res = admin(http.MethodPatch, "assets/"+itoa(id), map[string]any{"content": "<p>2</p>"})
	if res.Status != 200 || !strings.Contains(string(res.Body), `"content":"<p>2</p>","meta":{"a":1}`) || !strings.Contains(string(res.Body), `"tags":["t"]`) {
		t.Errorf("patch: %d %s", res.Status, res.Body)
	}
	res = admin(http.MethodPut, "assets/"+itoa(id)+"/modifiedDate", map[string]any{"modifiedDate": "2024-02-03T04:05:06.7-06:00"})
	if !strings.Contains(string(res.Body), `"modifiedDate":"2024-02-03T04:05:06.7-06:00"`) {
		t.Errorf("modifiedDate: %s", res.Body)
	}
	png := base64.StdEncoding.EncodeToString(seedPNG(newTestRand(), 2, 2))
	if res := admin(http.MethodPost, "assets", map[string]any{"name": "p.png", "typeId": 28, "file": png}); res.Status != 201 {
		t.Errorf("file asset: %d %s", res.Status, res.Body)
	}
	if res := admin(http.MethodGet, "ids", nil); res.Status != 200 || !strings.HasPrefix(string(res.Body), "["+itoa(id)+",") {
		t.Errorf("ids: %s", res.Body)
	}
	if res := admin(http.MethodPost, "blocks?n=3&typeId=195", nil); !strings.Contains(string(res.Body), `"ids":[`) || s.AssetCount(0) != 5 {
		t.Errorf("blocks: %s", res.Body)
	}
	if res := admin(http.MethodGet, "dump", nil); res.Status != 200 {
		t.Errorf("dump: %d", res.Status)
	} else {
		var docs []json.RawMessage
		if err := json.Unmarshal(res.Body, &docs); err != nil || len(docs) != 5 {
			t.Errorf("dump: %v %d", err, len(docs))
		}
	}
	if res := admin(http.MethodPost, "categories", map[string]any{"name": "a/b"}); res.Status != 201 {
		t.Errorf("category: %d %s", res.Status, res.Body)
	}
	if res := admin(http.MethodGet, "categories", nil); !strings.Contains(string(res.Body), `"Name":"a/b"`) {
		t.Errorf("categories: %s", res.Body)
	}
	// Faults, token expiry, stats and the request log over HTTP.
	r := newRest(t, s)
	if res := admin(http.MethodPost, "faults", map[string]any{"route": "asset", "status": 503, "retryAfter": 4, "latency": "1ms"}); res.Status != 200 {
		t.Fatalf("fault: %d %s", res.Status, res.Body)
	}
	if res := r.do(http.MethodGet, "/asset/v1/content/assets/"+itoa(id), nil); res.Status != 503 || res.Header.Get("Retry-After") != "4" {
		t.Errorf("injected over http: %d", res.Status)
	}
	admin(http.MethodPost, "faults", map[string]any{"route": "asset", "status": 500, "times": -1})
	admin(http.MethodDelete, "faults", nil)
	if res := r.do(http.MethodGet, "/asset/v1/content/assets/"+itoa(id), nil); res.Status != 200 {
		t.Errorf("after clear: %d", res.Status)
	}
	var st Stats
	if err := json.Unmarshal(admin(http.MethodGet, "stats", nil).Body, &st); err != nil || st.ByRouteStatus["asset 503"] != 1 || st.TokensIssued != 1 {
		t.Errorf("stats %+v %v", st, err)
	}
	if res := admin(http.MethodGet, "requests", nil); !strings.Contains(string(res.Body), `"Route":"asset"`) || strings.Contains(string(res.Body), s.ClientSecret()) {
		t.Errorf("requests: %s", res.Body)
	}
	admin(http.MethodDelete, "stats", nil)
	admin(http.MethodDelete, "requests", nil)
	if len(s.Requests()) != 0 || s.Stats().TokensIssued != 0 {
		t.Error("reset over http")
	}
	admin(http.MethodPost, "expire-tokens", nil)
	if res := r.do(http.MethodGet, "/asset/v1/content/assets/"+itoa(id), nil); res.Status != 401 {
		t.Errorf("after expire-tokens: %d", res.Status)
	}
	if res := admin(http.MethodDelete, "assets/"+itoa(id), nil); res.Status != 200 {
		t.Errorf("delete: %d", res.Status)
	}
	if res := admin(http.MethodDelete, "assets/"+itoa(id), nil); res.Status != 404 {
		t.Errorf("delete again: %d", res.Status)
	}
	if res := admin(http.MethodPost, "assets", map[string]any{"nme": "typo"}); res.Status != 400 {
		t.Errorf("bad body: %d", res.Status)
	}
	if res := admin(http.MethodGet, "nothing", nil); res.Status != 404 {
		t.Errorf("unknown admin route: %d", res.Status)
	}
	before := s.AssetCount(0)
	if res := admin(http.MethodPost, "seed", map[string]any{"tieBlocks": -1, "assets": 300}); res.Status != 200 ||
		!strings.Contains(string(res.Body), `"assets":`+itoa(int64(s.AssetCount(0)))) {
		t.Errorf("seed: %d %s", res.Status, res.Body)
	}
	small := New(t, Options{})
	small.Seed(SeedOptions{TieBlocks: -1})
	if got, want := s.AssetCount(0)-before, small.AssetCount(0)+300; got != want {
		t.Errorf("seed with assets added %d assets, want %d", got, want)
	}
	// Only the one REST call since the reset counts; admin calls do not.
	if got := s.Stats().ByRoute; len(got) != 1 || got[RouteAsset] != 1 {
		t.Errorf("admin calls counted in stats: %v", got)
	}
}

func TestStartRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "[::]:0", "192.0.2.1:0", ":0", "example.com:0"} {
		if s, err := Start(Options{}, addr); !errors.Is(err, ErrNotLoopback) {
			if s != nil {
				s.Close()
			}
			t.Errorf("%s: %v", addr, err)
		}
	}
	s, err := Start(Options{}, "localhost:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s.Close() // idempotent
}
