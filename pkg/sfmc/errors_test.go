package sfmc

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/redact"
)

func TestAPIErrorText(t *testing.T) {
	tests := []struct {
		name string
		err  *APIError
		want string
	}{
		{
			"validation",
			&APIError{StatusCode: 400, Code: 10006, Endpoint: "POST asset query", Message: "Request contained some validation errors.",
				ValidationErrors: []ValidationError{{Code: 10005, Message: "Asset names within a category and asset type must be unique."}, {Message: "second"}}},
			"sfmc: POST asset query: 400 (10006): Request contained some validation errors: Asset names within a category and asset type must be unique. (10005); second",
		},
		{"not found", &APIError{StatusCode: 404, Code: 30003, Endpoint: "GET asset 5", Message: "Object not found"}, "sfmc: GET asset 5: 404 (30003): Object not found"},
		{"oauth", &APIError{StatusCode: 401, OAuthError: "invalid_client", Endpoint: "POST token", Message: "Client authentication failed."}, "sfmc: POST token: 401 (invalid_client): Client authentication failed."},
		{"no code", &APIError{StatusCode: 502, Endpoint: "GET categories page 1"}, "sfmc: GET categories page 1: 502"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q\nwant      %q", got, tt.want)
			}
		})
	}
}

func TestAPIErrorIs(t *testing.T) {
	tests := []struct {
		err                 *APIError
		unauth, forb, notfd bool
	}{
		{&APIError{StatusCode: 401}, true, false, false},
		{&APIError{StatusCode: 400, OAuthError: "invalid_client"}, true, false, false},
		{&APIError{StatusCode: 400, OAuthError: "unsupported_grant_type"}, false, false, false},
		{&APIError{StatusCode: 403, Code: 20002}, false, true, false},
		{&APIError{StatusCode: 404, Code: 30003}, false, false, true},
		{&APIError{StatusCode: 500}, false, false, false},
	}
	for _, tt := range tests {
		wrapped := fmt.Errorf("outer: %w", tt.err)
		if errors.Is(wrapped, ErrUnauthorized) != tt.unauth || errors.Is(wrapped, ErrForbidden) != tt.forb || errors.Is(wrapped, ErrNotFound) != tt.notfd {
			t.Errorf("%+v: Is(unauthorized,forbidden,notfound) = %v,%v,%v; want %v,%v,%v", tt.err,
				errors.Is(wrapped, ErrUnauthorized), errors.Is(wrapped, ErrForbidden), errors.Is(wrapped, ErrNotFound), tt.unauth, tt.forb, tt.notfd)
		}
		var ae *APIError
		if !errors.As(wrapped, &ae) || ae != tt.err {
			t.Errorf("errors.As did not find the *APIError")
		}
	}
}

func TestReadAPIError(t *testing.T) {
	mk := func(status int, hdr http.Header, body string) *http.Response {
		if hdr == nil {
			hdr = http.Header{}
		}
		return &http.Response{StatusCode: status, Header: hdr, Body: io.NopCloser(strings.NewReader(body))}
	}
	tests := []struct {
		name string
		resp *http.Response
		want APIError
	}{
		{"429 header", mk(429, http.Header{"Retry-After": {"5"}}, `{"message":"Rate limit exceeded","errorcode":50100,"retryAfter":5}`),
			APIError{StatusCode: 429, Code: 50100, Message: "Rate limit exceeded", RetryAfter: 5 * time.Second}},
		{"429 body only", mk(429, nil, `{"message":"Rate limit exceeded","errorcode":50100,"retryAfter":"7"}`),
			APIError{StatusCode: 429, Code: 50100, Message: "Rate limit exceeded", RetryAfter: 7 * time.Second}},
		{"429 blocked", mk(429, nil, `{"message":"Your requests are temporarily blocked.","errorcode":50200}`),
			APIError{StatusCode: 429, Code: 50200, Message: "Your requests are temporarily blocked."}},
		{"oauth", mk(401, nil, `{"error":"invalid_client","error_description":"Client authentication failed.","error_uri":"x"}`),
			APIError{StatusCode: 401, OAuthError: "invalid_client", Message: "Client authentication failed."}},
		{"errors array", mk(400, nil, `{"message":"bad","errorcode":10006,"errors":[{"message":"m","errorcode":10005}]}`),
			APIError{StatusCode: 400, Code: 10006, Message: "bad", ValidationErrors: []ValidationError{{10005, "m"}}}},
		{"not json", mk(502, nil, "<html>Bad Gateway</html>"), APIError{StatusCode: 502, Message: "<html>Bad Gateway</html>"}},
		{"empty", mk(503, nil, ""), APIError{StatusCode: 503, Message: "Service Unavailable"}},
		// A server echoing what it got: secret and URL credentials gone,
		// control characters escaped (also in text bodies, before the cut).
		{"echoed secret", mk(401, nil, `{"error":"invalid_client","error_description":"secret the-client-secret is wrong\r\n\u001b[2J"}`),
			APIError{StatusCode: 401, OAuthError: "invalid_client", Message: `secret [REDACTED] is wrong\r\n\x1b[2J`}},
		{"echoed url", mk(400, nil, `{"message":"bad callback https://u:p4ss@evil.example/x?token=abc","errorcode":10006,"validationErrors":[{"message":"the-client-secret\n","errorcode":1}]}`),
			APIError{StatusCode: 400, Code: 10006, Message: "bad callback https://[REDACTED]@evil.example/x?token=[REDACTED]", ValidationErrors: []ValidationError{{1, `[REDACTED]\n`}}}},
		{"text cut after redaction", mk(502, nil, strings.Repeat("x", 190)+"the-client-secret"),
			APIError{StatusCode: 502, Message: strings.Repeat("x", 190) + "[REDACTED]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Client{cfg: Config{Redactor: redact.New("the-client-secret")}}
			got := c.readAPIError(tt.resp, "X")
			tt.want.Endpoint = "X"
			if fmt.Sprintf("%+v", *got) != fmt.Sprintf("%+v", tt.want) {
				t.Errorf("got  %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":                              0,
		"5":                             5 * time.Second,
		"0":                             0,
		"-3":                            0,
		"0.25":                          250 * time.Millisecond,
		"Mon, 01 Jan 2024 12:00:30 GMT": 30 * time.Second,
		"Mon, 01 Jan 2024 11:00:00 GMT": 0,
		"soon":                          0,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestBackoff(t *testing.T) {
	c, err := New(Config{AuthURL: "http://127.0.0.1:1/", ClientID: "i", ClientSecret: "s",
		RetryBaseDelay: 100 * time.Millisecond, RetryMaxDelay: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for attempt, nominal := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 30: time.Second} {
		for range 50 {
			d := c.backoff(attempt)
			if d < nominal/2 || d > nominal {
				t.Fatalf("backoff(%d) = %s, want within [%s, %s]", attempt, d, nominal/2, nominal)
			}
		}
	}
}

func TestRetryClassification(t *testing.T) {
	c, err := New(Config{AuthURL: "http://127.0.0.1:1/", ClientID: "i", ClientSecret: "s", MaxRetryAfter: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	dial := &net.OpError{Op: "dial", Err: errors.New("connection refused")}
	read := &net.OpError{Op: "read", Err: errors.New("connection reset by peer")}
	tests := []struct {
		name       string
		unsafe     bool
		status     int
		retryAfter time.Duration
		err        error
		retry      bool
		exact      time.Duration // checked when not 0
	}{
		{"429 retry-after", false, 429, 3 * time.Second, nil, true, 3 * time.Second},
		{"429 retry-after capped", false, 429, time.Hour, nil, true, 10 * time.Second},
		{"429 backoff", false, 429, 0, nil, true, 0},
		{"503 retry-after", false, 503, 2 * time.Second, nil, true, 2 * time.Second},
		{"500", false, 500, 0, nil, true, 0},
		{"502", false, 502, 0, nil, true, 0},
		{"504", false, 504, 0, nil, true, 0},
		{"400", false, 400, 0, nil, false, 0},
		{"401", false, 401, 0, nil, false, 0},
		{"403", false, 403, 0, nil, false, 0},
		{"404", false, 404, 0, nil, false, 0},
		{"409", false, 409, 0, nil, false, 0},
		{"eof", false, 0, 0, io.EOF, true, 0},
		{"unexpected eof", false, 0, 0, io.ErrUnexpectedEOF, true, 0},
		{"reset", false, 0, 0, read, true, 0},
		{"bad body", false, 0, 0, fmt.Errorf("x: %w", errBadResponse), false, 0},
		{"create 500", true, 500, 0, nil, false, 0},
		{"create reset", true, 0, 0, read, false, 0},
		{"create dial", true, 0, 0, dial, true, 0},
		{"create 429", true, 429, time.Second, nil, true, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, retry := c.retryDelay(call{unsafe: tt.unsafe}, tt.status, tt.retryAfter, tt.err, 1)
			if retry != tt.retry {
				t.Fatalf("retry = %v, want %v", retry, tt.retry)
			}
			if tt.exact != 0 && d != tt.exact {
				t.Errorf("delay = %s, want %s", d, tt.exact)
			}
		})
	}
}

func TestDecodeFileBody(t *testing.T) {
	want := "\x89PNG\r\n\x1a\n\x00binary/+"
	tests := map[string]string{
		"bare":          "iVBORw0KGgoAYmluYXJ5Lys=",
		"bare newline":  "iVBORw0KGgoAYmluYXJ5Lys=\n",
		"quoted":        `"iVBORw0KGgoAYmluYXJ5Lys="`,
		"quoted spaced": " \"iVBORw0KGgoAYmluYXJ5Lys=\"\r\n",
		"json escapes":  `"iVBORw0KGgoAYmluYXJ5Lys\u003d"`,
		"wrapped lines": "iVBORw0KGgoA\r\nYmluYXJ5Lys=",
		"unpadded":      "iVBORw0KGgoAYmluYXJ5Lys",
	}
	for name, in := range tests {
		got, err := decodeFileBody([]byte(in))
		if err != nil || string(got) != want {
			t.Errorf("%s: got %q, %v", name, got, err)
		}
	}
	if _, err := decodeFileBody([]byte(`{"message":"not a file"}`)); !errors.Is(err, errBadResponse) {
		t.Errorf("non-base64 body: err = %v, want errBadResponse", err)
	}
}

func TestConfigStringRedactsSecret(t *testing.T) {
	cfg := Config{AuthURL: "http://127.0.0.1:1/", ClientID: "id", ClientSecret: "s3cr3t-value"}
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%v", &cfg)} {
		if strings.Contains(s, "s3cr3t-value") {
			t.Errorf("secret printed: %s", s)
		}
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
		if strings.Contains(s, "s3cr3t-value") {
			t.Errorf("secret printed: %s", s)
		}
	}
}
