package notify_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/notify"
)

func TestPingURL(t *testing.T) {
	for _, tc := range []struct {
		base, mid, kind, want string
	}{
		{"https://hc.example/ping/uuid-1", "", notify.PingStart, "https://hc.example/ping/uuid-1/start"},
		{"https://hc.example/ping/uuid-1", "", notify.PingSuccess, "https://hc.example/ping/uuid-1"},
		{"https://hc.example/ping/uuid-1/", "", notify.PingFail, "https://hc.example/ping/uuid-1/fail"},
		{"https://hc.example/ping/key/bc-{account_id}", "100001", notify.PingFail, "https://hc.example/ping/key/bc-100001/fail"},
		{"https://hc.example/ping/key/bc-{account_id}", "100002", notify.PingSuccess, "https://hc.example/ping/key/bc-100002"},
		{"http://127.0.0.1:8080/api/push/tok?status=up", "", notify.PingStart, "http://127.0.0.1:8080/api/push/tok/start?status=up"},
	} {
		got, err := notify.PingURL(tc.base, tc.mid, tc.kind)
		if err != nil || got != tc.want {
			t.Errorf("PingURL(%q, %q, %s) = %q, %v; want %q", tc.base, tc.mid, tc.kind, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "ftp://host/x", "hc.example/ping", "https:///nohost", "http://[::1"} {
		if _, err := notify.PingURL(bad, "", notify.PingSuccess); err == nil {
			t.Errorf("PingURL(%q) accepted", bad)
		}
	}
	if _, err := notify.PingURL("https://hc.example/x", "", "finish"); err == nil {
		t.Error("an unknown kind was accepted")
	}
}

func TestPingKind(t *testing.T) {
	for status, want := range map[string]string{
		notify.StatusComplete: notify.PingSuccess, notify.StatusDryRun: notify.PingSuccess,
		notify.StatusPartial: notify.PingFail, notify.StatusFailed: notify.PingFail,
		notify.StatusInterrupted: notify.PingFail, "odd": notify.PingFail,
	} {
		if got := notify.PingKind(notify.Event{Status: status}); got != want {
			t.Errorf("PingKind(%s) = %s, want %s", status, got, want)
		}
	}
}

type pingReq struct {
	method, path, ctype string
	body                []byte
}

func TestPingSendsPathMethodAndBody(t *testing.T) {
	got := make(chan pingReq, 3)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- pingReq{r.Method, r.URL.Path, r.Header.Get("Content-Type"), b}
	}))
	defer srv.Close()
	base := srv.URL + "/ping/secret-key-Zq/unit-{account_id}"
	body := []byte(`{"status":"complete"}`)
	for _, kind := range []string{notify.PingStart, notify.PingSuccess, notify.PingFail} {
		var b []byte
		if kind != notify.PingStart {
			b = body
		}
		if err := notify.Ping(t.Context(), srv.Client(), base, "100001", kind, b, time.Minute); err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		r := <-got
		want := map[string]string{notify.PingStart: "/start", notify.PingSuccess: "", notify.PingFail: "/fail"}[kind]
		if r.method != http.MethodPost || r.path != "/ping/secret-key-Zq/unit-100001"+want {
			t.Errorf("%s: %s %s", kind, r.method, r.path)
		}
		if !bytes.Equal(r.body, b) || (b != nil && r.ctype != "application/json") {
			t.Errorf("%s: body %q (%s), want %q", kind, r.body, r.ctype, b)
		}
	}
}

func TestPingCapsTheBody(t *testing.T) {
	got := make(chan int, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- len(b)
	}))
	defer srv.Close()
	big := bytes.Repeat([]byte("x"), notify.MaxPingBody+5000)
	if err := notify.Ping(t.Context(), srv.Client(), srv.URL, "", notify.PingFail, big, time.Minute); err != nil {
		t.Fatal(err)
	}
	if n := <-got; n != notify.MaxPingBody {
		t.Errorf("body of %d bytes, want %d", n, notify.MaxPingBody)
	}
}

func TestPingFailuresNameNoSecret(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String() + "/ping/secret-key-Zq"
	l.Close()
	err = notify.Ping(t.Context(), nil, dead, "", notify.PingSuccess, nil, time.Minute)
	if err == nil || strings.Contains(err.Error(), "secret-key-Zq") {
		t.Errorf("dead ping URL: %v", err)
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
	}))
	defer srv.Close()
	err = notify.Ping(t.Context(), srv.Client(), srv.URL+"/ping/secret-key-Zq", "", notify.PingStart, nil, time.Minute)
	var se *notify.StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusNotFound || strings.Contains(err.Error(), "secret-key-Zq") {
		t.Errorf("404 answer: %v", err)
	}
}

// A server that never answers is given up after the timeout, not later.
func TestPingHangingServerIsBoundedByTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer srv.Close()
	defer close(release)
	err := notify.Ping(t.Context(), srv.Client(), srv.URL, "", notify.PingStart, nil, 50*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hanging ping: %v, want a deadline error", err)
	}
}

func TestProblemsPingURL(t *testing.T) {
	if p := (notify.Config{PingURL: "https://hc.example/ping/{account_id}"}).Problems(); len(p) != 0 {
		t.Errorf("valid ping URL: %v", p)
	}
	p := (notify.Config{PingURL: "hc.example/ping/secret-key-Zq"}).Problems()
	if len(p) != 1 || !strings.Contains(p[0], "notify.ping_url") || strings.Contains(p[0], "secret-key-Zq") {
		t.Errorf("invalid ping URL: %v", p)
	}
}
