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

// page is the paged envelope of the asset query and category list.
type page struct {
	Count    *int              `json:"count"`
	PageSize int               `json:"pageSize"`
	Items    []json.RawMessage `json:"items"`
}

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
// streams page by page and never holds more than one page plus a small
// de-duplication set.
//
// Paging is by keyset, so listings far beyond SFMC's 10,000-result window
// work: each page asks for modifiedDate ≥ L sorted (modifiedDate, id), and
// after a full page L moves to the page's last modifiedDate minus
// Config.KeysetEpsilon. Items already emitted with the same (id,
// modifiedDate) are skipped, so fn never sees the same version twice; an asset
// modified during the listing may be seen again with its new modifiedDate.
// When more assets share one modifiedDate than a page holds, the query pages
// by offset inside that cluster.
//
// Each item's Raw is its JSON exactly as received. An error from fn stops the
// query and is returned unchanged.
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

// queryChunk runs the keyset listing for one list of type ids.
func (c *Client) queryChunk(ctx context.Context, typeIDs []int, since time.Time, size int, fields []string, fn func(Asset) error) error {
	var (
		lower    time.Time // L: the modifiedDate lower bound; zero = none
		pageNo   = 1
		seen     = map[assetKey]struct{}{}
		horizon  time.Time // everything modified before this has been emitted
		lastMD   time.Time // modifiedDate of the last item received
		haveLast bool
	)
	if !since.IsZero() {
		lower = since.Truncate(time.Millisecond)
	}
	eps := c.cfg.KeysetEpsilon
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("sfmc: asset query: %w", err)
		}
		p, err := c.queryPage(ctx, typeIDs, lower, pageNo, size, fields)
		if err != nil {
			var apiErr *APIError
			if pageNo > 1 && haveLast && errors.As(err, &apiErr) && apiErr.allShardsFailed() {
				next := maxTime(lower, lastMD.Add(-eps).Truncate(time.Millisecond))
				if !next.After(lower) {
					return fmt.Errorf("sfmc: asset query: more assets share modifiedDate %s than the result window allows: %w", FormatTime(lastMD), err)
				}
				c.log.Debug().Int("page", pageNo).Msg("sfmc: result window reached, restarting the keyset")
				lower, pageNo = next, 1
				continue
			}
			return err
		}
		effSize := size
		if p.PageSize > 0 && p.PageSize < size {
			effSize = p.PageSize // the server clamped the page size
		}
		assets, err := decodeAssets(p.Items)
		if err != nil {
			return err
		}
		for _, a := range assets {
			if !horizon.IsZero() && a.ModifiedDate.Before(horizon) {
				continue // emitted before the keyset moved past it
			}
			k := assetKey{a.ID, a.ModifiedDate.UnixNano()}
			if _, dup := seen[k]; dup {
				continue
			}
			seen[k] = struct{}{}
			if err := fn(a); err != nil {
				return err
			}
		}
		n := len(assets)
		if n > 0 {
			lastMD, haveLast = assets[n-1].ModifiedDate, true
		}
		offset := (pageNo - 1) * effSize
		if n == 0 || n < effSize || (p.Count != nil && *p.Count <= offset+n) {
			return nil
		}
		next := lastMD.Add(-eps).Truncate(time.Millisecond)
		if !lower.IsZero() && !next.After(lower) {
			// The whole page shares (within epsilon) the bound's timestamp:
			// a tie cluster wider than a page. Page by offset on the same
			// bound until the keyset can move again.
			pageNo++
			continue
		}
		lower, pageNo = next, 1
		horizon = lower.Add(-eps)
		for k := range seen {
			if k.md < horizon.UnixNano() {
				delete(seen, k)
			}
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// queryPage fetches one page of the asset query.
func (c *Client) queryPage(ctx context.Context, typeIDs []int, lower time.Time, pageNo, size int, fields []string) (*page, error) {
	var conds []any
	if len(typeIDs) > 0 {
		conds = append(conds, simpleQuery{Property: "assetType.id", SimpleOperator: "in", Value: typeIDs})
	}
	if !lower.IsZero() {
		conds = append(conds, simpleQuery{Property: "modifiedDate", SimpleOperator: "greaterThanOrEqual", Value: FormatTime(lower)})
	}
	var query any
	switch len(conds) {
	case 0:
		query = simpleQuery{Property: "id", SimpleOperator: "greaterThan", Value: 0}
	case 1:
		query = conds[0]
	default:
		query = complexQuery{LeftOperand: conds[0], LogicalOperator: "AND", RightOperand: conds[1]}
	}
	body, err := json.Marshal(queryBody{
		Page:   queryPage{Page: pageNo, PageSize: size},
		Query:  query,
		Sort:   []querySort{{"modifiedDate", "ASC"}, {"id", "ASC"}},
		Fields: fields,
	})
	if err != nil {
		return nil, fmt.Errorf("sfmc: asset query: %w", err)
	}
	var p page
	err = c.do(ctx, call{method: http.MethodPost, path: pathAssetQuery, body: body, stat: StatQuery, name: "POST asset query"},
		func(resp *http.Response) error {
			p = page{}
			return decodeJSON(resp, &p)
		})
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// decodeAssets turns a page's raw items into Assets, keeping each item's bytes.
func decodeAssets(items []json.RawMessage) ([]Asset, error) {
	out := make([]Asset, 0, len(items))
	for _, raw := range items {
		a, err := decodeAsset(raw)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
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
		func(resp *http.Response) error { return decodeJSON(resp, &raw) })
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
	if err := c.do(ctx, cl, func(resp *http.Response) error { return decodeJSON(resp, &raw) }); err != nil {
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
