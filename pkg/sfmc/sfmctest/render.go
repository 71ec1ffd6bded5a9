package sfmctest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"
)

// errorDocURL is the documentation link SFMC puts in gateway-level errors.
const errorDocURL = "https://developer.salesforce.com/docs/atlas.en-us.mc-apis.meta/mc-apis/error-handling.htm"

// authErrorURI is the error_uri of every auth endpoint error.
const authErrorURI = "https://developer.salesforce.com/docs"

// jsonContentType is the Content-Type of every JSON response, as observed.
const jsonContentType = "application/json;charset=UTF-8"

// serverOffset is the fixed offset of every SFMC timestamp (CST, no DST).
const serverOffset = -6 * 60 * 60

// Date layouts: 0–3 fraction digits, trailing zeros trimmed.
const (
	layoutWithOffset = "2006-01-02T15:04:05.999-07:00"
	layoutNoOffset   = "2006-01-02T15:04:05.999"
)

func cst() *time.Location { return time.FixedZone("-06:00", serverOffset) }

// formatDate renders an instant the way SFMC renders createdDate/modifiedDate.
func formatDate(t time.Time) string {
	return t.In(cst()).Format(layoutWithOffset)
}

// formatDateNoOffset renders CST wall-clock time without an offset
// (deletedAssets style).
func formatDateNoOffset(t time.Time) string {
	return t.In(cst()).Format(layoutNoOffset)
}

// truncMillis drops everything below a millisecond.
func truncMillis(t time.Time) time.Time { return t.Truncate(time.Millisecond) }

// roundTick rounds t to SQL Server DATETIME precision (1/300 s), rendered as
// milliseconds ending in 0, 3 or 7.
func roundTick(t time.Time) time.Time {
	sec := t.Truncate(time.Second)
	ns := t.Sub(sec)
	ticks := (int64(ns)*300 + 500_000_000) / 1_000_000_000 // round half up
	ms := (ticks*10 + 1) / 3
	return sec.Add(time.Duration(ms) * time.Millisecond)
}

// appendString appends s as a JSON string literal. Unlike encoding/json it
// does not escape <, > and &, matching what SFMC sends.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	run := 0 // start of the pending run of bytes copied verbatim
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if (r != utf8.RuneError || size != 1) && r != '\u2028' && r != '\u2029' {
				i += size
				continue
			}
			b = append(b, s[run:i]...)
			if r == utf8.RuneError {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			}
			i += size
			run = i
			continue
		}
		b = append(b, s[run:i]...)
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
		run = i
	}
	b = append(b, s[run:]...)
	return append(b, '"')
}

// errorBody builds the generic SFMC error body {message, errorcode, documentation}.
func errorBody(message string, code int, doc string) []byte {
	b := make([]byte, 0, 96+len(message))
	b = append(b, `{"message":`...)
	b = appendString(b, message)
	b = append(b, `,"errorcode":`...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, `,"documentation":`...)
	b = appendString(b, doc)
	return append(b, '}')
}

// validationBody builds the 400/10006 body with one validationErrors entry per message.
func validationBody(messages []string) []byte {
	b := []byte(`{"message":"Request contained some validation errors.","errorcode":10006,"documentation":"","validationErrors":[`)
	for i, m := range messages {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"message":`...)
		b = appendString(b, m)
		b = append(b, `,"errorcode":10005,"documentation":""}`...)
	}
	return append(b, "]}"...)
}

// Fixed bodies recorded from live SFMC (see the API reference).
var (
	notAuthorizedBody = `{"documentation":"` + errorDocURL + `","errorcode":0,"message":"Not Authorized"}`
	routeNotFoundBody = `{"documentation":"` + errorDocURL + `","errorcode":404,"message":"Not Found"}`
	internalErrorBody = `{"message":"Internal Server Error","errorcode":0,"documentation":"https://code.docs.exacttarget.com/rest/errors/500"}`
	blockedBody       = `{"message":"Your requests are temporarily blocked.","errorcode":50200,"documentation":"` + errorDocURL + `"}`
	invalidClientBody = `{"error":"invalid_client","error_description":"Client authentication failed. Make sure that the client ID and client secret are valid and that the package is installed and enabled.","error_uri":"` + authErrorURI + `"}`
	badGrantBody      = `{"error":"unsupported_grant_type","error_description":"Use \"authorization_code\" or \"refresh_token\" or \"client_credentials\" or \"urn:ietf:params:oauth:grant-type:jwt-bearer\" as the grant_type.","error_uri":"` + authErrorURI + `"}`
	unauthorizedMID   = `{"error":"unauthorized_client","error_description":"The client is not authorized for the requested account_id.","error_uri":"` + authErrorURI + `"}`
	invalidTokenReq   = `{"error":"invalid_request","error_description":"The request body must be a JSON object.","error_uri":"` + authErrorURI + `"}`
	malformedBody     = string(errorBody("Invalid message format: the request body is not valid JSON.", 10004, ""))
)

// retryBody builds a 429/503 body carrying retryAfter.
func retryBody(message string, code, retryAfter int) []byte {
	b := []byte(`{"message":`)
	b = appendString(b, message)
	b = append(b, `,"errorcode":`...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, `,"retryAfter":`...)
	b = strconv.AppendInt(b, int64(retryAfter), 10)
	b = append(b, `,"documentation":"`+errorDocURL+`"}`...)
	return b
}

// writeBody writes a complete response with an explicit Content-Length.
func writeBody(w http.ResponseWriter, status int, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	writeBody(w, status, jsonContentType, body)
}

func writeError(w http.ResponseWriter, status int, message string, code int) {
	writeJSON(w, status, errorBody(message, code, ""))
}

// compactRaw returns raw without insignificant whitespace (key order and
// escapes are kept as sent).
func compactRaw(raw json.RawMessage) json.RawMessage {
	var buf bytes.Buffer
	buf.Grow(len(raw))
	if err := json.Compact(&buf, raw); err != nil {
		return append(json.RawMessage(nil), raw...)
	}
	return buf.Bytes()
}
