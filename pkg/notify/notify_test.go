package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/notify"
	"github.com/backup-creator/backup-creator/pkg/redact"
)

// summary mimics backup.Summary's JSON (notify must not import pkg/backup).
type summary struct {
	Backup      string `json:"backup"`
	Destination string `json:"destination"`
	Status      string `json:"status"`
	DurationMS  int64  `json:"durationMs"`
	Blocks      int    `json:"blocks"`
	Files       int    `json:"files"`
	Bytes       int64  `json:"bytes"`
	Failed      int    `json:"failed"`
}

var endTime = time.Date(2026, 11, 23, 2, 0, 41, 0, time.UTC)

func successEvent() notify.Event {
	return notify.Event{
		Status: notify.StatusComplete, ExitCode: 0, Host: "db1",
		Backup: "backup_20261123", Destination: "s3://bucket/sfmc", Version: "1.2.3", Time: endTime,
		Summary: summary{Backup: "backup_20261123", Destination: "s3://bucket/sfmc", Status: "complete",
			DurationMS: 41000, Blocks: 12, Files: 24, Bytes: 1536 * 1024},
	}
}

func failureEvent() notify.Event {
	return notify.Event{
		Status: notify.StatusPartial, ExitCode: 3, Host: "db1",
		Error:  "2 of 14 blocks could not be backed up",
		Backup: "backup_20261123", Destination: "s3://bucket/sfmc", Version: "1.2.3", Time: endTime,
		Summary: summary{Backup: "backup_20261123", Destination: "s3://bucket/sfmc", Status: "partial",
			DurationMS: 9000, Blocks: 12, Files: 24, Bytes: 2048, Failed: 2},
	}
}

// hook is a webhook endpoint on 127.0.0.1 that records every request.
type hook struct {
	srv    *httptest.Server
	status int
	mu     sync.Mutex
	bodies [][]byte
	ctypes []string
}

func newHook(t *testing.T, status int) *hook {
	t.Helper()
	h := &hook{status: status}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read request: %v", err)
		}
		h.mu.Lock()
		h.bodies = append(h.bodies, b)
		h.ctypes = append(h.ctypes, r.Header.Get("Content-Type"))
		h.mu.Unlock()
		if r.Method != http.MethodPost {
			t.Errorf("method = %s, want POST", r.Method)
		}
		w.WriteHeader(h.status)
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// url returns the endpoint with a secret path, as Slack's URLs have.
func (h *hook) url(secret string) string { return h.srv.URL + "/services/T000/B000/" + secret }

func (h *hook) requests() [][]byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([][]byte(nil), h.bodies...)
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", b, err)
	}
	return m
}

func TestSendSuccessAndFailure(t *testing.T) {
	tests := []struct {
		name      string
		ev        notify.Event
		on        string
		wantText  string
		wantOK    bool
		wantError string
	}{
		{
			name:     "success with on=always",
			ev:       successEvent(),
			on:       notify.OnAlways,
			wantText: "backup-creator: backup complete on db1: backup_20261123 → s3://bucket/sfmc; 12 blocks, 24 files, 1.5 MiB in 41s (exit 0)",
			wantOK:   true,
		},
		{
			name: "partial with the default on=failure",
			ev:   failureEvent(),
			wantText: "backup-creator: backup partial on db1: backup_20261123 → s3://bucket/sfmc; 12 blocks, 24 files, 2.0 KiB, 2 failed in 9s (exit 3)\n" +
				"error: 2 of 14 blocks could not be backed up",
			wantError: "2 of 14 blocks could not be backed up",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			slack, generic := newHook(t, http.StatusOK), newHook(t, http.StatusNoContent)
			cfg := notify.Config{SlackWebhookURL: slack.url("s3cr3t"), WebhookURL: generic.url("t0ken"), On: tc.on}
			if errs := notify.Send(t.Context(), cfg, tc.ev, nil); len(errs) > 0 {
				t.Fatalf("Send: %v", errs)
			}

			sreq := slack.requests()
			if len(sreq) != 1 {
				t.Fatalf("slack got %d requests, want 1", len(sreq))
			}
			if slack.ctypes[0] != "application/json" {
				t.Errorf("slack Content-Type = %q", slack.ctypes[0])
			}
			sm := decode(t, sreq[0])
			if len(sm) != 1 || sm["text"] != tc.wantText {
				t.Errorf("slack message = %s\nwant {\"text\": %q}", sreq[0], tc.wantText)
			}

			greq := generic.requests()
			if len(greq) != 1 {
				t.Fatalf("webhook got %d requests, want 1", len(greq))
			}
			var p struct {
				Tool, Version, Status, Error, Host, Backup, Destination, Text string
				Success                                                       bool
				ExitCode                                                      int
				Time                                                          time.Time
				Summary                                                       *summary
			}
			if err := json.Unmarshal(greq[0], &p); err != nil {
				t.Fatalf("webhook body %s: %v", greq[0], err)
			}
			want := tc.ev.Summary.(summary)
			if p.Tool != "backup-creator" || p.Version != "1.2.3" || p.Status != tc.ev.Status ||
				p.Success != tc.wantOK || p.ExitCode != tc.ev.ExitCode || p.Error != tc.wantError ||
				p.Host != "db1" || p.Backup != "backup_20261123" || p.Destination != "s3://bucket/sfmc" ||
				!p.Time.Equal(endTime) || p.Text != tc.wantText {
				t.Errorf("webhook document = %s", greq[0])
			}
			if p.Summary == nil || *p.Summary != want {
				t.Errorf("webhook summary = %+v, want %+v", p.Summary, want)
			}
			gm := decode(t, greq[0])
			if _, ok := gm["summary"].(map[string]any); !ok {
				t.Errorf("summary is not a JSON object: %s", greq[0])
			}
		})
	}
}

func TestSendOnFailureSuppressesSuccess(t *testing.T) {
	for _, on := range []string{"", notify.OnFailure} {
		for _, status := range []string{notify.StatusComplete, notify.StatusDryRun} {
			slack, generic := newHook(t, http.StatusOK), newHook(t, http.StatusOK)
			cfg := notify.Config{SlackWebhookURL: slack.url("x"), WebhookURL: generic.url("y"), On: on}
			ev := successEvent()
			ev.Status = status
			if errs := notify.Send(t.Context(), cfg, ev, nil); errs != nil {
				t.Errorf("on=%q %s: Send = %v", on, status, errs)
			}
			if n := len(slack.requests()) + len(generic.requests()); n != 0 {
				t.Errorf("on=%q %s: %d notifications sent, want none", on, status, n)
			}
		}
	}
}

func TestShouldSend(t *testing.T) {
	enabled := notify.Config{WebhookURL: "https://example.com/x"}
	tests := []struct {
		cfg    notify.Config
		status string
		want   bool
	}{
		{notify.Config{On: notify.OnAlways}, notify.StatusFailed, false}, // nothing configured
		{enabled, notify.StatusComplete, false},
		{enabled, notify.StatusDryRun, false},
		{enabled, notify.StatusPartial, true},
		{enabled, notify.StatusFailed, true},
		{enabled, notify.StatusInterrupted, true},
		{enabled, "something-new", true},
		{notify.Config{WebhookURL: "https://example.com/x", On: notify.OnAlways}, notify.StatusComplete, true},
		{notify.Config{SMTP: notify.SMTPConfig{Host: "mail"}}, notify.StatusFailed, true},
	}
	for _, tc := range tests {
		if got := notify.ShouldSend(tc.cfg, notify.Event{Status: tc.status}); got != tc.want {
			t.Errorf("ShouldSend(%+v, %s) = %v, want %v", tc.cfg, tc.status, got, tc.want)
		}
	}
}

// deadURL returns a URL on 127.0.0.1 where nothing listens.
func deadURL(t *testing.T, secretPath string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return "http://" + addr + secretPath
}

func TestSendReportsEachFailureWithoutSecrets(t *testing.T) {
	const secret = "xoxb-VERY-SECRET-42"
	broken := newHook(t, http.StatusInternalServerError)
	good := newHook(t, http.StatusOK)
	dead := deadURL(t, "/hooks/"+secret+"?token="+secret)
	cfg := notify.Config{SlackWebhookURL: broken.url(secret), WebhookURL: dead, On: notify.OnAlways}

	errs := notify.Send(t.Context(), cfg, failureEvent(), nil)
	if len(errs) != 2 {
		t.Fatalf("Send returned %d errors, want 2 (one per failed channel): %v", len(errs), errs)
	}
	var se *notify.StatusError
	if !errors.As(errs[0], &se) || se.StatusCode != http.StatusInternalServerError {
		t.Errorf("slack error = %v, want a StatusError 500", errs[0])
	}
	if !strings.Contains(errs[0].Error(), broken.srv.URL) {
		t.Errorf("slack error %q does not name the scheme and host", errs[0])
	}
	for _, err := range errs {
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "/hooks/") || strings.Contains(err.Error(), "/services/") {
			t.Errorf("error leaks the webhook URL: %q", err)
		}
	}
	if len(broken.requests()) != 1 {
		t.Errorf("broken slack hook got %d requests, want 1", len(broken.requests()))
	}

	// A working channel still gets its message when another one fails.
	cfg.WebhookURL = good.url("ok")
	cfg.SlackWebhookURL = dead
	errs = notify.Send(t.Context(), cfg, failureEvent(), nil)
	if len(errs) != 1 || len(good.requests()) != 1 {
		t.Errorf("with one dead channel: errors %v, good hook got %d requests; want 1 error and 1 request", errs, len(good.requests()))
	}
}

func TestSendInvalidURLDoesNotLeak(t *testing.T) {
	const secret = "p4ss"
	cfg := notify.Config{WebhookURL: "http://user:" + secret + "@exa mple.com/x", On: notify.OnAlways}
	errs := notify.Send(t.Context(), cfg, successEvent(), nil)
	if len(errs) != 1 {
		t.Fatalf("errors = %v, want 1", errs)
	}
	if strings.Contains(errs[0].Error(), secret) {
		t.Errorf("error leaks the URL: %q", errs[0])
	}
}

// stallingHook accepts requests and never answers until the client gives up.
func stallingHook(t *testing.T) (url string, got <-chan struct{}) {
	t.Helper()
	ch := make(chan struct{}, 4)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		// Reading the body to EOF lets the server notice the client hanging up.
		_, _ = io.Copy(io.Discard, r.Body)
		ch <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: never hold srv.Close
	return srv.URL + "/hook", ch
}

func TestSendHonoursContext(t *testing.T) {
	url, got := stallingHook(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan []error)
	go func() {
		done <- notify.Send(ctx, notify.Config{WebhookURL: url, On: notify.OnAlways}, successEvent(), nil)
	}()
	<-got // the request is in flight
	cancel()
	errs := <-done
	if len(errs) != 1 || !errors.Is(errs[0], context.Canceled) {
		t.Errorf("errors = %v, want one wrapping context.Canceled", errs)
	}
}

func TestSendTimeout(t *testing.T) {
	url, _ := stallingHook(t)
	cfg := notify.Config{WebhookURL: url, On: notify.OnAlways, Timeout: time.Millisecond}
	errs := notify.Send(t.Context(), cfg, successEvent(), nil)
	if len(errs) != 1 || !errors.Is(errs[0], context.DeadlineExceeded) {
		t.Errorf("errors = %v, want one wrapping context.DeadlineExceeded", errs)
	}
}

func TestSendBadSummaryStillNotifies(t *testing.T) {
	tests := []struct {
		name    string
		summary any
	}{
		{"not encodable", map[string]any{"f": func() {}}},
		{"not an object", []int{1, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHook(t, http.StatusOK)
			ev := failureEvent()
			ev.Summary = tc.summary
			errs := notify.Send(t.Context(), notify.Config{WebhookURL: h.url("x")}, ev, nil)
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), "summary") {
				t.Errorf("errors = %v, want one about the summary", errs)
			}
			reqs := h.requests()
			if len(reqs) != 1 {
				t.Fatalf("webhook got %d requests, want 1", len(reqs))
			}
			if _, ok := decode(t, reqs[0])["summary"]; ok {
				t.Errorf("a bad summary was sent: %s", reqs[0])
			}
		})
	}
}

func TestText(t *testing.T) {
	tests := []struct {
		name    string
		ev      notify.Event
		summary string
		want    string
	}{
		{"bare", notify.Event{Status: "failed", ExitCode: 1}, "", "backup-creator: backup failed (exit 1)"},
		{"auth failure", notify.Event{Status: "failed", ExitCode: 4, Host: "h", Destination: "/srv/b", Error: "sfmc: unauthorized"},
			"", "backup-creator: backup failed on h: → /srv/b (exit 4)\nerror: sfmc: unauthorized"},
		{"interrupted with summary", notify.Event{Status: "interrupted", ExitCode: 130, Backup: "backup_20261123_181502"},
			`{"blocks":3,"files":6,"bytes":100,"failed":0,"durationMs":1500}`,
			"backup-creator: backup interrupted: backup_20261123_181502; 3 blocks, 6 files, 100 B in 2s (exit 130)"},
		{"summary without counts", notify.Event{Status: "complete"}, `{"other":1}`, "backup-creator: backup complete (exit 0)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := notify.Text(tc.ev, json.RawMessage(tc.summary)); got != tc.want {
				t.Errorf("Text = %q\nwant   %q", got, tc.want)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	tests := map[string]string{
		"https://hooks.slack.com/services/T0/B0/secret": "https://hooks.slack.com",
		"https://user:pw@example.com:8443/x?token=abc":  "https://example.com:8443",
		"http://127.0.0.1:9000/webhook":                 "http://127.0.0.1:9000",
		"hooks.slack.com/services/T0/B0/secret":         "(invalid URL)",
		"http://exa mple.com/secret":                    "(invalid URL)",
		"":                                              "(invalid URL)",
	}
	for in, want := range tests {
		if got := notify.RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestProblems(t *testing.T) {
	goodSMTP := notify.SMTPConfig{Host: "mail.example.com", From: "Backups <b@example.com>", To: []string{"ops@example.com"}}
	tests := []struct {
		name string
		cfg  notify.Config
		want []string // substrings, one per problem, in order
	}{
		{"zero config", notify.Config{}, nil},
		{"valid", notify.Config{SlackWebhookURL: "https://hooks.slack.com/services/x", WebhookURL: "http://127.0.0.1/h", On: "always", SMTP: goodSMTP}, nil},
		{"everything wrong", notify.Config{
			On: "sometimes", SlackWebhookURL: "hooks.slack.com/services/secret", WebhookURL: "ftp://x/secret", Timeout: -1,
			SMTP: notify.SMTPConfig{Host: "mail:25", Port: 70000, Password: "pw", From: "not an address", To: []string{"a@b.c\r\nBcc: x@y.z"}},
		}, []string{
			`notify.on "sometimes"`, "notify.slack_webhook_url is not an http(s) URL", "notify.webhook_url is not an http(s) URL",
			"notify.timeout", "notify.smtp.host", "notify.smtp.port 70000", "notify.smtp.password is set",
			"notify.smtp.from", "notify.smtp.to",
		}},
		{"smtp without host", notify.Config{SMTP: notify.SMTPConfig{To: []string{"a@b.c"}}}, []string{"notify.smtp.host is not set"}},
		{"smtp without from and to", notify.Config{SMTP: notify.SMTPConfig{Host: "mail"}}, []string{"notify.smtp.from is not set", "notify.smtp.to lists no recipient"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.cfg.Problems()
			if len(got) != len(tc.want) {
				t.Fatalf("Problems = %q, want %d problems", got, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d = %q, want it to mention %q", i, got[i], w)
				}
				for _, secret := range []string{"secret", "pw"} {
					if strings.Contains(got[i], secret) && !strings.Contains(w, secret) {
						t.Errorf("problem %q leaks %q", got[i], secret)
					}
				}
			}
		})
	}
}

func TestSendRedactsAndEscapes(t *testing.T) {
	slack, generic := newHook(t, 200), newHook(t, 200)
	red := redact.New("client-secret-XYZ", "token-ABCDEFGH")
	ev := failureEvent()
	ev.Error = "sfmc said: client-secret-XYZ token-ABCDEFGH via https://u:pw-9x@proxy/p?sig=s1g\x1b[2K\r\nFORGED"
	ev.Summary = summary{Status: "failed", Destination: "s3://bucket/p?endpoint=http://minio:pw-9x@127.0.0.1:9000", Backup: "token-ABCDEFGH"}
	for _, tc := range []struct {
		name   string
		redact func(string) string
		gone   []string
	}{
		{"with the redactor", red.String, []string{"client-secret-XYZ", "token-ABCDEFGH", "pw-9x", "s1g", "\x1b", "\r"}},
		{"without: shapes only", nil, []string{"pw-9x", "s1g", "\x1b", "\r"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := notify.Config{SlackWebhookURL: slack.url("s"), WebhookURL: generic.url("g"), Redact: tc.redact}
			if errs := notify.Send(t.Context(), cfg, ev, nil); errs != nil {
				t.Fatal(errs)
			}
			for _, b := range append(slack.requests(), generic.requests()...) {
				m := decode(t, b) // still valid JSON after redaction
				txt := string(b) + fmt.Sprint(m)
				for _, g := range tc.gone {
					if strings.Contains(txt, g) {
						t.Errorf("%q survives in %s", g, b)
					}
				}
			}
		})
	}
}
