// Package notify tells people how a backup run ended: a Slack-compatible
// incoming webhook, a generic JSON webhook and an email over SMTP, each
// optional; and it pings a health check (dead man's switch) at the start and
// end of every run (Ping), so that a job that never runs is noticed too.
//
// Notifications are best effort. Send tries every configured channel, never
// stops at the first failure, and returns one error per failed channel; the
// caller logs them as warnings, and a failed notification never changes the
// run's exit code.
//
// Webhook URLs carry their credential in the path (Slack's
// hooks.slack.com/services/T…/B…/secret) and are treated as secrets: errors
// name only their scheme and host, and nothing here logs.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/backup-creator/backup-creator/pkg/progress"
	"github.com/backup-creator/backup-creator/pkg/redact"
)

// When to notify (Config.On).
const (
	// OnFailure notifies about every run that did not complete: partial,
	// failed, interrupted. It is the default.
	OnFailure = "failure"
	// OnAlways notifies about every run, successful ones included.
	OnAlways = "always"
)

// Run statuses (Event.Status). "complete" and "dry-run" are successes; every
// other status, including an unknown one, counts as a failure.
const (
	StatusComplete    = "complete"
	StatusDryRun      = "dry-run"
	StatusPartial     = "partial"
	StatusFailed      = "failed"
	StatusInterrupted = "interrupted"
)

// DefaultTimeout bounds one Send when Config.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// Config selects the channels. The zero Config notifies nobody.
type Config struct {
	// SlackWebhookURL receives a Slack-compatible {"text": "..."} message
	// (Slack, Mattermost, Rocket.Chat, Teams workflows). Secret.
	SlackWebhookURL string
	// WebhookURL receives the generic JSON document (see Payload). Secret.
	WebhookURL string
	// SMTP sends an email when Host is set.
	SMTP SMTPConfig
	// On is OnFailure (the default when empty) or OnAlways.
	On string
	// Timeout bounds the whole Send, and each Ping (DefaultTimeout when zero).
	Timeout time.Duration
	// PingURL is the health check pinged at the start and end of every run
	// whatever On says (see Ping); it may contain AccountIDPlaceholder.
	// Secret.
	PingURL string
	// Redact removes secrets from a text; Send applies it to everything a
	// message is built from (the error, the destination, the summary). nil
	// removes only credential-shaped text (redact.Shapes: URL user info,
	// secret query parameters, bearer tokens).
	Redact func(string) string
}

// Enabled reports whether any channel is configured.
func (c Config) Enabled() bool {
	return c.SlackWebhookURL != "" || c.WebhookURL != "" || c.SMTP.Host != ""
}

// Problems lists every problem with c at once (empty: valid). Messages never
// contain a webhook URL's secret part or the SMTP password.
func (c Config) Problems() []string {
	var p []string
	switch c.On {
	case "", OnFailure, OnAlways:
	default:
		p = append(p, fmt.Sprintf("notify.on %q: use %q or %q", c.On, OnFailure, OnAlways))
	}
	for _, u := range []struct{ name, url string }{
		{"notify.slack_webhook_url", c.SlackWebhookURL},
		{"notify.webhook_url", c.WebhookURL},
	} {
		if u.url == "" {
			continue
		}
		pu, err := url.Parse(u.url)
		if err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" {
			p = append(p, u.name+" is not an http(s) URL")
		}
	}
	if c.PingURL != "" {
		if _, err := PingURL(c.PingURL, "0", PingSuccess); err != nil {
			p = append(p, "notify.ping_url is not an http(s) URL")
		}
	}
	if c.Timeout < 0 {
		p = append(p, "notify.timeout must not be negative")
	}
	return append(p, c.SMTP.problems()...)
}

// Event describes how a run ended.
type Event struct {
	// Status is one of the Status constants.
	Status string
	// ExitCode is the process exit code of the run.
	ExitCode int
	// Error is the run's error message, empty on success. Send passes it
	// through Config.Redact and escapes its control characters.
	Error string
	// Host is the machine (or pod) the run ran on.
	Host string
	// Backup names the backup folder (backup_YYYYMMDD), if one was started.
	Backup string
	// Destination is the redacted destination URL or path.
	Destination string
	// Version is backup-creator's version.
	Version string
	// Time is when the run ended (time.Now when zero).
	Time time.Time
	// Summary is the run summary (backup.Summary); it is marshalled as a JSON
	// object under "summary" and its counts appear in the message text.
	Summary any
}

// Failed reports whether ev is a failure: any status but complete and dry-run.
func (ev Event) Failed() bool {
	return ev.Status != StatusComplete && ev.Status != StatusDryRun
}

// ShouldSend reports whether cfg asks for a notification about ev.
func ShouldSend(cfg Config, ev Event) bool {
	if !cfg.Enabled() {
		return false
	}
	return cfg.On == OnAlways || ev.Failed()
}

// Payload is the document posted to Config.WebhookURL.
type Payload struct {
	Tool        string          `json:"tool"`
	Version     string          `json:"version,omitempty"`
	Status      string          `json:"status"`
	Success     bool            `json:"success"`
	ExitCode    int             `json:"exitCode"`
	Error       string          `json:"error,omitempty"`
	Host        string          `json:"host,omitempty"`
	Backup      string          `json:"backup,omitempty"`
	Destination string          `json:"destination,omitempty"`
	Time        time.Time       `json:"time"`
	Text        string          `json:"text"`
	Summary     json.RawMessage `json:"summary,omitempty"`
}

// Send notifies every configured channel about ev, if cfg.On asks for it, and
// returns one error per channel that failed (nil when all succeeded or none
// was due). It never stops early: the channels run concurrently under one
// deadline (cfg.Timeout), and each honours ctx. client posts the webhooks
// (a client without its own timeout when nil).
func Send(ctx context.Context, cfg Config, ev Event, client *http.Client) []error {
	if !ShouldSend(cfg, ev) {
		return nil
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	if client == nil {
		client = &http.Client{}
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	summary, sumErr := marshalSummary(ev.Summary)
	clean := cfg.Redact
	if clean == nil {
		clean = redact.Shapes
	}
	// Whatever the event carries, including server texts inside the error,
	// passes the redactor before it is put into a message.
	ev.Error = redact.EscapeLines(clean(ev.Error))
	ev.Destination = clean(ev.Destination)
	ev.Backup = clean(ev.Backup)
	if len(summary) > 0 {
		summary = json.RawMessage(clean(string(summary)))
	}
	text := Text(ev, summary)

	var jobs []func() error
	if cfg.SlackWebhookURL != "" {
		jobs = append(jobs, func() error {
			return postJSON(ctx, client, "slack webhook", cfg.SlackWebhookURL, map[string]string{"text": text})
		})
	}
	if cfg.WebhookURL != "" {
		jobs = append(jobs, func() error {
			p := Payload{
				Tool: "backup-creator", Version: ev.Version, Status: ev.Status, Success: !ev.Failed(),
				ExitCode: ev.ExitCode, Error: ev.Error, Host: ev.Host, Backup: ev.Backup,
				Destination: ev.Destination, Time: ev.Time.UTC(), Text: text, Summary: summary,
			}
			return postJSON(ctx, client, "webhook", cfg.WebhookURL, p)
		})
	}
	if cfg.SMTP.Host != "" {
		jobs = append(jobs, func() error {
			return sendMail(ctx, cfg.SMTP, ev, text, summary)
		})
	}

	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, job := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = job()
		}()
	}
	wg.Wait()

	var out []error
	if sumErr != nil {
		out = append(out, sumErr)
	}
	for _, err := range errs {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// marshalSummary encodes the summary as a JSON object. A summary that cannot
// be encoded is left out and reported, and the notification still goes out.
func marshalSummary(s any) (json.RawMessage, error) {
	if s == nil {
		return nil, nil
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("notification summary: %w", err)
	}
	if len(b) == 0 || b[0] != '{' {
		return nil, fmt.Errorf("notification summary: %T is not a JSON object", s)
	}
	return b, nil
}

// counts are the Summary fields the message text shows (backup.Summary's JSON).
type counts struct {
	Blocks     *int   `json:"blocks"`
	Files      *int   `json:"files"`
	Bytes      *int64 `json:"bytes"`
	Failed     *int   `json:"failed"`
	DurationMS *int64 `json:"durationMs"`
}

// Text is the one-paragraph message of the Slack webhook and the email body's
// first lines, e.g. "backup-creator: backup complete on db1: backup_20261123
// → s3://bucket/sfmc; 12 blocks, 24 files, 1.2 MiB in 41s (exit 0)".
func Text(ev Event, summary json.RawMessage) string {
	var b strings.Builder
	b.WriteString("backup-creator: backup ")
	b.WriteString(ev.Status)
	if ev.Host != "" {
		b.WriteString(" on " + ev.Host)
	}
	if ev.Backup != "" || ev.Destination != "" {
		b.WriteString(":")
		if ev.Backup != "" {
			b.WriteString(" " + ev.Backup)
		}
		if ev.Destination != "" {
			b.WriteString(" → " + ev.Destination)
		}
	}
	var c counts
	if len(summary) > 0 && json.Unmarshal(summary, &c) == nil {
		var parts []string
		if c.Blocks != nil {
			parts = append(parts, progress.Count(*c.Blocks, "block"))
		}
		if c.Files != nil {
			parts = append(parts, progress.Count(*c.Files, "file"))
		}
		if c.Bytes != nil {
			parts = append(parts, progress.HumanBytes(*c.Bytes))
		}
		if c.Failed != nil && *c.Failed > 0 {
			parts = append(parts, fmt.Sprintf("%d failed", *c.Failed))
		}
		if len(parts) > 0 {
			b.WriteString("; " + strings.Join(parts, ", "))
		}
		if c.DurationMS != nil {
			b.WriteString(" in " + (time.Duration(*c.DurationMS) * time.Millisecond).Round(time.Second).String())
		}
	}
	fmt.Fprintf(&b, " (exit %d)", ev.ExitCode)
	if ev.Error != "" {
		b.WriteString("\nerror: " + ev.Error)
	}
	return b.String()
}

// maxDrain bounds how much of a webhook's response body is read (to reuse
// the connection); the body itself is never used.
const maxDrain = 64 << 10

// postJSON posts v as JSON to rawURL and expects a 2xx answer. Errors name
// only the URL's scheme and host.
func postJSON(ctx context.Context, client *http.Client, what, rawURL string, v any) error {
	where := what + " " + RedactURL(rawURL)
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	return post(ctx, client, where, rawURL, body)
}

// post sends body (JSON, or nothing) to rawURL and expects a 2xx answer.
// where names the call in errors; it must not hold the URL's secret parts.
func post(ctx context.Context, client *http.Client, where, rawURL string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		// url.Parse errors quote the whole URL: drop them.
		return fmt.Errorf("%s: invalid URL", where)
	}
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "backup-creator")
	if client == nil {
		client = &http.Client{}
	}
	resp, err := client.Do(req)
	if err != nil {
		// *url.Error repeats the full URL; keep only its cause.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("%s: %w", where, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s: %w", where, &StatusError{StatusCode: resp.StatusCode})
	}
	return nil
}

// StatusError is a webhook's non-2xx answer.
type StatusError struct {
	StatusCode int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("status %d %s", e.StatusCode, http.StatusText(e.StatusCode))
}

// RedactURL returns only the scheme and host of rawURL ("https://hooks.slack.com"),
// or "(invalid URL)": webhook URLs carry their secret in the path or query.
func RedactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "(invalid URL)"
	}
	return u.Scheme + "://" + u.Host
}
