package sfmc

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// pathCategories is the Content Builder folder API, relative to the REST base.
const pathCategories = "/asset/v1/content/categories"

// ListCategories calls fn once for every folder of the business unit, its
// own and those shared into it (scope=Ours,Shared), page by page
// ($page/$pagesize, ordered by id). It stops on an empty or short page. An
// error from fn stops the listing and is returned unchanged.
//
// The listing is bounded: more than Config.MaxCategories folders, a full
// page that brings no folder not seen before (a server that ignores $page),
// or far more pages than the reported count stop it with an error wrapping
// ErrEndlessPaging.
func (c *Client) ListCategories(ctx context.Context, fn func(Category) error) error {
	size := c.cfg.PageSize
	seen := map[int64]bool{}
	maxCount := 0
	for pageNo := 1; ; pageNo++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("sfmc: categories: %w", err)
		}
		q := url.Values{}
		q.Set("$page", strconv.Itoa(pageNo))
		q.Set("$pagesize", strconv.Itoa(size))
		q.Set("$orderBy", "id asc")
		q.Set("scope", "Ours,Shared")
		var meta pageMeta
		fresh := 0
		err := c.do(ctx, call{method: http.MethodGet, path: pathCategories, query: q, stat: StatCategories,
			name: "GET categories page " + strconv.Itoa(pageNo)},
			func(resp *http.Response) error {
				fresh = 0
				var err error
				meta, err = streamPage(resp.Body, c.cfg.MaxItemBytes, func(raw json.RawMessage) error {
					var cat Category
					if err := json.Unmarshal(raw, &cat); err != nil {
						return &callbackError{fmt.Errorf("sfmc: categories: %w: %w", errBadResponse, err)}
					}
					if seen[cat.ID] {
						return nil
					}
					if len(seen) >= c.cfg.MaxCategories {
						return &callbackError{fmt.Errorf("sfmc: categories: %w: more than %d folders (sfmc.max_categories)", ErrEndlessPaging, c.cfg.MaxCategories)}
					}
					seen[cat.ID] = true
					fresh++
					if err := outsideTimeout(resp, func() error { return fn(cat) }); err != nil {
						return &callbackError{err}
					}
					return nil
				})
				return err
			})
		if err != nil {
			return err
		}
		eff := size
		if meta.PageSize > 0 && meta.PageSize < size {
			eff = meta.PageSize
		}
		n := meta.N
		if n == 0 || n < eff || (meta.Count != nil && *meta.Count <= (pageNo-1)*eff+n) {
			return nil
		}
		if fresh == 0 {
			return fmt.Errorf("sfmc: categories: %w: page %d repeats folders already listed (the server ignores $page)", ErrEndlessPaging, pageNo)
		}
		if meta.Count != nil {
			maxCount = max(maxCount, *meta.Count)
			if limit := 2*((maxCount+eff-1)/eff) + 10; pageNo > limit {
				return fmt.Errorf("sfmc: categories: %w: %d pages of %d folders for a listing the server counts as %d", ErrEndlessPaging, pageNo, eff, maxCount)
			}
		}
	}
}

// GetCategory returns one folder. An unknown id gives an *APIError matching
// ErrNotFound.
func (c *Client) GetCategory(ctx context.Context, id int64) (Category, error) {
	var cat Category
	name := "GET category " + strconv.FormatInt(id, 10)
	err := c.do(ctx, call{method: http.MethodGet, path: pathCategories + "/" + strconv.FormatInt(id, 10), stat: StatCategories, name: name},
		func(resp *http.Response) error { return c.decodeItem(resp, &cat) })
	if err != nil {
		return Category{}, err
	}
	return cat, nil
}

// CreateCategory creates a folder named name under parentID and returns it.
// Like CreateAsset it is not retried where the server may have acted.
func (c *Client) CreateCategory(ctx context.Context, name string, parentID int64) (Category, error) {
	body, err := json.Marshal(struct {
		Name     string `json:"name"`
		ParentID int64  `json:"parentId"`
	}{name, parentID})
	if err != nil {
		return Category{}, fmt.Errorf("sfmc: create category: %w", err)
	}
	var cat Category
	err = c.do(ctx, call{method: http.MethodPost, path: pathCategories, body: body, stat: StatCreate, name: "POST category", unsafe: true},
		func(resp *http.Response) error { return c.decodeItem(resp, &cat) })
	if err != nil {
		return Category{}, err
	}
	return cat, nil
}
