package sfmctest

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFaultKinds(t *testing.T) {
	tests := []struct {
		name       string
		fault      Fault
		wantStatus int
		wantBody   string
		wantRetry  string
	}{
		{"429 with Retry-After", Fault{Route: RouteQuery, Status: 429, RetryAfter: 5}, 429,
			`{"message":"Rate limit exceeded","errorcode":50100,"retryAfter":5,"documentation":"` + errorDocURL + `"}`, "5"},
		{"429 retryAfter in body only", Fault{Route: RouteQuery, Status: 429, RetryAfter: 3, RetryAfterInBodyOnly: true}, 429,
			`{"message":"Rate limit exceeded","errorcode":50100,"retryAfter":3,"documentation":"` + errorDocURL + `"}`, ""},
		{"429 concurrency block", Fault{Route: RouteQuery, Status: 429}, 429, blockedBody, ""},
		{"500", Fault{Route: RouteQuery, Status: 500}, 500,
			`{"message":"Internal Server Error","errorcode":0,"documentation":"https://code.docs.exacttarget.com/rest/errors/500"}`, ""},
		{"503 with Retry-After", Fault{Route: RouteQuery, Status: 503, RetryAfter: 2}, 503,
			`{"message":"Service Unavailable","errorcode":50300,"retryAfter":2,"documentation":"` + errorDocURL + `"}`, "2"},
		{"any REST route", Fault{Status: 500}, 500, internalErrorBody, ""},
		{"401 on demand", Fault{Route: RouteQuery, Status: 401}, 401, notAuthorizedBody, ""},
		{"other route does not match", Fault{Route: RouteAsset, Status: 500}, 200, "", ""},
		{"latency only", Fault{Route: RouteQuery, Latency: time.Millisecond}, 200, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(t, Options{})
			r := newRest(t, s)
			s.InjectFault(tc.fault)
			res, _ := r.query(map[string]any{"query": simple("id", "greaterThan", 0)})
			if res.Status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", res.Status, tc.wantStatus, res.Body)
			}
			if tc.wantBody != "" && string(res.Body) != tc.wantBody {
				t.Errorf("body %s\nwant %s", res.Body, tc.wantBody)
			}
			if got := res.Header.Get("Retry-After"); got != tc.wantRetry {
				t.Errorf("Retry-After %q, want %q", got, tc.wantRetry)
			}
			if res.Status != 200 && res.Header.Get("Content-Type") != jsonContentType {
				t.Errorf("content type %q", res.Header.Get("Content-Type"))
			}
			// The fault fired once; the next call succeeds.
			if res, _ := r.query(map[string]any{"query": simple("id", "greaterThan", 0)}); res.Status != 200 {
				t.Errorf("second call: %d", res.Status)
			}
		})
	}
}

func TestFaultAfterAndTimes(t *testing.T) {
	s := New(t, Options{})
	r := newRest(t, s)
	s.InjectFault(Fault{Route: RouteQuery, After: 2, Times: 3, Status: 503, RetryAfter: 1})
	s.InjectFault(Fault{Route: RouteQuery, After: 6, Times: -1, Status: 500})
	var got []int
	for range 9 {
		res, _ := r.query(map[string]any{"query": simple("id", "greaterThan", 0)})
		got = append(got, res.Status)
	}
	want := []int{200, 200, 503, 503, 503, 200, 500, 500, 500}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("statuses %v, want %v", got, want)
		}
	}
	// Other routes are unaffected; ClearFaults stops the forever fault.
	if res := r.do(http.MethodGet, "/asset/v1/content/categories", nil); res.Status != 200 {
		t.Errorf("categories: %d", res.Status)
	}
	s.ClearFaults()
	if res, _ := r.query(map[string]any{"query": simple("id", "greaterThan", 0)}); res.Status != 200 {
		t.Errorf("after ClearFaults: %d", res.Status)
	}
	st := s.Stats()
	if st.ByRouteStatus["query 503"] != 3 || st.ByRouteStatus["query 500"] != 3 || st.ByRouteStatus["query 200"] != 4 {
		t.Errorf("stats %v", st.ByRouteStatus)
	}
}

func TestFaultOnToken(t *testing.T) {
	s := New(t, Options{})
	s.InjectFault(Fault{Route: RouteToken, Status: 429, RetryAfter: 7})
	body := map[string]any{"grant_type": "client_credentials", "client_id": s.ClientID(), "client_secret": s.ClientSecret()}
	res := do(t, http.MethodPost, s.AuthURL()+"v2/token", "", body)
	if res.Status != 429 || res.Header.Get("Retry-After") != "7" {
		t.Fatalf("%d %v", res.Status, res.Header)
	}
	if res := do(t, http.MethodPost, s.AuthURL()+"v2/token", "", body); res.Status != 200 {
		t.Fatalf("second: %d", res.Status)
	}
	if st := s.Stats(); st.TokensIssued != 1 {
		t.Errorf("tokens issued %d", st.TokensIssued)
	}
}

func TestFaultDrop(t *testing.T) {
	s := New(t, Options{})
	r := newRest(t, s)
	s.InjectFault(Fault{Route: RouteAsset, Drop: true})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL()+"/asset/v1/content/assets/1", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	// A fresh connection: Go's transport silently retries a GET that fails
	// on a reused one.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := client.Do(req)
	if err == nil {
		res.Body.Close()
		t.Fatalf("dropped connection answered %d", res.StatusCode)
	}
	if res := r.do(http.MethodGet, "/asset/v1/content/assets/1", nil); res.Status != 404 {
		t.Errorf("after drop: %d", res.Status)
	}
	if got := s.Stats().ByRouteStatus["asset 0"]; got != 1 {
		t.Errorf("dropped not counted: %v", s.Stats().ByRouteStatus)
	}
}

func TestFaultLatencyHonoursCancellation(t *testing.T) {
	s := New(t, Options{})
	r := newRest(t, s)
	s.InjectFault(Fault{Route: RouteQuery, Latency: time.Hour})
	entered := make(chan struct{})
	s.OnRequest(func(RequestInfo) { close(entered) })
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/asset/v1/content/assets/query", strings.NewReader(`{"query":{"property":"id","simpleOperator":"greaterThan","value":0}}`))
		if err != nil {
			errc <- err
			return
		}
		req.Header.Set("Authorization", "Bearer "+r.token)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
		}
		errc <- err
	}()
	<-entered
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
}

func TestConcurrencyLimitAndPeak(t *testing.T) {
	s := New(t, Options{MaxConcurrent: 2})
	r := newRest(t, s)
	release := make(chan struct{})
	entered := make(chan int, 8)
	s.OnRequest(func(ri RequestInfo) {
		if ri.Route == RouteCategories {
			entered <- ri.N
			<-release
		}
	})
	var wg sync.WaitGroup
	statuses := make(chan int, 2)
	for range 2 {
		wg.Go(func() { statuses <- r.do(http.MethodGet, "/asset/v1/content/categories", nil).Status })
	}
	<-entered
	<-entered
	// Two requests are held in flight: a third is refused with 50200.
	res := r.do(http.MethodGet, "/asset/v1/content/assets/1", nil)
	if res.Status != 429 || string(res.Body) != blockedBody || res.Header.Get("Retry-After") != "" {
		t.Errorf("over the limit: %d %s", res.Status, res.Body)
	}
	close(release)
	wg.Wait()
	close(statuses)
	for st := range statuses {
		if st != 200 {
			t.Errorf("held request: %d", st)
		}
	}
	stats := s.Stats()
	if stats.PeakConcurrent != 3 || stats.ByRouteStatus["asset 429"] != 1 {
		t.Errorf("peak %d, stats %v", stats.PeakConcurrent, stats.ByRouteStatus)
	}
	s.ResetStats()
	if res := r.do(http.MethodGet, "/asset/v1/content/assets/1", nil); res.Status != 404 {
		t.Errorf("after release: %d", res.Status)
	}
	if st := s.Stats(); st.PeakConcurrent != 1 || st.ByRoute[RouteAsset] != 1 {
		t.Errorf("after reset: %+v", st)
	}
}

func TestRateLimiter(t *testing.T) {
	clock := newClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	s := New(t, Options{Now: clock.Now, RateLimit: 0.5, RateBurst: 2})
	r := newRest(t, s)
	var got []int
	for range 3 {
		got = append(got, r.do(http.MethodGet, "/asset/v1/content/categories", nil).Status)
	}
	if got[0] != 200 || got[1] != 200 || got[2] != 429 {
		t.Fatalf("statuses %v", got)
	}
	res := r.do(http.MethodGet, "/asset/v1/content/categories", nil)
	if res.Header.Get("Retry-After") != "2" || res.json(t)["errorcode"] != float64(50100) {
		t.Errorf("limited: %v %s", res.Header, res.Body)
	}
	clock.Advance(2 * time.Second)
	if res := r.do(http.MethodGet, "/asset/v1/content/categories", nil); res.Status != 200 {
		t.Errorf("after refill: %d", res.Status)
	}
}

func TestOnRequestHookAndLog(t *testing.T) {
	s := New(t, Options{})
	s.AddBlocks(0, 30, 197)
	r := newRest(t, s)
	var victim int64
	s.OnRequest(func(ri RequestInfo) {
		// At the 2nd query page, delete the first block: the hook runs
		// before the page is computed.
		if ri.Route == RouteQuery && ri.N == 2 {
			victim = s.AssetIDs(0)[0]
			if err := s.DeleteAsset(0, victim); err != nil {
				t.Error(err)
			}
		}
	})
	page := func(p int) queryResult {
		_, q := r.query(map[string]any{"query": simple("id", "greaterThan", 0), "page": map[string]int{"page": p, "pageSize": 10}})
		return q
	}
	if q := page(1); q.Count != 30 {
		t.Fatalf("count %d", q.Count)
	}
	if q := page(2); q.Count != 29 {
		t.Errorf("hook did not run before page 2: count %d", q.Count)
	}
	s.OnRequest(nil)
	log := s.Requests()
	if len(log) != 3 || log[0].Route != RouteToken || log[1].Route != RouteQuery || log[2].N != 2 {
		t.Fatalf("log %+v", log)
	}
	if !log[1].HadAuth || !log[1].Authorized || log[1].MID != s.DefaultMID() || !strings.Contains(string(log[1].Body), `"pageSize":10`) ||
		log[1].Method != http.MethodPost || log[1].Path != "/asset/v1/content/assets/query" {
		t.Errorf("entry %+v", log[1])
	}
	do(t, http.MethodGet, s.URL()+"/asset/v1/content/assets?$page=3", "", nil)
	last := s.Requests()[3]
	if last.HadAuth || last.Authorized || last.N != 0 || last.Query.Get("$page") != "3" {
		t.Errorf("unauthenticated entry %+v", last)
	}
	s.ResetRequests()
	if len(s.Requests()) != 0 {
		t.Error("log not reset")
	}
}

func TestGlobalLatency(t *testing.T) {
	s := New(t, Options{Latency: time.Hour})
	// The latency applies before anything else, the token request included;
	// a client deadline ends the wait.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.AuthURL()+"v2/token", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err == nil {
		res.Body.Close()
		t.Fatalf("answered %d despite an hour of latency", res.StatusCode)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want deadline exceeded, got %v", err)
	}
}
