package sfmc

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Asset API paths, relative to the REST base.
const (
	pathAssets     = "/asset/v1/content/assets"
	pathAssetQuery = "/asset/v1/content/assets/query"
)

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
