package restore

import (
	"encoding/json"

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
