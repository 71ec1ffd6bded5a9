package sfmc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/backup-creator/backup-creator/pkg/redact"
)

// errBadResponse marks a 2xx response whose body is not what the API
// documents (not JSON, wrong shape): retrying will not help.
var errBadResponse = errors.New("unexpected response body")

// stripURL drops the *url.Error wrapper, whose text repeats the full URL,
// keeping the underlying cause (which errors.Is/As still reach).
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// readAPIError builds an *APIError from a failed response, reading at most
// 1 MiB of its body. The server's texts are redacted (client secret,
// tokens, credentials in URLs) and their control characters escaped: a
// hostile or broken server may echo what it received.
func (c *Client) readAPIError(resp *http.Response, name string) *APIError {
	e := &APIError{StatusCode: resp.StatusCode, Endpoint: name}
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(io.LimitReader(resp.Body, 1<<20))
	var b errorBody
	if json.Unmarshal(buf.Bytes(), &b) == nil {
		e.Message = b.Message
		e.Code = intOf(b.ErrorCode)
		e.ValidationErrors = b.ValidationErrors
		if len(e.ValidationErrors) == 0 {
			e.ValidationErrors = b.Errors
		}
		e.OAuthError = b.OAuthError
		if e.Message == "" {
			e.Message = b.OAuthDescription
		}
		if s := intOf(b.RetryAfter); s > 0 {
			e.RetryAfter = time.Duration(s) * time.Second
		}
	} else {
		// Redacted before it is cut, so that no part of a secret survives.
		e.Message = c.serverText(strings.TrimSpace(buf.String()), 200)
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	e.Message = c.serverText(e.Message, 0)
	e.OAuthError = c.serverText(e.OAuthError, 100)
	for i := range e.ValidationErrors {
		e.ValidationErrors[i].Message = c.serverText(e.ValidationErrors[i].Message, 0)
	}
	if ra := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ra > 0 {
		e.RetryAfter = ra
	}
	return e
}

// intOf reads a JSON number or numeric string.
func intOf(v any) int {
	switch x := v.(type) {
	case float64:
		return int(x)
	case string:
		n, _ := strconv.Atoi(strings.TrimSpace(x))
		return n
	}
	return 0
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(n * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// serverText makes a text the server sent fit for errors and logs: secrets
// removed, control characters escaped, cut to max bytes (0: no cut).
func (c *Client) serverText(s string, max int) string {
	s = redact.Escape(c.cfg.Redactor.String(s))
	if max > 0 && len(s) > max {
		s = strings.ToValidUTF8(s[:max], "") + "…"
	}
	return s
}

// decodeJSON decodes a response body into v with a streaming decoder.
func decodeJSON(resp *http.Response, v any) error {
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return decodeErr(err)
	}
	return nil
}

// decodeErr classifies a decoding error: malformed JSON and a body over its
// limit are bad responses (not retried); anything else is a transport
// failure.
func decodeErr(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	if errors.As(err, &syn) || errors.As(err, &typ) {
		return fmt.Errorf("%w: %w", errBadResponse, err)
	}
	return err
}

// ErrResponseTooLarge is matched by the error of a response whose body, or
// one item of it, is larger than Config.MaxResponseBytes or
// Config.MaxItemBytes.
var ErrResponseTooLarge = errors.New("response too large")

// limitedBody fails a body that is longer than limit.
type limitedBody struct {
	rc          io.ReadCloser
	left, limit int64
	key         string // the setting that raises the limit
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// One byte more tells "exactly the limit" from "over it".
		var one [1]byte
		if n, _ := l.rc.Read(one[:]); n == 0 {
			return 0, io.EOF
		}
		key := l.key
		if key == "" {
			key = "sfmc.max_response_bytes"
		}
		return 0, fmt.Errorf("%w: %w: the body is larger than %d bytes (%s)", errBadResponse, ErrResponseTooLarge, l.limit, key)
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.rc.Read(p)
	l.left -= int64(n)
	return n, err
}

func (l *limitedBody) Close() error { return l.rc.Close() }

// callbackError carries an error returned by the caller's callback through
// do, which returns it unchanged and never retries it.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }

func (e *callbackError) Unwrap() error { return e.err }

// RedirectError is a redirect the client refused to follow.
type RedirectError struct {
	// Status is the 3xx status (0 when the refusal came from a later hop).
	Status int
	// Location is the target, redacted.
	Location string
	// Reason says why it was refused.
	Reason string
}

func (e *RedirectError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("redirect (%d) to %q refused: %s", e.Status, e.Location, e.Reason)
	}
	return fmt.Sprintf("redirect to %q refused: %s", e.Location, e.Reason)
}

type noRedirectKey struct{}

// checkRedirect is the http.Client redirect policy: the token request is
// never redirected (the 3xx is returned and turned into an error), and a
// REST request only to a URL that passes the rest_instance_url checks, never
// from https to http, and at most 5 times.
func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if v, _ := req.Context().Value(noRedirectKey{}).(bool); v {
		return http.ErrUseLastResponse
	}
	target := req.URL.Scheme + "://" + req.URL.Host + "/"
	loc := c.serverText(target, 300)
	if len(via) >= 5 {
		return &RedirectError{Location: loc, Reason: "more than 5 redirects"}
	}
	for _, v := range via {
		if v.URL.Scheme == "https" && req.URL.Scheme != "https" {
			return &RedirectError{Location: loc, Reason: "a redirect from https to http would send the access token in plain text"}
		}
	}
	if _, err := checkEndpoint(target, restHostSuffix, c.cfg.AllowAnyEndpoint); err != nil {
		return &RedirectError{Location: loc, Reason: "the target fails the endpoint check: " + c.serverText(err.Error(), 0)}
	}
	return nil
}
