package sfmc

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestJSONEqual(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{`{"a":1,"b":[1,2]}`, `{"b":[1,2],"a":1.0}`, true},
		{`2`, `2e0`, true},
		{`"2"`, `2`, false},
		{``, `null`, true},
		{`""`, `{}`, true},
		{`[]`, `null`, true},
		{`{"a":1}`, `{"a":2}`, false},
		{`12345678901234567890`, `12345678901234567891`, false},
	}
	for _, tc := range cases {
		if got := JSONEqual(json.RawMessage(tc.a), json.RawMessage(tc.b)); got != tc.want {
			t.Errorf("JSONEqual(%s, %s) = %v", tc.a, tc.b, got)
		}
	}
}

func TestDiffDocFields(t *testing.T) {
	a, err := DecodeDoc([]byte(`{"id":1,"name":"A","customerKey":"k","content":"<p>1</p>","meta":{"x":1},
		"modifiedDate":"2026-11-01T00:00:00-06:00","modifiedBy":{"name":"Jane"},"tags":["a"],"views":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := DecodeDoc([]byte(`{"id":1,"name":"B","customerKey":"k","content":"<p>2</p>","meta":{"x":1},
		"modifiedDate":"2026-11-02T00:00:00-06:00","modifiedBy":{"name":"Joe"},"tags":["b"],"slots":{"s":{"content":"x"}},"category":{"id":2}}`))
	if err != nil {
		t.Fatal(err)
	}
	got := DiffDocFields(a, b, "category")
	if want := []string{"content", "name", "slots", "tags"}; !slices.Equal(got, want) {
		t.Errorf("DiffDocFields = %v, want %v", got, want)
	}
	if got := DiffDocFields(a, a); len(got) != 0 {
		t.Errorf("a document differs from itself: %v", got)
	}
	if _, err := DecodeDoc([]byte(`null`)); err == nil {
		t.Error("null decoded as a document")
	}
}
