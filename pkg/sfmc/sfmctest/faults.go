package sfmctest

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// Fault is a scripted failure. It matches calls to Route ("" = any REST
// route, i.e. anything but "token"); it lets After matching calls through,
// then fails the next Times of them.
type Fault struct {
	// Route is an endpoint key: "token", "query", "list", "asset", "file",
	// "create", "update", "delete", "categories", "category-write",
	// "deleted", "restore", or "" for any REST route.
	Route string `json:"route"`
	// After is how many matching calls to let through first (0 = the next one).
	After int `json:"after"`
	// Times is how many matching calls to fail (0 means 1; -1 = forever).
	Times int `json:"times"`
	// Status is the HTTP status to answer (429, 500, 503, ...). 0 with Drop
	// or Latency only.
	Status int `json:"status"`
	// RetryAfter is in seconds. With 429/503 and > 0 it sets the Retry-After
	// header and the retryAfter body field (code 50100/50300); a 429 with 0
	// answers code 50200 without Retry-After.
	RetryAfter int `json:"retryAfter"`
	// RetryAfterInBodyOnly omits the Retry-After header.
	RetryAfterInBodyOnly bool `json:"retryAfterInBodyOnly"`
	// Drop closes the connection without any response.
	Drop bool `json:"drop"`
	// Latency delays the response (then Status, Drop or normal handling).
	Latency time.Duration `json:"latency"`
	// EmptyPage answers 200 with an empty page ({"count":0,...,"items":[]}):
	// a listing that silently returns nothing, as a glitching search index
	// might ("query" and "list" routes).
	EmptyPage bool `json:"emptyPage"`
}

type faultState struct {
	f     Fault
	seen  int
	fired int
}

// InjectFault adds a scripted fault. Faults are checked in the order added;
// every fault counts the calls matching its route, and the first one whose
// turn it is fires. Faults apply after authentication (REST) and after the
// OnRequest hook.
func (s *Server) InjectFault(f Fault) {
	if f.Times == 0 {
		f.Times = 1
	}
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.faults = append(s.faults, &faultState{f: f})
}

// ClearFaults removes all scripted faults.
func (s *Server) ClearFaults() {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.faults = nil
}

func (s *Server) pickFault(rt string) *Fault {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	var chosen *Fault
	for _, fs := range s.faults {
		if fs.f.Route != rt && (fs.f.Route != "" || rt == RouteToken) {
			continue
		}
		fs.seen++
		if chosen != nil || fs.seen <= fs.f.After || (fs.f.Times >= 0 && fs.fired >= fs.f.Times) {
			continue
		}
		fs.fired++
		f := fs.f
		chosen = &f
	}
	return chosen
}

// applyFault runs a due fault; it reports whether the request was answered.
func (s *Server) applyFault(rec *statusRecorder, w http.ResponseWriter, r *http.Request, rt string) bool {
	f := s.pickFault(rt)
	if f == nil {
		return false
	}
	if !s.sleep(r.Context(), f.Latency) {
		return true
	}
	if f.Drop {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler)
	}
	if f.EmptyPage {
		writeJSON(rec, http.StatusOK, []byte(`{"count":0,"page":1,"pageSize":50,"links":{},"items":[]}`))
		return true
	}
	if f.Status == 0 {
		return false
	}
	setRetry := func() {
		if f.RetryAfter > 0 && !f.RetryAfterInBodyOnly {
			rec.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
		}
	}
	switch {
	case f.Status == http.StatusTooManyRequests && f.RetryAfter > 0:
		setRetry()
		writeJSON(rec, f.Status, retryBody("Rate limit exceeded", 50100, f.RetryAfter))
	case f.Status == http.StatusTooManyRequests:
		writeJSON(rec, f.Status, []byte(blockedBody))
	case f.Status == http.StatusServiceUnavailable:
		setRetry()
		if f.RetryAfter > 0 {
			writeJSON(rec, f.Status, retryBody("Service Unavailable", 50300, f.RetryAfter))
		} else {
			writeJSON(rec, f.Status, errorBody("Service Unavailable", 50300, errorDocURL))
		}
	case f.Status == http.StatusInternalServerError:
		writeJSON(rec, f.Status, []byte(internalErrorBody))
	case f.Status == http.StatusUnauthorized:
		writeJSON(rec, f.Status, []byte(notAuthorizedBody))
	default:
		setRetry()
		writeJSON(rec, f.Status, errorBody(http.StatusText(f.Status), f.Status, ""))
	}
	return true
}

// RequestInfo describes one request to the emulator (admin calls excluded).
type RequestInfo struct {
	Method string
	Path   string
	// Route is the endpoint key (see Fault.Route).
	Route string
	Query url.Values
	// Body is the request body (the token request's client_secret redacted).
	Body []byte
	// MID is the business unit of the caller's token (0 when unauthenticated).
	MID int64
	// N is the 1-based number of this call among authenticated calls to Route
	// (all calls for "token"); 0 for calls refused before authentication.
	N int
	// HadAuth says whether an Authorization header was sent.
	HadAuth bool
	// Authorized says whether the token was valid.
	Authorized bool
}

// OnRequest installs fn, called synchronously at the start of every
// authenticated REST request (before faults and handling), so tests can act
// exactly at the Nth call. fn may call the Server's admin methods. nil clears.
func (s *Server) OnRequest(fn func(RequestInfo)) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.hook = fn
}

// Stats are request counters since start or the last ResetStats.
type Stats struct {
	// ByRoute counts requests by endpoint key.
	ByRoute map[string]int `json:"byRoute"`
	// ByStatus counts responses by HTTP status (0 = connection dropped).
	ByStatus map[int]int `json:"byStatus"`
	// ByRouteStatus counts by "route status", e.g. "query 429".
	ByRouteStatus map[string]int `json:"byRouteStatus"`
	// TokensIssued counts successful token requests.
	TokensIssued int `json:"tokensIssued"`
	// PeakConcurrent is the most REST requests in flight at once.
	PeakConcurrent int `json:"peakConcurrent"`
	// Writes counts REST write requests (asset create/update/delete,
	// category writes, restores), whatever their outcome.
	Writes int `json:"writes"`
}

func newStats() Stats {
	return Stats{ByRoute: map[string]int{}, ByStatus: map[int]int{}, ByRouteStatus: map[string]int{}}
}

func (s *Server) record(rt string, status int) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.stats.ByRoute[rt]++
	s.stats.ByStatus[status]++
	s.stats.ByRouteStatus[rt+" "+strconv.Itoa(status)]++
	if isWriteRoute(rt) {
		s.stats.Writes++
	}
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	out := s.stats
	out.ByRoute = maps.Clone(s.stats.ByRoute)
	out.ByStatus = maps.Clone(s.stats.ByStatus)
	out.ByRouteStatus = maps.Clone(s.stats.ByRouteStatus)
	return out
}

// ResetStats zeroes the counters (PeakConcurrent restarts from the requests
// now in flight) and the per-route call numbers.
func (s *Server) ResetStats() {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.stats = newStats()
	s.stats.PeakConcurrent = s.inflight
	clear(s.routeN)
}

func (s *Server) logRequest(info RequestInfo) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	if over := len(s.requests) + 1 - s.opts.MaxLoggedRequests; over > 0 {
		s.requests = slices.Delete(s.requests, 0, over)
	}
	s.requests = append(s.requests, info)
}

// Requests returns the request log, oldest first.
func (s *Server) Requests() []RequestInfo {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	return slices.Clone(s.requests)
}

// ResetRequests empties the request log.
func (s *Server) ResetRequests() {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.requests = nil
}
