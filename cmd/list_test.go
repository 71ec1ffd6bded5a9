package cmd

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"

	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
)

// fixtureBlock is one block version of the fixed list fixture.
type fixtureBlock struct {
	id               int64
	key, name, typ   string
	typeID           int
	folder           string
	folderID         int64
	modified, mdText string
	content          string
}

// writeFixture writes a destination with fixed data: two complete backups (the
// second with a tombstone) and one incomplete run.
func writeFixture(t *testing.T, dest string) {
	t.Helper()
	write := func(rel string, data []byte) {
		t.Helper()
		p := filepath.Join(dest, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ts := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UTC()
	}
	backupOf := func(name, started, finished, watermark string, full bool, blocks []fixtureBlock, deleted []repo.DeletedBlock) {
		w := ts(watermark)
		m := repo.Manifest{FormatVersion: repo.ManifestFormatVersion, Tool: "backup-creator", ToolVersion: "1.0.0", Name: name,
			StartedAt: ts(started), FinishedAt: ts(finished), AccountID: "100001",
			Query:     repo.ManifestQuery{TypeIDs: []int{196, 197, 220}, Full: full},
			Watermark: repo.ManifestWatermark{To: &w}, Blocks: []repo.ManifestBlock{}, Deleted: deleted}
		for _, b := range blocks {
			mb := repo.ManifestBlock{ID: b.id, CustomerKey: b.key, Name: b.name, AssetType: repo.ManifestType{ID: b.typeID, Name: b.typ},
				Category: repo.ManifestCategory{ID: b.folderID, Path: b.folder}, ModifiedDate: b.mdText, Modified: ts(b.modified)}
			segs := repo.SplitCategoryPath(b.folder)
			mb.Category.Name = segs[len(segs)-1]
			doc, _ := json.Marshal(map[string]any{"id": b.id, "customerKey": b.key, "name": b.name,
				"assetType": map[string]any{"id": b.typeID, "name": b.typ}, "category": map[string]any{"id": b.folderID},
				"content": b.content, "modifiedDate": b.mdText})
			base := repo.BlockBaseName(b.id, b.name, time.Time{})
			for _, f := range []struct {
				rel, role string
				data      []byte
			}{{base + ".json", repo.RoleJSON, doc}, {base + repo.ContentExt(b.typ, b.content), repo.RoleContent, []byte(b.content)}} {
				rel := repo.BlocksDir + "/" + f.rel
				write(name+"/"+rel, f.data)
				sum := sha256.Sum256(f.data)
				mb.Files = append(mb.Files, repo.ManifestFile{Path: rel, Role: f.role, Size: int64(len(f.data)), SHA256: hex.EncodeToString(sum[:])})
				m.Counts.Files++
				m.Counts.Bytes += int64(len(f.data))
			}
			m.Counts.Blocks++
			m.Blocks = append(m.Blocks, mb)
		}
		data, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		write(name+"/"+repo.ManifestName, data)
	}
	backupOf("backup_20261101", "2026-11-01T02:00:00Z", "2026-11-01T02:03:12.5Z", "2026-10-31T23:58:41.337Z", true, []fixtureBlock{
		{1295064, "footer-legal-de", "Footer legal DE", "htmlblock", 197, `Content Builder/Legal \/ DE`, 89501, "2026-10-30T16:02:11.6Z", "2026-10-30T10:02:11.6-06:00", "<p>Impressum</p>"},
		{1295071, "ampscript-greeting", "Greeting %%FirstName%%", "codesnippetblock", 220, "Content Builder/Snippets", 89502, "2026-10-31T23:58:41.337Z", "2026-10-31T17:58:41.337-06:00", "%%[ SET @n = FirstName ]%%"},
		{1295080, "txt-disclaimer", "Disclaimer", "textblock", 196, "Content Builder", 89500, "2026-09-01T08:00:00Z", "2026-09-01T02:00:00-06:00", strings.Repeat("Terms apply. ", 200)},
	}, nil)
	backupOf("backup_20261102", "2026-11-02T02:00:00Z", "2026-11-02T02:00:04Z", "2026-11-01T15:20:00.003Z", false, []fixtureBlock{
		{1295064, "footer-legal-de", "Footer legal DE", "htmlblock", 197, `Content Builder/Legal \/ DE`, 89501, "2026-11-01T15:20:00.003Z", "2026-11-01T09:20:00.003-06:00", "<p>Impressum 2026</p>"},
	}, []repo.DeletedBlock{{ID: 1295080, CustomerKey: "txt-disclaimer", Name: "Disclaimer", LastBackup: "backup_20261101", DetectedAt: ts("2026-11-02T02:00:03Z")}})
	// A run that failed after storing one block.
	write("backup_20261102_140000/blocks/1295099_Half_done.json", []byte(`{"id":1295099}`))
	write("backup_20261102_140000/blocks/1295099_Half_done.html", []byte(`<p>half</p>`))
	write(repo.StateKey, []byte(`{"formatVersion":1}`))
}

func TestListGolden(t *testing.T) {
	clearConfigEnv(t)
	t.Chdir(t.TempDir())
	dest := filepath.Join(t.TempDir(), "dest")
	writeFixture(t, dest)
	cases := []struct {
		golden string
		args   []string
	}{
		{"list.golden", []string{"list"}},
		{"list.json.golden", []string{"list", "--json"}},
		{"list_backup.golden", []string{"list", "backup_20261101"}},
		{"list_latest.golden", []string{"list", "latest"}},
		{"list_latest.json.golden", []string{"list", "latest", "--json"}},
	}
	for _, tc := range cases {
		t.Run(tc.golden, func(t *testing.T) {
			var out, errOut bytes.Buffer
			a := DefaultApp(&out, &errOut, BuildInfo{Version: "test"})
			code := a.Execute(t.Context(), append(tc.args, "--dest", dest, "--log-format", "json"))
			if code != ExitOK {
				t.Fatalf("exit %d: %s", code, errOut.String())
			}
			got := strings.ReplaceAll(out.String(), dest, "DEST")
			assertGolden(t, tc.golden, got)
			if strings.HasSuffix(tc.golden, ".json.golden") && !json.Valid(out.Bytes()) {
				t.Error("output is not valid JSON")
			}
		})
	}
}

func TestListErrors(t *testing.T) {
	clearConfigEnv(t)
	t.Chdir(t.TempDir())
	dest := filepath.Join(t.TempDir(), "dest")
	writeFixture(t, dest)
	run := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := DefaultApp(&out, &errOut, BuildInfo{}).Execute(t.Context(), append(args, "--log-format", "json"))
		return code, out.String(), errOut.String()
	}
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"list", "backup_20261102_140000", "--dest", dest}, ExitFailure, "incomplete"},
		{[]string{"list", "backup_20991231", "--dest", dest}, ExitFailure, "not found"},
		{[]string{"list", "a", "b", "--dest", dest}, ExitUsage, "at most 1"},
		{[]string{"list", "--dest", "ftp://x"}, ExitUsage, "scheme"},
	}
	for _, tc := range cases {
		code, _, errOut := run(tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.msg) {
			t.Errorf("%v: exit %d, %s; want %d and %q", tc.args, code, errOut, tc.code, tc.msg)
		}
	}
	// A destination that does not exist is an error, and is not created.
	missing := filepath.Join(t.TempDir(), "typo")
	for _, cmd := range []string{"list", "verify"} {
		code, _, errOut := run(cmd, "--dest", missing)
		if code != ExitFailure || !strings.Contains(errOut, "does not exist") {
			t.Errorf("%s on a missing destination: exit %d, %s", cmd, code, errOut)
		}
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("a read command created the destination (%v)", err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	code, out, _ := run("list", "--dest", empty)
	if code != ExitOK || out != "no backups in "+empty+"\n" {
		t.Errorf("empty destination: exit %d, %q", code, out)
	}
	code, out, _ = run("list", "--dest", empty, "--json")
	if code != ExitOK || !strings.Contains(out, `"backups": []`) {
		t.Errorf("empty destination JSON: exit %d, %q", code, out)
	}
}

// bigFile returns the path of the n-th file (in manifest order) of more than 16 bytes.
func bigFile(m *repo.Manifest, n int) string {
	for _, b := range m.Blocks {
		for _, f := range b.Files {
			if f.Size > 16 {
				if n == 0 {
					return f.Path
				}
				n--
			}
		}
	}
	panic("backup too small")
}

func TestVerifyCommand(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, folder string, m *repo.Manifest) string
		kind   string
	}{
		{name: "intact"},
		{name: "flipped byte", kind: repo.ProblemHash, damage: func(t *testing.T, folder string, m *repo.Manifest) string {
			p := bigFile(m, 3)
			f := filepath.Join(folder, filepath.FromSlash(p))
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0x20
			if err := os.WriteFile(f, b, 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}},
		{name: "truncated file", kind: repo.ProblemSize, damage: func(t *testing.T, folder string, m *repo.Manifest) string {
			p := bigFile(m, 5)
			f := filepath.Join(folder, filepath.FromSlash(p))
			st, err := os.Stat(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(f, st.Size()/2); err != nil {
				t.Fatal(err)
			}
			return p
		}},
		{name: "missing file", kind: repo.ProblemMissing, damage: func(t *testing.T, folder string, m *repo.Manifest) string {
			p := bigFile(m, 8)
			if err := os.Remove(filepath.Join(folder, filepath.FromSlash(p))); err != nil {
				t.Fatal(err)
			}
			return p
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, sfmctest.Options{})
			h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 5, TieBlocks: -1})
			_, s, _ := h.runJSON()
			m := h.manifest(s.Backup)
			var damaged string
			if tc.damage != nil {
				damaged = tc.damage(t, filepath.Join(h.dest, s.Backup), m)
			}
			code, out, errOut := h.run("verify", "--dest", h.dest, "--json")
			var rep verifyJSON
			if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Backups) != 1 {
				t.Fatalf("verify --json: %v\n%s\n%s", err, out, errOut)
			}
			r := rep.Backups[0]
			if tc.damage == nil {
				if code != ExitOK || !rep.OK || r.Checked != r.Files || r.Files != s.Files {
					t.Fatalf("intact backup: exit %d, %+v", code, r)
				}
				return
			}
			if code != ExitFailure || rep.OK || r.Status != repo.VerifyDamaged {
				t.Fatalf("exit %d, ok %v, status %s; want exit 1", code, rep.OK, r.Status)
			}
			p := r.Problems()
			if len(p) != 1 || p[0].Path != damaged || p[0].Kind != tc.kind {
				t.Fatalf("problems %+v, want one %s on %s", p, tc.kind, damaged)
			}
			if !strings.Contains(errOut, "1 of 1 backup in") {
				t.Errorf("stderr: %s", errOut)
			}
			// The table names the file too.
			_, table, _ := h.run("verify", s.Backup, "--dest", h.dest)
			if !strings.Contains(table, damaged) || !strings.Contains(table, tc.kind) {
				t.Errorf("table does not name the problem:\n%s", table)
			}
		})
	}
}

func TestVerifyAllSkipsIncompleteRuns(t *testing.T) {
	clearConfigEnv(t)
	t.Chdir(t.TempDir())
	dest := filepath.Join(t.TempDir(), "dest")
	writeFixture(t, dest)
	var out, errOut bytes.Buffer
	code := DefaultApp(&out, &errOut, BuildInfo{}).Execute(t.Context(), []string{"verify", "--all", "--dest", dest, "--log-format", "json"})
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"backup_20261101", "backup_20261102 ", "backup_20261102_140000  incomplete"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	// Naming the incomplete one is a failure: there is nothing to check it against.
	out.Reset()
	code = DefaultApp(&out, &errOut, BuildInfo{}).Execute(t.Context(), []string{"verify", "backup_20261102_140000", "--dest", dest, "--log-format", "json"})
	if code != ExitFailure {
		t.Fatalf("explicit incomplete backup: exit %d", code)
	}
}
