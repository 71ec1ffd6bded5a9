package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Ping kinds of the Healthchecks protocol (https://healthchecks.io/docs/http_api/),
// which Uptime Kuma, Cronitor and other dead man's switches accept too.
const (
	// PingStart is sent when a run begins: POST <url>/start.
	PingStart = "start"
	// PingSuccess is sent when a run completed: POST <url>.
	PingSuccess = "success"
	// PingFail is sent when a run did not complete (partial, failed,
	// interrupted): POST <url>/fail.
	PingFail = "fail"
)

// AccountIDPlaceholder in a ping URL is replaced by the business unit's MID,
// so that every unit reports to a check of its own.
const AccountIDPlaceholder = "{account_id}"

// MaxPingBody is the most a ping's body carries; a longer body is cut.
// Healthchecks keeps the first 100 KB of a ping body.
const MaxPingBody = 100 << 10

// PingKind returns the ping that reports ev: PingSuccess for a complete (or
// dry) run, PingFail for every other outcome.
func PingKind(ev Event) string {
	if ev.Failed() {
		return PingFail
	}
	return PingSuccess
}

// PingURL returns the URL of one ping: base with AccountIDPlaceholder
// replaced by accountID and, for PingStart and PingFail, "/start" or "/fail"
// appended to its path (before any query). Errors never contain the URL.
func PingURL(base, accountID, kind string) (string, error) {
	raw := strings.ReplaceAll(base, AccountIDPlaceholder, url.PathEscape(accountID))
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", errors.New("ping URL is not an http(s) URL")
	}
	var suffix string
	switch kind {
	case PingStart:
		suffix = "/start"
	case PingFail:
		suffix = "/fail"
	case PingSuccess:
	default:
		return "", fmt.Errorf("unknown ping kind %q", kind)
	}
	if suffix != "" {
		u.Path = strings.TrimSuffix(u.Path, "/") + suffix
		if u.RawPath != "" {
			u.RawPath = strings.TrimSuffix(u.RawPath, "/") + suffix
		}
	}
	return u.String(), nil
}

// Ping sends one ping of kind to base (see PingURL) with body (cut at
// MaxPingBody) and expects a 2xx answer. The whole ping, connection and
// answer included, is bounded by timeout (DefaultTimeout when zero) and ends
// with ctx. client sends it (a client without its own timeout when nil).
// Errors name only the URL's scheme and host: a ping URL carries its check's
// key and is a secret.
func Ping(ctx context.Context, client *http.Client, base, accountID, kind string, body []byte, timeout time.Duration) error {
	target, err := PingURL(base, accountID, kind)
	if err != nil {
		return fmt.Errorf("%s ping %s: %w", kind, RedactURL(base), err)
	}
	where := kind + " ping " + RedactURL(target)
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if len(body) > MaxPingBody {
		body = body[:MaxPingBody]
	}
	return post(ctx, client, where, target, body)
}
