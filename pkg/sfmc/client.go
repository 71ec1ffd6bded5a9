package sfmc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/backup-creator/backup-creator/pkg/redact"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultPageSize       = 500
	MaxPageSize           = 500
	DefaultMaxAttempts    = 6
	DefaultRequestTimeout = 60 * time.Second
	DefaultRetryBaseDelay = 500 * time.Millisecond
	DefaultRetryMaxDelay  = 30 * time.Second
	DefaultMaxRetryAfter  = 60 * time.Second
	DefaultRefreshMargin  = 60 * time.Second
	DefaultKeysetEpsilon  = 10 * time.Millisecond
	DefaultMaxFileSize    = 64 << 20
	// DefaultMaxResponseBytes bounds one response body, a query page
	// included. Pages are decoded item by item, so this limit is not what
	// bounds memory (DefaultMaxItemBytes is); it stops a server that streams
	// without end. 500 items of 300 KB are 150 MB; 256 MiB leaves room for
	// pages of larger blocks before a smaller sfmc.page_size is needed.
	DefaultMaxResponseBytes = 256 << 20
	// DefaultMaxItemBytes bounds one asset document of a page (or one GET
	// asset): the largest piece held in memory at once. SFMC content
	// blocks are far smaller; the emulator's largest are 3 MB.
	DefaultMaxItemBytes = 16 << 20
	// DefaultMaxCategories bounds the folder listing.
	DefaultMaxCategories = 100_000
	// maxTokenResponse bounds the token endpoint's answer (a few hundred
	// bytes in practice).
	maxTokenResponse = 1 << 20
	DefaultUserAgent = "backup-creator/dev"
)

// Config configures a Client. Zero fields take the defaults above.
type Config struct {
	// AuthURL is the package's Authentication Base URI,
	// https://<subdomain>.auth.marketingcloudapis.com/ (see ValidateAuthURL).
	AuthURL string
	// ClientID and ClientSecret are the installed package's credentials. The
	// secret is sent only in the token request body; it is never logged or
	// put into an error.
	ClientID     string
	ClientSecret string
	// AccountID is the MID of the business unit to read; empty means the
	// package's own BU.
	AccountID string
	// AllowAnyEndpoint accepts auth and REST URLs outside
	// *.marketingcloudapis.com (config key sfmc.allow_any_endpoint), for
	// proxies and emulators that are not on loopback.
	AllowAnyEndpoint bool
	// PageSize is the asset query and category page size (default and max 500).
	PageSize int
	// ListConcurrency is how many id partitions a long asset listing is
	// paged in at once (default DefaultListConcurrency, at most
	// MaxListConcurrency; 1 lists serially). See QueryAssets.
	ListConcurrency int
	// ListReadAhead bounds the bytes of assets a listing holds read ahead:
	// a serial walk or the final sweep all of it, the partitions of a
	// listing together (default DefaultListReadAhead; negative: no
	// read-ahead). See QueryAssets.
	ListReadAhead int64
	// MaxAttempts bounds the tries of one request (default 6). A single
	// token refresh after a 401 does not count as an attempt.
	MaxAttempts int
	// RequestTimeout bounds one attempt, body included (default 60 s); the
	// time QueryAssets and ListCategories callbacks take with the items of
	// a streamed page does not count.
	RequestTimeout time.Duration
	// RetryBaseDelay and RetryMaxDelay shape the exponential backoff with
	// jitter used for 5xx, 429 without Retry-After and network errors
	// (defaults 500 ms and 30 s).
	RetryBaseDelay, RetryMaxDelay time.Duration
	// MaxRetryAfter caps the wait a 429/503 Retry-After asks for (default 60 s).
	MaxRetryAfter time.Duration
	// RefreshMargin is how long before expires_in runs out the token is
	// replaced (default 60 s; SFMC's expires_in is already 2 minutes short of
	// the real lifetime).
	RefreshMargin time.Duration
	// KeysetEpsilon is how far before the last modifiedDate of a page the
	// next keyset page starts (default 10 ms), to absorb SFMC's 1/300 s
	// rounding and the unknown precision of its date comparisons.
	KeysetEpsilon time.Duration
	// MaxFileSize bounds the base64 text GetAssetFile reads (default 64 MiB).
	MaxFileSize int64
	// MaxResponseBytes bounds every other response body, one query or
	// category page included (default DefaultMaxResponseBytes). A larger
	// body fails with an error wrapping ErrResponseTooLarge.
	MaxResponseBytes int64
	// MaxItemBytes bounds one asset document within a page, and a single
	// GET asset (default DefaultMaxItemBytes).
	MaxItemBytes int64
	// MaxCategories bounds the folders ListCategories accepts (default
	// DefaultMaxCategories).
	MaxCategories int
	// Redactor, when set, learns the client secret at New and every access
	// token as soon as it arrives, so that the caller can remove them from
	// whatever it prints. The client also removes them itself from the
	// server texts it puts into errors. nil: a private one is used.
	Redactor *redact.Redactor
	// UserAgent is sent on every request, e.g. "backup-creator/1.2.3".
	UserAgent string
	// HTTPClient is the transport; nil builds one with sane timeouts and
	// keep-alive (16 idle connections per host).
	HTTPClient *http.Client
	// Budget, when set, is shared with other clients: together they keep at
	// most Budget.Size() requests in flight. nil: no limit besides the
	// caller's own.
	Budget *Budget
	// Now is the clock used for token expiry; nil means time.Now.
	Now func() time.Time
	// Sleep waits d or until ctx is done, returning ctx.Err() in the latter
	// case. nil uses a timer; tests inject it to observe waits without
	// waiting.
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger receives debug logs (requests, retries, refreshes); never
	// tokens, secrets or bodies.
	Logger zerolog.Logger
}

// String describes c with the secret redacted.
func (c Config) String() string {
	secret := "(unset)"
	if c.ClientSecret != "" {
		secret = "(set)"
	}
	return fmt.Sprintf("sfmc.Config{AuthURL:%q ClientID:%q ClientSecret:%s AccountID:%q}", c.AuthURL, c.ClientID, secret, c.AccountID)
}

// GoString is String, so %#v does not print the secret either.
func (c Config) GoString() string { return c.String() }

// Stats keys, one per endpoint family, plus the retry counters.
const (
	StatToken      = "token"
	StatQuery      = "query"
	StatAsset      = "asset"
	StatFile       = "file"
	StatCategories = "categories"
	StatCreate     = "create"
	StatUpdate     = "update"
	StatDelete     = "delete"
	StatRetries    = "retries"
	StatThrottled  = "throttled"
)

var statKeys = [...]string{StatToken, StatQuery, StatAsset, StatFile, StatCategories, StatCreate, StatUpdate, StatDelete, StatRetries, StatThrottled}

// Client talks to one SFMC business unit. It is safe for concurrent use; build
// one per process and reuse it, so that its token is reused.
type Client struct {
	cfg      Config
	authBase string // scheme://host[/path] without a trailing slash
	http     *http.Client
	log      zerolog.Logger
	auth     tokenCache
	stats    map[string]*atomic.Int64
	// date is the server's clock as of the last response with a Date header.
	date atomic.Pointer[serverDate]
}

// serverDate pairs a response's Date header with the local time it came.
type serverDate struct{ server, local time.Time }

// ServerNow estimates SFMC's current time from the Date header of the last
// response (plus the local time elapsed since); ok is false before the first
// response with a Date header. The header has a resolution of one second.
func (c *Client) ServerNow() (t time.Time, ok bool) {
	d := c.date.Load()
	if d == nil {
		return time.Time{}, false
	}
	return d.server.Add(c.cfg.Now().Sub(d.local)), true
}

func (c *Client) noteDate(h http.Header) {
	if v := h.Get("Date"); v != "" {
		if t, err := http.ParseTime(v); err == nil {
			c.date.Store(&serverDate{server: t, local: c.cfg.Now()})
		}
	}
}

// New validates cfg (endpoint rules of ValidateAuthURL, credentials present)
// and returns a client. It does no network I/O.
func New(cfg Config) (*Client, error) {
	base, err := checkEndpoint(cfg.AuthURL, authHostSuffix, cfg.AllowAnyEndpoint)
	if err != nil {
		return nil, fmt.Errorf("sfmc: auth url: %w", err)
	}
	if cfg.ClientID == "" {
		return nil, errors.New("sfmc: client id is empty")
	}
	if cfg.ClientSecret == "" {
		return nil, errors.New("sfmc: client secret is empty")
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = DefaultPageSize
	}
	cfg.PageSize = min(cfg.PageSize, MaxPageSize)
	if cfg.ListConcurrency <= 0 {
		cfg.ListConcurrency = DefaultListConcurrency
	}
	cfg.ListConcurrency = min(cfg.ListConcurrency, MaxListConcurrency)
	switch {
	case cfg.ListReadAhead == 0:
		cfg.ListReadAhead = DefaultListReadAhead
	case cfg.ListReadAhead < 0:
		cfg.ListReadAhead = 0
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.RetryBaseDelay <= 0 {
		cfg.RetryBaseDelay = DefaultRetryBaseDelay
	}
	if cfg.RetryMaxDelay <= 0 {
		cfg.RetryMaxDelay = DefaultRetryMaxDelay
	}
	cfg.RetryMaxDelay = max(cfg.RetryMaxDelay, cfg.RetryBaseDelay)
	if cfg.MaxRetryAfter <= 0 {
		cfg.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if cfg.RefreshMargin <= 0 {
		cfg.RefreshMargin = DefaultRefreshMargin
	}
	if cfg.KeysetEpsilon <= 0 {
		cfg.KeysetEpsilon = DefaultKeysetEpsilon
	}
	if cfg.MaxFileSize <= 0 {
		cfg.MaxFileSize = DefaultMaxFileSize
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if cfg.MaxItemBytes <= 0 {
		cfg.MaxItemBytes = DefaultMaxItemBytes
	}
	if cfg.MaxCategories <= 0 {
		cfg.MaxCategories = DefaultMaxCategories
	}
	if cfg.Redactor == nil {
		cfg.Redactor = redact.New()
	}
	cfg.Redactor.Add(cfg.ClientSecret)
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleepCtx
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient()
	}
	c := &Client{cfg: cfg, authBase: base, log: cfg.Logger, stats: map[string]*atomic.Int64{}}
	// A copy, so that the redirect policy applies to this client only.
	own := *hc
	own.CheckRedirect = c.checkRedirect
	c.http = &own
	for _, k := range statKeys {
		c.stats[k] = new(atomic.Int64)
	}
	return c, nil
}

// String describes the client without credentials or token.
func (c *Client) String() string {
	return fmt.Sprintf("sfmc.Client{auth:%s client_id:%s}", c.authBase, c.cfg.ClientID)
}

// GoString is String.
func (c *Client) GoString() string { return c.String() }

// Stats returns the number of HTTP requests sent so far per endpoint family
// (keys StatToken … StatDelete; retries included), plus StatRetries (attempts
// after the first) and StatThrottled (429 responses).
func (c *Client) Stats() map[string]int64 {
	m := make(map[string]int64, len(c.stats))
	for k, v := range c.stats {
		m[k] = v.Load()
	}
	return m
}

func (c *Client) count(key string) { c.stats[key].Add(1) }

func defaultHTTPClient() *http.Client {
	var t *http.Transport
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		t = dt.Clone()
	} else {
		t = &http.Transport{Proxy: http.ProxyFromEnvironment}
	}
	t.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.MaxIdleConns = 64
	t.MaxIdleConnsPerHost = 16
	t.IdleConnTimeout = 90 * time.Second
	t.TLSHandshakeTimeout = 15 * time.Second
	t.ResponseHeaderTimeout = 2 * time.Minute
	t.ExpectContinueTimeout = time.Second
	return &http.Client{Transport: t}
}

// call describes one logical API request.
type call struct {
	method string
	// url is absolute for the token endpoint; otherwise path (starting with
	// "/") is joined to the REST base of the current token.
	url   string
	path  string
	query url.Values
	body  []byte // kept so that every attempt can resend it
	stat  string // Stats key
	name  string // endpoint description for errors and logs
	// noAuth marks the token request itself.
	noAuth bool
	// unsafe marks a request that must not be repeated when the server may
	// have acted on it (create): it is retried only on 429, 503 and errors
	// before the connection was made.
	unsafe bool
	// onBlocked, when set, is called for every 429 answer with errorcode
	// 50200 ("requests temporarily blocked": too many concurrent requests).
	onBlocked func()
	// streams: handle hands the body's items to a caller's callback as it
	// reads them, so the Budget slot is released once the response headers
	// are in (see Budget).
	streams bool
}

// do runs cl with retries. For a successful response it calls handle with the
// body (which do closes); an error from handle is retried when it looks like
// a transport failure (connection reset, unexpected EOF, timeout), so handle
// must not have side effects visible to the caller before it returns nil.
func (c *Client) do(ctx context.Context, cl call, handle func(*http.Response) error) error {
	var last error
	refreshed := false
	attempt := 0
	for attempt < c.cfg.MaxAttempts {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("sfmc: %s: %w", cl.name, err)
		}
		attempt++
		if attempt > 1 {
			c.count(StatRetries)
		}
		var tok *token
		if !cl.noAuth {
			t, err := c.token(ctx, "")
			if err != nil {
				return err
			}
			tok = t
		}
		status, retryAfter, err := c.attempt(ctx, cl, tok, handle)
		if err == nil {
			return nil
		}
		var cb *callbackError
		if errors.As(err, &cb) {
			return cb.err // the caller's own error: never retried or wrapped
		}
		if ctx.Err() != nil {
			return fmt.Errorf("sfmc: %s: %w", cl.name, ctx.Err())
		}
		last = err
		var apiErr *APIError
		isAPI := errors.As(err, &apiErr)
		if isAPI && status == http.StatusUnauthorized && !cl.noAuth {
			if refreshed {
				return err
			}
			refreshed = true
			attempt-- // the refresh retry is free
			c.log.Debug().Str("endpoint", cl.name).Msg("sfmc: 401, refreshing the token")
			if _, terr := c.token(ctx, tok.access); terr != nil {
				return terr
			}
			continue
		}
		delay, retry := c.retryDelay(cl, status, retryAfter, err, attempt)
		if !retry {
			return err
		}
		if status == http.StatusTooManyRequests {
			c.count(StatThrottled)
			if isAPI && apiErr.Code == codeBlocked && cl.onBlocked != nil {
				cl.onBlocked()
			}
		}
		if attempt >= c.cfg.MaxAttempts {
			break
		}
		c.log.Debug().Str("endpoint", cl.name).Int("attempt", attempt).Int("status", status).
			Int64("delay_ms", delay.Milliseconds()).Err(err).Msg("sfmc: retrying")
		if err := c.cfg.Sleep(ctx, delay); err != nil {
			return fmt.Errorf("sfmc: %s: waiting to retry: %w", cl.name, err)
		}
	}
	return fmt.Errorf("%w (gave up after %d attempts)", last, attempt)
}

// attempt sends cl once. It returns the HTTP status (0 when none was
// received), the Retry-After the server asked for, and an error: an *APIError
// for a non-success status, or a transport/decoding error.
func (c *Client) attempt(ctx context.Context, cl call, tok *token, handle func(*http.Response) error) (int, time.Duration, error) {
	ac, release := newAttemptCtx(ctx, c.cfg.RequestTimeout)
	defer release()
	var actx context.Context = ac
	target := cl.url
	if tok != nil {
		target = tok.restBase + cl.path
	}
	if len(cl.query) > 0 {
		target += "?" + cl.query.Encode()
	}
	var body io.Reader
	if cl.body != nil {
		body = bytes.NewReader(cl.body)
	}
	if cl.noAuth {
		actx = context.WithValue(actx, noRedirectKey{}, true)
	}
	req, err := http.NewRequestWithContext(actx, cl.method, target, body)
	if err != nil {
		return 0, 0, fmt.Errorf("sfmc: %s: %w", cl.name, err)
	}
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	req.Header.Set("Accept", "application/json")
	if cl.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != nil {
		req.Header.Set("Authorization", "Bearer "+tok.access)
	}
	freeSlot := func() {}
	if b := c.cfg.Budget; b != nil {
		if err := b.acquire(actx, cl.name); err != nil {
			return 0, 0, err
		}
		var once sync.Once
		freeSlot = func() { once.Do(b.release) }
		defer freeSlot()
	}
	c.count(cl.stat)
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("sfmc: %s: %w", cl.name, stripURL(err))
	}
	c.noteDate(resp.Header)
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
	}()
	c.log.Debug().Str("endpoint", cl.name).Int("status", resp.StatusCode).
		Int64("duration_ms", time.Since(start).Milliseconds()).Msg("sfmc: response")
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		// Only the token request gets here (checkRedirect follows or
		// refuses every other redirect): never follow it, the client
		// secret would go along.
		return resp.StatusCode, 0, fmt.Errorf("sfmc: %s: %w", cl.name, &RedirectError{
			Status: resp.StatusCode, Location: c.serverText(resp.Header.Get("Location"), 500),
			Reason: "the token request follows no redirect (it carries the client secret); if the new address is right, set sfmc.auth_url (SFMC_AUTH_URL) to it",
		})
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		apiErr := c.readAPIError(resp, cl.name)
		return resp.StatusCode, apiErr.RetryAfter, apiErr
	}
	if handle == nil {
		return resp.StatusCode, 0, nil
	}
	lb := &limitedBody{rc: resp.Body, left: c.cfg.MaxResponseBytes, limit: c.cfg.MaxResponseBytes}
	if cl.noAuth {
		lb.left, lb.limit, lb.key = maxTokenResponse, maxTokenResponse, "the token response limit"
	}
	resp.Body = lb
	if cl.streams {
		// handle hands items to a callback that may itself need a slot
		// (the engine fetches file assets while the listing goes on): the
		// server has answered, so the slot goes before the body is read.
		freeSlot()
	}
	if err := handle(resp); err != nil {
		if errors.Is(err, errBadResponse) {
			return 0, 0, fmt.Errorf("sfmc: %s: %w", cl.name, err)
		}
		// A body that breaks off mid-way is a transport failure: status 0
		// so that it is classified (and retried) as one.
		return 0, 0, fmt.Errorf("sfmc: %s: reading response: %w", cl.name, err)
	}
	return resp.StatusCode, 0, nil
}
