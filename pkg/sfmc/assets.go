package sfmc

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Asset API paths, relative to the REST base.
const (
	pathAssets     = "/asset/v1/content/assets"
	pathAssetQuery = "/asset/v1/content/assets/query"
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

// QueryAssets calls fn for every asset matching q, in (modifiedDate, id)
// order per chunk of at most 50 type ids (chunks run one after another). It
// streams item by item: it never holds more than one item (at most
// Config.MaxItemBytes) plus a small de-duplication set, whatever the page
// size.
//
// Paging is by keyset, never by offset, so listings far beyond SFMC's
// 10,000-result window work: each request asks for page 1 of
// modifiedDate ≥ L sorted (modifiedDate, id), and after a full page L moves
// to the page's last modifiedDate minus Config.KeysetEpsilon. Items already
// emitted with the same (id, modifiedDate) are skipped, so fn never sees the
// same version twice; an asset modified during the listing may be seen again
// with its new modifiedDate. More assets with one modifiedDate than a page
// holds are walked by id (see queryChunk).
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
		return c.queryChunk(ctx, nil, q.ModifiedSince, size, fields, fn)
	}
	for chunk := range slices.Chunk(ids, maxInValues) {
		if err := c.queryChunk(ctx, chunk, q.ModifiedSince, size, fields, fn); err != nil {
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

// queryChunk runs the keyset listing for one list of type ids. Every request
// asks for page 1; the position lives in the filter:
//
//   - normal mode: modifiedDate ≥ L. After a full page, L becomes the page's
//     last modifiedDate minus KeysetEpsilon (so the boundary items come back
//     and are skipped as already emitted).
//   - tie mode, when moving L would return the same full page again (more
//     assets within KeysetEpsilon of one timestamp T than a page holds):
//     modifiedDate ≥ L AND id > lastID, which
//     walks the cluster in id order. Once a page ends past T, or is short,
//     every asset at T has been seen and the listing resumes in normal mode
//     from L = T + 1 ms. (Assets after T with an id below lastID were held
//     back by the id condition; that restart picks them up.)
//
// No request ever pages by offset, so SFMC's 10,000-result window never
// applies.
func (c *Client) queryChunk(ctx context.Context, typeIDs []int, since time.Time, size int, fields []string, fn func(Asset) error) error {
	var (
		lower    time.Time // L: the modifiedDate lower bound; zero = none
		afterID  int64     // > 0 in tie mode
		tieAt    time.Time // T, the tie cluster's modifiedDate
		lastExit time.Time // T of the last cluster left, to detect a server that cannot get past it
		seen     = map[assetKey]struct{}{}
		horizon  time.Time // everything modified before this has been emitted
		pages    int       // requests so far
		maxCount int       // the largest count the server reported
		prevLast *assetKey // the last item of the previous full page in normal mode
	)
	if !since.IsZero() {
		lower = since.Truncate(time.Millisecond)
	}
	eps := c.cfg.KeysetEpsilon
	advance := func(to time.Time) {
		lower = to
		horizon = lower.Add(-eps)
		for k := range seen {
			if k.md < horizon.UnixNano() {
				delete(seen, k)
			}
		}
	}
	emit := func(a Asset) error {
		if !horizon.IsZero() && a.ModifiedDate.Before(horizon) {
			return nil // emitted before the keyset moved past it
		}
		k := assetKey{a.ID, a.ModifiedDate.UnixNano()}
		if _, dup := seen[k]; dup {
			return nil
		}
		seen[k] = struct{}{}
		return fn(a)
	}
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("sfmc: asset query: %w", err)
		}
		p, err := c.queryPage(ctx, typeIDs, lower, afterID, size, fields, emit)
		if err != nil {
			return err
		}
		pages++
		if p.count != nil {
			maxCount = max(maxCount, *p.count)
		}
		effSize := size
		if p.pageSize > 0 && p.pageSize < size {
			effSize = p.pageSize // the server clamped the page size
		}
		// A listing of maxCount items takes about maxCount/effSize pages.
		// The keyset's re-reads cost at most half of each page (boundary
		// items and clusters of equal dates, which keep most pages at least
		// half new) and a tie cluster two pages; four times the floor plus
		// some slack for assets changed during the listing is far beyond
		// what an honest server needs, and still stops one that never ends.
		if limit := 4*((maxCount+effSize-1)/effSize) + 10; p.count != nil && pages > limit {
			return fmt.Errorf("sfmc: asset query: %w: %d pages of up to %d assets for a listing the server counts as %d assets",
				ErrEndlessPaging, pages, effSize, maxCount)
		}
		n := p.n
		full := n > 0 && n >= effSize
		last := p.last
		if afterID > 0 {
			if full && last.ModifiedDate.Equal(tieAt) {
				if last.ID <= afterID {
					return fmt.Errorf("sfmc: asset query: %w: the server ignored the filter id > %d", ErrEndlessPaging, afterID)
				}
				afterID = last.ID // still inside the cluster
				continue
			}
			// Cluster done: restart just after it, without the id condition.
			lastExit, afterID = tieAt, 0
			advance(tieAt.Add(time.Millisecond))
			continue
		}
		if !full || (p.count != nil && *p.count <= n) {
			return nil
		}
		lk := assetKey{last.ID, last.ModifiedDate.UnixNano()}
		if prevLast != nil && *prevLast == lk {
			return fmt.Errorf("sfmc: asset query: %w: the server returned a page ending on asset %d (modifiedDate %s) again for modifiedDate ≥ %s: it does not honour the keyset filter",
				ErrEndlessPaging, last.ID, last.ModifiedDateRaw, FormatTime(lower))
		}
		prevLast = &lk
		next := last.ModifiedDate.Add(-eps).Truncate(time.Millisecond)
		if p.first.ModifiedDate.Before(next) {
			advance(next)
			continue
		}
		// The whole page lies within epsilon of its last timestamp, so
		// modifiedDate ≥ next would return it again: a tie cluster.
		if next.After(lower) {
			advance(next)
		}
		if !lastExit.IsZero() && last.ModifiedDate.Equal(lastExit) {
			return fmt.Errorf("sfmc: asset query: the server returns assets modified at %s again for modifiedDate ≥ %s: it compares dates more coarsely than milliseconds",
				FormatTime(lastExit), FormatTime(lower))
		}
		c.log.Debug().Str("modified", last.ModifiedDateRaw).Msg("sfmc: walking a cluster of equal modifiedDates by id")
		tieAt, afterID = last.ModifiedDate, last.ID
	}
}

// ErrEndlessPaging is matched by the error of a listing stopped because the
// server does not advance it: the same page again, or pages far beyond the
// count it reported.
var ErrEndlessPaging = errors.New("endless paging")

// queryResult is what queryChunk needs to know about one page; the items
// themselves went to emit.
type queryResult struct {
	count       *int
	pageSize    int
	n           int
	first, last Asset // without Raw and Content
}

// queryPage fetches page 1 of the asset query for the given keyset position.
// Every item is decoded and handed to emit as it arrives; an error from emit
// is returned unchanged. When an attempt breaks off and is retried, items
// already emitted come again (emit skips them).
func (c *Client) queryPage(ctx context.Context, typeIDs []int, lower time.Time, afterID int64, size int, fields []string, emit func(Asset) error) (*queryResult, error) {
	var conds []any
	if len(typeIDs) > 0 {
		conds = append(conds, simpleQuery{Property: "assetType.id", SimpleOperator: "in", Value: typeIDs})
	}
	if !lower.IsZero() {
		conds = append(conds, simpleQuery{Property: "modifiedDate", SimpleOperator: "greaterThanOrEqual", Value: FormatTime(lower)})
	}
	if afterID > 0 {
		conds = append(conds, simpleQuery{Property: "id", SimpleOperator: "greaterThan", Value: afterID})
	}
	var query any
	if len(conds) == 0 {
		query = simpleQuery{Property: "id", SimpleOperator: "greaterThan", Value: 0}
	} else {
		query = conds[0]
		for _, c := range conds[1:] {
			query = complexQuery{LeftOperand: query, LogicalOperator: "AND", RightOperand: c}
		}
	}
	body, err := json.Marshal(queryBody{
		Page:   queryPage{Page: 1, PageSize: size},
		Query:  query,
		Sort:   []querySort{{"modifiedDate", "ASC"}, {"id", "ASC"}},
		Fields: fields,
	})
	if err != nil {
		return nil, fmt.Errorf("sfmc: asset query: %w", err)
	}
	var res queryResult
	err = c.do(ctx, call{method: http.MethodPost, path: pathAssetQuery, body: body, stat: StatQuery, name: "POST asset query"},
		func(resp *http.Response) error {
			res = queryResult{}
			meta, err := streamPage(resp.Body, c.cfg.MaxItemBytes, func(raw json.RawMessage) error {
				a, err := decodeAsset(raw)
				if err != nil {
					return &callbackError{err}
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
			return err
		})
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// decodeItem decodes a response that is one document (an asset, a folder),
// at most Config.MaxItemBytes long, into v.
func (c *Client) decodeItem(resp *http.Response, raw any) error {
	lb := &limitedBody{rc: resp.Body, left: c.cfg.MaxItemBytes, limit: c.cfg.MaxItemBytes, key: "sfmc.max_item_bytes"}
	return decodeJSON(&http.Response{Body: lb}, raw)
}

// decodeAsset decodes one asset document; raw becomes Asset.Raw.
func decodeAsset(raw json.RawMessage) (Asset, error) {
	var a Asset
	if err := json.Unmarshal(raw, &a); err != nil {
		return Asset{}, fmt.Errorf("sfmc: asset: %w: %w", errBadResponse, err)
	}
	t, err := ParseTime(a.ModifiedDateRaw)
	if err != nil {
		return Asset{}, fmt.Errorf("sfmc: asset %d: modifiedDate: %w", a.ID, err)
	}
	a.ModifiedDate = t
	a.Raw = raw
	return a, nil
}

// GetAsset returns one asset by id. An unknown or deleted id gives an
// *APIError matching ErrNotFound.
func (c *Client) GetAsset(ctx context.Context, id int64) (Asset, error) {
	var raw json.RawMessage
	name := "GET asset " + strconv.FormatInt(id, 10)
	err := c.do(ctx, call{method: http.MethodGet, path: pathAssets + "/" + strconv.FormatInt(id, 10), stat: StatAsset, name: name},
		func(resp *http.Response) error { return c.decodeItem(resp, &raw) })
	if err != nil {
		return Asset{}, err
	}
	return decodeAsset(raw)
}

// GetAssetFile returns the binary of a file asset (image, document). SFMC
// sends it base64-encoded, bare or as a JSON string; both are accepted.
func (c *Client) GetAssetFile(ctx context.Context, id int64) ([]byte, error) {
	var data []byte
	name := fmt.Sprintf("GET asset %d file", id)
	err := c.do(ctx, call{method: http.MethodGet, path: pathAssets + "/" + strconv.FormatInt(id, 10) + "/file", stat: StatFile, name: name},
		func(resp *http.Response) error {
			var buf bytes.Buffer
			n, err := buf.ReadFrom(io.LimitReader(resp.Body, c.cfg.MaxFileSize+1))
			if err != nil {
				return err
			}
			if n > c.cfg.MaxFileSize {
				return fmt.Errorf("%w: file larger than %d bytes of base64", errBadResponse, c.cfg.MaxFileSize)
			}
			data, err = decodeFileBody(buf.Bytes())
			return err
		})
	if err != nil {
		return nil, err
	}
	return data, nil
}

// decodeFileBody trims whitespace and one pair of surrounding quotes (JSON
// escapes inside are honoured) and decodes standard base64, padded or not.
func decodeFileBody(b []byte) ([]byte, error) {
	b = bytes.TrimSpace(b)
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		if bytes.IndexByte(b, '\\') >= 0 {
			var s string
			if err := json.Unmarshal(b, &s); err != nil {
				return nil, fmt.Errorf("%w: file body: %w", errBadResponse, err)
			}
			b = []byte(s)
		} else {
			b = b[1 : len(b)-1]
		}
		b = bytes.TrimSpace(b)
	}
	s := strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, string(b))
	enc := base64.StdEncoding
	if !strings.HasSuffix(s, "=") && len(s)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	out, err := enc.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: file body is not base64: %w", errBadResponse, err)
	}
	return out, nil
}

// CreateAsset creates an asset from body (a JSON asset document without
// read-only fields) and returns it as stored. It is not retried after a 500
// or a dropped connection, where the server may have created it already.
func (c *Client) CreateAsset(ctx context.Context, body json.RawMessage) (Asset, error) {
	return c.writeAsset(ctx, call{method: http.MethodPost, path: pathAssets, body: body, stat: StatCreate, name: "POST asset", unsafe: true})
}

// UpdateAsset merges body into asset id (PATCH) and returns the result.
func (c *Client) UpdateAsset(ctx context.Context, id int64, body json.RawMessage) (Asset, error) {
	return c.writeAsset(ctx, call{method: http.MethodPatch, path: pathAssets + "/" + strconv.FormatInt(id, 10), body: body,
		stat: StatUpdate, name: "PATCH asset " + strconv.FormatInt(id, 10)})
}

// ReplaceAsset replaces asset id with body (PUT) and returns the result.
func (c *Client) ReplaceAsset(ctx context.Context, id int64, body json.RawMessage) (Asset, error) {
	return c.writeAsset(ctx, call{method: http.MethodPut, path: pathAssets + "/" + strconv.FormatInt(id, 10), body: body,
		stat: StatUpdate, name: "PUT asset " + strconv.FormatInt(id, 10)})
}

func (c *Client) writeAsset(ctx context.Context, cl call) (Asset, error) {
	if !json.Valid(cl.body) {
		return Asset{}, fmt.Errorf("sfmc: %s: request body is not valid JSON", cl.name)
	}
	var raw json.RawMessage
	if err := c.do(ctx, cl, func(resp *http.Response) error { return c.decodeItem(resp, &raw) }); err != nil {
		return Asset{}, err
	}
	return decodeAsset(raw)
}

// DeleteAsset deletes asset id. Meant for tests and restore tooling; the
// response body ("OK" or JSON) is ignored.
func (c *Client) DeleteAsset(ctx context.Context, id int64) error {
	return c.do(ctx, call{method: http.MethodDelete, path: pathAssets + "/" + strconv.FormatInt(id, 10),
		stat: StatDelete, name: "DELETE asset " + strconv.FormatInt(id, 10)}, nil)
}
