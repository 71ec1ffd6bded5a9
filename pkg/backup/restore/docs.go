package restore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/backup-creator/backup-creator/pkg/sfmc"
)

// The document helpers live in pkg/sfmc (history's diff compares documents
// the same way); these names keep restore's code unchanged.

func docField(doc map[string]json.RawMessage, name string) (json.RawMessage, bool) {
	return sfmc.DocField(doc, name)
}

func docString(doc map[string]json.RawMessage, name string) string { return sfmc.DocString(doc, name) }

func isEmptyJSON(raw json.RawMessage) bool { return sfmc.IsEmptyJSON(raw) }

func jsonEqual(a, b json.RawMessage) bool { return sfmc.JSONEqual(a, b) }

func decodeDoc(raw []byte) (map[string]json.RawMessage, error) { return sfmc.DecodeDoc(raw) }

// comparedFields are the writable content fields compared (and PATCHed) besides
// name, customerKey and category.
var comparedFields = []string{"content", "meta", "design", "superContent", "slots", "views", "data", "blocks", "description"}

var collisionSuffix = regexp.MustCompile(`^ \([0-9]+\)$`)

// diffDocs compares the backed-up document with the current one and returns
// the PATCH body (without id) of what differs, the names of those fields, and
// notes. A current name that is the backed-up one plus a Content Builder
// collision suffix (" (1)") counts as equal, so that a block re-created next
// to a namesake is not renamed back and forth.
func diffDocs(backup, current map[string]json.RawMessage, folderID int64) (map[string]json.RawMessage, []string, []string) {
	body := map[string]json.RawMessage{}
	var changes, notes []string
	bName, cName := docString(backup, "name"), docString(current, "name")
	if bName != cName {
		if rest, ok := strings.CutPrefix(cName, bName); ok && bName != "" && collisionSuffix.MatchString(rest) {
			notes = append(notes, fmt.Sprintf("named %q in SFMC (a name collision suffix): left as is", cName))
		} else {
			body["name"], _ = json.Marshal(bName)
			changes = append(changes, "name")
		}
	}
	if bKey := docString(backup, "customerKey"); bKey != "" && bKey != docString(current, "customerKey") {
		body["customerKey"], _ = json.Marshal(bKey)
		changes = append(changes, "customerKey")
	}
	if folderID != 0 {
		var c struct {
			Category struct {
				ID int64 `json:"id"`
			} `json:"category"`
		}
		if raw, ok := docField(current, "category"); ok {
			_ = json.Unmarshal([]byte(`{"category":`+string(raw)+`}`), &c)
		}
		if c.Category.ID != folderID {
			body["category"] = json.RawMessage(`{"id":` + strconv.FormatInt(folderID, 10) + `}`)
			changes = append(changes, "category")
		}
	}
	for _, f := range comparedFields {
		bv, bok := docField(backup, f)
		cv, _ := docField(current, f)
		if jsonEqual(bv, cv) {
			continue
		}
		if !bok || isEmptyJSON(bv) {
			bv = emptyLike(cv)
		}
		body[f] = bv
		changes = append(changes, f)
	}
	return body, changes, notes
}

// docInt is an integer property of doc (0 when absent or not a number).
func docInt(doc map[string]json.RawMessage, name string) int64 {
	raw, _ := docField(doc, name)
	var n int64
	if json.Unmarshal(raw, &n) != nil {
		return 0
	}
	return n
}

// rawInt is docInt of a raw JSON object.
func rawInt(raw json.RawMessage, name string) int64 {
	var doc map[string]json.RawMessage
	if json.Unmarshal(raw, &doc) != nil {
		return 0
	}
	return docInt(doc, name)
}

// emptyLike is the empty value of cur's JSON kind, to clear a field the
// backup did not have.
func emptyLike(cur json.RawMessage) json.RawMessage {
	switch t := bytes.TrimSpace(cur); {
	case len(t) > 0 && t[0] == '{':
		return json.RawMessage(`{}`)
	case len(t) > 0 && t[0] == '[':
		return json.RawMessage(`[]`)
	default:
		return json.RawMessage(`""`)
	}
}
