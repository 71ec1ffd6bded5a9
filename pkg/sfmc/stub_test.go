package sfmc

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// stubTokenServer serves /v2/token with the given body and records the
// token request; other paths answer {}. It is used only for token responses
// the emulator never sends.
func stubTokenServer(t *testing.T, tokenBody func(srvURL string) string) (*httptest.Server, func() map[string]any) {
	t.Helper()
	var (
		mu  sync.Mutex
		got map[string]any
	)
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/token" {
			var m map[string]any
			if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
				t.Errorf("token body: %v", err)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("token Content-Type = %q", ct)
			}
			mu.Lock()
			got = m
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(tokenBody(srv.URL)))
			return
		}
		_, _ = w.Write([]byte(`{"id":1,"modifiedDate":"2024-01-01T00:00:00-06:00","path":"` + r.URL.Path + `"}`))
	}))
	t.Cleanup(srv.Close)
	return srv, func() map[string]any { mu.Lock(); defer mu.Unlock(); return got }
}

func TestTokenResponseValidation(t *testing.T) {
	tests := []struct {
		name string
		body string // %s = server URL
		want string
	}{
		{"foreign rest url", `{"access_token":"tok-1","token_type":"Bearer","expires_in":1079,"rest_instance_url":"https://evil.example/"}`, "rest_instance_url"},
		{"lookalike rest url", `{"access_token":"tok-1","token_type":"Bearer","expires_in":1079,"rest_instance_url":"https://abc.rest.marketingcloudapis.com.evil.example/"}`, "rest_instance_url"},
		{"no rest url", `{"access_token":"tok-1","token_type":"Bearer","expires_in":1079}`, "rest_instance_url"},
		{"no token", `{"token_type":"Bearer","expires_in":1079,"rest_instance_url":"%s/"}`, "access_token"},
		{"not bearer", `{"access_token":"tok-1","token_type":"MAC","expires_in":1079,"rest_instance_url":"%s/"}`, "Bearer"},
		{"not json", `<html>`, "unexpected response body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := stubTokenServer(t, func(u string) string { return strings.ReplaceAll(tt.body, "%s", u) })
			c, err := New(Config{AuthURL: srv.URL + "/", ClientID: "id", ClientSecret: "secret-xyz", MaxAttempts: 2})
			if err != nil {
				t.Fatal(err)
			}
			err = c.Authenticate(t.Context())
			if err == nil {
				t.Fatal("Authenticate accepted the response")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "tok-1") || strings.Contains(err.Error(), "secret-xyz") {
				t.Errorf("error leaks the token or secret: %q", err)
			}
			if got := c.Stats()[StatToken]; got != 1 {
				t.Errorf("token requests = %d, want 1 (a bad response is not retried)", got)
			}
		})
	}
}

func TestTokenRequestAndJoin(t *testing.T) {
	// rest_instance_url with a trailing slash must not produce "//asset".
	srv, tokenReq := stubTokenServer(t, func(u string) string {
		return `{"access_token":"tok-1","token_type":"Bearer","expires_in":1079,"rest_instance_url":"` + u + `/"}`
	})
	var paths []string
	var mu sync.Mutex
	srv.Config.Handler = wrapRecord(srv.Config.Handler, &mu, &paths)
	c, err := New(Config{AuthURL: srv.URL, ClientID: "id", ClientSecret: "sec", AccountID: "100001", UserAgent: "backup-creator/9.9"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetAsset(t.Context(), 7); err != nil {
		t.Fatal(err)
	}
	req := tokenReq()
	if req["grant_type"] != "client_credentials" || req["client_id"] != "id" || req["client_secret"] != "sec" {
		t.Errorf("token request = %v", req)
	}
	if mid, ok := req["account_id"].(float64); !ok || mid != 100001 {
		t.Errorf("account_id = %#v, want the number 100001", req["account_id"])
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"POST /v2/token backup-creator/9.9 ", "GET /asset/v1/content/assets/7 backup-creator/9.9 Bearer tok-1"}
	if strings.Join(paths, "|") != strings.Join(want, "|") {
		t.Errorf("requests = %q\nwant       %q", paths, want)
	}
}

func wrapRecord(h http.Handler, mu *sync.Mutex, paths *[]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		*paths = append(*paths, r.Method+" "+r.URL.Path+" "+r.Header.Get("User-Agent")+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func TestAllowAnyEndpointRESTURL(t *testing.T) {
	// A rest_instance_url on a non-SFMC host is refused unless
	// AllowAnyEndpoint is set. The transport dials the stub whatever the host.
	srv, _ := stubTokenServer(t, func(u string) string {
		return `{"access_token":"t","token_type":"Bearer","expires_in":1079,"rest_instance_url":"http://proxy.example:8080/"}`
	})
	addr := strings.TrimPrefix(srv.URL, "http://")
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}}
	for _, allow := range []bool{false, true} {
		c, err := New(Config{AuthURL: srv.URL, ClientID: "id", ClientSecret: "s", AllowAnyEndpoint: allow, HTTPClient: hc})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.GetAsset(t.Context(), 1)
		if allow && err != nil {
			t.Errorf("allow_any_endpoint: %v", err)
		}
		if !allow && (err == nil || !strings.Contains(err.Error(), "proxy.example")) {
			t.Errorf("without the override: err = %v, want a refusal naming the host", err)
		}
	}
}

// A token path that does not exist (404) or a host that does not resolve is
// a wrong auth URL: ErrAuthEndpoint at once, no retries.
func TestWrongAuthURLIsNotRetried(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	dnsFail := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: r.URL.Hostname(), IsNotFound: true}}
	})}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"404", Config{AuthURL: srv.URL + "/"}, "answers 404"},
		{"unknown host", Config{AuthURL: "https://typo.auth.marketingcloudapis.com/", HTTPClient: dnsFail}, "does not resolve"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.ClientID, cfg.ClientSecret, cfg.MaxAttempts = "id", "secret-xyz", 6
			cfg.Sleep = func(context.Context, time.Duration) error { t.Error("retried"); return nil }
			c, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = c.Authenticate(t.Context())
			if !errors.Is(err, ErrAuthEndpoint) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "sfmc.auth_url") {
				t.Errorf("error %v: want ErrAuthEndpoint saying %q and naming sfmc.auth_url", err, tc.want)
			}
			if n := c.Stats()[StatToken]; n != 1 {
				t.Errorf("%d token requests, want 1", n)
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
