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
func (c *Client) ListCategories(ctx context.Context, fn func(Category) error) error {
	size := c.cfg.PageSize
	seen := map[int64]bool{}
	for pageNo := 1; ; pageNo++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("sfmc: categories: %w", err)
		}
		q := url.Values{}
		q.Set("$page", strconv.Itoa(pageNo))
		q.Set("$pagesize", strconv.Itoa(size))
		q.Set("$orderBy", "id asc")
		q.Set("scope", "Ours,Shared")
		var p page
		err := c.do(ctx, call{method: http.MethodGet, path: pathCategories, query: q, stat: StatCategories,
			name: "GET categories page " + strconv.Itoa(pageNo)},
			func(resp *http.Response) error {
				p = page{}
				return decodeJSON(resp, &p)
			})
		if err != nil {
			return err
		}
		for _, raw := range p.Items {
			var cat Category
			if err := json.Unmarshal(raw, &cat); err != nil {
				return fmt.Errorf("sfmc: categories: %w: %w", errBadResponse, err)
			}
			if seen[cat.ID] {
				continue
			}
			seen[cat.ID] = true
			if err := fn(cat); err != nil {
				return err
			}
		}
		eff := size
		if p.PageSize > 0 && p.PageSize < size {
			eff = p.PageSize
		}
		n := len(p.Items)
		if n == 0 || n < eff || (p.Count != nil && *p.Count <= (pageNo-1)*eff+n) {
			return nil
		}
	}
}

// GetCategory returns one folder. An unknown id gives an *APIError matching
// ErrNotFound.
func (c *Client) GetCategory(ctx context.Context, id int64) (Category, error) {
	var cat Category
	name := "GET category " + strconv.FormatInt(id, 10)
	err := c.do(ctx, call{method: http.MethodGet, path: pathCategories + "/" + strconv.FormatInt(id, 10), stat: StatCategories, name: name},
		func(resp *http.Response) error { return decodeJSON(resp, &cat) })
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
		func(resp *http.Response) error { return decodeJSON(resp, &cat) })
	if err != nil {
		return Category{}, err
	}
	return cat, nil
}
