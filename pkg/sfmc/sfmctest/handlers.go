package sfmctest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

func (s *Server) dispatch(w http.ResponseWriter, rt string, rc *reqCtx) {
	var err *apiError
	switch rt {
	case RouteQuery:
		err = s.handleQuery(w, rc)
	case RouteList:
		err = s.handleList(w, rc)
	case RouteAsset:
		err = s.handleGetAsset(w, rc)
	case RouteFile:
		err = s.handleFile(w, rc)
	case RouteCreate:
		err = s.handleCreate(w, rc)
	case RouteUpdate:
		err = s.handleUpdate(w, rc)
	case RouteDelete:
		err = s.handleDelete(w, rc)
	case RouteCategories:
		err = s.handleCategoriesGet(w, rc)
	case RouteCategoryWrite:
		err = s.handleCategoryWrite(w, rc)
	case RouteDeleted:
		err = s.handleDeletedList(w, rc)
	case RouteRestore:
		err = s.handleRestore(w, rc)
	default:
		writeJSON(w, http.StatusNotFound, []byte(routeNotFoundBody))
	}
	if err != nil {
		writeError(w, err.status, err.msg, err.code)
	}
}

func notFound() *apiError {
	return &apiError{status: http.StatusNotFound, code: 30003, msg: "Object not found"}
}

// readLocked runs fn under the read lock with a fresh index for st.
func (s *Server) readLocked(st *store, fn func()) {
	s.mu.RLock()
	for st.dirty {
		s.mu.RUnlock()
		s.mu.Lock()
		if st.dirty {
			st.reindex()
		}
		s.mu.Unlock()
		s.mu.RLock()
	}
	defer s.mu.RUnlock()
	fn()
}

// queryParam reads a $-parameter by case-insensitive name.
func queryParam(rc *reqCtx, name string) (string, bool) {
	for k, v := range rc.query {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0], true
		}
	}
	return "", false
}

func intParam(rc *reqCtx, name string) (int, *apiError) {
	v, ok := queryParam(rc, name)
	if !ok || strings.TrimSpace(v) == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, badRequest(10001, "Invalid value '%s' for %s.", v, name)
	}
	return n, nil
}

func splitFields(v string) []string {
	var out []string
	for f := range strings.SplitSeq(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func (s *Server) handleQuery(w http.ResponseWriter, rc *reqCtx) *apiError {
	m, ok := decodeObject(rc.body)
	if !ok {
		writeJSON(w, http.StatusBadRequest, []byte(malformedBody))
		return nil
	}
	page, size := 1, 50
	if raw, present := m["page"]; present && !isNull(raw) {
		pm, ok := decodeObject(raw)
		if !ok {
			return badRequest(10001, "page must be an object {page, pageSize}.")
		}
		if v, present := pm["page"]; present {
			if page, ok = clampInt(v); !ok {
				return badRequest(10001, "page.page must be a number.")
			}
		}
		if v, present := pm["pagesize"]; present {
			if size, ok = clampInt(v); !ok {
				return badRequest(10001, "page.pageSize must be a number.")
			}
		}
	}
	pr, aerr := s.resolvePage(page, size)
	if aerr != nil {
		return aerr
	}
	qraw, present := m["query"]
	if !present || isNull(qraw) {
		return badRequest(10002, "Query is required.")
	}
	if rc.ignoreKeyset {
		qraw = json.RawMessage(`{"property":"id","simpleOperator":"greaterThan","value":0}`)
		pr.page = 1
	}
	if rc.ignoreIDRange {
		qraw = dropConds(qraw, isIDRange)
	}
	if rc.ignoreTypeFilter {
		qraw = dropConds(qraw, isTypeFilter)
	}
	var fields []string
	if raw, present := m["fields"]; present && !isNull(raw) {
		if err := json.Unmarshal(raw, &fields); err != nil {
			return badRequest(10001, "fields must be an array of property names.")
		}
	}
	var sortSpec []map[string]json.RawMessage
	if raw, present := m["sort"]; present && !isNull(raw) {
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return badRequest(10001, "sort must be an array of {property, direction}.")
		}
		for _, e := range list {
			o, ok := decodeObject(e)
			if !ok {
				return badRequest(10001, "sort must be an array of {property, direction}.")
			}
			sortSpec = append(sortSpec, o)
		}
	}
	var body *listBody
	s.readLocked(rc.st, func() {
		plan, err := s.planQuery(rc.st, qraw)
		if err != nil {
			aerr = err
			return
		}
		var keys []sortKey
		for _, o := range sortSpec {
			p, _ := jsonString(o["property"])
			d, _ := jsonString(o["direction"])
			k, err := s.parseSortKey(rc.st, p, d)
			if err != nil {
				aerr = err
				return
			}
			keys = append(keys, k)
		}
		count, items := s.runQuery(rc.st, plan, keys, pr, rc.n)
		body = s.renderList(rc.st, count, pr, items, projection(fields))
	})
	if aerr == nil {
		body.lie(rc)
	}
	if aerr != nil {
		return aerr
	}
	body.write(w)
	return nil
}

// renderList collects the documents of a page. Stored documents are never
// changed in place (a write renders a new one), so the page can be written
// after the read lock is released, without copying them into one buffer.
func (s *Server) renderList(st *store, count int, pr pageRequest, items []*asset, proj map[string]bool) *listBody {
	docs := make([][]byte, len(items))
	for i, a := range items {
		if proj == nil {
			docs[i] = a.doc
		} else {
			docs[i] = s.render(st, a, proj)
		}
	}
	return &listBody{count: count, pr: pr, docs: docs, omitEmpty: s.opts.OmitEmptyItems}
}

// listBody is a list response, {count, page, pageSize, links, items},
// written piece by piece; the bytes are those of listEnvelope.
type listBody struct {
	count     int
	pr        pageRequest
	docs      [][]byte
	omitEmpty bool
	omitCount bool
}

// lie applies the hostile faults that falsify an answer: ids shifted by
// rc.idOffset (documents start with {"id":N, as render writes them), the
// count replaced or left out.
func (l *listBody) lie(rc *reqCtx) {
	if rc.count != nil {
		l.count = *rc.count
	}
	l.omitCount = rc.omitCount
	if rc.idOffset == 0 {
		return
	}
	for i, d := range l.docs {
		rest, ok := bytes.CutPrefix(d, []byte(`{"id":`))
		end := bytes.IndexByte(rest, ',')
		if !ok || end < 0 {
			continue
		}
		id, err := strconv.ParseInt(string(rest[:end]), 10, 64)
		if err != nil {
			continue
		}
		b := strconv.AppendInt([]byte(`{"id":`), id+rc.idOffset, 10)
		l.docs[i] = append(b, rest[end:]...)
	}
}

func (l *listBody) write(w http.ResponseWriter) {
	head := listEnvelope(l.count, l.pr, nil, true)
	head = head[:len(head)-1] // without the closing brace
	if l.omitCount {
		head = append([]byte("{"), head[bytes.IndexByte(head, ',')+1:]...)
	}
	size := len(head) + 1
	if len(l.docs) > 0 || !l.omitEmpty {
		size += len(`,"items":[]`) + max(len(l.docs)-1, 0)
		for _, d := range l.docs {
			size += len(d)
		}
	}
	h := w.Header()
	h.Set("Content-Type", jsonContentType)
	h.Set("Content-Length", strconv.Itoa(size))
	w.WriteHeader(http.StatusOK)
	if len(l.docs) == 0 && l.omitEmpty {
		_, _ = w.Write(append(head, '}'))
		return
	}
	if _, err := w.Write(append(head, `,"items":[`...)); err != nil {
		return
	}
	for i, d := range l.docs {
		if i > 0 {
			if _, err := w.Write([]byte{','}); err != nil {
				return
			}
		}
		if _, err := w.Write(d); err != nil {
			return
		}
	}
	_, _ = w.Write([]byte("]}"))
}

func (s *Server) handleList(w http.ResponseWriter, rc *reqCtx) *apiError {
	page, aerr := intParam(rc, "$page")
	if aerr != nil {
		return aerr
	}
	size, aerr := intParam(rc, "$pagesize")
	if aerr != nil {
		return aerr
	}
	pr, aerr := s.resolvePage(page, size)
	if aerr != nil {
		return aerr
	}
	orderBy, _ := queryParam(rc, "$orderby")
	filter, hasFilter := queryParam(rc, "$filter")
	fieldsParam, _ := queryParam(rc, "$fields")
	var body *listBody
	s.readLocked(rc.st, func() {
		keys, err := s.parseOrderBy(rc.st, orderBy)
		if err != nil {
			aerr = err
			return
		}
		var pred func(*asset) bool
		if hasFilter && strings.TrimSpace(filter) != "" {
			if pred, err = s.parseFilterExpr(rc.st, filter); err != nil {
				aerr = err
				return
			}
		}
		count, items := s.runQuery(rc.st, openPlan(pred), keys, pr, rc.n)
		body = s.renderList(rc.st, count, pr, items, projection(splitFields(fieldsParam)))
	})
	if aerr != nil {
		return aerr
	}
	body.write(w)
	return nil
}

func parseID(p []string) int64 {
	if len(p) == 0 {
		return 0
	}
	id, _ := strconv.ParseInt(p[0], 10, 64)
	return id
}

func (s *Server) handleGetAsset(w http.ResponseWriter, rc *reqCtx) *apiError {
	id := parseID(rc.params)
	fieldsParam, _ := queryParam(rc, "$fields")
	proj := projection(splitFields(fieldsParam))
	s.mu.RLock()
	a, ok := rc.st.assets[id]
	var body []byte
	if ok {
		body = a.doc
		if proj != nil {
			body = s.render(rc.st, a, proj)
		}
	}
	s.mu.RUnlock()
	if !ok {
		return notFound()
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

func (s *Server) handleFile(w http.ResponseWriter, rc *reqCtx) *apiError {
	id := parseID(rc.params)
	s.mu.RLock()
	a, ok := rc.st.assets[id]
	var file []byte
	isFile := false
	if ok {
		file, isFile = a.file, isFileType(s.types, a.typeID)
	}
	s.mu.RUnlock()
	if !ok {
		return notFound()
	}
	if !isFile {
		return badRequest(10000, "Asset %d is not a file asset and has no file content.", id)
	}
	enc := base64.StdEncoding.EncodeToString(file)
	if s.opts.FileAsJSONString {
		writeJSON(w, http.StatusOK, appendString(nil, enc))
		return nil
	}
	writeBody(w, http.StatusOK, "text/plain; charset=utf-8", []byte(enc))
	return nil
}

func (s *Server) handleCreate(w http.ResponseWriter, rc *reqCtx) *apiError {
	m, ok := decodeObject(rc.body)
	if !ok {
		writeJSON(w, http.StatusBadRequest, []byte(malformedBody))
		return nil
	}
	in, errs := parseAssetInput(m)
	if len(errs) > 0 {
		writeJSON(w, http.StatusBadRequest, validationBody(errs))
		return nil
	}
	s.mu.Lock()
	a, errs := s.createAsset(rc.st, in, s.stamp(), rc.user, true)
	var body []byte
	if a != nil {
		body = a.doc
	}
	s.mu.Unlock()
	if len(errs) > 0 {
		writeJSON(w, http.StatusBadRequest, validationBody(errs))
		return nil
	}
	writeJSON(w, s.opts.CreateStatus, body)
	return nil
}

func (s *Server) handleUpdate(w http.ResponseWriter, rc *reqCtx) *apiError {
	id := parseID(rc.params)
	m, ok := decodeObject(rc.body)
	if !ok {
		writeJSON(w, http.StatusBadRequest, []byte(malformedBody))
		return nil
	}
	in, errs := parseAssetInput(m)
	s.mu.Lock()
	a, found := rc.st.assets[id]
	var body []byte
	if found && len(errs) == 0 {
		replace := rc.method == http.MethodPut
		errs = s.updateAsset(rc.st, a, in, replace, s.stamp(), rc.user, true)
		body = a.doc
	}
	s.mu.Unlock()
	if !found {
		return notFound()
	}
	if len(errs) > 0 {
		writeJSON(w, http.StatusBadRequest, validationBody(errs))
		return nil
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

func (s *Server) handleDelete(w http.ResponseWriter, rc *reqCtx) *apiError {
	id := parseID(rc.params)
	s.mu.Lock()
	a, found := rc.st.assets[id]
	if found {
		s.deleteAsset(rc.st, a, s.stamp())
	}
	s.mu.Unlock()
	if !found {
		return notFound()
	}
	writeBody(w, http.StatusOK, "text/plain; charset=utf-8", []byte("OK"))
	return nil
}

func (s *Server) handleCategoriesGet(w http.ResponseWriter, rc *reqCtx) *apiError {
	if len(rc.params) > 0 {
		id := parseID(rc.params)
		s.mu.RLock()
		c, ok := rc.st.cats[id]
		var body []byte
		if ok {
			body = s.categoryJSON(c)
		}
		s.mu.RUnlock()
		if !ok {
			return notFound()
		}
		writeJSON(w, http.StatusOK, body)
		return nil
	}
	page, aerr := intParam(rc, "$page")
	if aerr != nil {
		return aerr
	}
	size, aerr := intParam(rc, "$pagesize")
	if aerr != nil {
		return aerr
	}
	pr, aerr := s.resolvePage(page, size)
	if aerr != nil {
		return aerr
	}
	scope, _ := queryParam(rc, "scope")
	wantOurs, wantShared := true, false
	if strings.TrimSpace(scope) != "" {
		wantOurs, wantShared = false, false
		for p := range strings.SplitSeq(scope, ",") {
			switch strings.ToLower(strings.TrimSpace(p)) {
			case "ours":
				wantOurs = true
			case "shared":
				wantShared = true
			default:
				return badRequest(10003, "Invalid scope '%s'.", p)
			}
		}
	}
	var pred func(*category) bool
	if f, ok := queryParam(rc, "$filter"); ok && strings.TrimSpace(f) != "" {
		var err *apiError
		if pred, err = categoryFilter(f); err != nil {
			return err
		}
	}
	orderBy, _ := queryParam(rc, "$orderby")
	keys, aerr := categoryOrder(orderBy)
	if aerr != nil {
		return aerr
	}
	s.mu.RLock()
	var cats []*category
	for _, c := range rc.st.cats {
		shared := c.catType == "asset-shared"
		if (shared && !wantShared) || (!shared && !wantOurs) || (pred != nil && !pred(c)) {
			continue
		}
		cats = append(cats, c)
	}
	slices.SortFunc(cats, func(x, y *category) int {
		for _, k := range keys {
			if c := k(x, y); c != 0 {
				return c
			}
		}
		return cmpInt64(x.id, y.id)
	})
	offset := (pr.page - 1) * pr.size
	var docs [][]byte
	for i := offset; i < len(cats) && i < offset+pr.size; i++ {
		docs = append(docs, s.categoryJSON(cats[i]))
	}
	s.mu.RUnlock()
	writeJSON(w, http.StatusOK, listEnvelope(len(cats), pr, docs, s.opts.OmitEmptyItems))
	return nil
}

// categoryFilter parses "$filter=parentId <op> N" (the only supported property).
func categoryFilter(expr string) (func(*category) bool, *apiError) {
	f := strings.Fields(expr)
	if len(f) != 3 {
		return nil, badRequest(10003, "Invalid $filter '%s'.", expr)
	}
	if !strings.EqualFold(f[0], "parentId") {
		return nil, badRequest(10003, "Only parentId can be used in $filter for categories.")
	}
	v, err := strconv.ParseInt(strings.Trim(f[2], "'"), 10, 64)
	if err != nil {
		return nil, badRequest(10001, "Invalid parentId value '%s'.", f[2])
	}
	ops := map[string]func(int64) bool{
		"eq": func(x int64) bool { return x == v }, "neq": func(x int64) bool { return x != v },
		"lt": func(x int64) bool { return x < v }, "lte": func(x int64) bool { return x <= v },
		"gt": func(x int64) bool { return x > v }, "gte": func(x int64) bool { return x >= v },
		"like": func(x int64) bool { return strings.Contains(strconv.FormatInt(x, 10), strconv.FormatInt(v, 10)) },
	}
	op, ok := ops[strings.ToLower(f[1])]
	if !ok {
		return nil, badRequest(10003, "Invalid $filter operator '%s'.", f[1])
	}
	return func(c *category) bool { return op(c.parentID) }, nil
}

func categoryOrder(spec string) ([]func(x, y *category) int, *apiError) {
	var keys []func(x, y *category) int
	for part := range strings.SplitSeq(spec, ",") {
		f := strings.Fields(part)
		if len(f) == 0 {
			continue
		}
		desc := len(f) > 1 && strings.EqualFold(f[1], "desc")
		var k func(x, y *category) int
		switch strings.ToLower(f[0]) {
		case "id":
			k = func(x, y *category) int { return cmpInt64(x.id, y.id) }
		case "name":
			k = func(x, y *category) int { return strings.Compare(strings.ToLower(x.name), strings.ToLower(y.name)) }
		case "parentid":
			k = func(x, y *category) int { return cmpInt64(x.parentID, y.parentID) }
		default:
			return nil, invalidProperty(f[0])
		}
		if desc {
			inner := k
			k = func(x, y *category) int { return -inner(x, y) }
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func (s *Server) handleCategoryWrite(w http.ResponseWriter, rc *reqCtx) *apiError {
	if rc.method == http.MethodDelete {
		return s.deleteCategoryHTTP(w, rc)
	}
	m, ok := decodeObject(rc.body)
	if !ok {
		writeJSON(w, http.StatusBadRequest, []byte(malformedBody))
		return nil
	}
	name, hasName := jsonString(m["name"])
	parent, hasParent := jsonInt(m["parentid"])
	desc, _ := jsonString(m["description"])
	if len(rc.params) == 0 {
		var errs []string
		if !hasName || strings.TrimSpace(name) == "" {
			errs = append(errs, "Category Name is required.")
		}
		if !hasParent {
			errs = append(errs, "Category ParentId is required.")
		}
		if len(errs) > 0 {
			writeJSON(w, http.StatusBadRequest, validationBody(errs))
			return nil
		}
		s.mu.Lock()
		c, msg := s.addCategory(rc.st, name, parent, desc)
		var body []byte
		if c != nil {
			body = s.categoryJSON(c)
		}
		s.mu.Unlock()
		if c == nil {
			writeJSON(w, http.StatusBadRequest, validationBody([]string{msg}))
			return nil
		}
		writeJSON(w, s.opts.CreateStatus, body)
		return nil
	}
	id := parseID(rc.params)
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := rc.st.cats[id]
	if !ok {
		return notFound()
	}
	if c.parentID == 0 {
		return badRequest(10000, "Root categories cannot be modified.")
	}
	newName, newParent := c.name, c.parentID
	if hasName {
		if strings.TrimSpace(name) == "" {
			writeJSON(w, http.StatusBadRequest, validationBody([]string{"Category Name is required."}))
			return nil
		}
		newName = name
	}
	if hasParent {
		if _, ok := rc.st.cats[parent]; !ok {
			writeJSON(w, http.StatusBadRequest, validationBody([]string{"Parent category " + strconv.FormatInt(parent, 10) + " does not exist."}))
			return nil
		}
		for p := parent; p != 0; p = rc.st.cats[p].parentID {
			if p == id {
				return badRequest(10000, "A category cannot be moved into itself.")
			}
		}
		newParent = parent
	}
	if s.siblingNameTaken(rc.st, newParent, newName, id) {
		writeJSON(w, http.StatusBadRequest, validationBody([]string{"A category named " + newName + " already exists in this folder."}))
		return nil
	}
	c.name, c.parentID = newName, newParent
	if _, present := m["description"]; present {
		c.description = desc
	}
	s.rerenderCategory(rc.st, id)
	writeJSON(w, http.StatusOK, s.categoryJSON(c))
	return nil
}

func (s *Server) deleteCategoryHTTP(w http.ResponseWriter, rc *reqCtx) *apiError {
	id := parseID(rc.params)
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := rc.st.cats[id]
	if !ok {
		return notFound()
	}
	if msg := s.categoryNotDeletable(rc.st, c); msg != "" {
		return badRequest(10000, "%s", msg)
	}
	delete(rc.st.cats, id)
	writeBody(w, http.StatusOK, "text/plain; charset=utf-8", []byte("OK"))
	return nil
}

func (s *Server) categoryNotDeletable(st *store, c *category) string {
	if c.parentID == 0 {
		return "Root categories cannot be deleted."
	}
	for _, o := range st.cats {
		if o.parentID == c.id {
			return "The category is not empty: it contains subcategories."
		}
	}
	for _, a := range st.assets {
		if a.catID == c.id {
			return "The category is not empty: it contains assets."
		}
	}
	return ""
}

// deletedVisible reports whether a deleted asset is listed by /deletedAssets.
func (s *Server) deletedVisible(d deletedAsset, rc *reqCtx) bool {
	if inherits(s.types, d.a.typeID, 3) || inherits(s.types, d.a.typeID, 5) {
		return false
	}
	if _, back := rc.st.assets[d.a.id]; back {
		return false
	}
	return s.now().Sub(d.deleted) < 30*24*60*60*1e9
}

func (s *Server) handleDeletedList(w http.ResponseWriter, rc *reqCtx) *apiError {
	page, aerr := intParam(rc, "$page")
	if aerr != nil {
		return aerr
	}
	size, aerr := intParam(rc, "$pagesize")
	if aerr != nil {
		return aerr
	}
	pr, aerr := s.resolvePage(page, size)
	if aerr != nil {
		return aerr
	}
	s.mu.RLock()
	var docs [][]byte
	count := 0
	offset := (pr.page - 1) * pr.size
	for _, d := range rc.st.deleted {
		if !s.deletedVisible(d, rc) {
			continue
		}
		if count >= offset && count < offset+pr.size {
			a := d.a
			b := []byte(`{"id":`)
			b = strconv.AppendInt(b, a.id, 10)
			b = append(b, `,"eID":`...)
			b = strconv.AppendInt(b, s.opts.EnterpriseID, 10)
			b = append(b, `,"mID":`...)
			b = strconv.AppendInt(b, a.mid, 10)
			b = append(b, `,"customerKey":`...)
			b = appendString(b, a.key)
			b = append(b, `,"assetTypeID":`...)
			b = strconv.AppendInt(b, int64(a.typeID), 10)
			b = append(b, `,"name":`...)
			b = appendString(b, a.name)
			b = append(b, `,"modifiedDate":`...)
			b = appendString(b, formatDateNoOffset(d.deleted))
			b = append(b, `,"modifiedBy":`...)
			b = strconv.AppendInt(b, appUser().ID, 10)
			b = append(b, `,"categoryID":`...)
			b = strconv.AppendInt(b, a.catID, 10)
			docs = append(docs, append(b, '}'))
		}
		count++
	}
	s.mu.RUnlock()
	writeJSON(w, http.StatusOK, listEnvelope(count, pr, docs, s.opts.OmitEmptyItems))
	return nil
}

func (s *Server) handleRestore(w http.ResponseWriter, rc *reqCtx) *apiError {
	id := parseID(rc.params)
	m := map[string]json.RawMessage{}
	if len(rc.body) > 0 {
		var ok bool
		if m, ok = decodeObject(rc.body); !ok {
			writeJSON(w, http.StatusBadRequest, []byte(malformedBody))
			return nil
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	idx := -1
	for i, d := range rc.st.deleted {
		if d.a.id == id && s.deletedVisible(d, rc) {
			idx = i
		}
	}
	if idx < 0 {
		return notFound()
	}
	a := rc.st.deleted[idx].a
	name, key, cat := a.name, a.key, a.catID
	if v, ok := jsonString(m["name"]); ok && v != "" {
		name = v
	}
	if v, ok := jsonString(m["customerkey"]); ok && v != "" {
		key = v
	}
	if v, ok := jsonInt(m["categoryid"]); ok {
		cat = v
	}
	var errs []string
	if _, ok := rc.st.cats[cat]; !ok {
		errs = append(errs, "Category "+strconv.FormatInt(cat, 10)+" does not exist.")
	}
	if _, taken := s.keys[key]; taken {
		errs = append(errs, "Asset CustomerKey must be unique within the enterprise. "+key+" is already taken.")
	}
	if _, taken := rc.st.names[nameKey{cat, a.typeID, strings.ToLower(name)}]; taken {
		errs = append(errs, "Asset names within a category and asset type must be unique. "+name+" is already taken. Suggested name: "+suggestName(rc.st, cat, a.typeID, name))
	}
	if len(errs) > 0 {
		writeJSON(w, http.StatusBadRequest, validationBody(errs))
		return nil
	}
	rc.st.deleted = slices.Delete(rc.st.deleted, idx, idx+1)
	a.name, a.key, a.catID = name, key, cat
	a.modified = s.stamp()
	a.modifiedBy = rc.user
	a.indexed = s.indexTime()
	rc.st.assets[a.id] = a
	rc.st.names[nameKey{cat, a.typeID, strings.ToLower(name)}] = a.id
	s.keys[key] = keyOwner{rc.st.mid, a.id}
	rc.st.dirty = true
	s.rerender(rc.st, a)
	writeJSON(w, http.StatusOK, []byte(`{"asset":{"href":"asset/v1//Content/Assets/`+strconv.FormatInt(a.id, 10)+`"}}`))
	return nil
}

// dropConds replaces every simple condition of a query that drop selects
// by one every asset meets (IgnoreIDRange, IgnoreTypeFilter).
func dropConds(raw json.RawMessage, drop func(prop, op string) bool) json.RawMessage {
	var q map[string]json.RawMessage
	if json.Unmarshal(raw, &q) != nil {
		return raw
	}
	if l, ok := q["leftOperand"]; ok {
		q["leftOperand"] = dropConds(l, drop)
		if r, ok := q["rightOperand"]; ok {
			q["rightOperand"] = dropConds(r, drop)
		}
		out, _ := json.Marshal(q)
		return out
	}
	var prop, op string
	_ = json.Unmarshal(q["property"], &prop)
	_ = json.Unmarshal(q["simpleOperator"], &op)
	if drop(prop, op) {
		return json.RawMessage(`{"property":"id","simpleOperator":"greaterThan","value":0}`)
	}
	return raw
}

// isIDRange selects the id ≥ / id < conditions of a partitioned listing.
func isIDRange(prop, op string) bool {
	return strings.EqualFold(prop, "id") && (strings.EqualFold(op, "greaterThanOrEqual") || strings.EqualFold(op, "lessThan"))
}

// isTypeFilter selects the assetType.id / assetType.name conditions.
func isTypeFilter(prop, _ string) bool {
	return strings.EqualFold(prop, "assetType.id") || strings.EqualFold(prop, "assetType.name")
}
