package sfmctest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Errors returned by the admin methods.
var (
	// ErrUnknownMID means the MID is not one of Options.MIDs.
	ErrUnknownMID = errors.New("unknown mid")
	// ErrAssetNotFound means no current asset has that id in that MID.
	ErrAssetNotFound = errors.New("asset not found")
	// ErrCategoryNotFound means no category has that id in that MID.
	ErrCategoryNotFound = errors.New("category not found")
)

// ValidationError carries the validation messages the API would return.
type ValidationError struct {
	Messages []string
}

// Error implements error.
func (e *ValidationError) Error() string {
	return "validation failed: " + strings.Join(e.Messages, "; ")
}

// AssetSpec describes an asset for the admin methods.
type AssetSpec struct {
	// Name is required. Admin methods accept names longer than the API's
	// 200-character limit (legacy data).
	Name string
	// CustomerKey is generated (GUID) when empty.
	CustomerKey string
	// Content is the asset's content. An empty Content is stored as "" on
	// content blocks and left out on other types (emails, files).
	Content string
	// TypeID is the asset type (default 197, htmlblock).
	TypeID int
	// CategoryID is the folder (default: the "Content Builder" root).
	CategoryID int64
	// Meta is stored verbatim (compacted) when not nil.
	Meta json.RawMessage
	// File is the binary of a file asset (png, jpg, pdf, ...).
	File []byte
	// Extra holds other writable top-level fields (slots, views, data,
	// description, tags, ...) stored verbatim, keyed by camelCase name.
	Extra map[string]json.RawMessage
}

// Category is a folder as the admin API reports it.
type Category struct {
	ID           int64
	Name         string
	ParentID     int64
	CategoryType string
}

func (s *Server) specInput(a AssetSpec) (assetInput, error) {
	in := assetInput{hasName: true, name: a.Name, hasType: true, typeID: a.TypeID}
	if in.typeID == 0 {
		in.typeID = 197
	}
	if a.CustomerKey != "" {
		in.hasKey, in.key = true, a.CustomerKey
	}
	if a.CategoryID != 0 {
		in.hasCat, in.catID = true, a.CategoryID
	}
	for k, v := range a.Extra {
		found := false
		for i, n := range rawFieldNames {
			if strings.EqualFold(n, k) {
				found = true
				in.rawSet[i] = true
				if !isNull(v) {
					if !json.Valid(v) {
						return in, fmt.Errorf("extra field %s: invalid json", k)
					}
					in.raw[i] = compactRaw(v)
				}
			}
		}
		if !found {
			return in, fmt.Errorf("extra field %s: not a writable asset field", k)
		}
	}
	if a.Content != "" || isBlockType(s.types, in.typeID) {
		in.rawSet[fContent] = true
		in.raw[fContent] = appendString(nil, a.Content)
	}
	if a.Meta != nil {
		if !json.Valid(a.Meta) {
			return in, errors.New("meta: invalid json")
		}
		in.rawSet[fMeta] = true
		in.raw[fMeta] = compactRaw(a.Meta)
	}
	if a.File != nil {
		in.hasFile, in.file = true, a.File
	}
	return in, nil
}

// CreateAsset adds an asset as if created through the API at Now (name and
// key uniqueness apply; length limits do not). mid 0 is the default MID.
func (s *Server) CreateAsset(mid int64, a AssetSpec) (int64, error) {
	in, err := s.specInput(a)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.store(mid)
	if st == nil {
		return 0, fmt.Errorf("create asset in %d: %w", mid, ErrUnknownMID)
	}
	created, errs := s.createAsset(st, in, s.stamp(), appUser(), false)
	if len(errs) > 0 {
		return 0, &ValidationError{Messages: errs}
	}
	return created.id, nil
}

func specOf(a *asset) AssetSpec {
	sp := AssetSpec{Name: a.name, CustomerKey: a.key, TypeID: a.typeID, CategoryID: a.catID, File: a.file,
		Content: a.text(), Meta: a.raw[fMeta], Extra: map[string]json.RawMessage{}}
	for i, r := range a.raw {
		if r != nil && i != fContent && i != fMeta && i != fLegacyData {
			sp.Extra[rawFieldNames[i]] = r
		}
	}
	return sp
}

// UpdateAsset edits an asset through f (which gets the current state) and
// bumps modifiedDate to Now, as an API update would. f runs under the
// server's lock and must not call Server methods.
func (s *Server) UpdateAsset(mid int64, id int64, f func(*AssetSpec)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.store(mid)
	if st == nil {
		return fmt.Errorf("update asset %d: %w", id, ErrUnknownMID)
	}
	a, ok := st.assets[id]
	if !ok {
		return fmt.Errorf("update asset %d: %w", id, ErrAssetNotFound)
	}
	sp := specOf(a)
	f(&sp)
	in, err := s.specInput(sp)
	if err != nil {
		return fmt.Errorf("update asset %d: %w", id, err)
	}
	if a.raw[fContent] == nil && sp.Content == "" {
		in.rawSet[fContent], in.raw[fContent] = true, nil
	}
	if errs := s.updateAsset(st, a, in, true, s.stamp(), appUser(), false); len(errs) > 0 {
		return &ValidationError{Messages: errs}
	}
	return nil
}

// DeleteAsset deletes an asset as the API would.
func (s *Server) DeleteAsset(mid int64, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.store(mid)
	if st == nil {
		return fmt.Errorf("delete asset %d: %w", id, ErrUnknownMID)
	}
	a, ok := st.assets[id]
	if !ok {
		return fmt.Errorf("delete asset %d: %w", id, ErrAssetNotFound)
	}
	s.deleteAsset(st, a, s.stamp())
	return nil
}

// SetModifiedDate sets an asset's modifiedDate (kept to the millisecond)
// without any other change.
func (s *Server) SetModifiedDate(mid, id int64, t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.store(mid)
	if st == nil {
		return fmt.Errorf("set modified date of %d: %w", id, ErrUnknownMID)
	}
	a, ok := st.assets[id]
	if !ok {
		return fmt.Errorf("set modified date of %d: %w", id, ErrAssetNotFound)
	}
	a.modified = truncMillis(t)
	st.dirty = true
	s.rerender(st, a)
	return nil
}

// AssetJSON returns exactly the bytes GET /asset/v1/content/assets/{id} serves.
func (s *Server) AssetJSON(mid, id int64) ([]byte, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.store(mid)
	if st == nil {
		return nil, false
	}
	a, ok := st.assets[id]
	if !ok {
		return nil, false
	}
	return slices.Clone(a.doc), true
}

// AssetFile returns the binary of a file asset.
func (s *Server) AssetFile(mid, id int64) ([]byte, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.store(mid)
	if st == nil {
		return nil, false
	}
	a, ok := st.assets[id]
	if !ok || !isFileType(s.types, a.typeID) {
		return nil, false
	}
	return slices.Clone(a.file), true
}

// AssetIDs returns the ids of the current assets, ascending.
func (s *Server) AssetIDs(mid int64) []int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.store(mid)
	if st == nil {
		return nil
	}
	ids := make([]int64, 0, len(st.assets))
	for id := range st.assets {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// AssetCount returns the number of current assets.
func (s *Server) AssetCount(mid int64) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.store(mid)
	if st == nil {
		return 0
	}
	return len(st.assets)
}

// Dump returns every current asset document, ascending id.
func (s *Server) Dump(mid int64) []json.RawMessage {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.store(mid)
	if st == nil {
		return nil
	}
	ids := make([]int64, 0, len(st.assets))
	for id := range st.assets {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]json.RawMessage, len(ids))
	for i, id := range ids {
		out[i] = slices.Clone(st.assets[id].doc)
	}
	return out
}

// Categories returns the folders of mid, ascending id.
func (s *Server) Categories(mid int64) []Category {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.store(mid)
	if st == nil {
		return nil
	}
	out := make([]Category, 0, len(st.cats))
	for _, c := range st.cats {
		out = append(out, Category{ID: c.id, Name: c.name, ParentID: c.parentID, CategoryType: c.catType})
	}
	slices.SortFunc(out, func(x, y Category) int { return cmpInt64(x.ID, y.ID) })
	return out
}

// RootCategoryID returns the id of mid's "Content Builder" root.
func (s *Server) RootCategoryID(mid int64) int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if st := s.store(mid); st != nil {
		return st.rootID
	}
	return 0
}

// CreateCategory adds a folder under parent (0 = the "Content Builder" root).
func (s *Server) CreateCategory(mid int64, name string, parent int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.store(mid)
	if st == nil {
		return 0, fmt.Errorf("create category %q: %w", name, ErrUnknownMID)
	}
	if parent == 0 {
		parent = st.rootID
	}
	if _, ok := st.cats[parent]; !ok {
		return 0, fmt.Errorf("create category %q under %d: %w", name, parent, ErrCategoryNotFound)
	}
	c, msg := s.addCategory(st, name, parent, "")
	if c == nil {
		return 0, &ValidationError{Messages: []string{msg}}
	}
	return c.id, nil
}

// serveAdmin handles /_emulator/… (no bearer auth; loopback callers only).
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		writeError(w, http.StatusForbidden, "admin API is loopback-only", 403)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return
	}
	mid, _ := strconv.ParseInt(r.URL.Query().Get("mid"), 10, 64)
	segs := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/_emulator/"), "/"), "/")
	reply := func(status int, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error(), 500)
			return
		}
		writeJSON(w, status, b)
	}
	fail := func(err error) {
		status := http.StatusBadRequest
		if errors.Is(err, ErrAssetNotFound) || errors.Is(err, ErrUnknownMID) || errors.Is(err, ErrCategoryNotFound) {
			status = http.StatusNotFound
		}
		var ve *ValidationError
		if errors.As(err, &ve) {
			writeJSON(w, status, validationBody(ve.Messages))
			return
		}
		writeError(w, status, err.Error(), status)
	}
	id := int64(0)
	if len(segs) > 1 {
		id, _ = strconv.ParseInt(segs[1], 10, 64)
	}
	switch key := r.Method + " " + segs[0]; {
	case key == "POST assets" && len(segs) == 1:
		sp, err := adminSpec(body, nil)
		if err != nil {
			fail(err)
			return
		}
		id, err := s.CreateAsset(mid, sp)
		if err != nil {
			fail(err)
			return
		}
		reply(http.StatusCreated, map[string]int64{"id": id})
	case key == "GET assets" && len(segs) == 2:
		doc, ok := s.AssetJSON(mid, id)
		if !ok {
			fail(ErrAssetNotFound)
			return
		}
		writeJSON(w, http.StatusOK, doc)
	case key == "PATCH assets" && len(segs) == 2:
		var perr error
		err := s.UpdateAsset(mid, id, func(sp *AssetSpec) { *sp, perr = adminSpec(body, sp) })
		if err == nil {
			err = perr
		}
		if err != nil {
			fail(err)
			return
		}
		doc, _ := s.AssetJSON(mid, id)
		writeJSON(w, http.StatusOK, doc)
	case key == "DELETE assets" && len(segs) == 2:
		if err := s.DeleteAsset(mid, id); err != nil {
			fail(err)
			return
		}
		reply(http.StatusOK, map[string]bool{"deleted": true})
	case key == "PUT assets" && len(segs) == 3 && strings.EqualFold(segs[2], "modifiedDate"):
		var v struct {
			ModifiedDate string `json:"modifiedDate"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			fail(fmt.Errorf("decode body: %w", err))
			return
		}
		t, ok := parseFilterDate(v.ModifiedDate, cst())
		if !ok {
			fail(fmt.Errorf("invalid modifiedDate %q", v.ModifiedDate))
			return
		}
		if err := s.SetModifiedDate(mid, id, t); err != nil {
			fail(err)
			return
		}
		doc, _ := s.AssetJSON(mid, id)
		writeJSON(w, http.StatusOK, doc)
	case key == "GET ids":
		reply(http.StatusOK, s.AssetIDs(mid))
	case key == "GET dump":
		reply(http.StatusOK, s.Dump(mid))
	case key == "POST blocks":
		q := r.URL.Query()
		n, _ := strconv.Atoi(q.Get("n"))
		typ, _ := strconv.Atoi(q.Get("typeId"))
		if typ == 0 {
			typ = 197
		}
		reply(http.StatusOK, map[string][]int64{"ids": s.AddBlocks(mid, n, typ)})
	case key == "POST seed":
		var o struct {
			MID         int64  `json:"mid"`
			ExtraBlocks int    `json:"extraBlocks"`
			LargeBlocks bool   `json:"largeBlocks"`
			TieBlocks   int    `json:"tieBlocks"`
			Start       string `json:"start"`
			Assets      int    `json:"assets"`
		}
		if len(body) > 0 {
			if err := json.Unmarshal(body, &o); err != nil {
				fail(fmt.Errorf("decode body: %w", err))
				return
			}
		}
		so := SeedOptions{MID: o.MID, ExtraBlocks: o.ExtraBlocks, LargeBlocks: o.LargeBlocks, TieBlocks: o.TieBlocks, Assets: o.Assets}
		if o.Start != "" {
			t, ok := parseFilterDate(o.Start, cst())
			if !ok {
				fail(fmt.Errorf("invalid start %q", o.Start))
				return
			}
			so.Start = t
		}
		s.Seed(so)
		reply(http.StatusOK, map[string]int{"assets": s.AssetCount(o.MID)})
	case key == "GET categories":
		reply(http.StatusOK, s.Categories(mid))
	case key == "POST categories":
		var v struct {
			Name     string `json:"name"`
			ParentID int64  `json:"parentId"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			fail(fmt.Errorf("decode body: %w", err))
			return
		}
		id, err := s.CreateCategory(mid, v.Name, v.ParentID)
		if err != nil {
			fail(err)
			return
		}
		reply(http.StatusCreated, map[string]int64{"id": id})
	case key == "GET stats":
		reply(http.StatusOK, s.Stats())
	case key == "DELETE stats":
		s.ResetStats()
		reply(http.StatusOK, map[string]bool{"reset": true})
	case key == "GET requests":
		type entry struct {
			Method, Path, Route, Query, Body string
			MID                              int64
			N                                int
			HadAuth, Authorized              bool
		}
		var out []entry
		for _, ri := range s.Requests() {
			out = append(out, entry{ri.Method, ri.Path, ri.Route, ri.Query.Encode(), string(ri.Body), ri.MID, ri.N, ri.HadAuth, ri.Authorized})
		}
		reply(http.StatusOK, out)
	case key == "DELETE requests":
		s.ResetRequests()
		reply(http.StatusOK, map[string]bool{"reset": true})
	case key == "POST faults":
		var v struct {
			Fault
			Latency string `json:"latency"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			fail(fmt.Errorf("decode body: %w", err))
			return
		}
		f := v.Fault
		if v.Latency != "" {
			d, err := time.ParseDuration(v.Latency)
			if err != nil {
				fail(fmt.Errorf("latency: %w", err))
				return
			}
			f.Latency = d
		}
		s.InjectFault(f)
		reply(http.StatusOK, map[string]bool{"injected": true})
	case key == "DELETE faults":
		s.ClearFaults()
		reply(http.StatusOK, map[string]bool{"cleared": true})
	case key == "POST expire-tokens":
		s.ExpireAllTokens()
		reply(http.StatusOK, map[string]bool{"expired": true})
	default:
		writeJSON(w, http.StatusNotFound, []byte(routeNotFoundBody))
	}
}

// adminSpec reads an admin asset body into base (fields present replace).
func adminSpec(body []byte, base *AssetSpec) (AssetSpec, error) {
	var sp AssetSpec
	if base != nil {
		sp = *base
	}
	m, ok := decodeObject(body)
	if !ok {
		return sp, errors.New("body must be a JSON object")
	}
	for k, v := range m {
		var err error
		switch k {
		case "name":
			err = json.Unmarshal(v, &sp.Name)
		case "customerkey":
			err = json.Unmarshal(v, &sp.CustomerKey)
		case "content":
			err = json.Unmarshal(v, &sp.Content)
		case "typeid":
			err = json.Unmarshal(v, &sp.TypeID)
		case "categoryid":
			err = json.Unmarshal(v, &sp.CategoryID)
		case "meta":
			sp.Meta = append(json.RawMessage(nil), v...)
		case "file":
			var s string
			if err = json.Unmarshal(v, &s); err == nil {
				sp.File, err = base64.StdEncoding.DecodeString(s)
			}
		case "extra":
			err = json.Unmarshal(v, &sp.Extra)
		default:
			err = errors.New("unknown property")
		}
		if err != nil {
			return sp, fmt.Errorf("%s: %w", k, err)
		}
	}
	return sp, nil
}
