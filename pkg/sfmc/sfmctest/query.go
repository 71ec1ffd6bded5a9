package sfmctest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// apiError is an error answer of a REST handler.
type apiError struct {
	status int
	code   int
	msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d/%d: %s", e.status, e.code, e.msg) }

func badRequest(code int, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, msg: fmt.Sprintf(format, args...)}
}

func invalidProperty(p string) *apiError {
	return badRequest(10004, "Error: '%s' is not a valid property name", p)
}

// valKind is the type of a property value.
type valKind int

const (
	kNull valKind = iota
	kNum
	kStr
	kDate
	kBool
	kList
	kOther
)

// value is a property value of one asset.
type value struct {
	kind valKind
	num  float64
	str  string
	t    time.Time
	list []any
	low  string // lower-cased str, set for sorting
}

// propDef describes a queryable or sortable property.
type propDef struct {
	name string  // as the client spelled it
	kind valKind // declared kind (kOther for generic)
	get  func(*asset) value
	// Typed accessors for the hot paths (nil when not applicable).
	numFn  func(*asset) int64
	dateFn func(*asset) time.Time
}

// topLevelFields are the document's top-level property names (lower-cased).
func topLevelFields() map[string]bool {
	m := map[string]bool{}
	for _, n := range []string{"id", "customerKey", "objectID", "assetType", "name", "owner", "createdDate",
		"createdBy", "modifiedDate", "modifiedBy", "enterpriseId", "memberId", "thumbnail", "category", "file"} {
		m[strings.ToLower(n)] = true
	}
	for _, n := range rawFieldNames {
		m[strings.ToLower(n)] = true
	}
	return m
}

func userProp(sel func(*asset) user, field string) (valKind, func(*asset) value) {
	switch field {
	case "id":
		return kNum, func(a *asset) value { return value{kind: kNum, num: float64(sel(a).ID)} }
	case "userid":
		return kStr, func(a *asset) value { return value{kind: kStr, str: strconv.FormatInt(sel(a).ID, 10)} }
	case "name":
		return kStr, func(a *asset) value { return value{kind: kStr, str: sel(a).Name} }
	case "email":
		return kStr, func(a *asset) value { return value{kind: kStr, str: sel(a).Email} }
	}
	return kNull, nil
}

// resolveProp finds the accessor for a (case-insensitive, dotted) property.
func (s *Server) resolveProp(st *store, name string) (*propDef, *apiError) {
	p := strings.ToLower(strings.TrimSpace(name))
	def := &propDef{name: name}
	str := func(f func(*asset) string) {
		def.kind, def.get = kStr, func(a *asset) value { return value{kind: kStr, str: f(a)} }
	}
	num := func(f func(*asset) int64) {
		def.kind, def.numFn = kNum, f
		def.get = func(a *asset) value { return value{kind: kNum, num: float64(f(a))} }
	}
	date := func(f func(*asset) time.Time) {
		def.kind, def.dateFn = kDate, f
		def.get = func(a *asset) value { return value{kind: kDate, t: f(a)} }
	}
	switch p {
	case "id":
		num(func(a *asset) int64 { return a.id })
	case "customerkey":
		str(func(a *asset) string { return a.key })
	case "name":
		str(func(a *asset) string { return a.name })
	case "objectid":
		str(func(a *asset) string { return a.objectID })
	case "content":
		def.kind, def.get = kStr, func(a *asset) value {
			if a.raw[fContent] == nil {
				return value{}
			}
			return value{kind: kStr, str: a.text()}
		}
	case "assettype.id":
		num(func(a *asset) int64 { return int64(a.typeID) })
	case "assettype.name":
		str(func(a *asset) string { return s.types[a.typeID].Name })
	case "assettype.displayname":
		str(func(a *asset) string { return s.types[a.typeID].DisplayName })
	case "category.id":
		num(func(a *asset) int64 { return a.catID })
	case "category.name":
		str(func(a *asset) string {
			if c, ok := st.cats[a.catID]; ok {
				return c.name
			}
			return ""
		})
	case "category.parentid":
		num(func(a *asset) int64 {
			if c, ok := st.cats[a.catID]; ok {
				return c.parentID
			}
			return 0
		})
	case "createddate":
		date(func(a *asset) time.Time { return a.created })
	case "modifieddate":
		date(func(a *asset) time.Time { return a.modified })
	case "memberid":
		num(func(a *asset) int64 { return a.mid })
	case "enterpriseid":
		num(func(*asset) int64 { return s.opts.EnterpriseID })
	default:
		head, rest, _ := strings.Cut(p, ".")
		var sel func(*asset) user
		switch head {
		case "owner":
			sel = func(a *asset) user { return a.owner }
		case "createdby":
			sel = func(a *asset) user { return a.createdBy }
		case "modifiedby":
			sel = func(a *asset) user { return a.modifiedBy }
		}
		if sel != nil {
			k, get := userProp(sel, rest)
			if get == nil {
				return nil, invalidProperty(name)
			}
			def.kind, def.get = k, get
			return def, nil
		}
		if !s.topFields[head] || head == "file" {
			return nil, invalidProperty(name)
		}
		path := strings.Split(p, ".")
		def.kind = kOther
		def.get = func(a *asset) value { return genericValue(a.doc, path) }
	}
	return def, nil
}

// genericValue walks a dotted path (case-insensitively) in the rendered document.
func genericValue(doc []byte, path []string) value {
	var cur any
	if err := json.Unmarshal(doc, &cur); err != nil {
		return value{}
	}
	for _, seg := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return value{}
		}
		var next any
		found := false
		for k, v := range m {
			if strings.EqualFold(k, seg) {
				next, found = v, true
				break
			}
		}
		if !found {
			return value{}
		}
		cur = next
	}
	return anyValue(cur)
}

func anyValue(v any) value {
	switch x := v.(type) {
	case nil:
		return value{}
	case float64:
		return value{kind: kNum, num: x}
	case string:
		return value{kind: kStr, str: x}
	case bool:
		if x {
			return value{kind: kBool, num: 1}
		}
		return value{kind: kBool}
	case []any:
		return value{kind: kList, list: x}
	}
	return value{kind: kOther}
}

// operand is a filter value converted for a property.
type operand struct {
	raw  any // decoded JSON
	num  float64
	isN  bool
	t    time.Time
	isT  bool
	str  string
	isS  bool
	text string // string form, for text operators
}

// parseFilterDate reads a date filter value: explicit offsets are exact,
// offset-less and date-only values are read in zone.
func parseFilterDate(s string, zone *time.Location) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, l := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700", "2006-01-02 15:04:05.999999999Z07:00"} {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	for _, l := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(l, s, zone); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func (s *Server) makeOperand(def *propDef, raw json.RawMessage) (operand, *apiError) {
	var v any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return operand{}, badRequest(10004, "Invalid value for property '%s'.", def.name)
	}
	o := operand{raw: v}
	switch x := v.(type) {
	case json.Number:
		o.text = x.String()
		if f, err := x.Float64(); err == nil {
			o.num, o.isN = f, true
		}
	case string:
		o.text, o.str, o.isS = x, x, true
		if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
			o.num, o.isN = f, true
		}
	case bool:
		o.text = strconv.FormatBool(x)
	case nil:
	default:
		return operand{}, badRequest(10001, "Invalid value for property '%s'.", def.name)
	}
	switch def.kind {
	case kNum:
		if !o.isN {
			return operand{}, badRequest(10001, "Invalid value '%s' for numeric property '%s'.", o.text, def.name)
		}
	case kDate:
		if !o.isS {
			return operand{}, badRequest(10001, "Invalid value '%s' for date property '%s'.", o.text, def.name)
		}
		t, ok := parseFilterDate(o.str, s.filterZone())
		if !ok {
			return operand{}, badRequest(10001, "Invalid date value '%s' for property '%s'.", o.str, def.name)
		}
		o.t, o.isT = t, true
	case kOther:
		if o.isS {
			if t, ok := parseFilterDate(o.str, s.filterZone()); ok && strings.Contains(o.str, "-") {
				o.t, o.isT = t, true
			}
		}
	}
	return o, nil
}

// compare returns -2 when the values are not comparable.
func compareValue(v value, o operand) int {
	switch v.kind {
	case kNum, kBool:
		if o.isN {
			return cmp.Compare(v.num, o.num)
		}
		if v.kind == kBool {
			return cmp.Compare(strconv.FormatBool(v.num == 1), strings.ToLower(o.text))
		}
	case kDate:
		if o.isT {
			return v.t.Compare(o.t)
		}
	case kStr:
		if o.isT {
			if t, ok := parseFilterDate(v.str, time.UTC); ok {
				return t.Compare(o.t)
			}
		}
		return strings.Compare(v.str, o.text)
	}
	return -2
}

func equalValue(v value, o operand) bool {
	if v.kind == kList {
		for _, e := range v.list {
			if equalValue(anyValue(e), o) {
				return true
			}
		}
		return false
	}
	return compareValue(v, o) == 0
}

func valueText(v value) string {
	switch v.kind {
	case kStr:
		return v.str
	case kNum:
		return strconv.FormatFloat(v.num, 'f', -1, 64)
	case kDate:
		return formatDate(v.t)
	}
	return ""
}

func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// compileQuery turns a query node into a predicate.
func (s *Server) compileQuery(st *store, raw json.RawMessage, depth int) (func(*asset) bool, *apiError) {
	if depth > 64 {
		return nil, badRequest(10004, "Query is nested too deeply.")
	}
	m, ok := decodeObject(raw)
	if !ok {
		return nil, badRequest(10004, "Query must be an object.")
	}
	if l, isComplex := m["leftoperand"]; isComplex {
		r, ok := m["rightoperand"]
		if !ok {
			return nil, badRequest(10002, "Complex query requires rightOperand.")
		}
		op, _ := jsonString(m["logicaloperator"])
		left, err := s.compileQuery(st, l, depth+1)
		if err != nil {
			return nil, err
		}
		right, err := s.compileQuery(st, r, depth+1)
		if err != nil {
			return nil, err
		}
		switch strings.ToUpper(strings.TrimSpace(op)) {
		case "AND":
			return func(a *asset) bool { return left(a) && right(a) }, nil
		case "OR":
			return func(a *asset) bool { return left(a) || right(a) }, nil
		}
		return nil, badRequest(10003, "Invalid logicalOperator '%s'.", op)
	}
	prop, ok := jsonString(m["property"])
	if !ok || prop == "" {
		return nil, badRequest(10002, "Query requires a property.")
	}
	def, aerr := s.resolveProp(st, prop)
	if aerr != nil {
		return nil, aerr
	}
	opName, _ := jsonString(m["simpleoperator"])
	op := strings.ToLower(strings.TrimSpace(opName))
	switch op {
	case "isnull":
		return func(a *asset) bool { v := def.get(a); return v.kind == kNull }, nil
	case "isnotnull":
		return func(a *asset) bool { v := def.get(a); return v.kind != kNull }, nil
	case "in":
		rawVals := m["values"]
		if isNull(rawVals) {
			rawVals = m["value"]
		}
		var list []json.RawMessage
		if err := json.Unmarshal(rawVals, &list); err != nil {
			return nil, badRequest(10001, "Operator 'in' requires an array value.")
		}
		if max := s.opts.MaxInValues; max > 0 && strings.EqualFold(prop, "assetType.id") && len(list) > max {
			return nil, badRequest(30001, "DbUtility.GetPagedCollection passing through non-timeout DB error (30001)")
		}
		ops := make([]operand, 0, len(list))
		for _, r := range list {
			o, err := s.makeOperand(def, r)
			if err != nil {
				return nil, err
			}
			ops = append(ops, o)
		}
		if def.numFn != nil {
			return numberSet(def.numFn, ops), nil
		}
		return func(a *asset) bool {
			v := def.get(a)
			for _, o := range ops {
				if equalValue(v, o) {
					return true
				}
			}
			return false
		}, nil
	}
	rawVal, present := m["value"]
	if !present {
		rawVal, present = m["values"]
	}
	if !present {
		return nil, badRequest(10002, "Query on '%s' requires a value.", prop)
	}
	o, aerr := s.makeOperand(def, rawVal)
	if aerr != nil {
		return nil, aerr
	}
	rangeOp := func(ok func(c int) bool) func(*asset) bool {
		if def.dateFn != nil {
			return func(a *asset) bool { return ok(def.dateFn(a).Compare(o.t)) }
		}
		if def.numFn != nil {
			return func(a *asset) bool { return ok(cmp.Compare(float64(def.numFn(a)), o.num)) }
		}
		return func(a *asset) bool {
			c := compareValue(def.get(a), o)
			return c != -2 && ok(c)
		}
	}
	needle := strings.ToLower(strings.Trim(o.text, "%"))
	switch op {
	case "equal", "equals":
		return func(a *asset) bool { return equalValue(def.get(a), o) }, nil
	case "notequal", "notequals":
		return func(a *asset) bool { return !equalValue(def.get(a), o) }, nil
	case "lessthan":
		return rangeOp(func(c int) bool { return c < 0 }), nil
	case "lessthanorequal":
		return rangeOp(func(c int) bool { return c <= 0 }), nil
	case "greaterthan":
		return rangeOp(func(c int) bool { return c > 0 }), nil
	case "greaterthanorequal":
		return rangeOp(func(c int) bool { return c >= 0 }), nil
	case "like":
		return func(a *asset) bool { return strings.Contains(strings.ToLower(valueText(def.get(a))), needle) }, nil
	case "startswith":
		return func(a *asset) bool { return strings.HasPrefix(strings.ToLower(valueText(def.get(a))), needle) }, nil
	case "contains", "mustcontain":
		want := words(o.text)
		all := op == "mustcontain"
		return func(a *asset) bool {
			have := map[string]bool{}
			for _, w := range words(valueText(def.get(a))) {
				have[w] = true
			}
			for _, w := range want {
				if have[w] != all {
					return !all
				}
			}
			return all && len(want) > 0
		}, nil
	case "where":
		return func(a *asset) bool {
			v := def.get(a)
			if v.kind != kList {
				return false
			}
			for _, e := range v.list {
				if ev := anyValue(e); strings.EqualFold(valueText(ev), o.text) {
					return true
				}
			}
			return false
		}, nil
	}
	return nil, badRequest(10003, "Invalid simpleOperator '%s'.", opName)
}

// sortKey is one parsed sort entry.
type sortKey struct {
	def  *propDef
	desc bool
	prop string // lower-cased
}

func (s *Server) parseSortKey(st *store, prop, dir string) (sortKey, *apiError) {
	def, err := s.resolveProp(st, prop)
	if err != nil {
		return sortKey{}, err
	}
	k := sortKey{def: def, prop: strings.ToLower(strings.TrimSpace(prop))}
	switch strings.ToUpper(strings.TrimSpace(dir)) {
	case "", "ASC":
	case "DESC":
		k.desc = true
	default:
		return sortKey{}, badRequest(10003, "Invalid sort direction '%s'.", dir)
	}
	return k, nil
}

func compareForSort(x, y value) int {
	if x.kind == kNull || y.kind == kNull {
		switch {
		case x.kind == y.kind:
			return 0
		case x.kind == kNull:
			return -1
		}
		return 1
	}
	switch x.kind {
	case kNum, kBool:
		return cmp.Compare(x.num, y.num)
	case kDate:
		return x.t.Compare(y.t)
	case kStr:
		if c := strings.Compare(x.low, y.low); c != 0 {
			return c
		}
		return strings.Compare(x.str, y.str)
	}
	return strings.Compare(valueText(x), valueText(y))
}

// pageRequest is the resolved paging of a list request.
type pageRequest struct {
	page, size int
	// echo, when > 0, is the pageSize the answer reports instead of size
	// (PageSizeMode "clamp-quiet").
	echo int
}

// echoSize is the pageSize an answer reports.
func (pr pageRequest) echoSize() int {
	if pr.echo > 0 {
		return pr.echo
	}
	return pr.size
}

// resolvePage applies defaults, the maximum page size and the result window.
func (s *Server) resolvePage(page, size int) (pageRequest, *apiError) {
	if page < 1 {
		page = 1
	}
	if size < 1 {
		size = 50
	}
	echo := 0
	if max := s.opts.MaxPageSize; max > 0 && size > max {
		if s.opts.PageSizeMode == "reject" {
			return pageRequest{}, badRequest(10005, "pageSize must not exceed %d.", max)
		}
		if s.opts.PageSizeMode == "clamp-quiet" {
			echo = size
		}
		size = max
	}
	if w := s.opts.ResultWindow; w > 0 {
		end := int64(page-1)*int64(size) + int64(size)
		if end > int64(w) {
			return pageRequest{}, &apiError{status: s.opts.ResultWindowStatus, code: 30000, msg: fmt.Sprintf(
				"Elasticsearch exception [type=search_phase_execution_exception, reason=all shards failed]: Result window is too large, from + size must be less than or equal to: [%d] but was [%d].", w, end)}
		}
	}
	return pageRequest{page: page, size: size, echo: echo}, nil
}

// runQuery filters st's assets by plan and sorts them; it returns the total
// count and the requested page. The caller holds the read lock with a fresh
// index.
func (s *Server) runQuery(st *store, plan *queryPlan, keys []sortKey, pr pageRequest, reqN int) (int, []*asset) {
	offset := (pr.page - 1) * pr.size
	if s.opts.IndexLag > 0 {
		now, p := s.now(), *plan
		p.rest = append(slices.Clone(p.rest), func(a *asset) bool { return !now.Before(a.indexed) })
		plan = &p
	}
	var base []*asset
	var rows []idxRow
	reverse, byMod := false, false
	fast := false
	switch {
	case len(keys) == 0:
		base, rows, fast = st.byID, st.idRows, true
	case len(keys) == 1 && keys[0].prop == "id":
		base, rows, fast, reverse = st.byID, st.idRows, true, keys[0].desc
	case keys[0].prop == "modifieddate" && (len(keys) == 1 || len(keys) == 2 && keys[1].prop == "id" && keys[1].desc == keys[0].desc):
		if len(keys) == 2 || !s.opts.UnstableTies {
			base, rows, fast, reverse, byMod = st.byMod, st.modRows, true, keys[0].desc, true
		}
	}
	if fast {
		from, to := 0, len(rows)
		if !byMod || st.nanoSafe { // else mod is no key to search by (and the plan has no bounds on it)
			from, to = plan.span(rows, byMod)
		}
		count := 0
		var items []*asset
		for j := from; j < to; j++ {
			i := j
			if reverse {
				i = from + to - 1 - j
			}
			if !plan.match(&rows[i], base[i]) {
				continue
			}
			if count >= offset && count < offset+pr.size {
				items = append(items, base[i])
			}
			count++
		}
		return count, items
	}
	type row struct {
		a    *asset
		vals []value
	}
	var sorted []row
	from, to := plan.span(st.idRows, false)
	for i := from; i < to; i++ {
		a := st.byID[i]
		if !plan.match(&st.idRows[i], a) {
			continue
		}
		vs := make([]value, len(keys))
		for i, k := range keys {
			vs[i] = k.def.get(a)
			if vs[i].kind == kStr {
				vs[i].low = strings.ToLower(vs[i].str)
			}
		}
		sorted = append(sorted, row{a, vs})
	}
	slices.SortStableFunc(sorted, func(x, y row) int {
		for i, k := range keys {
			c := compareForSort(x.vals[i], y.vals[i])
			if k.desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		if s.opts.UnstableTies {
			return cmp.Compare(tieHash(x.a.id, reqN), tieHash(y.a.id, reqN))
		}
		return cmpInt64(x.a.id, y.a.id)
	})
	var items []*asset
	for i := offset; i < len(sorted) && i < offset+pr.size; i++ {
		items = append(items, sorted[i].a)
	}
	return len(sorted), items
}

// tieHash orders equal sort keys differently per request (UnstableTies).
func tieHash(id int64, n int) uint64 {
	x := uint64(id)*0x9e3779b97f4a7c15 ^ uint64(n)*0xbf58476d1ce4e5b9
	x ^= x >> 31
	x *= 0x94d049bb133111eb
	return x ^ x>>29
}

// parseFilterExpr reads a simple-GET $filter ("prop op value").
func (s *Server) parseFilterExpr(st *store, expr string) (func(*asset) bool, *apiError) {
	expr = strings.TrimSpace(expr)
	prop, rest, ok1 := strings.Cut(expr, " ")
	rest = strings.TrimLeft(rest, " ")
	opTok, val, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 {
		return nil, badRequest(10003, "Invalid $filter '%s'.", expr)
	}
	val = strings.TrimSpace(val)
	if len(val) >= 2 && val[0] == '\'' && val[len(val)-1] == '\'' {
		val = strings.ReplaceAll(val[1:len(val)-1], "''", "'")
	}
	ops := map[string]string{"eq": "equal", "neq": "notEqual", "ne": "notEqual", "lt": "lessThan", "lte": "lessThanOrEqual",
		"gt": "greaterThan", "gte": "greaterThanOrEqual", "like": "like"}
	op, ok := ops[strings.ToLower(opTok)]
	if !ok {
		return nil, badRequest(10003, "Invalid $filter operator '%s'.", opTok)
	}
	q := []byte(`{"property":`)
	q = appendString(q, prop)
	q = append(q, `,"simpleOperator":"`+op+`","value":`...)
	q = appendString(q, val)
	q = append(q, '}')
	return s.compileQuery(st, q, 0)
}

// parseOrderBy reads "prop [asc|desc], ..." (default id asc).
func (s *Server) parseOrderBy(st *store, spec string) ([]sortKey, *apiError) {
	if strings.TrimSpace(spec) == "" {
		return nil, nil
	}
	var keys []sortKey
	for part := range strings.SplitSeq(spec, ",") {
		f := strings.Fields(part)
		if len(f) == 0 {
			continue
		}
		dir := ""
		if len(f) > 1 {
			dir = f[1]
		}
		k, err := s.parseSortKey(st, f[0], dir)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// projection builds the field set for a fields list (nil = everything).
func projection(fields []string) map[string]bool {
	if len(fields) == 0 {
		return nil
	}
	p := map[string]bool{"id": true, "customerkey": true, "assettype": true, "name": true, "modelversion": true}
	for _, f := range fields {
		head, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(f)), ".")
		if head != "" {
			p[head] = true
		}
	}
	return p
}

// listEnvelope renders {count, page, pageSize, links, items}.
func listEnvelope(count int, pr pageRequest, items [][]byte, omitEmpty bool) []byte {
	size := 80
	for _, it := range items {
		size += len(it) + 1
	}
	b := make([]byte, 0, size)
	b = append(b, `{"count":`...)
	b = strconv.AppendInt(b, int64(count), 10)
	b = append(b, `,"page":`...)
	b = strconv.AppendInt(b, int64(pr.page), 10)
	b = append(b, `,"pageSize":`...)
	b = strconv.AppendInt(b, int64(pr.echoSize()), 10)
	b = append(b, `,"links":{}`...)
	if len(items) == 0 && omitEmpty {
		return append(b, '}')
	}
	b = append(b, `,"items":[`...)
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, it...)
	}
	return append(b, "]}"...)
}

// clampInt converts a JSON number to int for paging values.
func clampInt(raw json.RawMessage) (int, bool) {
	v, ok := jsonInt(raw)
	if !ok {
		return 0, false
	}
	if v > math.MaxInt32 {
		v = math.MaxInt32
	}
	return int(v), true
}

// numberSet compiles "in" over an integer property: a bitmap for small
// non-negative integers (type and folder ids), a map otherwise.
func numberSet(get func(*asset) int64, ops []operand) func(*asset) bool {
	const bitmapMax = 1 << 16
	small := true
	for _, o := range ops {
		if o.num != math.Trunc(o.num) || o.num < 0 || o.num >= bitmapMax {
			small = false
		}
	}
	if small {
		var top int64
		for _, o := range ops {
			top = max(top, int64(o.num))
		}
		bits := make([]bool, top+1)
		for _, o := range ops {
			bits[int64(o.num)] = true
		}
		return func(a *asset) bool {
			v := get(a)
			return v >= 0 && v <= top && bits[v]
		}
	}
	set := make(map[float64]bool, len(ops))
	for _, o := range ops {
		set[o.num] = true
	}
	return func(a *asset) bool { return set[float64(get(a))] }
}
