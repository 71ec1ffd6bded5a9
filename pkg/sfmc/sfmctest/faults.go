package sfmctest

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
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
	// PageSize, when > 0, matches only queries asking for pages of this
	// size (1: the probes of a partitioned listing).
	PageSize int `json:"pageSize"`
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
	// CutAfterBytes answers normally but breaks the connection after this
	// many bytes of the body: an answer that breaks off mid-page.
	CutAfterBytes int64 `json:"cutAfterBytes"`
	// Latency delays the response (then Status, Drop or normal handling).
	Latency time.Duration `json:"latency"`
	// EmptyPage answers 200 with an empty page ({"count":0,...,"items":[]}):
	// a listing that silently returns nothing, as a glitching search index
	// might ("query" and "list" routes).
	EmptyPage bool `json:"emptyPage"`

	// The hostile modes below model a server that is broken or attacks
	// its client. See the package documentation for the admin API and
	// scripts/sfmc-emulator --hostile for the named presets.

	// Message replaces the message of the error body a Status fault
	// answers (error_description on the token route). Any text, control
	// characters included: a server's text is not to be trusted.
	Message string `json:"message"`
	// Echo appends the credential the request carried to that message:
	// the client_secret of a token request, the bearer token of a REST
	// call, as a server that echoes its input would.
	Echo bool `json:"echo"`
	// Redirect, with a 3xx Status, answers with Location: Redirect (its
	// trailing slash removed) followed by the request's path and query.
	Redirect string `json:"redirect"`
	// FloodBytes answers 200 with a page whose one item has a content of
	// this many bytes, streamed without ever being held in memory (a
	// server that sends without end).
	FloodBytes int64 `json:"floodBytes"`
	// IgnoreKeyset serves the request as if it had no filter and asked for
	// page 1 (query: the filter is ignored; categories: $page is), so a
	// keyset or page-number listing gets the same page again and again.
	IgnoreKeyset bool `json:"ignoreKeyset"`
	// IgnoreIDRange serves a query as if its id range conditions (id
	// greaterThanOrEqual / lessThan, what a partitioned listing adds) were
	// not there: every partition gets assets of the others.
	IgnoreIDRange bool `json:"ignoreIDRange"`
	// IgnoreTypeFilter serves a query as if its assetType.id (or .name)
	// condition were not there: a listing of some types gets every type.
	IgnoreTypeFilter bool `json:"ignoreTypeFilter"`
	// EndlessPages answers a query with a full page of made-up assets,
	// each page dated later than the one before, claiming a count of two
	// pages: a listing that never ends and moves past its count.
	EndlessPages bool `json:"endlessPages"`
	// IDOffset serves a query as usual, but every item's id in the answer
	// is shifted by this much: an answer that lies about ids (with
	// PageSize 1, probes that disagree with the pages).
	IDOffset int64 `json:"idOffset"`
	// Count, when set, is the count a query's answer reports instead of
	// the true number of matches (a count that lies); the items are the
	// true ones.
	Count *int `json:"count,omitempty"`
	// OmitCount leaves "count" out of a query's answer.
	OmitCount bool `json:"omitCount"`
}

// cutWriter passes the first left bytes of a body through, then breaks the
// connection (Fault.CutAfterBytes).
type cutWriter struct {
	*statusRecorder
	left int64
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if int64(len(p)) <= c.left {
		c.left -= int64(len(p))
		return c.statusRecorder.Write(p)
	}
	_, _ = c.statusRecorder.Write(p[:c.left])
	c.left = 0
	if f, ok := c.statusRecorder.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
	panic(http.ErrAbortHandler) // the server closes the connection
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

func (s *Server) pickFault(rt string, body []byte) *Fault {
	pageSize := -1 // parsed when a fault asks
	s.cmu.Lock()
	defer s.cmu.Unlock()
	var chosen *Fault
	for _, fs := range s.faults {
		if fs.f.Route != rt && (fs.f.Route != "" || rt == RouteToken) {
			continue
		}
		if fs.f.PageSize > 0 {
			if pageSize < 0 {
				var q struct {
					Page struct {
						PageSize int `json:"pageSize"`
					} `json:"page"`
				}
				_ = json.Unmarshal(body, &q)
				pageSize = q.Page.PageSize
			}
			if pageSize != fs.f.PageSize {
				continue
			}
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

// applyFault runs a due fault; it reports whether the request was answered,
// and returns the fault for the modes that change normal handling
// (IgnoreKeyset).
func (s *Server) applyFault(rec *statusRecorder, w http.ResponseWriter, r *http.Request, rt string, body []byte) (bool, *Fault) {
	f := s.pickFault(rt, body)
	if f == nil {
		return false, nil
	}
	if !s.sleep(r.Context(), f.Latency) {
		return true, f
	}
	if f.Drop {
		// Count it before the client can see the connection close: a
		// client reading Stats right after its failed request must find it.
		rec.setStatus(0)
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return true, f
			}
		}
		panic(http.ErrAbortHandler)
	}
	switch {
	case f.EmptyPage:
		writeJSON(rec, http.StatusOK, []byte(`{"count":0,"page":1,"pageSize":50,"links":{},"items":[]}`))
		return true, f
	case f.FloodBytes > 0:
		s.flood(rec, f.FloodBytes)
		return true, f
	case f.EndlessPages:
		s.endlessPage(rec, r, body)
		return true, f
	case f.Status >= 300 && f.Status <= 399:
		rec.Header().Set("Location", strings.TrimSuffix(f.Redirect, "/")+r.URL.RequestURI())
		writeJSON(rec, f.Status, errorBody("Moved", f.Status, ""))
		return true, f
	}
	if f.Status == 0 {
		return false, f
	}
	if f.Message != "" || f.Echo {
		msg := f.Message
		if msg == "" {
			msg = http.StatusText(f.Status)
		}
		if f.Echo {
			msg += " (received: " + echoedCredential(r, rt, body) + ")"
		}
		if rt == RouteToken {
			b := []byte(`{"error":"invalid_client","error_description":`)
			b = appendString(b, msg)
			b = append(b, `,"error_uri":"https://developer.salesforce.com/docs"}`...)
			writeJSON(rec, f.Status, b)
		} else {
			writeJSON(rec, f.Status, errorBody(msg, f.Status, ""))
		}
		return true, f
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
	return true, f
}

// echoedCredential is what an echoing server repeats: the token request's
// client_secret, or a REST call's bearer token.
func echoedCredential(r *http.Request, rt string, body []byte) string {
	if rt == RouteToken {
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		sec, _ := m["client_secret"].(string)
		id, _ := m["client_id"].(string)
		return "client_id=" + id + " client_secret=" + sec
	}
	return r.Header.Get("Authorization")
}

// flood streams a one-item page whose content is n bytes long.
func (s *Server) flood(w http.ResponseWriter, n int64) {
	w.Header().Set("Content-Type", jsonContentType)
	w.WriteHeader(http.StatusOK)
	head := `{"count":1,"page":1,"pageSize":500,"items":[{"id":9990001,"customerKey":"flood","name":"flood",` +
		`"assetType":{"id":197,"name":"htmlblock"},"modifiedDate":"2024-01-01T00:00:00-06:00","content":"`
	if _, err := io.WriteString(w, head); err != nil {
		return
	}
	chunk := []byte(strings.Repeat("A", 64<<10))
	for n > 0 {
		c := chunk[:min(int64(len(chunk)), n)]
		if _, err := w.Write(c); err != nil {
			return // the client hung up
		}
		n -= int64(len(c))
	}
	_, _ = io.WriteString(w, `"}]}`)
}

// endlessPage answers a query with a full page of fresh made-up assets.
func (s *Server) endlessPage(w http.ResponseWriter, r *http.Request, body []byte) {
	var q struct {
		Page struct {
			PageSize int `json:"pageSize"`
		} `json:"page"`
	}
	_ = json.Unmarshal(body, &q)
	size := q.Page.PageSize
	if size <= 0 || size > 500 {
		size = 500
	}
	s.cmu.Lock()
	s.endless++
	n := s.endless
	s.cmu.Unlock()
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, cst()).Add(time.Duration(n) * time.Hour)
	items := make([][]byte, size)
	for i := range items {
		id := int64(8_000_000 + (n-1)*size + i)
		md := base.Add(time.Duration(i) * time.Second).Format("2006-01-02T15:04:05.000-07:00")
		items[i] = fmt.Appendf(nil, `{"id":%d,"customerKey":"endless-%d","name":"endless %d","assetType":{"id":197,"name":"htmlblock"},"modifiedDate":%q,"content":"x"}`, id, id, id, md)
	}
	writeJSON(w, http.StatusOK, listEnvelope(2*size, pageRequest{page: 1, size: size}, items, false))
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
