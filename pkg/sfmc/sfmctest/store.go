package sfmctest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	_ "image/gif"  // DecodeConfig for gif file assets
	_ "image/jpeg" // DecodeConfig for jpeg file assets
	_ "image/png"  // DecodeConfig for png file assets
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// Indices of the writable fields stored as raw JSON, in render order.
const (
	fContentType = iota
	fFileProperties
	fDescription
	fStatus
	fContent
	fDesign
	fSuperContent
	fMeta
	fSlots
	fBlocks
	fViews
	fData
	fTemplate
	fChannels
	fTags
	fCustomFields
	fLocked
	fVersion
	fMinBlocks
	fMaxBlocks
	fAllowedBlocks
	fGenerateFrom
	fActiveDate
	fExpirationDate
	fBusinessUnitAvailability
	fSharingProperties
	fLegacyData
	fAvailableViews
	fModelVersion
	numRaw
)

// rawFieldNames are the camelCase names of the raw fields, by index.
var rawFieldNames = [numRaw]string{
	"contentType", "fileProperties", "description", "status", "content", "design", "superContent",
	"meta", "slots", "blocks", "views", "data", "template", "channels", "tags", "customFields",
	"locked", "version", "minBlocks", "maxBlocks", "allowedBlocks", "generateFrom", "activeDate",
	"expirationDate", "businessUnitAvailability", "sharingProperties", "legacyData",
	"availableViews", "modelVersion",
}

// readOnlyInput are fields a client may send that the server ignores.
var readOnlyInput = map[string]bool{
	"id": true, "objectid": true, "createddate": true, "modifieddate": true, "createdby": true,
	"modifiedby": true, "owner": true, "enterpriseid": true, "memberid": true, "thumbnail": true,
	"legacydata": true,
}

// user is an SFMC user reference ({id, email, name, userId}).
type user struct {
	ID    int64
	Email string
	Name  string
}

// appUser is the installed package's API user that API writes are attributed to.
func appUser() user { return user{ID: 700304523, Email: "", Name: "SFMC Emulator app user"} }

func appendUser(b []byte, u user) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, u.ID, 10)
	b = append(b, `,"email":`...)
	b = appendString(b, u.Email)
	b = append(b, `,"name":`...)
	b = appendString(b, u.Name)
	b = append(b, `,"userId":"`...)
	b = strconv.AppendInt(b, u.ID, 10)
	return append(b, `"}`...)
}

// asset is one stored Content Builder asset.
type asset struct {
	id         int64
	mid        int64
	objectID   string
	key        string
	name       string
	typeID     int
	catID      int64
	created    time.Time
	modified   time.Time
	owner      user
	createdBy  user
	modifiedBy user
	raw        [numRaw]json.RawMessage
	file       []byte
	doc        []byte    // the full rendered document (what GET /assets/{id} serves)
	indexed    time.Time // when the search index sees this version (IndexLag)
}

// category is one Content Builder folder.
type category struct {
	id          int64
	mid         int64
	name        string
	parentID    int64
	description string
	catType     string
}

// deletedAsset is a deleted asset kept for /deletedAssets.
type deletedAsset struct {
	a       *asset
	deleted time.Time
}

// nameKey identifies the uniqueness scope of an asset name.
type nameKey struct {
	cat  int64
	typ  int
	name string // lower-cased
}

// store holds one business unit's data.
type store struct {
	mid      int64
	assets   map[int64]*asset
	cats     map[int64]*category
	names    map[nameKey]int64
	rootID   int64
	sharedID int64
	deleted  []deletedAsset

	dirty bool
	byID  []*asset // sorted by id
	byMod []*asset // sorted by (modified, id)
	// idRows and modRows hold the sort keys of byID and byMod in flat
	// arrays, so a query scans memory in order instead of chasing a
	// pointer per asset.
	idRows  []idxRow
	modRows []idxRow
	// nanoSafe: every modifiedDate fits UnixNano, so idxRow.mod orders
	// and compares like the times do.
	nanoSafe bool
}

// idxRow is the part of an asset that the common query filters read.
type idxRow struct {
	mod int64 // modifiedDate, UnixNano
	id  int64
	typ int32
}

func newStore(mid int64) *store {
	return &store{
		mid:    mid,
		assets: make(map[int64]*asset),
		cats:   make(map[int64]*category),
		names:  make(map[nameKey]int64),
	}
}

// reindex rebuilds the sorted indexes; the caller holds the write lock.
func (st *store) reindex() {
	st.byID = st.byID[:0]
	for _, a := range st.assets {
		st.byID = append(st.byID, a)
	}
	slices.SortFunc(st.byID, func(x, y *asset) int { return cmpInt64(x.id, y.id) })
	st.byMod = append(st.byMod[:0], st.byID...)
	slices.SortStableFunc(st.byMod, func(x, y *asset) int { return x.modified.Compare(y.modified) })
	st.nanoSafe = true
	rows := func(dst []idxRow, as []*asset) []idxRow {
		dst = dst[:0]
		for _, a := range as {
			if !nanoTimeSafe(a.modified) {
				st.nanoSafe = false
			}
			dst = append(dst, idxRow{mod: a.modified.UnixNano(), id: a.id, typ: int32(a.typeID)})
		}
		return dst
	}
	st.idRows = rows(st.idRows, st.byID)
	st.modRows = rows(st.modRows, st.byMod)
	st.dirty = false
}

// nanoTimeSafe reports whether t is well inside the range of UnixNano.
func nanoTimeSafe(t time.Time) bool {
	y := t.Year()
	return y >= 1700 && y <= 2200
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// render builds the asset document. A nil proj renders everything.
func (s *Server) render(st *store, a *asset, proj map[string]bool) []byte {
	want := func(name string) bool { return proj == nil || proj[strings.ToLower(name)] }
	size := 900
	if a.raw[fContent] != nil {
		size += len(a.raw[fContent])
	}
	b := make([]byte, 0, size)
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, a.id, 10)
	b = append(b, `,"customerKey":`...)
	b = appendString(b, a.key)
	if want("objectID") {
		b = append(b, `,"objectID":`...)
		b = appendString(b, a.objectID)
	}
	b = appendRaw(b, a, fContentType, want)
	t := s.types[a.typeID]
	b = append(b, `,"assetType":{"id":`...)
	b = strconv.AppendInt(b, int64(a.typeID), 10)
	b = append(b, `,"name":`...)
	b = appendString(b, t.Name)
	b = append(b, `,"displayName":`...)
	b = appendString(b, t.DisplayName)
	b = append(b, '}')
	b = appendRaw(b, a, fFileProperties, want)
	b = append(b, `,"name":`...)
	b = appendString(b, a.name)
	b = appendRaw(b, a, fDescription, want)
	if want("owner") {
		b = append(b, `,"owner":`...)
		b = appendUser(b, a.owner)
	}
	if want("createdDate") {
		b = append(b, `,"createdDate":`...)
		b = appendString(b, formatDate(a.created))
	}
	if want("createdBy") {
		b = append(b, `,"createdBy":`...)
		b = appendUser(b, a.createdBy)
	}
	if want("modifiedDate") {
		b = append(b, `,"modifiedDate":`...)
		b = appendString(b, formatDate(a.modified))
	}
	if want("modifiedBy") {
		b = append(b, `,"modifiedBy":`...)
		b = appendUser(b, a.modifiedBy)
	}
	if want("enterpriseId") {
		b = append(b, `,"enterpriseId":`...)
		b = strconv.AppendInt(b, s.opts.EnterpriseID, 10)
	}
	if want("memberId") {
		b = append(b, `,"memberId":`...)
		b = strconv.AppendInt(b, a.mid, 10)
	}
	b = appendRaw(b, a, fStatus, want)
	if want("thumbnail") {
		b = append(b, `,"thumbnail":{"thumbnailUrl":"/v1/assets/`...)
		b = strconv.AppendInt(b, a.id, 10)
		b = append(b, `/thumbnail"}`...)
	}
	if want("category") {
		b = append(b, `,"category":{"id":`...)
		b = strconv.AppendInt(b, a.catID, 10)
		if c, ok := st.cats[a.catID]; ok {
			b = append(b, `,"name":`...)
			b = appendString(b, c.name)
			b = append(b, `,"parentId":`...)
			b = strconv.AppendInt(b, c.parentID, 10)
		}
		b = append(b, '}')
	}
	for i := fContent; i < fModelVersion; i++ {
		b = appendRaw(b, a, i, want)
	}
	if a.raw[fModelVersion] != nil {
		b = append(b, `,"modelVersion":`...)
		b = append(b, a.raw[fModelVersion]...)
	}
	return append(b, '}')
}

func appendRaw(b []byte, a *asset, i int, want func(string) bool) []byte {
	if a.raw[i] == nil || !want(rawFieldNames[i]) {
		return b
	}
	b = append(b, ',')
	b = appendString(b, rawFieldNames[i])
	b = append(b, ':')
	return append(b, a.raw[i]...)
}

// rerender refreshes a.doc; the caller holds the write lock.
func (s *Server) rerender(st *store, a *asset) { a.doc = s.render(st, a, nil) }

// assetInput is a parsed create/update request (or admin spec).
type assetInput struct {
	hasName bool
	name    string
	hasKey  bool
	key     string
	hasType bool
	typeID  int
	hasCat  bool
	catID   int64
	raw     [numRaw]json.RawMessage
	rawSet  [numRaw]bool
	hasFile bool
	file    []byte
}

// lowerKeys re-keys a decoded JSON object by lower-cased property name, so
// input property names are matched case-insensitively.
func lowerKeys(m map[string]json.RawMessage) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}

// decodeObject decodes raw as a JSON object with lower-cased keys.
func decodeObject(raw []byte) (map[string]json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, false
	}
	return lowerKeys(m), true
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

// jsonInt reads a number (or numeric string) as int64.
func jsonInt(raw json.RawMessage) (int64, bool) {
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		if v, err := n.Int64(); err == nil {
			return v, true
		}
		if f, err := n.Float64(); err == nil && f == float64(int64(f)) {
			return int64(f), true
		}
		return 0, false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		return v, err == nil
	}
	return 0, false
}

func jsonString(raw json.RawMessage) (string, bool) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// parseAssetInput reads a create/update body. Problems with individual fields
// come back as validation messages.
func parseAssetInput(m map[string]json.RawMessage) (assetInput, []string) {
	var in assetInput
	var errs []string
	for k, v := range m {
		if readOnlyInput[k] {
			continue
		}
		switch k {
		case "name":
			s, ok := jsonString(v)
			if !ok {
				errs = append(errs, "Asset Name must be a string.")
				continue
			}
			in.hasName, in.name = true, s
		case "customerkey":
			if isNull(v) {
				continue
			}
			s, ok := jsonString(v)
			if !ok {
				errs = append(errs, "Asset CustomerKey must be a string.")
				continue
			}
			in.hasKey, in.key = true, s
		case "assettype":
			o, ok := decodeObject(v)
			if !ok {
				errs = append(errs, "Asset AssetType must be an object with an id.")
				continue
			}
			id, ok := jsonInt(o["id"])
			if !ok {
				errs = append(errs, "Asset AssetType.Id is required.")
				continue
			}
			in.hasType, in.typeID = true, int(id)
		case "category":
			if isNull(v) {
				continue
			}
			o, ok := decodeObject(v)
			if !ok {
				errs = append(errs, "Asset Category must be an object with an id.")
				continue
			}
			id, ok := jsonInt(o["id"])
			if !ok {
				errs = append(errs, "Asset Category.Id must be a number.")
				continue
			}
			in.hasCat, in.catID = true, id
		case "file":
			if isNull(v) {
				continue
			}
			s, ok := jsonString(v)
			if !ok {
				errs = append(errs, "Asset File must be a base64 string.")
				continue
			}
			data, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
			if err != nil {
				errs = append(errs, "Asset File is not valid base64.")
				continue
			}
			in.hasFile, in.file = true, data
		default:
			for i, n := range rawFieldNames {
				if i == fLegacyData || strings.ToLower(n) != k {
					continue
				}
				in.rawSet[i] = true
				if !isNull(v) {
					in.raw[i] = compactRaw(v)
				}
			}
		}
	}
	return in, errs
}

// maxFileSize is the documented 5 MB file limit.
const maxFileSize = 5 << 20

// utf16Len counts string length the way .NET does (UTF-16 code units).
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// checkLimits validates name and customerKey formats (API writes only).
func checkLimits(in *assetInput) []string {
	var errs []string
	if in.hasName && utf16Len(in.name) > 200 {
		errs = append(errs, "Asset Name cannot be longer than 200 characters.")
	}
	if in.hasKey {
		if utf16Len(in.key) > 36 {
			errs = append(errs, "Asset CustomerKey cannot be longer than 36 characters.")
		}
		if strings.Contains(in.key, "<") {
			errs = append(errs, "Asset CustomerKey contains prohibited characters.")
		}
	}
	if in.hasFile && len(in.file) > maxFileSize {
		errs = append(errs, "Asset File exceeds the maximum file size of 5 MB.")
	}
	return errs
}

// suggestName returns "name (n)" for the first free n.
func suggestName(st *store, cat int64, typ int, name string) string {
	for n := 1; ; n++ {
		c := fmt.Sprintf("%s (%d)", name, n)
		if _, taken := st.names[nameKey{cat, typ, strings.ToLower(c)}]; !taken {
			return c
		}
	}
}

// keyOwner locates an asset by customerKey anywhere in the enterprise.
type keyOwner struct {
	mid int64
	id  int64
}

// createAsset validates in and stores a new asset; the caller holds the write lock.
// api selects the API's format limits (admin seeding may store legacy data).
func (s *Server) createAsset(st *store, in assetInput, now time.Time, by user, api bool) (*asset, []string) {
	var errs []string
	if api {
		errs = append(errs, checkLimits(&in)...)
	}
	if !in.hasType {
		errs = append(errs, "Asset AssetType.Id is required.")
	} else if _, ok := s.types[in.typeID]; !ok {
		errs = append(errs, fmt.Sprintf("Asset type %d is not a valid asset type.", in.typeID))
	}
	if !in.hasName || strings.TrimSpace(in.name) == "" {
		errs = append(errs, "Asset Name is required.")
	}
	cat := st.rootID
	if in.hasCat {
		cat = in.catID
		if _, ok := st.cats[cat]; !ok {
			errs = append(errs, fmt.Sprintf("Category %d does not exist.", cat))
		}
	}
	key := in.key
	if !in.hasKey || key == "" {
		key = s.newGUID()
	} else if _, taken := s.keys[key]; taken {
		errs = append(errs, fmt.Sprintf("Asset CustomerKey must be unique within the enterprise. %s is already taken.", key))
	}
	if len(errs) == 0 {
		if _, taken := st.names[nameKey{cat, in.typeID, strings.ToLower(in.name)}]; taken {
			errs = append(errs, fmt.Sprintf("Asset names within a category and asset type must be unique. %s is already taken. Suggested name: %s",
				in.name, suggestName(st, cat, in.typeID, in.name)))
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	s.nextAssetID++
	a := &asset{
		id:         s.nextAssetID,
		mid:        st.mid,
		objectID:   s.newGUID(),
		key:        key,
		name:       in.name,
		typeID:     in.typeID,
		catID:      cat,
		created:    now,
		modified:   now,
		owner:      by,
		createdBy:  by,
		modifiedBy: by,
	}
	a.raw = in.raw
	if a.raw[fStatus] == nil {
		a.raw[fStatus] = json.RawMessage(`{"id":1,"name":"Draft"}`)
	}
	if a.raw[fAvailableViews] == nil {
		a.raw[fAvailableViews] = json.RawMessage(`[]`)
	}
	if a.raw[fModelVersion] == nil {
		a.raw[fModelVersion] = json.RawMessage(`2`)
	}
	if isFileType(s.types, a.typeID) {
		a.file = in.file
		a.raw[fFileProperties] = s.fileProperties(a, in.raw[fFileProperties], now)
	}
	a.indexed = s.indexTime()
	st.assets[a.id] = a
	st.names[nameKey{a.catID, a.typeID, strings.ToLower(a.name)}] = a.id
	s.keys[a.key] = keyOwner{st.mid, a.id}
	st.dirty = true
	s.rerender(st, a)
	return a, nil
}

// updateAsset applies in to a (PATCH merges; replace=true is PUT). The caller
// holds the write lock.
func (s *Server) updateAsset(st *store, a *asset, in assetInput, replace bool, now time.Time, by user, api bool) []string {
	var errs []string
	if api {
		errs = append(errs, checkLimits(&in)...)
	}
	name, key, typ, cat := a.name, a.key, a.typeID, a.catID
	if in.hasName {
		if strings.TrimSpace(in.name) == "" {
			errs = append(errs, "Asset Name is required.")
		}
		name = in.name
	}
	if in.hasType {
		if _, ok := s.types[in.typeID]; !ok {
			errs = append(errs, fmt.Sprintf("Asset type %d is not a valid asset type.", in.typeID))
		}
		typ = in.typeID
	}
	if in.hasCat {
		if _, ok := st.cats[in.catID]; !ok {
			errs = append(errs, fmt.Sprintf("Category %d does not exist.", in.catID))
		}
		cat = in.catID
	}
	if in.hasKey && in.key != "" && in.key != a.key {
		if _, taken := s.keys[in.key]; taken {
			errs = append(errs, fmt.Sprintf("Asset CustomerKey must be unique within the enterprise. %s is already taken.", in.key))
		}
		key = in.key
	}
	if len(errs) == 0 {
		if id, taken := st.names[nameKey{cat, typ, strings.ToLower(name)}]; taken && id != a.id {
			errs = append(errs, fmt.Sprintf("Asset names within a category and asset type must be unique. %s is already taken. Suggested name: %s",
				name, suggestName(st, cat, typ, name)))
		}
	}
	if len(errs) > 0 {
		return errs
	}
	delete(st.names, nameKey{a.catID, a.typeID, strings.ToLower(a.name)})
	if key != a.key {
		delete(s.keys, a.key)
		s.keys[key] = keyOwner{st.mid, a.id}
	}
	a.name, a.key, a.typeID, a.catID = name, key, typ, cat
	st.names[nameKey{cat, typ, strings.ToLower(name)}] = a.id
	for i := range numRaw {
		switch {
		case i == fLegacyData:
		case in.rawSet[i]:
			a.raw[i] = in.raw[i]
		case replace:
			a.raw[i] = nil
		}
	}
	if a.raw[fStatus] == nil {
		a.raw[fStatus] = json.RawMessage(`{"id":1,"name":"Draft"}`)
	}
	if a.raw[fAvailableViews] == nil {
		a.raw[fAvailableViews] = json.RawMessage(`[]`)
	}
	if a.raw[fModelVersion] == nil {
		a.raw[fModelVersion] = json.RawMessage(`2`)
	}
	if isFileType(s.types, a.typeID) {
		if in.hasFile {
			a.file = in.file
		}
		a.raw[fFileProperties] = s.fileProperties(a, in.raw[fFileProperties], a.created)
	}
	a.modified = now
	a.modifiedBy = by
	a.indexed = s.indexTime()
	st.dirty = true
	s.rerender(st, a)
	return nil
}

// deleteAsset removes a; the caller holds the write lock.
func (s *Server) deleteAsset(st *store, a *asset, now time.Time) {
	delete(st.assets, a.id)
	delete(st.names, nameKey{a.catID, a.typeID, strings.ToLower(a.name)})
	delete(s.keys, a.key)
	st.deleted = append(st.deleted, deletedAsset{a: a, deleted: now})
	st.dirty = true
}

// text is the asset's content as a string (decoded when a query or the
// admin API needs it: keeping a decoded copy of every asset would cost as
// much memory as the contents themselves).
func (a *asset) text() string { return decodeContent(a.raw[fContent]) }

func decodeContent(raw json.RawMessage) string {
	if raw == nil {
		return ""
	}
	if n := len(raw); n >= 2 && raw[0] == '"' && raw[n-1] == '"' && bytes.IndexByte(raw[1:n-1], '\\') < 0 && bytes.IndexByte(raw[1:n-1], '"') < 0 {
		return string(raw[1 : n-1])
	}
	if s, ok := jsonString(raw); ok {
		return s
	}
	return string(raw)
}

// fileProperties builds the server-maintained fileProperties of a file asset.
func (s *Server) fileProperties(a *asset, sent json.RawMessage, created time.Time) json.RawMessage {
	fileName := a.name
	if o, ok := decodeObject(sent); ok {
		if fn, ok := jsonString(o["filename"]); ok && fn != "" {
			fileName = fn
		}
	} else if a.raw[fFileProperties] != nil {
		if o, ok := decodeObject(a.raw[fFileProperties]); ok {
			if fn, ok := jsonString(o["filename"]); ok && fn != "" {
				fileName = fn
			}
		}
	}
	ext := s.types[a.typeID].Name
	b := []byte(`{"fileName":`)
	b = appendString(b, fileName)
	b = append(b, `,"extension":`...)
	b = appendString(b, ext)
	b = append(b, `,"fileSize":`...)
	b = strconv.AppendInt(b, int64(len(a.file)), 10)
	b = append(b, `,"fileCreatedDate":`...)
	b = appendString(b, formatDate(created))
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(a.file)); err == nil {
		b = append(b, `,"width":`...)
		b = strconv.AppendInt(b, int64(cfg.Width), 10)
		b = append(b, `,"height":`...)
		b = strconv.AppendInt(b, int64(cfg.Height), 10)
	}
	b = append(b, `,"publishedURL":`...)
	b = appendString(b, "https://image.s7.sfmc-content.com/lib/fe3a11717564047b771c78/m/1/"+url.PathEscape(a.key)+"."+ext)
	return append(b, '}')
}

// categoryJSON renders a category in the observed field order.
func (s *Server) categoryJSON(c *category) []byte {
	b := []byte(`{"id":`)
	b = strconv.AppendInt(b, c.id, 10)
	b = append(b, `,"description":`...)
	b = appendString(b, c.description)
	b = append(b, `,"enterpriseId":`...)
	b = strconv.AppendInt(b, s.opts.EnterpriseID, 10)
	b = append(b, `,"memberId":`...)
	b = strconv.AppendInt(b, c.mid, 10)
	b = append(b, `,"name":`...)
	b = appendString(b, c.name)
	b = append(b, `,"parentId":`...)
	b = strconv.AppendInt(b, c.parentID, 10)
	b = append(b, `,"categoryType":`...)
	b = appendString(b, c.catType)
	return append(b, '}')
}

// addCategory validates and stores a folder; the caller holds the write lock.
func (s *Server) addCategory(st *store, name string, parent int64, description string) (*category, string) {
	if strings.TrimSpace(name) == "" {
		return nil, "Category Name is required."
	}
	p, ok := st.cats[parent]
	if !ok {
		return nil, fmt.Sprintf("Parent category %d does not exist.", parent)
	}
	if s.siblingNameTaken(st, parent, name, 0) {
		return nil, fmt.Sprintf("A category named %s already exists in this folder.", name)
	}
	s.nextCatID++
	c := &category{id: s.nextCatID, mid: st.mid, name: name, parentID: parent, description: description, catType: p.catType}
	st.cats[c.id] = c
	return c, ""
}

func (s *Server) siblingNameTaken(st *store, parent int64, name string, except int64) bool {
	if s.opts.AllowDuplicateCategoryNames {
		return false
	}
	for _, c := range st.cats {
		if c.parentID == parent && c.id != except && strings.EqualFold(c.name, name) {
			return true
		}
	}
	return false
}

// rerenderCategory refreshes the documents of assets filed in cat.
func (s *Server) rerenderCategory(st *store, cat int64) {
	for _, a := range st.assets {
		if a.catID == cat {
			s.rerender(st, a)
		}
	}
}

// indexTime is when a write made now becomes visible to queries.
func (s *Server) indexTime() time.Time {
	if s.opts.IndexLag <= 0 {
		return time.Time{}
	}
	return s.now().Add(s.opts.IndexLag)
}
