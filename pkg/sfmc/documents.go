package sfmc

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// Knowledge of SFMC's asset documents and validation errors that more than
// one command needs (restore, diff).

// readOnlyFields are stripped before a create (shared/sfmc-api.md §10.1).
var readOnlyFields = []string{"id", "objectID", "createdDate", "modifiedDate", "createdBy", "modifiedBy", "owner",
	"enterpriseId", "memberId", "thumbnail", "legacyData", "sharingProperties", "businessUnitAvailability"}

// readOnlyFileProperties are the server-maintained parts of fileProperties.
var readOnlyFileProperties = []string{"fileSize", "fileCreatedDate", "publishedURL", "width", "height"}

// CreateBody is an asset document (as GET returned it, decoded one level)
// without the fields SFMC maintains itself, filed in folderID when it is > 0:
// the body of a POST that re-creates the asset.
func CreateBody(doc map[string]json.RawMessage, folderID int64) map[string]json.RawMessage {
	body := make(map[string]json.RawMessage, len(doc))
	for k, v := range doc {
		if slices.ContainsFunc(readOnlyFields, func(f string) bool { return strings.EqualFold(f, k) }) {
			continue
		}
		body[k] = v
	}
	for k, v := range body {
		if !strings.EqualFold(k, "fileProperties") {
			continue
		}
		var fp map[string]json.RawMessage
		if json.Unmarshal(v, &fp) == nil && fp != nil {
			for f := range fp {
				if slices.ContainsFunc(readOnlyFileProperties, func(r string) bool { return strings.EqualFold(r, f) }) {
					delete(fp, f)
				}
			}
			body[k], _ = json.Marshal(fp)
		}
	}
	for k := range body {
		if strings.EqualFold(k, "category") {
			delete(body, k)
		}
	}
	if folderID > 0 {
		body["category"] = json.RawMessage(`{"id":` + strconv.FormatInt(folderID, 10) + `}`)
	}
	return body
}

// Validation error codes (shared/sfmc-api.md §3, §10.1).
const (
	// CodeValidation is the errorcode of a 400 whose details are in
	// ValidationErrors.
	CodeValidation = 10006
	// CodeValidationDetail is the errorcode of one such detail (a name taken,
	// a prohibited character, …).
	CodeValidationDetail = 10005
)

// validationMessages returns the lower-cased messages of a validation
// failure: a 400 with errorcode 10006, or one with a 10005 detail. Other
// errors (throttling, server errors, auth) give none, whatever their text.
func (e *APIError) validationMessages() []string {
	if e == nil || e.StatusCode != 400 {
		return nil
	}
	valid := e.Code == CodeValidation || e.Code == CodeValidationDetail
	var out []string
	for _, v := range e.ValidationErrors {
		if v.Code == CodeValidationDetail || v.Code == 0 || valid {
			out = append(out, strings.ToLower(v.Message))
			valid = true
		}
	}
	if !valid {
		return nil
	}
	return append(out, strings.ToLower(e.Message))
}

// NameTaken reports a create or update refused because another asset of the
// same type in the same folder has the name: "Asset names within a category
// and asset type must be unique. X is already taken. Suggested name: X (1)".
func (e *APIError) NameTaken() bool {
	return slices.ContainsFunc(e.validationMessages(), func(m string) bool {
		return strings.Contains(m, "suggested name") || strings.Contains(m, "name") && strings.Contains(m, "unique") && !strings.Contains(m, "customerkey")
	})
}

// KeyTaken reports a create or update refused because the customerKey is in
// use (unique across the whole enterprise). The exact wording is
// unconfirmed, so any validation detail about the customer key being unique,
// taken or existing counts.
func (e *APIError) KeyTaken() bool {
	return slices.ContainsFunc(e.validationMessages(), func(m string) bool {
		return strings.Contains(m, "customerkey") && (strings.Contains(m, "unique") || strings.Contains(m, "taken") || strings.Contains(m, "exist") || strings.Contains(m, "already"))
	})
}

// SuggestedName returns the free name Content Builder suggests with a
// NameTaken error ("Suggested name: X (1)").
func (e *APIError) SuggestedName() (string, bool) {
	if e.validationMessages() == nil {
		return "", false
	}
	msgs := []string{e.Message}
	for _, v := range e.ValidationErrors {
		msgs = append(msgs, v.Message)
	}
	for _, m := range msgs {
		i := strings.Index(strings.ToLower(m), "suggested name:")
		if i < 0 {
			continue
		}
		if s := strings.TrimSpace(m[i+len("suggested name:"):]); s != "" {
			return s, true
		}
	}
	return "", false
}
