package repo

import (
	"math/rand/v2"
	"path"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestSanitizeNameHostile(t *testing.T) {
	hostile := []string{
		"", ".", "..", "../../etc/passwd", `..\..\windows\system32`, "/abs/path", `C:\x`, "a/b\\c:d*e?f\"g<h>i|j",
		"CON", "nul", " lead and trail ", "tab\there\nnewline\x00nul", "emoji 🎉 party", "Überschrift äöü", "日本語の名前",
		strings.Repeat("x", 300), strings.Repeat("é", 200), "....", "-._", "%2e%2e%2f", "name.", "a..b",
	}
	seen := map[string]string{}
	for i, name := range hostile {
		got := SanitizeName(name)
		if got == "" || got == "." || got == ".." {
			t.Errorf("SanitizeName(%q) = %q: must be a real name", name, got)
		}
		if len(got) > maxNameBytes {
			t.Errorf("SanitizeName(%q) is %d bytes, max %d", name, len(got), maxNameBytes)
		}
		if !utf8.ValidString(got) {
			t.Errorf("SanitizeName(%q) = %q: invalid UTF-8", name, got)
		}
		if strings.ContainsAny(got, "/\\:*?\"<>|\x00\t\n ") || strings.Contains(got, "..") {
			t.Errorf("SanitizeName(%q) = %q: contains a character that is not portable", name, got)
		}
		if strings.HasPrefix(got, ".") || strings.HasSuffix(got, ".") {
			t.Errorf("SanitizeName(%q) = %q: leading or trailing dot", name, got)
		}
		// The full key stays inside the folder and is unique by id.
		key := path.Join("backup_20261123", BlocksDir, BlockBaseName(int64(i+1), name, time.Time{})+".json")
		if path.Clean(key) != key || !strings.HasPrefix(key, "backup_20261123/blocks/") || strings.Count(key, "/") != 2 {
			t.Errorf("key %q for name %q escapes or nests", key, name)
		}
		if prev, dup := seen[key]; dup {
			t.Errorf("key %q for %q collides with %q", key, name, prev)
		}
		seen[key] = name
	}
}

func TestSanitizeNameKeepsReadableNames(t *testing.T) {
	cases := map[string]string{
		"Footer legal DE":        "Footer_legal_DE",
		"Überschrift äöü":        "Überschrift_äöü",
		"hero-banner.png":        "hero-banner.png",
		"a / b":                  "a_b",
		"  spaced   out  ":       "spaced_out",
		"emoji 🎉 party":          "emoji_party",
		"Header (1)":             "Header_1",
		strings.Repeat("ab", 50): strings.Repeat("ab", 40),
	}
	for in, want := range cases {
		if got := SanitizeName(in); got != want {
			t.Errorf("SanitizeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBlockBaseNameVersions(t *testing.T) {
	md := time.Date(2024, 7, 15, 10, 2, 11, 600_000_000, time.FixedZone("", -6*3600))
	a, b, c := BlockBaseName(42, "x", time.Time{}), BlockBaseName(42, "x", md), BlockBaseName(42, "x", md.Add(time.Millisecond))
	if a == b || b == c {
		t.Fatalf("versions of a block in one run must get their own names: %q, %q, %q", a, b, c)
	}
	if a != "42_x" || b != "42_x_v20240715T160211.600Z" {
		t.Errorf("got %q, %q", a, b)
	}
	// Versions less than a millisecond apart still get their own names.
	if d := BlockBaseName(42, "x", md.Add(time.Microsecond)); d == b || d != "42_x_v20240715T160211.600001000Z" {
		t.Errorf("a version 1 µs later is named %q (the other %q)", d, b)
	}
}

func TestFileExtNeverTakesTheDocumentsName(t *testing.T) {
	for _, ext := range []string{"json", "JSON", " json ", "json (2)", "js.on", "png", "", "j s o n"} {
		if got := FileExt(ext, "document"); got == ".json" {
			t.Errorf("FileExt(%q) = .json, the name of the block's own document", ext)
		}
	}
	if got := FileExt("png (4) ", "png"); got != ".png" {
		t.Errorf("FileExt(png (4)) = %q", got)
	}
}

func TestFolderName(t *testing.T) {
	start := time.Date(2026, 11, 23, 23, 30, 5, 0, time.FixedZone("CST", -6*3600)) // 2026-11-24 05:30:05 UTC
	if got := FolderName(start, 0); got != "backup_20261124" {
		t.Errorf("FolderName = %q, want the UTC date", got)
	}
	if got := FolderName(start, 1); got != "backup_20261124_053005" {
		t.Errorf("FolderName seq 1 = %q", got)
	}
	if got := FolderName(start, 2); got != "backup_20261124_053005_2" {
		t.Errorf("FolderName seq 2 = %q", got)
	}
	for _, n := range []string{"backup_20261124", "backup_20261124_053005", "backup_20261124_053005_2"} {
		if !IsFolderName(n) {
			t.Errorf("IsFolderName(%q) = false", n)
		}
	}
	for _, n := range []string{"backup_", "backup_x", "backups", "backup-creator.lock", "backup_2026112"} {
		if IsFolderName(n) {
			t.Errorf("IsFolderName(%q) = true", n)
		}
	}
}

func TestContentExt(t *testing.T) {
	cases := []struct{ typ, content, want string }{
		{"htmlblock", "<p>x</p>", ".html"},
		{"htmlblock", `<script runat="server">Platform.Load("core","1")</script>`, ".ssjs"},
		{"codesnippetblock", "%%[ set @a = 1 ]%%", ".amp"},
		{"codesnippetblock", "plain text", ".txt"},
		{"codesnippetblock", "<div>%%=v(@a)=%%</div>", ".html"},
		{"textblock", "Hello", ".txt"},
		{"freeformblock", "", ".html"},
		{"htmlblock", `<SCRIPT RUNAT="Server">x</SCRIPT>`, ".ssjs"},
		{"htmlblock", "<script runAt=server>x</script>", ".ssjs"},
		{"htmlblock", "<script RunAt='SERVER'>x</script>", ".ssjs"},
		{"htmlblock", "<p>ru nat=server, runat=\"client\", runat</p>", ".html"},
		{"htmlblock", "rrrunat=\"server\"", ".ssjs"},
		{"htmlblock", "<p>Ｒunat=\"server\" (a full-width R)</p>", ".html"},
		{"codesnippetblock", "%%[ SET @a = 1 ]%% RUNAT=SERVER", ".ssjs"},
	}
	for _, c := range cases {
		if got := ContentExt(c.typ, c.content); got != c.want {
			t.Errorf("ContentExt(%q, %q) = %q, want %q", c.typ, c.content, got, c.want)
		}
	}
}

func TestFileExt(t *testing.T) {
	cases := map[[2]string]string{
		{"png", "png"}:      ".png",
		{"png (4) ", "png"}: ".png",
		{"", "jpeg"}:        ".jpeg",
		{"../../x", ""}:     ".x",
		{"", ""}:            ".bin",
	}
	for in, want := range cases {
		if got := FileExt(in[0], in[1]); got != want {
			t.Errorf("FileExt(%q, %q) = %q, want %q", in[0], in[1], got, want)
		}
	}
}

func TestCategoryPathRoundTrip(t *testing.T) {
	cases := [][]string{
		{"Content Builder"},
		{"Content Builder", "bla/blub", `back\slash`, "x"},
		{"Content Builder", "/", "//", `\`},
	}
	for _, segs := range cases {
		p := CategoryPath(segs)
		back := SplitCategoryPath(p)
		if strings.Join(back, "\x00") != strings.Join(segs, "\x00") {
			t.Errorf("round trip %q -> %q -> %q", segs, p, back)
		}
	}
	if got := CategoryPath([]string{"Content Builder", "bla/blub"}); got != `Content Builder/bla\/blub` {
		t.Errorf("CategoryPath = %q", got)
	}
}

// TestContainsFoldMatchesToLower: containsFold finds exactly what the
// lower-casing search it replaces found.
func TestContainsFoldMatchesToLower(t *testing.T) {
	alphabet := []string{"r", "R", "u", "U", "n", "N", "a", "A", "t", "T", "=", "\"", "'", "s", "S", "e", "E", "v", "V", " ", "Ｒ", "ſ", "K"}
	rng := rand.New(rand.NewPCG(1, 2))
	noise := func(b *strings.Builder) {
		for range rng.IntN(4) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
	}
	for range 20000 {
		pat := []string{`runat="server"`, "runat=server", "runat='server'", "ru", "r"}[rng.IntN(5)]
		var b strings.Builder
		noise(&b)
		// The pattern in random letter case, now and then with one
		// character replaced.
		for i, c := range pat {
			switch {
			case rng.IntN(4*len(pat)) == 0:
				b.WriteString(alphabet[rng.IntN(len(alphabet))])
			case rng.IntN(2) == 0:
				b.WriteString(strings.ToUpper(string(c)))
			default:
				b.WriteByte(pat[i])
			}
		}
		noise(&b)
		s := b.String()
		if got, want := containsFold(s, pat), strings.Contains(strings.ToLower(s), pat); got != want {
			t.Fatalf("containsFold(%q, %q) = %v, want %v", s, pat, got, want)
		}
	}
}
