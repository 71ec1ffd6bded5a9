package sfmc

import (
	"strings"
	"testing"
)

func TestParseTypes(t *testing.T) {
	ids, err := ParseTypes(nil)
	if err != nil || len(ids) != len(DefaultBlockTypes) {
		t.Fatalf("default: %v %v", ids, err)
	}
	ids, err = ParseTypes([]string{"htmlblock,197", " 220 ", "CodeSnippetBlock"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || ids[0] != 197 || ids[1] != 220 {
		t.Errorf("got %v, want [197 220]", ids)
	}
	ids, err = ParseTypes([]string{"default", "extra-blocks"})
	if err != nil || len(ids) != len(DefaultBlockTypes)+len(ExtraBlockTypes) {
		t.Errorf("default+extra: %v %v", ids, err)
	}
	for _, bad := range []string{"htmlblok", "-3", "0"} {
		if _, err := ParseTypes([]string{bad}); err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(bad, "-")) {
			t.Errorf("ParseTypes(%q) error = %v, want one naming it", bad, err)
		}
	}
}
