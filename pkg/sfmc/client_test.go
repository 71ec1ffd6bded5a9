package sfmc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/backup-creator/backup-creator/pkg/sfmc"
	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
)

// clock is a settable clock shared by the emulator and the client.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2024, 7, 15, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// sleeps records the waits the client asks for and returns at once, so retry
// tests observe Retry-After and backoff without waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) All() []time.Duration { s.mu.Lock(); defer s.mu.Unlock(); return slices.Clone(s.d) }

// tokenSpy is a transport that remembers every bearer token sent, so tests
// can check that no error text contains one.
type tokenSpy struct {
	mu     sync.Mutex
	tokens map[string]bool
	next   http.RoundTripper
}

func (s *tokenSpy) RoundTrip(r *http.Request) (*http.Response, error) {
	if a, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		s.mu.Lock()
		s.tokens[a] = true
		s.mu.Unlock()
	}
	return s.next.RoundTrip(r)
}

func (s *tokenSpy) Seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for t := range s.tokens {
		out = append(out, t)
	}
	return out
}

type env struct {
	srv    *sfmctest.Server
	c      *sfmc.Client
	sleeps *sleeps
	spy    *tokenSpy
	cfg    sfmc.Config
}

// newEnv starts an emulator and a client for it. Retry delays are tiny and
// waits are recorded instead of taken; mod adjusts the client config.
func newEnv(t testing.TB, opts sfmctest.Options, mod func(*sfmc.Config)) *env {
	t.Helper()
	srv := sfmctest.New(t, opts)
	e := &env{srv: srv, sleeps: &sleeps{}, spy: &tokenSpy{tokens: map[string]bool{}, next: http.DefaultTransport}}
	e.cfg = sfmc.Config{
		AuthURL:        srv.AuthURL(),
		ClientID:       srv.ClientID(),
		ClientSecret:   srv.ClientSecret(),
		RetryBaseDelay: time.Millisecond,
		RetryMaxDelay:  4 * time.Millisecond,
		MaxAttempts:    4,
		RequestTimeout: 30 * time.Second,
		UserAgent:      "backup-creator/test",
		Sleep:          e.sleeps.Sleep,
		HTTPClient:     &http.Client{Transport: e.spy},
		// The suite runs with the default partitioned listing and, in CI,
		// once more with serial listing (see testListConcurrency).
		ListConcurrency: testListConcurrency(t),
	}
	if mod != nil {
		mod(&e.cfg)
	}
	c, err := sfmc.New(e.cfg)
	if err != nil {
		t.Fatalf("sfmc.New: %v", err)
	}
	e.c = c
	return e
}

// testListConcurrency is the listing concurrency the suite runs with:
// BACKUP_CREATOR_SFMC_LIST_CONCURRENCY (the config key's variable), or the
// client's default.
func testListConcurrency(t testing.TB) int {
	v := os.Getenv("BACKUP_CREATOR_SFMC_LIST_CONCURRENCY")
	if v == "" {
		return sfmc.DefaultListConcurrency
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("BACKUP_CREATOR_SFMC_LIST_CONCURRENCY=%q: want a number ≥ 1", v)
	}
	return n
}

// partitionAllowance is how many requests more than a serial listing a
// partitioned one may send: three per partition (the bound).
func (e *env) partitionAllowance() int {
	if e.cfg.ListConcurrency <= 1 {
		return 0
	}
	return 3 * e.cfg.ListConcurrency
}

// listAll runs QueryAssets and returns the assets in emission order.
func listAll(t testing.TB, c *sfmc.Client, q sfmc.AssetQuery) []sfmc.Asset {
	t.Helper()
	var out []sfmc.Asset
	if err := c.QueryAssets(t.Context(), q, func(a sfmc.Asset) error { out = append(out, a); return nil }); err != nil {
		t.Fatalf("QueryAssets: %v", err)
	}
	return out
}

// checkExactlyOnce fails unless got holds every id of want exactly once, each
// with the emulator's exact bytes.
func checkExactlyOnce(t *testing.T, e *env, mid int64, got []sfmc.Asset, want []int64) {
	t.Helper()
	seen := make(map[int64]int, len(got))
	for _, a := range got {
		seen[a.ID]++
	}
	var missing, dup []int64
	for _, id := range want {
		switch seen[id] {
		case 0:
			missing = append(missing, id)
		case 1:
		default:
			dup = append(dup, id)
		}
	}
	if len(missing) > 0 || len(dup) > 0 || len(got) != len(want) {
		t.Fatalf("got %d items for %d assets; missing %d %v; repeated %d %v", len(got), len(want), len(missing), head(missing), len(dup), head(dup))
	}
	for i, a := range got {
		if i%97 != 0 { // spot-check the bytes; all of them would be slow
			continue
		}
		raw, ok := e.srv.AssetJSON(mid, a.ID)
		if !ok || !bytes.Equal(raw, a.Raw) {
			t.Fatalf("asset %d: Raw differs from what the server serves:\n got %s\nwant %s", a.ID, a.Raw, raw)
		}
	}
}

func head(ids []int64) []int64 { return ids[:min(len(ids), 10)] }

func TestTokenReusedAcrossPages(t *testing.T) {
	e := newEnv(t, sfmctest.Options{}, nil)
	ids := e.srv.AddBlocks(0, 1800, 197)
	got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}})
	checkExactlyOnce(t, e, 0, got, ids)
	if _, err := e.c.GetAsset(t.Context(), ids[0]); err != nil {
		t.Fatal(err)
	}
	if err := e.c.ListCategories(t.Context(), func(sfmc.Category) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if n := e.srv.Stats().TokensIssued; n != 1 {
		t.Errorf("tokens issued = %d, want 1 for the whole session", n)
	}
	st := e.c.Stats()
	if st[sfmc.StatToken] != 1 || st[sfmc.StatQuery] < 4 || st[sfmc.StatAsset] != 1 || st[sfmc.StatCategories] != 1 {
		t.Errorf("client stats = %v", st)
	}
}

func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	clk := newClock()
	e := newEnv(t, sfmctest.Options{Now: clk.Now}, func(c *sfmc.Config) { c.Now = clk.Now; c.RefreshMargin = 60 * time.Second })
	id := e.srv.AddBlocks(0, 1, 197)[0]
	get := func() {
		t.Helper()
		if _, err := e.c.GetAsset(t.Context(), id); err != nil {
			t.Fatal(err)
		}
	}
	get()
	clk.Advance(15 * time.Minute) // expires_in 1079 s − 60 s margin = 1019 s: still fresh
	get()
	if n := e.srv.Stats().TokensIssued; n != 1 {
		t.Fatalf("tokens after 15 min = %d, want 1", n)
	}
	clk.Advance(2 * time.Minute) // 17 min > 1019 s: refreshed ahead of expiry
	get()
	st := e.srv.Stats()
	if st.TokensIssued != 2 {
		t.Errorf("tokens after 17 min = %d, want 2", st.TokensIssued)
	}
	if st.ByStatus[401] != 0 {
		t.Errorf("saw %d 401s; the refresh should come before the server rejects the token", st.ByStatus[401])
	}
}

func TestTokenRefreshedOn401(t *testing.T) {
	e := newEnv(t, sfmctest.Options{}, nil)
	id := e.srv.AddBlocks(0, 1, 197)[0]
	if _, err := e.c.GetAsset(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	e.srv.ExpireAllTokens()
	a, err := e.c.GetAsset(t.Context(), id)
	if err != nil {
		t.Fatalf("after ExpireAllTokens: %v", err)
	}
	if a.ID != id {
		t.Errorf("got asset %d", a.ID)
	}
	st := e.srv.Stats()
	if st.TokensIssued != 2 || st.ByRouteStatus["asset 401"] != 1 {
		t.Errorf("tokens = %d, asset 401s = %d; want 2 and 1", st.TokensIssued, st.ByRouteStatus["asset 401"])
	}
}

func TestConcurrentRequestsShareOneRefresh(t *testing.T) {
	for _, how := range []string{"expired on the clock", "rejected by the server"} {
		t.Run(how, func(t *testing.T) {
			clk := newClock()
			e := newEnv(t, sfmctest.Options{Now: clk.Now}, func(c *sfmc.Config) { c.Now = clk.Now })
			id := e.srv.AddBlocks(0, 1, 197)[0]
			if err := e.c.Authenticate(t.Context()); err != nil {
				t.Fatal(err)
			}
			if how == "expired on the clock" {
				clk.Advance(25 * time.Minute)
			} else {
				e.srv.ExpireAllTokens()
			}
			// Slow the token endpoint so that every request is in flight
			// while the refresh is under way.
			e.srv.InjectFault(sfmctest.Fault{Route: "token", Latency: 50 * time.Millisecond})
			const n = 16
			start := make(chan struct{})
			errs := make(chan error, n)
			var wg sync.WaitGroup
			for range n {
				wg.Go(func() {
					<-start
					_, err := e.c.GetAsset(t.Context(), id)
					errs <- err
				})
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if got := e.srv.Stats().TokensIssued; got != 2 {
				t.Errorf("tokens issued = %d, want 2 (one refresh for %d concurrent requests)", got, n)
			}
		})
	}
}

func TestBadCredentials(t *testing.T) {
	const secret = "definitely-wrong-secret-4711"
	e := newEnv(t, sfmctest.Options{}, func(c *sfmc.Config) { c.ClientSecret = secret })
	err := e.c.Authenticate(t.Context())
	if !errors.Is(err, sfmc.ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	var apiErr *sfmc.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 || apiErr.OAuthError != "invalid_client" {
		t.Errorf("APIError = %+v", apiErr)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error contains the secret: %v", err)
	}
	if n := e.c.Stats()[sfmc.StatToken]; n != 1 {
		t.Errorf("token requests = %d; bad credentials must not be retried", n)
	}
	// A REST call reports the same.
	if _, err := e.c.GetAsset(t.Context(), 1); !errors.Is(err, sfmc.ErrUnauthorized) {
		t.Errorf("GetAsset: %v, want ErrUnauthorized", err)
	}
}

func TestPersistent401IsUnauthorized(t *testing.T) {
	e := newEnv(t, sfmctest.Options{}, nil)
	id := e.srv.AddBlocks(0, 1, 197)[0]
	e.srv.InjectFault(sfmctest.Fault{Route: "asset", Status: 401, Times: -1})
	_, err := e.c.GetAsset(t.Context(), id)
	if !errors.Is(err, sfmc.ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	st := e.srv.Stats()
	if st.TokensIssued != 2 || st.ByRoute["asset"] != 2 {
		t.Errorf("tokens = %d, asset calls = %d; want exactly one refresh and one retry", st.TokensIssued, st.ByRoute["asset"])
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name      string
		fault     sfmctest.Fault
		maxRA     time.Duration
		wantWaits []time.Duration // exact waits; nil = check count only
		waits     int
		throttled int64
	}{
		{"429 Retry-After header", sfmctest.Fault{Route: "asset", Status: 429, RetryAfter: 2}, 0, []time.Duration{2 * time.Second}, 1, 1},
		{"429 retryAfter in body", sfmctest.Fault{Route: "asset", Status: 429, RetryAfter: 3, RetryAfterInBodyOnly: true}, 0, []time.Duration{3 * time.Second}, 1, 1},
		{"429 Retry-After capped", sfmctest.Fault{Route: "asset", Status: 429, RetryAfter: 120}, 7 * time.Second, []time.Duration{7 * time.Second}, 1, 1},
		{"429 without Retry-After", sfmctest.Fault{Route: "asset", Status: 429, Times: 2}, 0, nil, 2, 2},
		{"500 then success", sfmctest.Fault{Route: "asset", Status: 500, Times: 2}, 0, nil, 2, 0},
		{"503 then success", sfmctest.Fault{Route: "asset", Status: 503}, 0, nil, 1, 0},
		// POST, so that net/http's own retry of idempotent requests on a
		// reused connection does not hide the drop.
		{"dropped connection", sfmctest.Fault{Route: "query", Drop: true}, 0, nil, 1, 0},
		{"query 502 then success", sfmctest.Fault{Route: "query", Status: 502}, 0, nil, 1, 0},
		{"token endpoint 503", sfmctest.Fault{Route: "token", Status: 503}, 0, nil, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, sfmctest.Options{}, func(c *sfmc.Config) { c.MaxRetryAfter = tt.maxRA })
			id := e.srv.AddBlocks(0, 1, 197)[0]
			e.srv.InjectFault(tt.fault)
			if tt.fault.Route == "query" {
				got := listAll(t, e.c, sfmc.AssetQuery{})
				if len(got) != 1 || got[0].ID != id {
					t.Fatalf("listed %d assets", len(got))
				}
			} else {
				a, err := e.c.GetAsset(t.Context(), id)
				if err != nil {
					t.Fatalf("GetAsset: %v", err)
				}
				if a.ID != id {
					t.Fatalf("asset %d", a.ID)
				}
			}
			waits := e.sleeps.All()
			if len(waits) != tt.waits {
				t.Fatalf("waits = %v, want %d", waits, tt.waits)
			}
			if tt.wantWaits != nil && !slices.Equal(waits, tt.wantWaits) {
				t.Errorf("waits = %v, want %v", waits, tt.wantWaits)
			}
			for _, w := range waits {
				if tt.wantWaits == nil && (w <= 0 || w > e.cfg.RetryMaxDelay) {
					t.Errorf("backoff wait %s outside (0, %s]", w, e.cfg.RetryMaxDelay)
				}
			}
			st := e.c.Stats()
			if st[sfmc.StatRetries] != int64(tt.waits) || st[sfmc.StatThrottled] != tt.throttled {
				t.Errorf("retries = %d, throttled = %d; want %d, %d", st[sfmc.StatRetries], st[sfmc.StatThrottled], tt.waits, tt.throttled)
			}
		})
	}
}

func TestNotRetried(t *testing.T) {
	e := newEnv(t, sfmctest.Options{}, nil)
	_, err := e.c.GetAsset(t.Context(), 999999)
	if !errors.Is(err, sfmc.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	var apiErr *sfmc.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Endpoint != "GET asset 999999" {
		t.Errorf("APIError = %+v", apiErr)
	}
	if n := e.srv.Stats().ByRoute["asset"]; n != 1 || len(e.sleeps.All()) != 0 {
		t.Errorf("asset calls = %d, waits %v; a 404 is not retried", n, e.sleeps.All())
	}
}

func TestGiveUpAfterMaxAttempts(t *testing.T) {
	e := newEnv(t, sfmctest.Options{}, func(c *sfmc.Config) { c.MaxAttempts = 3 })
	id := e.srv.AddBlocks(0, 1, 197)[0]
	e.srv.InjectFault(sfmctest.Fault{Route: "asset", Status: 503, Times: -1})
	_, err := e.c.GetAsset(t.Context(), id)
	var apiErr *sfmc.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 503 {
		t.Fatalf("err = %v, want a wrapped 503 *APIError", err)
	}
	if !strings.Contains(err.Error(), "3 attempts") {
		t.Errorf("error %q does not say how many attempts were made", err)
	}
	if n := e.srv.Stats().ByRoute["asset"]; n != 3 {
		t.Errorf("asset calls = %d, want 3", n)
	}
	if n := len(e.sleeps.All()); n != 2 {
		t.Errorf("waits = %d, want 2 (none after the last attempt)", n)
	}
}

// signalWriter closes ch the first time a log line contains substr.
type signalWriter struct {
	once   sync.Once
	substr string
	ch     chan struct{}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(w.substr)) {
		w.once.Do(func() { close(w.ch) })
	}
	return len(p), nil
}

func TestCancelDuringBackoff(t *testing.T) {
	// Real waits (Sleep nil) of about an hour; cancelling the context must
	// end the wait at once.
	retrying := &signalWriter{substr: "retrying", ch: make(chan struct{})}
	e := newEnv(t, sfmctest.Options{}, func(c *sfmc.Config) {
		c.Sleep = nil
		c.RetryBaseDelay, c.RetryMaxDelay = time.Hour, time.Hour
		c.Logger = zerolog.New(retrying).Level(zerolog.DebugLevel)
	})
	id := e.srv.AddBlocks(0, 1, 197)[0]
	e.srv.InjectFault(sfmctest.Fault{Route: "asset", Status: 503, Times: -1})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := e.c.GetAsset(ctx, id)
		done <- err
	}()
	<-retrying.ch
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("GetAsset still waiting 20 s after cancel")
	}
	if n := e.srv.Stats().ByRoute["asset"]; n != 1 {
		t.Errorf("asset calls = %d, want 1", n)
	}
}

func TestCancelledContext(t *testing.T) {
	e := newEnv(t, sfmctest.Options{}, nil)
	e.srv.AddBlocks(0, 10, 197)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := e.c.QueryAssets(ctx, sfmc.AssetQuery{}, func(sfmc.Asset) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestSecretAndTokenNeverInErrors(t *testing.T) {
	e := newEnv(t, sfmctest.Options{}, func(c *sfmc.Config) { c.MaxAttempts = 2 })
	id := e.srv.AddBlocks(0, 1, 197)[0]
	var errs []error
	collect := func(err error) {
		if err == nil {
			t.Fatal("expected an error")
		}
		errs = append(errs, err)
	}
	_, err := e.c.GetAsset(t.Context(), 424242)
	collect(err)
	e.srv.InjectFault(sfmctest.Fault{Route: "asset", Status: 500, Times: -1})
	_, err = e.c.GetAsset(t.Context(), id)
	collect(err)
	e.srv.ClearFaults()
	e.srv.InjectFault(sfmctest.Fault{Route: "asset", Status: 401, Times: -1})
	_, err = e.c.GetAsset(t.Context(), id)
	collect(err)
	e.srv.ClearFaults()
	e.srv.InjectFault(sfmctest.Fault{Route: "query", Drop: true, Times: -1})
	collect(e.c.QueryAssets(t.Context(), sfmc.AssetQuery{}, func(sfmc.Asset) error { return nil }))
	e.srv.ClearFaults()
	_, err = e.c.CreateAsset(t.Context(), json.RawMessage(`{"name":"x"}`))
	collect(err)
	bad := newEnv(t, sfmctest.Options{}, func(c *sfmc.Config) { c.ClientSecret = "wrong-" + e.srv.ClientSecret() })
	collect(bad.c.Authenticate(t.Context()))

	tokens := e.spy.Seen()
	if len(tokens) < 2 {
		t.Fatalf("saw %d tokens, want at least 2", len(tokens))
	}
	for _, err := range errs {
		msg := fmt.Sprintf("%v %+v %#v", err, err, err)
		for _, s := range append(tokens, e.srv.ClientSecret(), "wrong-"+e.srv.ClientSecret()) {
			if strings.Contains(msg, s) {
				t.Errorf("error %q contains a secret or token", err)
			}
		}
	}
}

func TestAssetsAndCategoriesRoundTrip(t *testing.T) {
	e := newEnv(t, sfmctest.Options{}, nil)
	ctx := t.Context()
	roots := e.srv.Categories(0)
	if len(roots) == 0 {
		t.Fatal("no root categories")
	}
	root := roots[0].ID
	folder, err := e.c.CreateCategory(ctx, "Footers/legal", root)
	if err != nil {
		t.Fatal(err)
	}
	if folder.ID == 0 || folder.Name != "Footers/legal" || folder.ParentID != root {
		t.Fatalf("CreateCategory = %+v", folder)
	}
	if got, err := e.c.GetCategory(ctx, folder.ID); err != nil || got.Name != folder.Name {
		t.Fatalf("GetCategory = %+v, %v", got, err)
	}
	if _, err := e.c.GetCategory(ctx, 987654); !errors.Is(err, sfmc.ErrNotFound) {
		t.Errorf("GetCategory(unknown) = %v, want ErrNotFound", err)
	}

	body := fmt.Sprintf(`{"name":"Footer DE","customerKey":"footer-de","assetType":{"id":197},"category":{"id":%d},"content":"<p>Hallo & tschüss</p>","meta":{"wrapperStyles":{"mobile":{"visible":true}}}}`, folder.ID)
	created, err := e.c.CreateAsset(ctx, json.RawMessage(body))
	if err != nil {
		t.Fatal(err)
	}
	if created.ID == 0 || created.CustomerKey != "footer-de" || created.Content != "<p>Hallo & tschüss</p>" || created.Category.ID != folder.ID || created.AssetType.ID != 197 || created.ModifiedDate.IsZero() {
		t.Fatalf("CreateAsset = %+v", created)
	}
	got, err := e.c.GetAsset(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := e.srv.AssetJSON(0, created.ID)
	if !bytes.Equal(got.Raw, raw) {
		t.Errorf("GetAsset Raw differs from the served bytes:\n got %s\nwant %s", got.Raw, raw)
	}
	// A duplicate name in the folder is a validation error with details.
	_, err = e.c.CreateAsset(ctx, json.RawMessage(strings.Replace(body, "footer-de", "footer-de-2", 1)))
	var apiErr *sfmc.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || len(apiErr.ValidationErrors) == 0 {
		t.Errorf("duplicate create: %v", err)
	}

	upd, err := e.c.UpdateAsset(ctx, created.ID, json.RawMessage(`{"content":"<p>neu</p>"}`))
	if err != nil {
		t.Fatal(err)
	}
	if upd.Content != "<p>neu</p>" || upd.Name != "Footer DE" {
		t.Errorf("UpdateAsset = %+v", upd)
	}
	rep, err := e.c.ReplaceAsset(ctx, created.ID, json.RawMessage(fmt.Sprintf(`{"name":"Footer DE 2","customerKey":"footer-de","assetType":{"id":197},"category":{"id":%d},"content":"x"}`, folder.ID)))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Name != "Footer DE 2" || rep.Content != "x" {
		t.Errorf("ReplaceAsset = %+v", rep)
	}
	if _, err := e.c.UpdateAsset(ctx, created.ID, json.RawMessage(`{not json`)); err == nil {
		t.Error("UpdateAsset accepted invalid JSON") // refused before sending: not counted below
	}

	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89binary\x00\xff")
	fid, err := e.srv.CreateAsset(0, sfmctest.AssetSpec{Name: "pixel.png", TypeID: 28, CategoryID: folder.ID, File: png})
	if err != nil {
		t.Fatal(err)
	}
	data, err := e.c.GetAssetFile(ctx, fid)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, png) {
		t.Errorf("GetAssetFile = %q, want %q", data, png)
	}

	if err := e.c.DeleteAsset(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.GetAsset(ctx, created.ID); !errors.Is(err, sfmc.ErrNotFound) {
		t.Errorf("GetAsset after delete: %v, want ErrNotFound", err)
	}

	st := e.c.Stats()
	for k, want := range map[string]int64{sfmc.StatToken: 1, sfmc.StatCreate: 3, sfmc.StatUpdate: 2, sfmc.StatAsset: 2, sfmc.StatFile: 1, sfmc.StatDelete: 1, sfmc.StatCategories: 2} {
		if st[k] != want {
			t.Errorf("Stats()[%q] = %d, want %d (all: %v)", k, st[k], want, st)
		}
	}
}

func TestListCategoriesPages(t *testing.T) {
	e := newEnv(t, sfmctest.Options{}, func(c *sfmc.Config) { c.PageSize = 50 })
	root := e.srv.Categories(0)[0].ID
	for i := range 120 {
		if _, err := e.srv.CreateCategory(0, fmt.Sprintf("folder %03d", i), root); err != nil {
			t.Fatal(err)
		}
	}
	want := e.srv.Categories(0)
	var got []sfmc.Category
	if err := e.c.ListCategories(t.Context(), func(c sfmc.Category) error { got = append(got, c); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d categories, want %d", len(got), len(want))
	}
	ids := map[int64]bool{}
	for _, c := range got {
		ids[c.ID] = true
	}
	for _, c := range want {
		if !ids[c.ID] {
			t.Errorf("category %d (%s) missing", c.ID, c.Name)
		}
	}
	// 122 categories at 50 a page: 3 pages, the last one short, no extra request.
	if n := e.c.Stats()[sfmc.StatCategories]; n != int64((len(want)+49)/50) {
		t.Errorf("category requests = %d, want %d", n, (len(want)+49)/50)
	}
}

func TestAccountIDSelectsBusinessUnit(t *testing.T) {
	e := newEnv(t, sfmctest.Options{MIDs: []int64{100001, 100002}}, func(c *sfmc.Config) { c.AccountID = "100002" })
	e.srv.AddBlocks(100001, 3, 197)
	want := e.srv.AddBlocks(100002, 2, 197)
	got := listAll(t, e.c, sfmc.AssetQuery{TypeIDs: []int{197}})
	checkExactlyOnce(t, e, 100002, got, want)
}
