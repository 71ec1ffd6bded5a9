// Package keys validates object keys and list prefixes against the rules of
// the storage contract and places them below a backend's root prefix. Every
// backend uses it, so all of them accept and reject the same keys.
package keys

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxLen is the longest key accepted, in bytes. S3 and GCS allow 1024 bytes
// for the full object name (root prefix included), so keys are kept below it.
const MaxLen = 900

// ErrInvalid is wrapped by every error Validate and ValidatePrefix return.
var ErrInvalid = errors.New("invalid key")

// Validate reports whether key is a valid object key: a non-empty relative
// slash-separated path of valid UTF-8, with no empty, "." or ".." segment, no
// leading or trailing slash, no backslash and no NUL or other control byte.
// Backslashes are refused on every platform so that a key means the same
// file on Windows and elsewhere.
func Validate(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty", ErrInvalid)
	}
	if err := checkChars(key); err != nil {
		return err
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch seg {
		case "":
			return fmt.Errorf("%w %q: empty path segment or leading/trailing slash", ErrInvalid, key)
		case ".", "..":
			return fmt.Errorf("%w %q: %q segment", ErrInvalid, key, seg)
		}
	}
	return nil
}

// ValidatePrefix reports whether p is a valid List prefix: "" (everything),
// or the beginning of a valid key. A prefix may end in "/" ("a/") or in the
// middle of a segment ("ab"); it may not contain an empty, "." or ".."
// segment before its last slash.
func ValidatePrefix(p string) error {
	if p == "" {
		return nil
	}
	if err := checkChars(p); err != nil {
		return err
	}
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		last := i == len(segs)-1
		switch {
		case seg == "" && !last:
			return fmt.Errorf("%w prefix %q: empty path segment or leading slash", ErrInvalid, p)
		case (seg == "." || seg == "..") && !last:
			return fmt.Errorf("%w prefix %q: %q segment", ErrInvalid, p, seg)
		}
	}
	return nil
}

func checkChars(s string) error {
	if len(s) > MaxLen {
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalid, MaxLen)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w %q: not valid UTF-8", ErrInvalid, s)
	}
	for _, r := range s {
		switch {
		case r < 0x20 || r == 0x7f:
			return fmt.Errorf("%w %q: control character %U", ErrInvalid, s, r)
		case r == '\\':
			return fmt.Errorf("%w %q: backslash", ErrInvalid, s)
		}
	}
	return nil
}

// CleanRoot normalises a backend's root prefix (a bucket prefix or container
// folder): leading, trailing and repeated slashes are dropped, so "/a//b/"
// becomes "a/b". "." and ".." segments and invalid characters are refused.
func CleanRoot(prefix string) (string, error) {
	var segs []string
	for seg := range strings.SplitSeq(prefix, "/") {
		if seg == "" {
			continue
		}
		if seg == "." || seg == ".." {
			return "", fmt.Errorf("%w prefix %q: %q segment", ErrInvalid, prefix, seg)
		}
		segs = append(segs, seg)
	}
	root := strings.Join(segs, "/")
	if root == "" {
		return "", nil
	}
	if err := checkChars(root); err != nil {
		return "", err
	}
	return root, nil
}

// Join places key (or a list prefix) below root, a value returned by
// CleanRoot: "" + "k" is "k", "r" + "k" is "r/k". It never produces a double
// slash for valid input.
func Join(root, key string) string {
	if root == "" {
		return key
	}
	return root + "/" + key
}

// Trim is Join's inverse: it strips root and its slash from a full name. ok
// is false when name is not below root.
func Trim(root, name string) (key string, ok bool) {
	if root == "" {
		return name, name != ""
	}
	key, ok = strings.CutPrefix(name, root+"/")
	return key, ok && key != ""
}

// CheckCopy is the argument check every Copier shares: both keys valid,
// different from each other, and ctx not ended.
func CheckCopy(ctx context.Context, srcKey, dstKey string) error {
	for _, k := range []string{srcKey, dstKey} {
		if err := Validate(k); err != nil {
			return fmt.Errorf("copy: %w", err)
		}
	}
	if srcKey == dstKey {
		return fmt.Errorf("copy %s: source and destination are the same key", srcKey)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("copy %s to %s: %w", srcKey, dstKey, err)
	}
	return nil
}

// RetryCopy runs once up to attempts times while retry says its error means
// the source was replaced between reading its metadata and copying it (the
// copy is pinned to the version read, so it fails instead of mixing two).
func RetryCopy[T any](attempts int, once func() (T, error), retry func(error) bool) (T, error) {
	var v T
	var err error
	for range attempts {
		if v, err = once(); err == nil || !retry(err) {
			return v, err
		}
	}
	return v, err
}
