package sfmctest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestHostileEchoAndMessage(t *testing.T) {
	s := New(t, Options{})
	s.InjectFault(Fault{Route: RouteToken, Status: 401, Echo: true, Message: "nope\r\n"})
	body := map[string]any{"grant_type": "client_credentials", "client_id": s.ClientID(), "client_secret": s.ClientSecret()}
	res := do(t, http.MethodPost, s.AuthURL()+"v2/token", "", body)
	m := res.json(t)
	if res.Status != 401 || m["error"] != "invalid_client" || !strings.HasPrefix(m["error_description"].(string), "nope\r\n") ||
		!strings.Contains(m["error_description"].(string), "client_secret="+s.ClientSecret()) {
		t.Fatalf("token echo: %d %s", res.Status, res.Body)
	}
	r := newRest(t, s)
	s.InjectFault(Fault{Route: RouteAsset, Status: 400, Echo: true})
	res = r.do(http.MethodGet, "/asset/v1/content/assets/1", nil)
	if res.Status != 400 || !strings.Contains(string(res.Body), "Bearer "+r.token) {
		t.Fatalf("rest echo: %d %s", res.Status, res.Body)
	}
}

func TestHostileRedirect(t *testing.T) {
	s := New(t, Options{})
	s.InjectFault(Fault{Route: "", Status: 308, Redirect: "http://127.0.0.1:9/"})
	r := newRest(t, s)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL()+"/asset/v1/content/assets?$page=2", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 308 || res.Header.Get("Location") != "http://127.0.0.1:9/asset/v1/content/assets?$page=2" {
		t.Fatalf("%d Location %q", res.StatusCode, res.Header.Get("Location"))
	}
}

func TestHostileFloodStreams(t *testing.T) {
	s := New(t, Options{})
	r := newRest(t, s)
	s.InjectFault(Fault{Route: RouteQuery, FloodBytes: 3 << 20})
	res, q := r.query(map[string]any{"query": map[string]any{"property": "id", "simpleOperator": "greaterThan", "value": 0}})
	if res.Status != 200 || len(q.Items) != 1 || len(res.Body) < 3<<20 {
		t.Fatalf("%d, %d items, %d bytes", res.Status, len(q.Items), len(res.Body))
	}
}

func TestHostileIgnoreKeysetAndEndless(t *testing.T) {
	s := New(t, Options{})
	s.AddBlocks(0, 30, 197)
	r := newRest(t, s)
	filtered := map[string]any{"page": map[string]int{"page": 3, "pageSize": 10},
		"query": map[string]any{"property": "id", "simpleOperator": "greaterThan", "value": 1 << 40}}
	if _, q := r.query(filtered); len(q.Items) != 0 {
		t.Fatalf("setup: the filter matches %d", len(q.Items))
	}
	s.InjectFault(Fault{Route: RouteQuery, IgnoreKeyset: true})
	if _, q := r.query(filtered); len(q.Items) != 10 || q.Page != 1 {
		t.Errorf("ignore-keyset: %d items, page %d; want page 1 of everything", len(q.Items), q.Page)
	}
	s.InjectFault(Fault{Route: RouteQuery, EndlessPages: true, Times: 2})
	var last string
	for i := range 2 {
		_, q := r.query(filtered)
		if len(q.Items) != 10 || q.Count != 20 {
			t.Fatalf("endless page %d: %d items, count %d", i, len(q.Items), q.Count)
		}
		var first, end struct{ ModifiedDate string }
		_ = json.Unmarshal(q.Items[0], &first)
		_ = json.Unmarshal(q.Items[9], &end)
		if first.ModifiedDate <= last {
			t.Errorf("page %d does not start after the previous one (%s ≤ %s)", i, first.ModifiedDate, last)
		}
		last = end.ModifiedDate
	}
}

func TestTLSServer(t *testing.T) {
	s := New(t, Options{TLS: true})
	if !strings.HasPrefix(s.AuthURL(), "https://127.0.0.1:") {
		t.Fatalf("auth url %s", s.AuthURL())
	}
	res, err := s.HTTPClient().Post(s.AuthURL()+"v2/token", "application/json",
		strings.NewReader(`{"grant_type":"client_credentials","client_id":"test-client-id","client_secret":"test-client-secret"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(b), `"rest_instance_url":"https://127.0.0.1:`) {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
}

func TestHostileLyingIDsAndCount(t *testing.T) {
	s := New(t, Options{})
	want := s.AddBlocks(0, 30, 197)
	r := newRest(t, s)
	all := map[string]any{"page": map[string]int{"page": 1, "pageSize": 10},
		"query": map[string]any{"property": "id", "simpleOperator": "greaterThan", "value": 0}}
	five := 5
	s.InjectFault(Fault{Route: RouteQuery, IDOffset: -1_000_000_000, Count: &five})
	res, q := r.query(all)
	got := ids(heads(t, q.Items))
	if res.Status != 200 || q.Count != 5 || len(got) != 10 || got[0] != want[0]-1_000_000_000 || got[9] != want[9]-1_000_000_000 {
		t.Fatalf("lying ids and count: %d, count %d, ids %v (true ids %v)", res.Status, q.Count, got, want[:10])
	}
	s.InjectFault(Fault{Route: RouteQuery, OmitCount: true})
	res = r.do(http.MethodPost, "/asset/v1/content/assets/query", all)
	var m map[string]json.RawMessage
	if err := json.Unmarshal(res.Body, &m); err != nil || res.Status != 200 {
		t.Fatalf("omit count: %d %v %s", res.Status, err, res.Body)
	}
	if _, has := m["count"]; has || m["items"] == nil || m["pageSize"] == nil {
		t.Errorf("omit count: %s", res.Body)
	}
	// The next answer is true again.
	if _, q := r.query(all); q.Count != 30 || ids(heads(t, q.Items))[0] != want[0] {
		t.Errorf("after the faults: count %d, first id %d", q.Count, ids(heads(t, q.Items))[0])
	}
}

func TestDateSkewMovesOnlyTheDateHeader(t *testing.T) {
	clk := newClock(time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC))
	s := New(t, Options{Now: clk.Now, DateSkew: time.Hour})
	id := s.AddBlocks(0, 1, 197)[0]
	r := newRest(t, s)
	if err := s.UpdateAsset(0, id, func(a *AssetSpec) { a.Content = "x" }); err != nil {
		t.Fatal(err)
	}
	res := r.do(http.MethodGet, "/asset/v1/content/assets/"+itoa(id), nil)
	var a itemHead
	if err := json.Unmarshal(res.Body, &a); err != nil {
		t.Fatal(err)
	}
	date, err := http.ParseTime(res.Header.Get("Date"))
	if err != nil {
		t.Fatal(err)
	}
	md, err := time.Parse(time.RFC3339Nano, a.ModifiedDate)
	if err != nil {
		t.Fatal(err)
	}
	if !date.Equal(clk.Now().Add(time.Hour)) || !md.Equal(clk.Now()) {
		t.Errorf("Date %s, modifiedDate %s; want the clock %s plus one hour, and the clock", date, md, clk.Now())
	}
}
