package repo

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Object names in the destination. They are part of the backup format that
// list, restore and other tools read: change them only with a format version bump.
const (
	// StateKey is the watermark state file at the destination's root.
	StateKey = "backup-creator.state.json"
	// LockKey is the lock object at the destination's root.
	LockKey = "backup-creator.lock"
	// ManifestName is the file, inside a backup folder, whose presence marks the
	// backup complete. It is written last.
	ManifestName = "manifest.json"
	// BlocksDir is the folder, inside a backup folder, that holds the blocks.
	BlocksDir = "blocks"
	// FolderPrefix starts every backup folder's name.
	FolderPrefix = "backup_"

	maxNameBytes = 80
)

// FolderName returns the name of a backup folder for a run that started at t:
// backup_YYYYMMDD, or with seq > 0 (a second run the same UTC day)
// backup_YYYYMMDD_HHMMSS, and with seq > 1 a further numeric suffix.
func FolderName(t time.Time, seq int) string {
	t = t.UTC()
	switch {
	case seq <= 0:
		return FolderPrefix + t.Format("20060102")
	case seq == 1:
		return FolderPrefix + t.Format("20060102_150405")
	default:
		return FolderPrefix + t.Format("20060102_150405") + "_" + strconv.Itoa(seq)
	}
}

// IsFolderName reports whether name looks like a backup folder's name.
func IsFolderName(name string) bool {
	rest, ok := strings.CutPrefix(name, FolderPrefix)
	if !ok || len(rest) < 8 {
		return false
	}
	for _, r := range rest {
		if (r < '0' || r > '9') && r != '_' {
			return false
		}
	}
	return true
}

// FolderTime returns the UTC start time encoded in a backup folder's name
// (the day for backup_YYYYMMDD, the second for backup_YYYYMMDD_HHMMSS[_N]),
// or an error for a name that does not parse.
func FolderTime(name string) (time.Time, error) {
	rest, ok := strings.CutPrefix(name, FolderPrefix)
	if !ok {
		return time.Time{}, fmt.Errorf("%q is not a backup folder name (backup_YYYYMMDD[_HHMMSS])", name)
	}
	layout := "20060102"
	if len(rest) > 8 {
		layout = "20060102_150405"
		if len(rest) > len(layout) {
			seq, ok := strings.CutPrefix(rest[len(layout):], "_")
			if n, err := strconv.Atoi(seq); !ok || err != nil || n < 2 {
				return time.Time{}, fmt.Errorf("%q is not a backup folder name (backup_YYYYMMDD[_HHMMSS[_N]])", name)
			}
			rest = rest[:len(layout)]
		}
	}
	t, err := time.Parse(layout, rest)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a backup folder name (backup_YYYYMMDD[_HHMMSS]): %w", name, err)
	}
	return t, nil
}

// SanitizeName turns an SFMC asset name into a file-name fragment that is
// portable across Linux, macOS, Windows and object stores: letters and digits
// of any script are kept, '.', '-' and '_' are kept inside the name, anything
// else (path separators, Windows-reserved characters, control characters,
// spaces, emoji) becomes '_', runs of '_' collapse, leading and trailing dots,
// dashes and underscores are dropped, and the result is at most 80 bytes of
// valid UTF-8. It never returns "", "." or "..": an empty result becomes "block".
func SanitizeName(name string) string {
	var b strings.Builder
	lastUnderscore := false
	for _, r := range name {
		keep := unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '-' || r == '_'
		if r == utf8.RuneError || unicode.Is(unicode.Mn, r) && b.Len() == 0 {
			keep = false
		}
		if !keep {
			r = '_'
		}
		if r == '_' {
			if lastUnderscore {
				continue
			}
			lastUnderscore = true
		} else {
			lastUnderscore = false
		}
		if b.Len()+utf8.RuneLen(r) > maxNameBytes {
			break
		}
		b.WriteRune(r)
	}
	s := strings.Trim(b.String(), "._-")
	// Collapse dot runs so that no ".." can survive as a segment-like token.
	for strings.Contains(s, "..") {
		s = strings.ReplaceAll(s, "..", ".")
	}
	if s == "" {
		return "block"
	}
	return s
}

// BlockBaseName is the file name (without extension) of a block in a backup:
// the id, which makes it unique, and the sanitised name, which makes it
// readable. A further version of the same block in the same backup (a block
// changed while the run was under way) passes its modifiedDate as later: the
// name then ends in _v and that instant in UTC (_v20240715T160211.600Z), so
// a version's name depends on the version, not on the order versions came
// in. The manifest, not the name, is what readers go by.
func BlockBaseName(id int64, name string, later time.Time) string {
	base := strconv.FormatInt(id, 10) + "_" + SanitizeName(name)
	if !later.IsZero() {
		layout := "20060102T150405.000Z" // SFMC's dates have milliseconds
		if later.Nanosecond()%int(time.Millisecond) != 0 {
			layout = "20060102T150405.000000000Z"
		}
		base += "_v" + later.UTC().Format(layout)
	}
	return base
}

// ContentExt picks the extension of a block's readable content file.
func ContentExt(typeName, content string) string {
	t := strings.TrimSpace(content)
	switch {
	case containsFold(t, `runat="server"`) || containsFold(t, "runat=server") || containsFold(t, "runat='server'"):
		return ".ssjs"
	case strings.HasPrefix(t, "%%[") && !strings.Contains(t, "<"):
		return ".amp"
	case typeName == "textblock":
		return ".txt"
	case typeName == "codesnippetblock" && !strings.Contains(t, "<"):
		return ".txt"
	default:
		return ".html"
	}
}

// containsFold reports whether s contains pat (lower-case ASCII) in any
// letter case, without copying s: a block's content can be megabytes.
// Folding ASCII only is exact for these patterns: no other character
// lower-cases to one of their letters.
func containsFold(s, pat string) bool {
	if pat == "" {
		return true
	}
	first := string([]byte{pat[0], pat[0] - 'a' + 'A'}) // both cases of its first letter
	for i := 0; i+len(pat) <= len(s); i++ {
		j := strings.IndexAny(s[i:], first)
		if j < 0 {
			return false
		}
		i += j
		if i+len(pat) > len(s) {
			return false
		}
		k := 0
		for k < len(pat) && lowerASCII(s[i+k]) == pat[k] {
			k++
		}
		if k == len(pat) {
			return true
		}
	}
	return false
}

func lowerASCII(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

// FileExt returns a safe extension (with dot) for a file asset's binary, from
// the asset's fileProperties.extension or its type name. SFMC sometimes sends
// "png (4) " for duplicates: only the first word counts. It is never ".json",
// the extension of the block's document.
func FileExt(extension, typeName string) string {
	ext := strings.ToLower(strings.TrimSpace(extension))
	if i := strings.IndexAny(ext, " ("); i >= 0 {
		ext = ext[:i]
	}
	if ext == "" {
		ext = strings.ToLower(typeName)
	}
	var b strings.Builder
	for _, r := range ext {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
		if b.Len() >= 10 {
			break
		}
	}
	switch b.String() {
	case "":
		return ".bin"
	case "json":
		// BASE.json is the block's own document: a JSON file asset's
		// body must not take (or, written in place, collide with) it.
		return ".file.json"
	}
	return "." + b.String()
}

// CategoryPath joins folder names into one path string. Names are separated by
// "/"; a "/" or "\" inside a name is escaped with a backslash, so the path can
// be split back unambiguously (SFMC folder names may contain "/").
func CategoryPath(segments []string) string {
	esc := make([]string, len(segments))
	for i, s := range segments {
		s = strings.ReplaceAll(s, `\`, `\\`)
		esc[i] = strings.ReplaceAll(s, "/", `\/`)
	}
	return strings.Join(esc, "/")
}

// SplitCategoryPath is the inverse of CategoryPath.
func SplitCategoryPath(p string) []string {
	if p == "" {
		return nil
	}
	var out []string
	var cur strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			i++
			cur.WriteByte(p[i])
		case c == '/':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, cur.String())
}
