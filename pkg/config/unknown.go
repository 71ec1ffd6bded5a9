package config

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"
)

// Unknown is a setting backup-creator does not know: a key in the config
// file or a BACKUP_CREATOR_* environment variable that sets no key. It is
// ignored, which is dangerous for a misspelled secret or destination, so the
// CLI reports it (config validate: a problem; other commands: a warning).
type Unknown struct {
	// Name is the key as written in the file (viper lowercases it), or the
	// environment variable's name. Never a value.
	Name string
	// Env tells that Name is an environment variable.
	Env bool
	// Suggestion is the closest known key (for a variable: its variable),
	// or "" when nothing is close.
	Suggestion string
}

// String describes u, e.g. `unknown key "slack_webhok_url" (did you mean
// notify.slack_webhook_url?)`.
func (u Unknown) String() string {
	kind := "key"
	if u.Env {
		kind = "environment variable"
	}
	s := fmt.Sprintf("unknown %s %q, ignored", kind, u.Name)
	if u.Suggestion != "" {
		s += " (did you mean " + u.Suggestion + "?)"
	} else if !u.Env {
		s += " (backup-creator config show lists every key)"
	}
	return s
}

// nonKeyEnv are BACKUP_CREATOR_* variables the project uses that set no key.
var nonKeyEnv = map[string]bool{
	// pkg/storage/storagetest.RequireCloudEnv: CI makes skipped cloud suites fail.
	"BACKUP_CREATOR_REQUIRE_CLOUD_TESTS": true,
}

// UnknownSettings returns the file keys and environment variables that set no
// configuration key, each with the closest known one, sorted by name.
// fileKeys are the keys the config file sets (viper's dotted, lowercased
// AllKeys of the file, or of a viper whose other keys are all known);
// environ is os.Environ(). Every BACKUP_CREATOR_* variable is checked; an
// SFMC_* variable only when it is close to a known one (other SFMC tools
// share that prefix).
func UnknownSettings(fileKeys, environ []string) []Unknown {
	known := map[string]bool{}
	for _, k := range Keys() {
		known[k] = true
	}
	var out []Unknown
	for _, k := range fileKeys {
		k = strings.ToLower(k)
		if known[k] || isSection(k) {
			continue
		}
		out = append(out, Unknown{Name: k, Suggestion: closestKey(k)})
	}
	knownEnv := map[string]bool{}
	var sfmcEnv []string
	for _, k := range Keys() {
		for _, e := range EnvVars(k) {
			knownEnv[e] = true
			if strings.HasPrefix(e, "SFMC_") {
				sfmcEnv = append(sfmcEnv, e)
			}
		}
	}
	seen := map[string]bool{}
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if knownEnv[name] || nonKeyEnv[name] || seen[name] {
			continue
		}
		seen[name] = true
		switch {
		case strings.HasPrefix(name, EnvPrefix+"_"):
			out = append(out, Unknown{Name: name, Env: true, Suggestion: closestEnv(name)})
		case strings.HasPrefix(name, "SFMC_"):
			if s, d := closest(name, sfmcEnv); s != "" && d <= 2 {
				out = append(out, Unknown{Name: name, Env: true, Suggestion: s})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Env != out[j].Env {
			return !out[i].Env
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// isSection reports whether k is a prefix of known keys ("notify.smtp"): an
// empty section in the file, not an unknown key.
func isSection(k string) bool {
	for _, known := range Keys() {
		if strings.HasPrefix(known, k+".") {
			return true
		}
	}
	return false
}

// closestKey returns the known key closest to k, comparing the whole key and
// its last segment with every known key and each of its dotted tails (so a
// key written at the wrong level, "slack_webhook_url", still finds
// notify.slack_webhook_url); "" when none is close enough.
func closestKey(k string) string {
	leaf := k[strings.LastIndexByte(k, '.')+1:]
	best, d := closestTail([]string{k, leaf}, func(s string) string { return s })
	if d > maxDistance(leaf) {
		return ""
	}
	return best
}

// closestEnv returns the BACKUP_CREATOR_* variable of the known key closest
// to the one name would set, by the same rules as closestKey.
func closestEnv(name string) string {
	key := strings.ToLower(strings.TrimPrefix(name, EnvPrefix+"_"))
	best, d := closestTail([]string{key}, func(s string) string { return strings.ReplaceAll(s, ".", "_") })
	if d > maxDistance(key) {
		return ""
	}
	vars := EnvVars(best)
	return vars[len(vars)-1]
}

// closestTail returns the known key one of whose dotted tails (the whole
// key, and what follows each dot), mapped by form, is closest to one of
// names, and that distance.
func closestTail(names []string, form func(string) string) (string, int) {
	best, bestD := "", -1
	for _, known := range Keys() {
		tails := []string{known}
		for i, c := range known {
			if c == '.' {
				tails = append(tails, known[i+1:])
			}
		}
		for _, t := range tails {
			for _, n := range names {
				if d := levenshtein(n, form(t)); bestD < 0 || d < bestD {
					best, bestD = known, d
				}
			}
		}
	}
	return best, bestD
}

func closest(s string, cands []string) (string, int) {
	best, bestD := "", -1
	for _, c := range cands {
		if d := levenshtein(s, c); bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	return best, bestD
}

// maxDistance is the largest edit distance still taken for a typo of a name
// of this length: 1 up to 4 characters, else 2, and one more per 8
// characters beyond 8.
func maxDistance(s string) int {
	if len(s) <= 4 {
		return 1
	}
	return 2 + max(0, (len(s)-8)/8)
}

// levenshtein is the edit distance between a and b (bytes; keys are ASCII).
func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// NonKeyFields are the Config fields (dotted mapstructure names) that are
// decoded but are not configuration keys: the destination URL sets them.
var NonKeyFields = map[string]bool{
	"s3.bucket": true, "s3.prefix": true,
	"gcs.bucket": true, "gcs.prefix": true,
	"azblob.container": true, "azblob.prefix": true,
}

// structKeys returns the dotted mapstructure names of every leaf field of
// Config (a struct field is descended into, except time.Duration and
// Secret). Tests check them against Defaults, so a field added without a
// default, which viper would not read from the environment and which this
// file would report as unknown, fails.
func structKeys() []string {
	var out []string
	for k := range fieldTypes() {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// fieldTypes maps the dotted mapstructure name of every leaf field of
// Config to its type (see structKeys).
func fieldTypes() map[string]reflect.Type {
	out := map[string]reflect.Type{}
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
				walk(f.Type, prefix+name+".")
				continue
			}
			out[prefix+name] = f.Type
		}
	}
	walk(reflect.TypeOf(Config{}), "")
	return out
}
