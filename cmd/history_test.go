package cmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/backup/history"
	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/backup/repo/repotest"
	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
	"github.com/backup-creator/backup-creator/pkg/storage/local"
)

// writeHistoryFixture writes four backups with an edit, a rename, a move,
// an addition and two deletions (one block later coming back).
func writeHistoryFixture(t *testing.T, dest string) {
	t.Helper()
	st, err := local.New(t.Context(), local.Config{Root: dest})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	root := "Content Builder"
	v1 := repotest.Block{ID: 1295064, Key: "footer-legal-de", Name: "Footer legal", Path: root + `/Legal \/ DE`, Cat: 89501, Mod: repotest.Day(-1),
		Content: "<p>Impressum</p>\n<p>Musterstraße 1</p>\n<p>© 2025</p>\n", By: "Jane Doe"}
	v2 := v1
	v2.Name, v2.Mod, v2.Content = "Footer legal DE", repotest.Day(1).Add(-time.Hour), "<p>Impressum</p>\n<p>Musterstraße 1</p>\n<p>© 2026</p>\n"
	v3 := v2
	v3.Mod, v3.Content, v3.By = repotest.Day(3).Add(-time.Hour), "<p>Impressum (restored)</p>\n", "SFMC DEVOPS app user"
	snippet := repotest.Block{ID: 1295071, Key: "ampscript-greeting", Name: "Greeting", Type: 220, Path: root + "/Snippets", Cat: 89502, Mod: repotest.Day(-2),
		Content: "%%[ SET @n = FirstName ]%%", By: "Joe Bloggs"}
	moved := snippet
	moved.Path, moved.Cat, moved.Mod = root+"/Archive", 89503, repotest.Day(1).Add(-2*time.Hour)
	text := repotest.Block{ID: 1295080, Key: "txt-disclaimer", Name: "Disclaimer", Type: 196, Path: root, Cat: 89500, Mod: repotest.Day(-3), Content: "Terms apply.", By: "Joe Bloggs"}
	banner := repotest.Block{ID: 1295090, Key: "banner-xmas", Name: "Banner Xmas", Path: root, Cat: 89500, Mod: repotest.Day(1).Add(-3 * time.Hour), Content: "<img src=\"xmas.png\">", By: "Jane Doe"}
	repotest.PutBackup(t, st, "backup_20261101", repotest.Day(0), []repotest.Block{v1, snippet, text}, nil)
	repotest.PutBackup(t, st, "backup_20261102", repotest.Day(1), []repotest.Block{v2, moved, banner}, nil)
	repotest.PutBackup(t, st, "backup_20261103", repotest.Day(2), nil, []repo.DeletedBlock{
		{ID: v1.ID, CustomerKey: v1.Key, Name: v2.Name, LastBackup: "backup_20261102", DetectedAt: repotest.Day(2).Add(time.Minute)},
		{ID: text.ID, CustomerKey: text.Key, Name: text.Name, LastBackup: "backup_20261101", DetectedAt: repotest.Day(2).Add(time.Minute)},
	})
	repotest.PutBackup(t, st, "backup_20261104", repotest.Day(3), []repotest.Block{v3}, nil)
}

func TestHistoryDiffGolden(t *testing.T) {
	clearConfigEnv(t)
	t.Setenv("NO_COLOR", "")
	os.Unsetenv("NO_COLOR")
	t.Chdir(t.TempDir())
	dest := filepath.Join(t.TempDir(), "dest")
	writeHistoryFixture(t, dest)
	cases := []struct {
		golden string
		tty    bool
		args   []string
	}{
		{"history.golden", false, []string{"history", "--id", "1295064"}},
		{"history_keys.golden", false, []string{"history", "--key", "ampscript-greeting", "--name", "Disc*"}},
		{"history.json.golden", false, []string{"history", "--id", "1295064", "--json"}},
		{"diff.golden", false, []string{"diff", "backup_20261101", "backup_20261102"}},
		{"diff_tty.golden", true, []string{"diff", "backup_20261101", "backup_20261102"}},
		{"diff_deleted.golden", false, []string{"diff", "backup_20261102", "backup_20261103"}},
		{"diff_stat.golden", false, []string{"diff", "backup_20261101", "--stat"}},
		{"diff.json.golden", false, []string{"diff", "backup_20261101", "backup_20261102", "--json"}},
		{"diff_stat.json.golden", false, []string{"diff", "backup_20261101", "--stat", "--json"}},
	}
	for _, tc := range cases {
		t.Run(tc.golden, func(t *testing.T) {
			var out, errOut bytes.Buffer
			a := DefaultApp(&out, &errOut, BuildInfo{Version: "test"})
			a.OutIsTTY = tc.tty
			code := a.Execute(t.Context(), append(tc.args, "--dest", dest, "--log-format", "json"))
			if code != ExitOK {
				t.Fatalf("exit %d: %s", code, errOut.String())
			}
			got := strings.ReplaceAll(out.String(), dest, "DEST")
			assertGolden(t, tc.golden, got)
			if strings.HasSuffix(tc.golden, ".json.golden") && !json.Valid(out.Bytes()) {
				t.Error("output is not valid JSON")
			}
			if hasColour := strings.Contains(got, "\x1b["); hasColour != tc.tty {
				t.Errorf("colour codes: %v, terminal: %v", hasColour, tc.tty)
			}
		})
	}
	// NO_COLOR turns the colours off on a terminal too.
	t.Setenv("NO_COLOR", "1")
	var out, plain, errOut bytes.Buffer
	a := DefaultApp(&out, &errOut, BuildInfo{})
	a.OutIsTTY = true
	if code := a.Execute(t.Context(), []string{"diff", "backup_20261101", "backup_20261102", "--dest", dest}); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if code := DefaultApp(&plain, &errOut, BuildInfo{}).Execute(t.Context(), []string{"diff", "backup_20261101", "backup_20261102", "--dest", dest}); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if out.String() != plain.String() {
		t.Errorf("NO_COLOR on a terminal:\n%q\nwant the plain output", out.String())
	}
}

func TestShowCommand(t *testing.T) {
	clearConfigEnv(t)
	t.Chdir(t.TempDir())
	dest := filepath.Join(t.TempDir(), "dest")
	writeHistoryFixture(t, dest)
	run := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := DefaultApp(&out, &errOut, BuildInfo{}).Execute(t.Context(), append(args, "--dest", dest, "--log-format", "json"))
		return code, out.String(), errOut.String()
	}
	cases := []struct {
		args []string
		want string
		warn bool
	}{
		{[]string{"show", "backup_20261101", "--id", "1295064"}, "<p>Impressum</p>\n<p>Musterstraße 1</p>\n<p>© 2025</p>\n", false},
		{[]string{"show", "backup_20261102", "--key", "footer-legal-de"}, "<p>Impressum</p>\n<p>Musterstraße 1</p>\n<p>© 2026</p>\n", false},
		{[]string{"show", "backup_20261103", "--id", "1295064"}, "<p>Impressum</p>\n<p>Musterstraße 1</p>\n<p>© 2026</p>\n", true},
		{[]string{"show", "--id", "1295064"}, "<p>Impressum (restored)</p>\n", false},
		{[]string{"show", "latest", "--key", "ampscript-greeting"}, "%%[ SET @n = FirstName ]%%", false},
	}
	for _, tc := range cases {
		code, out, errOut := run(tc.args...)
		if code != ExitOK || out != tc.want {
			t.Errorf("%v: exit %d, %q (%s); want %q", tc.args, code, out, errOut, tc.want)
		}
		if warned := strings.Contains(errOut, "recorded as deleted"); warned != tc.warn {
			t.Errorf("%v: warning %v, want %v: %s", tc.args, warned, tc.warn, errOut)
		}
	}
	code, out, _ := run("show", "backup_20261101", "--id", "1295064", "--json")
	want, err := os.ReadFile(filepath.Join(dest, "backup_20261101", "blocks", "1295064_Footer_legal.json"))
	if err != nil || code != ExitOK || out != string(want) {
		t.Errorf("show --json: exit %d, %q; want the stored file %q (%v)", code, out, want, err)
	}
}

func TestHistoryDiffShowErrors(t *testing.T) {
	clearConfigEnv(t)
	t.Chdir(t.TempDir())
	dest := filepath.Join(t.TempDir(), "dest")
	writeHistoryFixture(t, dest)
	run := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := DefaultApp(&out, &errOut, BuildInfo{}).Execute(t.Context(), append(args, "--log-format", "json"))
		return code, errOut.String()
	}
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"history"}, ExitUsage, "--id N, --key K or --name GLOB"},
		{[]string{"history", "--name", "[", "--dest", dest}, ExitUsage, "syntax error in pattern"},
		{[]string{"history", "backup_20261101", "--id", "1", "--dest", dest}, ExitUsage, "unknown command"},
		{[]string{"history", "--id", "42", "--dest", dest}, ExitFailure, "no block matches --id 42"},
		{[]string{"diff", "a", "b", "c", "--dest", dest}, ExitUsage, "at most 2"},
		{[]string{"diff", "backup_20991231", "--dest", dest}, ExitFailure, "not found"},
		{[]string{"diff", "backup_20261101", "--stat", "--dest", filepath.Join(dest, "typo")}, ExitFailure, "does not exist"},
		{[]string{"show", "--dest", dest}, ExitUsage, "--id N or --key K"},
		{[]string{"show", "--id", "1", "--key", "k", "--dest", dest}, ExitUsage, "--id N or --key K"},
		{[]string{"show", "backup_20261101", "--id", "1295090", "--dest", dest}, ExitFailure, "no block matches --id 1295090 in the state as of backup_20261101"},
		{[]string{"show", "nightly", "--id", "1295090", "--dest", dest}, ExitFailure, "not a backup name"},
	}
	for _, tc := range cases {
		code, errOut := run(tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.msg) {
			t.Errorf("%v: exit %d, %s; want %d and %q", tc.args, code, errOut, tc.code, tc.msg)
		}
	}
	// A damaged manifest in the chain: exit 1 for all three.
	if err := os.WriteFile(filepath.Join(dest, "backup_20261102", repo.ManifestName), []byte(`{"formatVersion":1,"blocks":[{"id":`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"diff"}, {"history", "--id", "1295064"}, {"show", "--id", "1295064"}} {
		if code, errOut := run(append(args, "--dest", dest)...); code != ExitFailure || !strings.Contains(errOut, "damaged") {
			t.Errorf("%v over a damaged backup: exit %d, %s", args, code, errOut)
		}
	}
}

func TestDiffFlags(t *testing.T) {
	cases := []struct {
		args []string
		want DiffOptions
	}{
		{nil, DiffOptions{}},
		{[]string{"backup_20261101"}, DiffOptions{From: "backup_20261101"}},
		{[]string{"backup_20261101", "latest", "--id", "1,2", "--id", "3", "--key", "k", "--folder", "Content Builder/X", "--stat", "--json"},
			DiffOptions{From: "backup_20261101", To: "latest", IDs: []int64{1, 2, 3}, Keys: []string{"k"}, Folders: []string{"Content Builder/X"}, Stat: true, JSON: true}},
	}
	for _, tc := range cases {
		var got *DiffOptions
		c := newDiffCmd(&App{}, func(o *DiffOptions) error { got = o; return nil })
		c.SetArgs(tc.args)
		if err := c.Execute(); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got.From != tc.want.From || got.To != tc.want.To || !slices.Equal(got.IDs, tc.want.IDs) || !slices.Equal(got.Keys, tc.want.Keys) ||
			!slices.Equal(got.Folders, tc.want.Folders) || got.Stat != tc.want.Stat || got.JSON != tc.want.JSON {
			t.Errorf("%v: %+v, want %+v", tc.args, *got, tc.want)
		}
	}
}

// TestHistoryDiffShowEndToEnd backs up the emulator three times with edits, a
// rename, a move between folders and a deletion in between, then checks
// that history shows each event in order, diff between each pair shows
// exactly the edits made, and show returns each version's bytes.
func TestHistoryDiffShowEndToEnd(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 5, TieBlocks: -1})
	mid := h.emu.DefaultMID()
	root := h.emu.RootCategoryID(mid)
	archive, err := h.emu.CreateCategory(mid, "Archive", root)
	if err != nil {
		t.Fatal(err)
	}
	create := func(name, key, content string) int64 {
		t.Helper()
		id, err := h.emu.CreateAsset(mid, sfmctest.AssetSpec{Name: name, CustomerKey: key, Content: content})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	edit := func(id int64, f func(*sfmctest.AssetSpec)) {
		t.Helper()
		if err := h.emu.UpdateAsset(mid, id, f); err != nil {
			t.Fatal(err)
		}
	}
	footerV1 := "<p>Impressum</p>\n<p>2025</p>\n"
	footer := create("History footer", "history-footer", footerV1)
	mover := create("History mover", "history-mover", "<p>moves</p>")
	doomed := create("History doomed", "history-doomed", "<p>doomed</p>")
	run := func() string {
		t.Helper()
		code, s, errOut := h.runJSON()
		if code != ExitOK {
			t.Fatalf("run exit %d: %s", code, errOut)
		}
		return s.Backup
	}
	r1 := run()
	// Between run 1 and 2: an edit and a move.
	footerV2 := "<p>Impressum</p>\n<p>2026</p>\n"
	edit(footer, func(s *sfmctest.AssetSpec) { s.Content = footerV2 })
	edit(mover, func(s *sfmctest.AssetSpec) { s.CategoryID = archive })
	r2 := run()
	// Between run 2 and 3: a rename with an edit, and a deletion.
	footerV3 := "<p>Impressum</p>\n<p>2026</p>\n<p>Kontakt</p>\n"
	edit(footer, func(s *sfmctest.AssetSpec) { s.Name = "History footer DE"; s.Content = footerV3 })
	if err := h.emu.DeleteAsset(mid, doomed); err != nil {
		t.Fatal(err)
	}
	r3 := run()
	if r1 == r2 || r2 == r3 {
		t.Fatalf("runs wrote %s, %s, %s", r1, r2, r3)
	}

	// history: every event, newest first.
	histOf := func(id int64) []ev {
		t.Helper()
		code, out, errOut := h.run("history", "--id", fmt.Sprint(id), "--dest", h.dest, "--json")
		if code != ExitOK {
			t.Fatalf("history exit %d: %s", code, errOut)
		}
		var rep history.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Blocks) != 1 {
			t.Fatalf("history --json: %v\n%s", err, out)
		}
		var evs []ev
		for _, v := range rep.Blocks[0].Versions {
			if v.Event != history.EventDeleted && v.ModifiedBy != "SFMC Emulator app user" {
				t.Errorf("block %d in %s: modifiedBy %q", id, v.Backup, v.ModifiedBy)
			}
			evs = append(evs, ev{v.Backup, v.Event, v.Name, v.Folder})
		}
		return evs
	}
	const cb = "Content Builder"
	for _, tc := range []struct {
		id   int64
		want []ev
	}{
		{footer, []ev{{r3, "changed", "History footer DE", cb}, {r2, "changed", "History footer", cb}, {r1, "created", "History footer", cb}}},
		{mover, []ev{{r2, "changed", "History mover", cb + "/Archive"}, {r1, "created", "History mover", cb}}},
		{doomed, []ev{{r3, "deleted", "History doomed", cb}, {r1, "created", "History doomed", cb}}},
	} {
		if got := histOf(tc.id); !slices.Equal(got, tc.want) {
			t.Errorf("history of %d:\n got %v\nwant %v", tc.id, got, tc.want)
		}
	}

	// diff between each pair: exactly the edits made.
	type item struct {
		id     int64
		fields string
	}
	diffOf := func(from, to string) (added, changed, deleted []item, text string) {
		t.Helper()
		code, out, errOut := h.run("diff", from, to, "--dest", h.dest, "--json")
		if code != ExitOK {
			t.Fatalf("diff exit %d: %s", code, errOut)
		}
		var rep struct {
			Added, Changed, Deleted []struct {
				ID     int64
				Fields []string
				Diff   string
			}
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		conv := func(l []struct {
			ID     int64
			Fields []string
			Diff   string
		}) []item {
			var out []item
			for _, c := range l {
				out = append(out, item{c.ID, strings.Join(c.Fields, ",")})
				text += c.Diff
			}
			return out
		}
		return conv(rep.Added), conv(rep.Changed), conv(rep.Deleted), text
	}
	sortItems := func(l []item) []item {
		slices.SortFunc(l, func(a, b item) int { return int(a.id - b.id) })
		return l
	}
	for _, tc := range []struct {
		from, to                string
		added, changed, deleted []item
		diffHas                 []string
	}{
		{r1, r2, nil, sortItems([]item{{footer, "content"}, {mover, "folder"}}), nil, []string{"-<p>2025</p>", "+<p>2026</p>"}},
		{r2, r3, nil, []item{{footer, "content,name"}}, []item{{doomed, ""}}, []string{"+<p>Kontakt</p>"}},
		{r1, r3, nil, sortItems([]item{{footer, "content,name"}, {mover, "folder"}}), []item{{doomed, ""}}, []string{"-<p>2025</p>", "+<p>Kontakt</p>"}},
	} {
		added, changed, deleted, text := diffOf(tc.from, tc.to)
		if !slices.Equal(added, tc.added) || !slices.Equal(changed, tc.changed) || !slices.Equal(deleted, tc.deleted) {
			t.Errorf("diff %s %s:\n added %v changed %v deleted %v\nwant %v %v %v", tc.from, tc.to, added, changed, deleted, tc.added, tc.changed, tc.deleted)
		}
		for _, s := range tc.diffHas {
			if !strings.Contains(text, s) {
				t.Errorf("diff %s %s: content diff lacks %q:\n%s", tc.from, tc.to, s, text)
			}
		}
	}
	// The default compares the two newest.
	if code, out, _ := h.run("diff", "--dest", h.dest, "--stat"); code != ExitOK || !strings.Contains(out, "from "+r2+" to "+r3) || !strings.Contains(out, "0 added, 1 changed, 1 deleted") {
		t.Errorf("diff without arguments: exit %d\n%s", code, out)
	}

	// show: each version's bytes, and the stored JSON as the backup holds it.
	for _, tc := range []struct {
		backup, want string
	}{{r1, footerV1}, {r2, footerV2}, {r3, footerV3}, {"latest", footerV3}} {
		code, out, errOut := h.run("show", tc.backup, "--id", fmt.Sprint(footer), "--dest", h.dest)
		if code != ExitOK || out != tc.want {
			t.Errorf("show %s: exit %d, %q (%s); want %q", tc.backup, code, out, errOut, tc.want)
		}
	}
	code, out, _ := h.run("show", r3, "--key", "history-footer", "--dest", h.dest, "--json")
	m := h.manifest(r3)
	var stored []byte
	for _, b := range m.Blocks {
		if b.ID == footer {
			for _, f := range b.Files {
				if f.Role == repo.RoleJSON {
					stored, _ = os.ReadFile(filepath.Join(h.dest, r3, filepath.FromSlash(f.Path)))
				}
			}
		}
	}
	if code != ExitOK || len(stored) == 0 || out != string(stored) {
		t.Errorf("show --json: exit %d, %d bytes; the backup holds %d", code, len(out), len(stored))
	}
	h.assertNoSecrets(out)
}

type ev struct{ backup, event, name, folder string }
