package sfmctest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options configures a Server. The zero value gives the documented defaults.
type Options struct {
	// ClientID and ClientSecret are the installed package's credentials
	// (defaults "test-client-id", "test-client-secret").
	ClientID, ClientSecret string
	// MIDs are the business units; the first is the default MID used when
	// account_id is omitted. Default []int64{100001}.
	MIDs []int64
	// EnterpriseID is the enterprise (parent) MID. Default 100000.
	EnterpriseID int64
	// Now is the clock for timestamps, token lifetimes and the rate limiter.
	// Default time.Now.
	Now func() time.Time
	// TokenLifetime is how long a token really lives, measured on Now.
	// Default 20 minutes.
	TokenLifetime time.Duration
	// ExpiresIn is the expires_in value of token responses. Default 1079.
	ExpiresIn int
	// MaxPageSize is the largest page size served. Default 500; -1 disables.
	MaxPageSize int
	// PageSizeMode says what happens above MaxPageSize: "clamp" (default,
	// the response echoes the clamped size), "clamp-quiet" (clamped, but
	// the response echoes the size asked for) or "reject" (400).
	PageSizeMode string
	// ResultWindow is the Elasticsearch result window: a page whose end
	// ((page-1)*pageSize+pageSize) exceeds it fails with "all shards failed".
	// Default 10000; -1 disables.
	ResultWindow int
	// ResultWindowStatus is the HTTP status of that failure. Default 400.
	ResultWindowStatus int
	// MaxInValues is the largest "in" list on assetType.id before the DB
	// error 30001. Default 50; -1 disables.
	MaxInValues int
	// FilterZone is the zone of offset-less date filter values. Default a
	// fixed -06:00 zone; set time.UTC for the other plausible reading.
	FilterZone *time.Location
	// OmitEmptyItems leaves "items" out of empty pages.
	OmitEmptyItems bool
	// Latency is added to every request (token and REST).
	Latency time.Duration
	// MaxConcurrent limits REST requests in flight; above it the server
	// answers 429/50200. 0 means unlimited.
	MaxConcurrent int
	// TickRounding rounds written timestamps to SQL Server's 1/300 s ticks.
	TickRounding bool
	// CreateStatus is the status of a successful asset or category create.
	// Default 201.
	CreateStatus int
	// RateLimit, when > 0, enables a token bucket of RateLimit requests per
	// second (on the Now clock) with RateBurst capacity (default 10) over all
	// REST requests; an empty bucket answers 429/50100 with Retry-After.
	RateLimit float64
	RateBurst int
	// TokenRateLimit, when > 0, is the most tokens issued per minute of the
	// Now clock; more answer 429.
	TokenRateLimit int
	// EnforceScopes rejects REST calls whose token lacks the route's scope
	// with 403/20002.
	EnforceScopes bool
	// FileAsJSONString serves GET …/file as a JSON string literal instead of
	// bare base64 text.
	FileAsJSONString bool
	// UnstableTies orders assets with equal sort keys differently on every
	// request, as a search engine may when the sort is not total.
	UnstableTies bool
	// AllowDuplicateCategoryNames permits sibling folders with the same name.
	AllowDuplicateCategoryNames bool
	// MaxLoggedRequests bounds the request log (oldest dropped). Default 100000.
	MaxLoggedRequests int
	// IndexLag hides assets created, changed or restored through the API or
	// the admin methods from queries and lists until this much time (on the
	// Now clock) has passed; GET by id sees them at once, as with SFMC's
	// search index trailing its database.
	IndexLag time.Duration
	// DateSkew is added to the clock of the Date header only: a Date
	// header ahead of (or, negative, behind) the clock that stamps
	// modifiedDate, as when the gateway's and the database's clocks
	// disagree, or a stack stamps Mountain time labelled -06:00.
	DateSkew time.Duration
	// TLS serves https with a certificate made at start for 127.0.0.1,
	// ::1 and localhost; HTTPClient returns a client that trusts it.
	TLS bool
}

func (o *Options) setDefaults() {
	if o.ClientID == "" {
		o.ClientID = "test-client-id"
	}
	if o.ClientSecret == "" {
		o.ClientSecret = "test-client-secret"
	}
	if len(o.MIDs) == 0 {
		o.MIDs = []int64{100001}
	}
	o.MIDs = slices.Clone(o.MIDs)
	if o.EnterpriseID == 0 {
		o.EnterpriseID = 100000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.TokenLifetime == 0 {
		o.TokenLifetime = 20 * time.Minute
	}
	if o.ExpiresIn == 0 {
		o.ExpiresIn = 1079
	}
	if o.MaxPageSize == 0 {
		o.MaxPageSize = 500
	}
	if o.PageSizeMode == "" {
		o.PageSizeMode = "clamp"
	}
	if o.ResultWindow == 0 {
		o.ResultWindow = 10000
	}
	if o.ResultWindowStatus == 0 {
		o.ResultWindowStatus = http.StatusBadRequest
	}
	if o.MaxInValues == 0 {
		o.MaxInValues = 50
	}
	if o.CreateStatus == 0 {
		o.CreateStatus = http.StatusCreated
	}
	if o.RateBurst == 0 {
		o.RateBurst = 10
	}
	if o.MaxLoggedRequests == 0 {
		o.MaxLoggedRequests = 100000
	}
}

// grantedScopes are the scopes of the emulated installed package.
const grantedScopes = "offline documents_and_images_read documents_and_images_write saved_content_read saved_content_write"

// Route keys used by faults, stats and RequestInfo.Route.
const (
	RouteToken         = "token"
	RouteQuery         = "query"          // POST /asset/v1/content/assets/query
	RouteList          = "list"           // GET /asset/v1/content/assets
	RouteAsset         = "asset"          // GET /asset/v1/content/assets/{id}
	RouteFile          = "file"           // GET /asset/v1/content/assets/{id}/file
	RouteCreate        = "create"         // POST /asset/v1/content/assets
	RouteUpdate        = "update"         // PUT/PATCH /asset/v1/content/assets/{id}
	RouteDelete        = "delete"         // DELETE /asset/v1/content/assets/{id}
	RouteCategories    = "categories"     // GET /asset/v1/content/categories[/{id}]
	RouteCategoryWrite = "category-write" // POST/PUT/DELETE /asset/v1/content/categories[/{id}]
	RouteDeleted       = "deleted"        // GET /asset/v1/content/deletedAssets
	RouteRestore       = "restore"        // PATCH /asset/v1/content/deletedAssets/{id}
	RouteUnknown       = "unknown"        // anything else (404)
)

func isWriteRoute(r string) bool {
	switch r {
	case RouteCreate, RouteUpdate, RouteDelete, RouteCategoryWrite, RouteRestore:
		return true
	}
	return false
}

// token is an issued access token.
type token struct {
	client  string
	mid     int64
	expires time.Time
	scopes  map[string]bool
}

// Server is an in-process SFMC emulator listening on 127.0.0.1. All methods
// are safe for concurrent use.
type Server struct {
	opts      Options
	types     map[int]assetTypeInfo
	topFields map[string]bool
	ln        net.Listener
	hs        *http.Server
	url       string
	roots     *x509.CertPool // set with Options.TLS
	closeOnce sync.Once
	done      chan struct{}

	mu          sync.RWMutex // data: stores, keys, id counters, guid rand
	stores      map[int64]*store
	keys        map[string]keyOwner
	nextAssetID int64
	nextCatID   int64
	guidRand    *mrand.Rand

	cmu       sync.Mutex // control: tokens, faults, stats, log, hook, limiter
	tokens    map[string]*token
	tokenLog  []time.Time
	faults    []*faultState
	hook      func(RequestInfo)
	routeN    map[string]int
	stats     Stats
	requests  []RequestInfo
	inflight  int
	bucket    float64
	bucketAt  time.Time
	bucketSet bool
	endless   int // pages served by EndlessPages faults
}

// New starts a server on 127.0.0.1:0 with empty data (root folders only) and
// closes it when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := Start(opts, "127.0.0.1:0")
	if err != nil {
		t.Fatalf("start sfmc emulator: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// ErrNotLoopback is returned by Start for an address that is not a loopback address.
var ErrNotLoopback = errors.New("sfmc emulator listens on loopback addresses only")

// Start starts a server on addr, which must be a loopback address
// ("127.0.0.1:0", "[::1]:8080", "localhost:0").
func Start(opts Options, addr string) (*Server, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("parse listen address %q: %w", addr, err)
	}
	if host != "localhost" {
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("listen on %q: %w", addr, ErrNotLoopback)
		}
	}
	s := newServer(opts)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	s.url = "http://" + ln.Addr().String()
	if opts.TLS {
		cert, roots, err := selfSigned()
		if err != nil {
			_ = ln.Close()
			return nil, fmt.Errorf("tls certificate: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		s.roots = roots
		s.url = "https://" + ln.Addr().String()
	}
	s.ln = ln
	s.hs = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.done)
		_ = s.hs.Serve(ln)
	}()
	return s, nil
}

func newServer(opts Options) *Server {
	opts.setDefaults()
	s := &Server{
		opts:        opts,
		types:       assetTypeTable(),
		topFields:   topLevelFields(),
		done:        make(chan struct{}),
		stores:      make(map[int64]*store),
		keys:        make(map[string]keyOwner),
		nextAssetID: 1_000_000,
		nextCatID:   10_000,
		guidRand:    mrand.New(mrand.NewPCG(20240101, 7281698)),
		tokens:      make(map[string]*token),
		routeN:      make(map[string]int),
	}
	s.stats = newStats()
	for _, mid := range opts.MIDs {
		st := newStore(mid)
		s.nextCatID++
		st.rootID = s.nextCatID
		st.cats[st.rootID] = &category{id: st.rootID, mid: mid, name: "Content Builder", description: "The root folder for assets", catType: "asset"}
		s.nextCatID++
		st.sharedID = s.nextCatID
		st.cats[st.sharedID] = &category{id: st.sharedID, mid: mid, name: "Shared Content", description: "The root folder for shared assets", catType: "asset-shared"}
		s.stores[mid] = st
	}
	return s
}

// Close stops the server: it closes the listener and every connection
// (requests in flight see their context cancelled). It is idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		_ = s.hs.Close()
		<-s.done
	})
}

// HTTPClient returns a client for this server: with Options.TLS one that
// trusts its certificate, otherwise a plain one.
func (s *Server) HTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if s.roots != nil {
		t.TLSClientConfig = &tls.Config{RootCAs: s.roots, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: t}
}

// selfSigned makes a certificate for the loopback names.
func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "sfmc emulator"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots, nil
}

// URL returns the base URL, "http://127.0.0.1:PORT" (no trailing slash;
// https with Options.TLS).
func (s *Server) URL() string { return s.url }

// AuthURL returns the auth base URL with a trailing slash (the SFMC_AUTH_URL value).
func (s *Server) AuthURL() string { return s.url + "/" }

// ClientID returns the accepted client id.
func (s *Server) ClientID() string { return s.opts.ClientID }

// ClientSecret returns the accepted client secret.
func (s *Server) ClientSecret() string { return s.opts.ClientSecret }

// DefaultMID returns the MID a token is bound to when account_id is omitted.
func (s *Server) DefaultMID() int64 { return s.opts.MIDs[0] }

func (s *Server) now() time.Time { return s.opts.Now() }

// stamp is the clock reading used for written timestamps.
func (s *Server) stamp() time.Time {
	t := s.now()
	if s.opts.TickRounding {
		return roundTick(t)
	}
	return truncMillis(t)
}

func (s *Server) filterZone() *time.Location {
	if s.opts.FilterZone != nil {
		return s.opts.FilterZone
	}
	return cst()
}

// newGUID makes a deterministic GUID-shaped string; the caller holds mu.
func (s *Server) newGUID() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(s.guidRand.UintN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hx = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hx[c>>4], hx[c&0xf])
	}
	return string(out)
}

// store returns the store of mid (0 = default) or nil.
func (s *Server) store(mid int64) *store {
	if mid == 0 {
		mid = s.DefaultMID()
	}
	return s.stores[mid]
}

// route classifies a request. Paths are matched case-insensitively;
// an empty segment (e.g. "//asset") does not match.
func route(method, path string) (string, []string) {
	p := strings.ToLower(path)
	if len(p) != len(path) {
		return RouteUnknown, nil
	}
	if p == "/v2/token" {
		if method == http.MethodPost {
			return RouteToken, nil
		}
		return RouteUnknown, nil
	}
	const prefix = "/asset/v1/content/"
	if !strings.HasPrefix(p, prefix) {
		return RouteUnknown, nil
	}
	segs := strings.Split(strings.TrimSuffix(p[len(prefix):], "/"), "/")
	orig := strings.Split(strings.TrimSuffix(path[len(prefix):], "/"), "/")
	for _, sg := range segs {
		if sg == "" {
			return RouteUnknown, nil
		}
	}
	isID := func(s string) bool { _, err := strconv.ParseInt(s, 10, 64); return err == nil }
	switch {
	case segs[0] == "assets" && len(segs) == 1:
		switch method {
		case http.MethodGet:
			return RouteList, nil
		case http.MethodPost:
			return RouteCreate, nil
		}
	case segs[0] == "assets" && len(segs) == 2 && segs[1] == "query":
		if method == http.MethodPost {
			return RouteQuery, nil
		}
	case segs[0] == "assets" && len(segs) == 2 && isID(segs[1]):
		switch method {
		case http.MethodGet:
			return RouteAsset, orig[1:2]
		case http.MethodPut, http.MethodPatch:
			return RouteUpdate, orig[1:2]
		case http.MethodDelete:
			return RouteDelete, orig[1:2]
		}
	case segs[0] == "assets" && len(segs) == 3 && isID(segs[1]) && segs[2] == "file":
		if method == http.MethodGet {
			return RouteFile, orig[1:2]
		}
	case segs[0] == "categories" && len(segs) == 1:
		switch method {
		case http.MethodGet:
			return RouteCategories, nil
		case http.MethodPost:
			return RouteCategoryWrite, nil
		}
	case segs[0] == "categories" && len(segs) == 2 && isID(segs[1]):
		switch method {
		case http.MethodGet:
			return RouteCategories, orig[1:2]
		case http.MethodPut, http.MethodDelete, http.MethodPatch:
			return RouteCategoryWrite, orig[1:2]
		}
	case segs[0] == "deletedassets" && len(segs) == 1:
		if method == http.MethodGet {
			return RouteDeleted, nil
		}
	case segs[0] == "deletedassets" && len(segs) == 2 && isID(segs[1]):
		if method == http.MethodPatch {
			return RouteRestore, orig[1:2]
		}
	}
	return RouteUnknown, nil
}

// maxBody bounds request bodies (files are ≤ 5 MB as base64 plus JSON).
const maxBody = 64 << 20

// statusRecorder remembers the status written and counts the request in
// the stats (onStatus) before the status reaches the client, so a client
// that has its answer always finds the request counted.
type statusRecorder struct {
	http.ResponseWriter
	status   int
	recorded bool // the request is counted (status 0: dropped)
	onStatus func(int)
}

// setStatus counts the request once, with the first status it gets.
func (r *statusRecorder) setStatus(code int) {
	if !r.recorded {
		r.recorded = true
		r.status = code
		if r.onStatus != nil {
			r.onStatus(code)
		}
	}
}

func (r *statusRecorder) WriteHeader(code int) {
	r.setStatus(code)
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(p []byte) (int, error) {
	r.setStatus(http.StatusOK)
	return r.ResponseWriter.Write(p)
}

// reqCtx is what handlers get about the caller.
type reqCtx struct {
	method string
	st     *store
	mid    int64
	user   user
	params []string
	body   []byte
	query  url.Values
	n      int
	// ignoreKeyset: a hostile fault asks to serve the query unfiltered.
	ignoreKeyset bool
	// ignoreIDRange: a hostile fault asks to drop a query's id ranges.
	ignoreIDRange bool
	// ignoreTypeFilter: a hostile fault asks to drop a query's type filter.
	ignoreTypeFilter bool
	// idOffset, count and omitCount: a hostile fault asks to lie about
	// the ids or the count of a query's answer.
	idOffset  int64
	count     *int
	omitCount bool
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_emulator/") {
		s.serveAdmin(w, r)
		return
	}
	// The Date header tells the server's clock (Options.Now), as SFMC's does.
	w.Header().Set("Date", s.now().Add(s.opts.DateSkew).UTC().Format(http.TimeFormat))
	rt, params := route(r.Method, r.URL.Path)
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return
	}
	rec := &statusRecorder{ResponseWriter: w}
	info := RequestInfo{Method: r.Method, Path: r.URL.Path, Route: rt, Query: r.URL.Query(), HadAuth: r.Header.Get("Authorization") != ""}
	if rt == RouteToken {
		info.Body = redactTokenBody(body)
	} else {
		info.Body = body
	}
	rest := rt != RouteToken
	if rest {
		s.enter()
		defer s.leave()
	}
	rec.onStatus = func(status int) { s.record(rt, status) }
	defer rec.setStatus(0) // counts a request answered without a status (dropped)

	if !s.sleep(r.Context(), s.opts.Latency) {
		return
	}
	if rt == RouteUnknown {
		s.logRequest(info)
		writeJSON(rec, http.StatusNotFound, []byte(routeNotFoundBody))
		return
	}
	if rt == RouteToken {
		info.N = s.nextN(rt)
		s.logRequest(info)
		if done, _ := s.applyFault(rec, w, r, rt, body); done {
			return
		}
		s.handleToken(rec, body)
		return
	}
	if s.overConcurrency() {
		s.logRequest(info)
		writeJSON(rec, http.StatusTooManyRequests, []byte(blockedBody))
		return
	}
	tok := s.authenticate(r)
	if tok == nil {
		s.logRequest(info)
		writeJSON(rec, http.StatusUnauthorized, []byte(notAuthorizedBody))
		return
	}
	info.Authorized = true
	info.MID = tok.mid
	info.N = s.nextN(rt)
	s.logRequest(info)
	if wait, limited := s.takeRateToken(); limited {
		rec.Header().Set("Retry-After", strconv.Itoa(wait))
		writeJSON(rec, http.StatusTooManyRequests, retryBody("Rate limit exceeded", 50100, wait))
		return
	}
	if s.opts.EnforceScopes && !tok.scopes[requiredScope(rt)] {
		writeJSON(rec, http.StatusForbidden, errorBody("Insufficient privileges", 20002, ""))
		return
	}
	if hook := s.currentHook(); hook != nil {
		hook(info)
	}
	done, fault := s.applyFault(rec, w, r, rt, body)
	if done {
		return
	}
	if ct := r.Header.Get("Content-Type"); len(body) > 0 && !isJSONContentType(ct) {
		writeJSON(rec, http.StatusUnsupportedMediaType, errorBody("Unsupported Media Type", 415, ""))
		return
	}
	s.mu.RLock()
	st := s.stores[tok.mid]
	s.mu.RUnlock()
	rc := &reqCtx{method: r.Method, st: st, mid: tok.mid, user: appUser(), params: params, body: body, query: r.URL.Query(), n: info.N}
	if fault != nil && fault.IgnoreKeyset {
		rc.ignoreKeyset = true
		rc.query.Set("$page", "1")
	}
	if fault != nil && fault.IgnoreIDRange {
		rc.ignoreIDRange = true
	}
	if fault != nil && fault.IgnoreTypeFilter {
		rc.ignoreTypeFilter = true
	}
	if fault != nil {
		rc.idOffset, rc.count, rc.omitCount = fault.IDOffset, fault.Count, fault.OmitCount
	}
	if fault != nil && fault.CutAfterBytes > 0 {
		s.dispatch(&cutWriter{statusRecorder: rec, left: fault.CutAfterBytes}, rt, rc)
		return
	}
	s.dispatch(rec, rt, rc)
}

func isJSONContentType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

func requiredScope(rt string) string {
	switch rt {
	case RouteCreate:
		return "saved_content_write"
	case RouteUpdate, RouteDelete, RouteCategoryWrite, RouteRestore:
		return "documents_and_images_write"
	}
	return "documents_and_images_read"
}

// sleep waits d unless ctx ends first; it reports whether to continue.
func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func redactTokenBody(body []byte) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return nil
	}
	for k := range m {
		if strings.EqualFold(k, "client_secret") {
			m[k] = json.RawMessage(`"REDACTED"`)
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		return nil
	}
	return out
}

// authenticate returns the caller's live token or nil.
func (s *Server) authenticate(r *http.Request) *token {
	h := r.Header.Get("Authorization")
	scheme, val, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil
	}
	val = strings.TrimSpace(val)
	s.cmu.Lock()
	defer s.cmu.Unlock()
	t, ok := s.tokens[val]
	if !ok {
		return nil
	}
	if !s.now().Before(t.expires) {
		delete(s.tokens, val)
		return nil
	}
	return t
}

// handleToken serves POST /v2/token.
func (s *Server) handleToken(w http.ResponseWriter, body []byte) {
	m, ok := decodeObject(body)
	if !ok {
		writeJSON(w, http.StatusBadRequest, []byte(invalidTokenReq))
		return
	}
	grant, _ := jsonString(m["grant_type"])
	if grant != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, []byte(badGrantBody))
		return
	}
	id, _ := jsonString(m["client_id"])
	secret, _ := jsonString(m["client_secret"])
	if id != s.opts.ClientID || secret != s.opts.ClientSecret {
		writeJSON(w, http.StatusUnauthorized, []byte(invalidClientBody))
		return
	}
	mid := s.DefaultMID()
	if raw, present := m["account_id"]; present && !isNull(raw) {
		v, ok := jsonInt(raw)
		if str, isStr := jsonString(raw); isStr && strings.TrimSpace(str) == "" {
			v, ok = mid, true
		}
		if !ok || s.stores[v] == nil {
			writeJSON(w, http.StatusUnauthorized, []byte(unauthorizedMID))
			return
		}
		mid = v
	}
	granted := strings.Fields(grantedScopes)
	scopes := granted
	if raw, present := m["scope"]; present && !isNull(raw) {
		req, _ := jsonString(raw)
		scopes = nil
		for _, sc := range strings.Fields(req) {
			if slices.Contains(granted, sc) && !slices.Contains(scopes, sc) {
				scopes = append(scopes, sc)
			}
		}
	}
	var rb [32]byte
	_, _ = rand.Read(rb[:])
	access := base64.RawURLEncoding.EncodeToString(rb[:])
	set := make(map[string]bool, len(scopes))
	for _, sc := range scopes {
		set[sc] = true
	}
	s.cmu.Lock()
	now := s.now()
	if lim := s.opts.TokenRateLimit; lim > 0 {
		kept := s.tokenLog[:0]
		for _, t := range s.tokenLog {
			if now.Sub(t) < time.Minute {
				kept = append(kept, t)
			}
		}
		s.tokenLog = kept
		if len(kept) >= lim {
			s.cmu.Unlock()
			w.Header().Set("Retry-After", "60")
			writeJSON(w, http.StatusTooManyRequests, retryBody("Rate limit exceeded", 50100, 60))
			return
		}
		s.tokenLog = append(s.tokenLog, now)
	}
	s.tokens[access] = &token{client: id, mid: mid, expires: now.Add(s.opts.TokenLifetime), scopes: set}
	s.stats.TokensIssued++
	s.cmu.Unlock()
	b := []byte(`{"access_token":`)
	b = appendString(b, access)
	b = append(b, `,"token_type":"Bearer","expires_in":`...)
	b = strconv.AppendInt(b, int64(s.opts.ExpiresIn), 10)
	b = append(b, `,"scope":`...)
	b = appendString(b, strings.Join(scopes, " "))
	b = append(b, `,"soap_instance_url":`...)
	b = appendString(b, s.url+"/")
	b = append(b, `,"rest_instance_url":`...)
	b = appendString(b, s.url+"/")
	b = append(b, '}')
	writeJSON(w, http.StatusOK, b)
}

// ExpireAllTokens invalidates every issued token; the next REST call with one
// of them gets 401.
func (s *Server) ExpireAllTokens() {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	clear(s.tokens)
}

// takeRateToken applies the optional token bucket.
func (s *Server) takeRateToken() (int, bool) {
	if s.opts.RateLimit <= 0 {
		return 0, false
	}
	s.cmu.Lock()
	defer s.cmu.Unlock()
	now := s.now()
	if !s.bucketSet {
		s.bucket, s.bucketAt, s.bucketSet = float64(s.opts.RateBurst), now, true
	}
	if el := now.Sub(s.bucketAt).Seconds(); el > 0 {
		s.bucket = math.Min(float64(s.opts.RateBurst), s.bucket+el*s.opts.RateLimit)
		s.bucketAt = now
	}
	if s.bucket >= 1 {
		s.bucket--
		return 0, false
	}
	wait := int(math.Ceil((1 - s.bucket) / s.opts.RateLimit))
	return max(wait, 1), true
}

func (s *Server) enter() {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.inflight++
	if s.inflight > s.stats.PeakConcurrent {
		s.stats.PeakConcurrent = s.inflight
	}
}

func (s *Server) leave() {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.inflight--
}

func (s *Server) overConcurrency() bool {
	if s.opts.MaxConcurrent <= 0 {
		return false
	}
	s.cmu.Lock()
	defer s.cmu.Unlock()
	return s.inflight > s.opts.MaxConcurrent
}

func (s *Server) nextN(rt string) int {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.routeN[rt]++
	return s.routeN[rt]
}

func (s *Server) currentHook() func(RequestInfo) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	return s.hook
}
