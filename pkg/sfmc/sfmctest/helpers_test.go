package sfmctest

import (
	"bytes"
	"encoding/json"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is an injectable clock for tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// resp is a fully read HTTP response.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
	return m
}

// do sends a raw request; token "" sends no Authorization header.
func do(t *testing.T, method, url, token string, body any) resp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp{Status: res.StatusCode, Header: res.Header, Body: data}
}

// getToken fetches a token for mid (0 = omit account_id).
func getToken(t *testing.T, s *Server, mid int64) string {
	t.Helper()
	body := map[string]any{"grant_type": "client_credentials", "client_id": s.ClientID(), "client_secret": s.ClientSecret()}
	if mid != 0 {
		body["account_id"] = mid
	}
	r := do(t, http.MethodPost, s.AuthURL()+"v2/token", "", body)
	if r.Status != http.StatusOK {
		t.Fatalf("token: %d %s", r.Status, r.Body)
	}
	return r.json(t)["access_token"].(string)
}

// rest is a REST caller bound to one server and token.
type rest struct {
	t     *testing.T
	s     *Server
	token string
}

func newRest(t *testing.T, s *Server) *rest { return &rest{t: t, s: s, token: getToken(t, s, 0)} }

func (r *rest) do(method, path string, body any) resp {
	r.t.Helper()
	return do(r.t, method, r.s.URL()+path, r.token, body)
}

// query posts an asset query and returns the decoded envelope and raw items.
func (r *rest) query(body any) (resp, queryResult) {
	r.t.Helper()
	res := r.do(http.MethodPost, "/asset/v1/content/assets/query", body)
	var q queryResult
	if res.Status == http.StatusOK {
		if err := json.Unmarshal(res.Body, &q); err != nil {
			r.t.Fatalf("decode query response: %v", err)
		}
	}
	return res, q
}

type queryResult struct {
	Count    int               `json:"count"`
	Page     int               `json:"page"`
	PageSize int               `json:"pageSize"`
	Links    map[string]any    `json:"links"`
	Items    []json.RawMessage `json:"items"`
}

type itemHead struct {
	ID           int64  `json:"id"`
	CustomerKey  string `json:"customerKey"`
	Name         string `json:"name"`
	ModifiedDate string `json:"modifiedDate"`
	AssetType    struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	} `json:"assetType"`
	Category struct {
		ID int64 `json:"id"`
	} `json:"category"`
}

func heads(t *testing.T, items []json.RawMessage) []itemHead {
	t.Helper()
	out := make([]itemHead, len(items))
	for i, it := range items {
		if err := json.Unmarshal(it, &out[i]); err != nil {
			t.Fatalf("decode item: %v", err)
		}
	}
	return out
}

func ids(hs []itemHead) []int64 {
	out := make([]int64, len(hs))
	for i, h := range hs {
		out[i] = h.ID
	}
	return out
}

func simple(prop, op string, value any) map[string]any {
	return map[string]any{"property": prop, "simpleOperator": op, "value": value}
}

func and(l, r any) map[string]any {
	return map[string]any{"leftOperand": l, "logicalOperator": "AND", "rightOperand": r}
}

func or(l, r any) map[string]any {
	return map[string]any{"leftOperand": l, "logicalOperator": "OR", "rightOperand": r}
}

func mustCreate(t *testing.T, s *Server, mid int64, a AssetSpec) int64 {
	t.Helper()
	id, err := s.CreateAsset(mid, a)
	if err != nil {
		t.Fatalf("create %q: %v", a.Name, err)
	}
	return id
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func newTestRand() *mrand.Rand { return mrand.New(mrand.NewPCG(1, 2)) }

// leadingID reads the id of a document that starts with {"id":N, without
// decoding the (possibly megabytes long) rest.
func leadingID(t *testing.T, doc []byte) int64 {
	t.Helper()
	rest, ok := bytes.CutPrefix(doc, []byte(`{"id":`))
	end := bytes.IndexByte(rest, ',')
	if !ok || end < 0 {
		t.Fatalf("document does not start with an id: %.40s", doc)
	}
	id, err := strconv.ParseInt(string(rest[:end]), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
