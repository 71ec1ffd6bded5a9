package sfmctest

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	inputs := []string{
		"", "plain", `quote " and \ backslash`, "<p>a & b</p>", "tab\tnl\nCR\r", "\x00\x01\x1f\x7f",
		"ünï 日本 😀", "line\u2028sep\u2029", "bad \xff utf8 \xe2\x82", strings.Repeat("x", 5000) + "\"",
	}
	for _, in := range inputs {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(in); err != nil {
			t.Fatal(err)
		}
		want := strings.TrimSuffix(buf.String(), "\n")
		if got := string(appendString(nil, in)); got != want {
			t.Errorf("appendString(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestDecodeContent(t *testing.T) {
	for _, raw := range []string{`"plain"`, `"esc \" \\ \n \u00fc"`, `""`, `{"not":"a string"}`} {
		var want string
		if err := json.Unmarshal([]byte(raw), &want); err != nil {
			want = raw
		}
		if got := decodeContent(json.RawMessage(raw)); got != want {
			t.Errorf("decodeContent(%s) = %q, want %q", raw, got, want)
		}
	}
}
