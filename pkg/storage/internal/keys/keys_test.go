package keys

import (
	"errors"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		key string
		ok  bool
	}{
		{"a", true},
		{"a/b/c.json", true},
		{".hidden", true},
		{"x..y", true},
		{"with space/é", true},
		{"", false},
		{"/a", false},
		{"a/", false},
		{"a//b", false},
		{".", false},
		{"..", false},
		{"a/./b", false},
		{"a/../b", false},
		{"../a", false},
		{"a\\b", false},
		{"a\x00b", false},
		{"a\nb", false},
		{"a\x7fb", false},
		{"\xff", false},
		{strings.Repeat("a", MaxLen), true},
		{strings.Repeat("a", MaxLen+1), false},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			err := Validate(tc.key)
			if (err == nil) != tc.ok {
				t.Fatalf("Validate(%q) = %v, want ok=%v", tc.key, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
}

func TestValidatePrefix(t *testing.T) {
	tests := []struct {
		prefix string
		ok     bool
	}{
		{"", true},
		{"a", true},
		{"a/", true},
		{"a/b", true},
		{"a/.", true}, // may be the start of "a/.hidden"
		{"a/..", true},
		{"/", false},
		{"/a", false},
		{"a//", false},
		{"../", false},
		{"a/../b", false},
		{"./", false},
		{"a\x00", false},
	}
	for _, tc := range tests {
		if err := ValidatePrefix(tc.prefix); (err == nil) != tc.ok {
			t.Errorf("ValidatePrefix(%q) = %v, want ok=%v", tc.prefix, err, tc.ok)
		}
	}
}

func TestCleanRootJoinTrim(t *testing.T) {
	tests := []struct {
		in, root string
		ok       bool
	}{
		{"", "", true},
		{"/", "", true},
		{"backups", "backups", true},
		{"/a//b/", "a/b", true},
		{"a/../b", "", false},
		{"./a", "", false},
		{"a\\b", "", false},
	}
	for _, tc := range tests {
		root, err := CleanRoot(tc.in)
		if (err == nil) != tc.ok || root != tc.root {
			t.Errorf("CleanRoot(%q) = %q, %v; want %q ok=%v", tc.in, root, err, tc.root, tc.ok)
		}
	}
	for _, root := range []string{"", "r", "r/s"} {
		full := Join(root, "k/v")
		if strings.Contains(full, "//") || strings.HasPrefix(full, "/") {
			t.Errorf("Join(%q, k/v) = %q", root, full)
		}
		if key, ok := Trim(root, full); !ok || key != "k/v" {
			t.Errorf("Trim(%q, %q) = %q, %v", root, full, key, ok)
		}
	}
	if _, ok := Trim("r", "rx/k"); ok {
		t.Error("Trim accepted a name outside the root")
	}
	if _, ok := Trim("r", "r/"); ok {
		t.Error("Trim accepted the root itself")
	}
}
