package sfmc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// Helpers over asset JSON documents as SFMC returns them (and as backups
// store them), decoded one level deep: top-level property name to raw value.

// DecodeDoc decodes an asset document into its top-level properties.
func DecodeDoc(raw []byte) (map[string]json.RawMessage, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if doc == nil {
		return nil, errors.New("not a JSON object")
	}
	return doc, nil
}

// DocField finds a property case-insensitively (SFMC output is camelCase,
// but be lenient).
func DocField(doc map[string]json.RawMessage, name string) (json.RawMessage, bool) {
	if v, ok := doc[name]; ok {
		return v, true
	}
	for k, v := range doc {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

// DocString is the string property name of doc ("" when absent or not a string).
func DocString(doc map[string]json.RawMessage, name string) string {
	raw, _ := DocField(doc, name)
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

func decodeJSONValue(raw json.RawMessage) (any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return canonicalNumbers(v), nil
}

// jsonNumber is a number in canonical form; its own type keeps it apart
// from a string with the same text.
type jsonNumber string

// canonicalNumbers rewrites every number as its exact rational value, so that
// 2, 2.0 and 2e0 compare equal without the precision loss of float64.
func canonicalNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if r, ok := new(big.Rat).SetString(string(x)); ok {
			return jsonNumber(r.RatString())
		}
		return jsonNumber(x)
	case map[string]any:
		for k, e := range x {
			x[k] = canonicalNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = canonicalNumbers(e)
		}
	}
	return v
}

// IsEmptyJSON reports whether raw is absent, null, "", {} or [].
func IsEmptyJSON(raw json.RawMessage) bool {
	v, err := decodeJSONValue(raw)
	if err != nil {
		return false
	}
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

// JSONEqual compares two JSON values (object key order and number spelling
// do not matter; absent, null, "", {} and [] are all "empty" and equal).
func JSONEqual(a, b json.RawMessage) bool {
	if IsEmptyJSON(a) && IsEmptyJSON(b) {
		return true
	}
	va, errA := decodeJSONValue(a)
	vb, errB := decodeJSONValue(b)
	if errA != nil || errB != nil {
		return bytes.Equal(bytes.TrimSpace(a), bytes.TrimSpace(b))
	}
	return reflect.DeepEqual(va, vb)
}

// VolatileFields are the read-only properties SFMC maintains itself (ids,
// dates, users, ownership, thumbnails): they tell who and when, not what.
var VolatileFields = []string{"id", "objectID", "createdDate", "modifiedDate", "createdBy", "modifiedBy", "owner",
	"enterpriseId", "memberId", "thumbnail", "legacyData"}

// DocFieldOrder is the order in which DiffDocFields reports the fields a
// person edits most; any other property follows in name order.
var DocFieldOrder = []string{"content", "name", "category", "customerKey", "assetType", "meta", "design",
	"superContent", "slots", "views", "data", "blocks", "description"}

// DiffDocFields returns the top-level properties whose values differ
// between two documents of the same asset (compared as JSONEqual does,
// names case-insensitively), leaving out VolatileFields and skip. The most
// edited fields (DocFieldOrder) come first, the others follow by name.
func DiffDocFields(a, b map[string]json.RawMessage, skip ...string) []string {
	ignored := func(k string) bool {
		eq := func(f string) bool { return strings.EqualFold(f, k) }
		return slices.ContainsFunc(VolatileFields, eq) || slices.ContainsFunc(skip, eq)
	}
	seen := map[string]bool{}
	var names []string
	for _, doc := range []map[string]json.RawMessage{a, b} {
		for k := range doc {
			lk := strings.ToLower(k)
			if seen[lk] || ignored(k) {
				continue
			}
			seen[lk] = true
			names = append(names, k)
		}
	}
	rank := func(k string) int {
		if i := slices.IndexFunc(DocFieldOrder, func(f string) bool { return strings.EqualFold(f, k) }); i >= 0 {
			return i
		}
		return len(DocFieldOrder)
	}
	sort.Slice(names, func(i, j int) bool {
		ri, rj := rank(names[i]), rank(names[j])
		if ri != rj {
			return ri < rj
		}
		return names[i] < names[j]
	})
	var out []string
	for _, k := range names {
		va, _ := DocField(a, k)
		vb, _ := DocField(b, k)
		if !JSONEqual(va, vb) {
			out = append(out, k)
		}
	}
	return out
}
