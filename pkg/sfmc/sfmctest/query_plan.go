package sfmctest

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
)

// queryPlan is a query split into what the flat index rows answer (bounds on
// id and modifiedDate, a set of asset types, all ANDed at the top level) and
// the rest, evaluated on the asset. Together they select exactly what the
// compiled predicate selects; the plan only lets the common listing queries
// (type in […] AND modifiedDate ≥ X [AND id ≥ A AND id < B]) run as a
// binary search plus a sequential scan of the rows.
type queryPlan struct {
	idLo, idHi   int64               // inclusive
	modLo, modHi int64               // inclusive, UnixNano
	types        []bool              // by type id; nil = any type
	typePreds    []func(*asset) bool // what types holds, for an id beyond it
	rest         []func(*asset) bool
}

// openPlan is a plan that selects what pred selects (nil pred: everything).
func openPlan(pred func(*asset) bool) *queryPlan {
	p := &queryPlan{idLo: math.MinInt64, idHi: math.MaxInt64, modLo: math.MinInt64, modHi: math.MaxInt64}
	if pred != nil {
		p.rest = append(p.rest, pred)
	}
	return p
}

// planQuery compiles a query into a plan. It fails exactly where
// compileQuery fails, with the same error.
func (s *Server) planQuery(st *store, raw json.RawMessage) (*queryPlan, *apiError) {
	if _, err := s.compileQuery(st, raw, 0); err != nil {
		return nil, err
	}
	p := openPlan(nil)
	if err := s.planNode(st, p, raw); err != nil {
		return nil, err
	}
	return p, nil
}

func (s *Server) planNode(st *store, p *queryPlan, raw json.RawMessage) *apiError {
	m, ok := decodeObject(raw)
	if !ok {
		return badRequest(10004, "Query must be an object.")
	}
	if l, isComplex := m["leftoperand"]; isComplex {
		op, _ := jsonString(m["logicaloperator"])
		if strings.EqualFold(strings.TrimSpace(op), "AND") {
			if err := s.planNode(st, p, l); err != nil {
				return err
			}
			return s.planNode(st, p, m["rightoperand"])
		}
	} else if s.planLeaf(st, p, raw, m) {
		return nil
	}
	pred, err := s.compileQuery(st, raw, 0)
	if err != nil {
		return err
	}
	p.rest = append(p.rest, pred)
	return nil
}

// planLeaf turns a condition on assetType.id, or a range on id or
// modifiedDate, into bounds of p; it reports whether it did.
func (s *Server) planLeaf(st *store, p *queryPlan, raw json.RawMessage, m map[string]json.RawMessage) bool {
	prop, _ := jsonString(m["property"])
	opName, _ := jsonString(m["simpleoperator"])
	op := strings.ToLower(strings.TrimSpace(opName))
	switch strings.ToLower(strings.TrimSpace(prop)) {
	case "assettype.id":
		// Any operator: evaluate the condition once per known type.
		pred, err := s.compileQuery(st, raw, 0)
		if err != nil {
			return false
		}
		top := 0
		for id := range s.types {
			top = max(top, id)
		}
		bits := make([]bool, top+1)
		probe := &asset{} // conditions on assetType.id read nothing else
		for id := range s.types {
			probe.typeID = id
			bits[id] = pred(probe) && (p.types == nil || p.types[id])
		}
		p.types = bits
		p.typePreds = append(p.typePreds, pred)
		return true
	case "id":
		o, ok := s.planOperand(st, prop, m)
		if !ok || math.Abs(o.num) > 1<<53 {
			return false
		}
		x := o.num // for an integer id: id ≥ x ⇔ id ≥ ⌈x⌉, id > x ⇔ id ≥ ⌊x⌋+1, …
		return narrow(op, &p.idLo, &p.idHi, int64(math.Ceil(x)), int64(math.Floor(x))+1, int64(math.Floor(x)), int64(math.Ceil(x))-1)
	case "modifieddate":
		if !st.nanoSafe {
			return false
		}
		o, ok := s.planOperand(st, prop, m)
		if !ok || !o.isT || !nanoTimeSafe(o.t) {
			return false
		}
		v := o.t.UnixNano()
		return narrow(op, &p.modLo, &p.modHi, v, v+1, v, v-1)
	}
	return false
}

func (s *Server) planOperand(st *store, prop string, m map[string]json.RawMessage) (operand, bool) {
	def, aerr := s.resolveProp(st, prop)
	if aerr != nil {
		return operand{}, false
	}
	raw, present := m["value"]
	if !present {
		raw, present = m["values"]
	}
	if !present {
		return operand{}, false
	}
	o, aerr := s.makeOperand(def, raw)
	return o, aerr == nil
}

// narrow applies a range operator to the inclusive bounds [*lo, *hi] of an
// integer key, given the bound each operator implies (≥, >, ≤, <).
func narrow(op string, lo, hi *int64, ge, gt, le, lt int64) bool {
	switch op {
	case "greaterthanorequal":
		*lo = max(*lo, ge)
	case "greaterthan":
		*lo = max(*lo, gt)
	case "lessthanorequal":
		*hi = min(*hi, le)
	case "lessthan":
		*hi = min(*hi, lt)
	default:
		return false
	}
	return true
}

// match reports whether asset a, whose row is r, passes the plan.
func (p *queryPlan) match(r *idxRow, a *asset) bool {
	if r.id < p.idLo || r.id > p.idHi || r.mod < p.modLo || r.mod > p.modHi {
		return false
	}
	if p.types != nil {
		if r.typ >= 0 && int(r.typ) < len(p.types) {
			if !p.types[r.typ] {
				return false
			}
		} else {
			for _, f := range p.typePreds {
				if !f(a) {
					return false
				}
			}
		}
	}
	for _, f := range p.rest {
		if !f(a) {
			return false
		}
	}
	return true
}

// span is the part of rows (sorted by id, or by modifiedDate when byMod)
// that the plan's bounds on that key allow.
func (p *queryPlan) span(rows []idxRow, byMod bool) (int, int) {
	key := func(r idxRow) int64 { return r.id }
	lo, hi := p.idLo, p.idHi
	if byMod {
		key, lo, hi = func(r idxRow) int64 { return r.mod }, p.modLo, p.modHi
	}
	from, _ := slices.BinarySearchFunc(rows, lo, func(r idxRow, v int64) int { return cmpInt64(key(r), v) })
	to := len(rows)
	if hi < math.MaxInt64 {
		to, _ = slices.BinarySearchFunc(rows, hi+1, func(r idxRow, v int64) int { return cmpInt64(key(r), v) })
	}
	return from, max(from, to)
}
