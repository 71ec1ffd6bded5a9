package sfmc

// Listing assets: the keyset walk over POST /assets/query that every listing
// is made of (a serial listing is one walk; a partitioned one, partition.go,
// runs several over disjoint id ranges).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// maxInValues is the largest assetType.id "in" list SFMC accepts (more fails
// with DB error 30001), so longer lists are queried in chunks.
const maxInValues = 50

// alwaysFields are requested with every projection: the keyset needs id and
// modifiedDate, the backup needs the rest to name and file an asset.
var alwaysFields = []string{"id", "customerKey", "assetType", "name", "modifiedDate"}

// queryBody is the POST /assets/query request.
type queryBody struct {
	Page   queryPage   `json:"page"`
	Query  any         `json:"query"`
	Sort   []querySort `json:"sort"`
	Fields []string    `json:"fields,omitempty"`
}

type queryPage struct {
	Page     int `json:"page"`
	PageSize int `json:"pageSize"`
}

type querySort struct {
	Property  string `json:"property"`
	Direction string `json:"direction"`
}

type simpleQuery struct {
	Property       string `json:"property"`
	SimpleOperator string `json:"simpleOperator"`
	Value          any    `json:"value"`
}

type complexQuery struct {
	LeftOperand     any    `json:"leftOperand"`
	LogicalOperator string `json:"logicalOperator"`
	RightOperand    any    `json:"rightOperand"`
}

// assetKey identifies one version of an asset: its id and the instant of its
// modifiedDate.
type assetKey struct {
	id int64
	md int64 // UnixNano
}

func keyOf(a Asset) assetKey { return assetKey{a.ID, a.ModifiedDate.UnixNano()} }

// QueryAssets calls fn for every asset matching q. A serial listing streams
// item by item: it never holds more than one item in flight (at most
// Config.MaxItemBytes) plus small de-duplication sets, whatever the page
// size.
//
// Paging is by keyset, never by offset, so listings far beyond SFMC's
// 10,000-result window work: each request asks for page 1 of
// modifiedDate ≥ L sorted (modifiedDate, id), and after a full page L moves
// to the page's last modifiedDate minus Config.KeysetEpsilon. Items already
// emitted with the same (id, modifiedDate) are skipped, so fn never sees the
// same version twice; an asset modified during the listing may be seen again
// with its new modifiedDate. More assets with one modifiedDate than a page
// holds are walked by id (see keyset.step).
//
// A listing longer than a few pages per partition is split into
// Config.ListConcurrency disjoint id ranges that are paged concurrently (see
// partition.go); fn is then still never called concurrently, but items come
// in no particular order: identify versions by (ID, ModifiedDate), not by
// the order they arrive in. Type lists longer than 50 ids are queried in
// chunks, one after another.
//
// After its first page a listing reads one page ahead: the next request goes
// out while fn is handed the page before. A serial walk and the final sweep
// hold at most Config.ListReadAhead bytes of a page, each partition its share
// of it; beyond that the page is handed on as it is read.
//
// Each item's Raw is its JSON exactly as received. An error from fn stops the
// query and is returned unchanged.
//
// A server that does not honour the keyset cannot keep the listing going:
// a full page that ends on the same (modifiedDate, id) as the one before,
// or far more pages than the count the server reported, stop it with an
// error wrapping ErrEndlessPaging.
func (c *Client) QueryAssets(ctx context.Context, q AssetQuery, fn func(Asset) error) error {
	size := q.PageSize
	if size <= 0 {
		size = c.cfg.PageSize
	}
	size = min(size, MaxPageSize)
	var fields []string
	if len(q.Fields) > 0 {
		fields = append(fields, alwaysFields...)
		for _, f := range q.Fields {
			if !slices.Contains(fields, f) {
				fields = append(fields, f)
			}
		}
	}
	ids := uniqueInts(q.TypeIDs)
	if len(ids) == 0 {
		return c.listChunk(ctx, nil, q.ModifiedSince, q.Expect, size, fields, fn)
	}
	for chunk := range slices.Chunk(ids, maxInValues) {
		if err := c.listChunk(ctx, chunk, q.ModifiedSince, q.Expect, size, fields, fn); err != nil {
			return err
		}
	}
	return nil
}

func uniqueInts(in []int) []int {
	var out []int
	for _, v := range in {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// keyset is one keyset walk: the assets of a type chunk (and, in a
// partitioned listing, of an id range) with modifiedDate ≥ its lower bound,
// in (modifiedDate, id) order. Every request asks for page 1; the position
// lives in the filter:
//
//   - normal mode: modifiedDate ≥ L. After a full page, L becomes the page's
//     last modifiedDate minus KeysetEpsilon (so the boundary items come back
//     and are skipped as already emitted).
//   - tie mode, when moving L would return the same full page again (more
//     assets within KeysetEpsilon of one timestamp T than a page holds):
//     modifiedDate ≥ L AND id > lastID, which walks the cluster in id
//     order. Once a page ends past T, or is short, every asset at T has been
//     seen and the listing resumes in normal mode from L = T + 1 ms. (Assets
//     after T with an id below lastID were held back by the id condition;
//     that restart picks them up.)
//
// No request ever pages by offset, so SFMC's 10,000-result window never
// applies.
type keyset struct {
	c       *Client
	typeIDs []int
	types   map[int]struct{} // typeIDs as a set (nil: every type); shared, read-only
	size    int
	fields  []string
	// idFrom and idTo bound a partition: id ≥ idFrom (when > 0) and
	// id < idTo (when > 0).
	idFrom, idTo int64

	lower    time.Time // L: the modifiedDate lower bound; zero = none
	afterID  int64     // > 0 in tie mode
	tieAt    time.Time // T, the tie cluster's modifiedDate
	lastExit time.Time // T of the last cluster left, to detect a server that cannot get past it
	seen     map[assetKey]struct{}
	horizon  time.Time // everything modified before this has been emitted
	pages    int       // requests so far
	maxCount int       // the largest count the server reported
	prevLast *assetKey // the last item of the previous full page in normal mode
	// shortCounted: the walk went on after a short page whose count said
	// more were left.
	shortCounted bool
	// askTwice: an empty first page is asked again once before it is
	// taken as the end (a partition: the other partitions' items move the
	// watermark past what a glitch would leave out of its range).
	askTwice bool
	// count is the server's count on the last page (-1 when it sent none),
	// n the items on it and eff the page size the server honours.
	count, n, eff int
	// onBlocked, when set, is told of every 429 "requests temporarily
	// blocked" (errorcode 50200) answer to this walk's requests.
	onBlocked func()
	// beforeBody, when set, is called before a response's items are read
	// (outside the request timeout); its error ends the attempt. A walk
	// that reads ahead waits there until the page before is handed on.
	beforeBody func() error
}

func (c *Client) newKeyset(typeIDs []int, since time.Time, size int, fields []string) *keyset {
	k := &keyset{c: c, typeIDs: typeIDs, size: size, fields: fields, seen: map[assetKey]struct{}{}}
	if len(typeIDs) > 0 {
		k.types = make(map[int]struct{}, len(typeIDs))
		for _, id := range typeIDs {
			k.types[id] = struct{}{}
		}
	}
	if !since.IsZero() {
		k.lower = since.Truncate(time.Millisecond)
	}
	return k
}

// advance moves the lower bound to `to` and forgets the versions that can no
// longer come back.
func (k *keyset) advance(to time.Time) {
	k.lower = to
	k.horizon = k.lower.Add(-k.c.cfg.KeysetEpsilon)
	for key := range k.seen {
		if key.md < k.horizon.UnixNano() {
			delete(k.seen, key)
		}
	}
}

// emit passes a to fn unless it was emitted before, lies outside the
// walk's id range (a server that ignored the range condition: the walk
// that owns the id emits it) or is of a type the walk does not list (a
// server that ignored the type condition: the walk of its type chunk
// emits it; an asset whose type the answer leaves out is kept).
func (k *keyset) emit(a Asset, fn func(Asset) error) error {
	if !k.owns(a.ID) {
		return nil
	}
	if _, ok := k.types[a.AssetType.ID]; k.types != nil && a.AssetType.ID != 0 && !ok {
		return nil
	}
	if !k.horizon.IsZero() && a.ModifiedDate.Before(k.horizon) {
		return nil // emitted before the keyset moved past it
	}
	key := keyOf(a)
	if _, dup := k.seen[key]; dup {
		return nil
	}
	k.seen[key] = struct{}{}
	return fn(a)
}

// inWindow reports whether a lies in the walk's keyset window, the only
// items that count for its position: an item before the window (a stale or
// replayed answer, or a server that ignored the filter) is neither emitted
// nor allowed to move the walk back. A server that ignores the id range of
// a partition still advances it (its items are in the window; emit leaves
// them to the walk that owns them).
func (k *keyset) inWindow(a Asset) bool {
	if !k.horizon.IsZero() && a.ModifiedDate.Before(k.horizon) {
		return false
	}
	return k.afterID == 0 || a.ID > k.afterID
}

// run walks to the end.
func (k *keyset) run(ctx context.Context, fn func(Asset) error) error {
	for {
		done, err := k.step(ctx, fn)
		if err != nil || done {
			return err
		}
	}
}

// step fetches one page, hands its new items to fn and moves the keyset. It
// reports whether the walk is complete.
func (k *keyset) step(ctx context.Context, fn func(Asset) error) (done bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("sfmc: asset query: %w", err)
	}
	// An empty answer that continues a walk is asked again (SFMC "sometimes
	// returns a payload without items"). In normal mode the page before
	// counted what matches this query too, so when it said more were left
	// an answer that stays empty fails the listing. Otherwise (its count
	// unknown, or a tie-mode page, whose query matches less; or the first
	// page of a partition) one more empty answer is taken as the end.
	cont := k.pages > 0 && (k.n >= k.eff || k.count > k.n) || k.pages == 0 && k.askTwice
	strong := k.afterID == 0 && k.pages > 0 && k.count > k.n && !k.shortCounted
	prevCount, tries := k.count, 0
	p, err := k.c.queryPage(ctx, k.page(), pageHooks{
		onBlocked: k.onBlocked,
		before:    k.beforeBody,
		in:        k.inWindow,
		check: func(r *queryResult) error {
			switch tries++; {
			case r.n == 0 && r.all > 0:
				pos := "modifiedDate ≥ " + FormatTime(k.lower)
				if k.afterID > 0 {
					pos += fmt.Sprintf(" and id > %d", k.afterID)
				}
				return fmt.Errorf("%w: all %d of its assets lie outside the query (%s)", errEmptyPage, r.all, pos)
			case r.n == 0 && strong:
				return fmt.Errorf("%w: the page before counted %d assets from here, this one holds none", errEmptyPage, prevCount)
			case r.n == 0 && cont && tries == 1:
				return fmt.Errorf("%w after a full page", errEmptyPage)
			}
			return nil
		},
	}, func(a Asset) error { return k.emit(a, fn) })
	if err != nil {
		return false, err
	}
	k.pages++
	k.count, k.n = -1, p.n
	if p.count != nil {
		k.count = *p.count
		k.maxCount = max(k.maxCount, *p.count)
	}
	effSize := k.size
	if p.pageSize > 0 && p.pageSize < k.size {
		effSize = p.pageSize // the server clamped the page size
	}
	k.eff = effSize
	// A listing of maxCount items takes about maxCount/effSize pages. The
	// keyset's re-reads cost at most half of each page (boundary items and
	// clusters of equal dates, which keep most pages at least half new) and
	// a tie cluster two pages; four times the floor plus some slack for
	// assets changed during the listing is far beyond what an honest server
	// needs, and still stops one that never ends.
	if limit := 4*((k.maxCount+effSize-1)/effSize) + 10; p.count != nil && k.pages > limit {
		return false, fmt.Errorf("sfmc: asset query: %w: %d pages of up to %d assets for a listing the server counts as %d assets",
			ErrEndlessPaging, k.pages, effSize, k.maxCount)
	}
	// A page the server filled is not the last, even when some of its
	// items lay outside the window.
	full := p.n > 0 && p.all >= effSize
	last := p.last
	if k.afterID > 0 {
		if full && last.ModifiedDate.Equal(k.tieAt) {
			if last.ID <= k.afterID {
				return false, fmt.Errorf("sfmc: asset query: %w: the server ignored the filter id > %d", ErrEndlessPaging, k.afterID)
			}
			k.afterID = last.ID // still inside the cluster
			return false, nil
		}
		// Cluster done: restart just after it, without the id condition.
		k.lastExit, k.afterID = k.tieAt, 0
		k.advance(k.tieAt.Add(time.Millisecond))
		return false, nil
	}
	// A full page ends the walk only when its count says it holds all
	// that is left; a count below what the page itself holds contradicts it,
	// and the next page tells.
	if full && p.count != nil && *p.count == p.n {
		return true, nil
	}
	k.shortCounted = false
	if !full {
		if p.count == nil || *p.count <= p.n {
			return true, nil
		}
		// A short page whose count says more match: a server that gives
		// fewer than asked without saying so, or a count that is wrong.
		// Go on from its last item; an empty page then ends the walk.
		k.shortCounted = true
	}
	lk := keyOf(last)
	if k.prevLast != nil && *k.prevLast == lk {
		return false, fmt.Errorf("sfmc: asset query: %w: the server returned a page ending on asset %d (modifiedDate %s) again for modifiedDate ≥ %s: it does not honour the keyset filter",
			ErrEndlessPaging, last.ID, last.ModifiedDateRaw, FormatTime(k.lower))
	}
	k.prevLast = &lk
	next := last.ModifiedDate.Add(-k.c.cfg.KeysetEpsilon).Truncate(time.Millisecond)
	if p.first.ModifiedDate.Before(next) {
		k.advance(next)
		return false, nil
	}
	// The whole page lies within epsilon of its last timestamp, so
	// modifiedDate ≥ next would return it again: a tie cluster.
	if next.After(k.lower) {
		k.advance(next)
	}
	if !k.lastExit.IsZero() && last.ModifiedDate.Equal(k.lastExit) {
		return false, fmt.Errorf("sfmc: asset query: the server returns assets modified at %s again for modifiedDate ≥ %s: it compares dates more coarsely than milliseconds",
			FormatTime(k.lastExit), FormatTime(k.lower))
	}
	k.c.log.Debug().Str("modified", last.ModifiedDateRaw).Msg("sfmc: walking a cluster of equal modifiedDates by id")
	k.tieAt, k.afterID = last.ModifiedDate, last.ID
	return false, nil
}

// page is the request for the walk's current position.
func (k *keyset) page() queryBody {
	var conds []any
	if len(k.typeIDs) > 0 {
		conds = append(conds, simpleQuery{Property: "assetType.id", SimpleOperator: "in", Value: k.typeIDs})
	}
	if !k.lower.IsZero() {
		conds = append(conds, simpleQuery{Property: "modifiedDate", SimpleOperator: "greaterThanOrEqual", Value: FormatTime(k.lower)})
	}
	if k.idFrom > 0 {
		conds = append(conds, simpleQuery{Property: "id", SimpleOperator: "greaterThanOrEqual", Value: k.idFrom})
	}
	if k.idTo > 0 {
		conds = append(conds, simpleQuery{Property: "id", SimpleOperator: "lessThan", Value: k.idTo})
	}
	if k.afterID > 0 {
		conds = append(conds, simpleQuery{Property: "id", SimpleOperator: "greaterThan", Value: k.afterID})
	}
	return queryBody{
		Page:   queryPage{Page: 1, PageSize: k.size},
		Query:  andAll(conds),
		Sort:   []querySort{{"modifiedDate", "ASC"}, {"id", "ASC"}},
		Fields: k.fields,
	}
}

// andAll joins conditions with AND; no condition matches every asset.
func andAll(conds []any) any {
	if len(conds) == 0 {
		return simpleQuery{Property: "id", SimpleOperator: "greaterThan", Value: 0}
	}
	query := conds[0]
	for _, c := range conds[1:] {
		query = complexQuery{LeftOperand: query, LogicalOperator: "AND", RightOperand: c}
	}
	return query
}

// ErrEndlessPaging is matched by the error of a listing stopped because the
// server does not advance it: the same page again, or pages far beyond the
// count it reported.
var ErrEndlessPaging = errors.New("endless paging")

// queryResult is what a walk needs to know about one page; the items
// themselves went to emit.
type queryResult struct {
	count    *int
	pageSize int
	// n counts the items pageHooks.in selected (first and last among
	// them), all every item of the answer.
	n, all      int
	first, last Asset // without Raw and Content
}

// errEmptyPage is the (retried) error of an answer without items in the
// walk's window where more were expected: the page before said more were
// left, or every item lies before the walk's position (a stale answer).
var errEmptyPage = errors.New("the server answered an empty page")

// pageHooks are a walk's hooks into queryPage; each may be nil.
type pageHooks struct {
	// onBlocked is called for every 429/50200 answer.
	onBlocked func()
	// before is called before an answer's items are read.
	before func() error
	// in selects the items that count for queryResult (n, first, last);
	// the others are not handed to emit either.
	in func(Asset) bool
	// check inspects a fully read answer; its error fails the attempt, which
	// is retried like a broken-off answer.
	check func(*queryResult) error
}

// queryPage sends one asset query. Every item is decoded and handed to emit
// as it arrives; an error from emit is returned unchanged. When an attempt
// breaks off and is retried, items already emitted come again (emit skips
// them).
func (c *Client) queryPage(ctx context.Context, q queryBody, h pageHooks, emit func(Asset) error) (*queryResult, error) {
	body, err := json.Marshal(q)
	if err != nil {
		return nil, fmt.Errorf("sfmc: asset query: %w", err)
	}
	var res queryResult
	err = c.do(ctx, call{method: http.MethodPost, path: pathAssetQuery, body: body, stat: StatQuery, name: "POST asset query", onBlocked: h.onBlocked, streams: true},
		func(resp *http.Response) error {
			res = queryResult{}
			if h.before != nil {
				if err := outsideTimeout(resp, h.before); err != nil {
					return &callbackError{err}
				}
			}
			meta, err := streamPage(resp.Body, c.cfg.MaxItemBytes, func(raw json.RawMessage) error {
				a, err := decodeAsset(raw)
				if err != nil {
					return &callbackError{err}
				}
				res.all++
				if h.in != nil && !h.in(a) {
					return nil
				}
				small := a
				small.Raw, small.Content = nil, ""
				if res.n == 0 {
					res.first = small
				}
				res.last = small
				res.n++
				if err := outsideTimeout(resp, func() error { return emit(a) }); err != nil {
					return &callbackError{err}
				}
				return nil
			})
			res.count, res.pageSize = meta.Count, meta.PageSize
			if err == nil && h.check != nil {
				err = h.check(&res)
			}
			return err
		})
	if err != nil {
		return nil, err
	}
	return &res, nil
}
