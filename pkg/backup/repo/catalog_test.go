package repo_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/backup/repo/repotest"

	"github.com/backup-creator/backup-creator/pkg/storage"
	"github.com/backup-creator/backup-creator/pkg/storage/mem"
)

func TestListBackups(t *testing.T) {
	st := mem.New()
	repotest.PutBackup(t, st, "backup_20261101", repotest.Day(0), []repotest.Block{
		{ID: 1, Key: "k1", Name: "One", Path: "Content Builder", Cat: 10, Mod: repotest.Day(-1), Content: "<p>1</p>"},
		{ID: 2, Key: "k2", Name: "Two", Path: "Content Builder/News", Cat: 11, Mod: repotest.Day(-1), Content: "two"},
		{ID: 3, Key: "k3", Name: "Three", Path: "Content Builder/News", Cat: 11, Mod: repotest.Day(-1), Content: "three"},
	}, nil)
	repotest.PutBackup(t, st, "backup_20261102", repotest.Day(1), []repotest.Block{
		{ID: 2, Key: "k2", Name: "Two", Path: "Content Builder/News", Cat: 11, Mod: repotest.Day(1).Add(-time.Hour), Content: "two v2"},
	}, []repo.DeletedBlock{{ID: 3, CustomerKey: "k3", Name: "Three", LastBackup: "backup_20261101", DetectedAt: repotest.Day(1)}})
	// A second run the same repotest.Day that failed: files, no manifest.
	repotest.PutObject(t, st, "backup_20261102_120000/blocks/4_Four.json", []byte(`{"id":4}`))
	repotest.PutObject(t, st, "backup_20261102_120000/blocks/4_Four.html", []byte(`four`))
	// A damaged manifest.
	repotest.PutObject(t, st, "backup_20261103/manifest.json", []byte(`{"formatVersion":1,"blocks":[{"id":`))
	// Objects that are not backups.
	repotest.PutObject(t, st, repo.StateKey, []byte(`{}`))
	repotest.PutObject(t, st, "backup_notes.txt", []byte(`x`))
	repotest.PutObject(t, st, "other/backup_20261101/manifest.json", []byte(`{}`))

	list, err := repo.ListBackups(t.Context(), st)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range list {
		names = append(names, b.Name+":"+b.Status)
	}
	want := []string{"backup_20261101:complete", "backup_20261102:complete", "backup_20261102_120000:incomplete", "backup_20261103:damaged"}
	if !slices.Equal(names, want) {
		t.Fatalf("backups = %v, want %v", names, want)
	}
	first, second, inc, dam := list[0], list[1], list[2], list[3]
	if first.Blocks != 3 || first.Files != 6 || first.Deleted != 0 || first.StartedAt == nil || !first.StartedAt.Equal(repotest.Day(0)) || first.Watermark == nil {
		t.Errorf("first = %+v", first)
	}
	if second.Blocks != 1 || second.Deleted != 1 || second.Bytes != list[1].Bytes || second.Bytes == 0 {
		t.Errorf("second = %+v", second)
	}
	if inc.Files != 2 || inc.Bytes != int64(len(`{"id":4}`)+len("four")) || inc.StartedAt != nil || inc.Complete() {
		t.Errorf("incomplete = %+v", inc)
	}
	if dam.Error == "" || dam.Complete() {
		t.Errorf("damaged = %+v", dam)
	}

	latest, err := repo.Latest(t.Context(), st)
	if err != nil || latest.Name != "backup_20261102" {
		t.Fatalf("Latest = %+v, %v; want backup_20261102", latest, err)
	}
	for ref, want := range map[string]string{"latest": "backup_20261102", "": "backup_20261102", "backup_20261101/": "backup_20261101", "backup_20261102_120000": "backup_20261102_120000"} {
		got, err := repo.ResolveBackup(t.Context(), st, ref)
		if err != nil || got.Name != want {
			t.Errorf("ResolveBackup(%q) = %v, %v; want %s", ref, got, err, want)
		}
	}
	for _, ref := range []string{"backup_20991231", "yesterday"} {
		if _, err := repo.ResolveBackup(t.Context(), st, ref); !errors.Is(err, repo.ErrNoBackup) {
			t.Errorf("ResolveBackup(%q) error = %v, want ErrNoBackup", ref, err)
		}
	}
}

func TestLatestWithoutBackups(t *testing.T) {
	st := mem.New()
	repotest.PutObject(t, st, "backup_20261101/blocks/1_x.json", []byte(`{}`))
	if _, err := repo.Latest(t.Context(), st); !errors.Is(err, repo.ErrNoBackup) {
		t.Fatalf("Latest error = %v, want ErrNoBackup", err)
	}
	if _, err := repo.LoadSnapshot(t.Context(), st, "backup_20261101", time.Time{}); !errors.Is(err, repo.ErrIncomplete) {
		t.Fatalf("LoadSnapshot of an incomplete backup: %v, want ErrIncomplete", err)
	}
}

func TestScanBackupStreamsBlocksAndKeepsTombstones(t *testing.T) {
	st := mem.New()
	want := repotest.PutBackup(t, st, "backup_20261101", repotest.Day(0), []repotest.Block{
		{ID: 7, Key: "k7", Name: "Seven", Path: "Content Builder", Cat: 10, Mod: repotest.Day(-2), Content: "7"},
		{ID: 7, Key: "k7", Name: "Seven", Path: "Content Builder", Cat: 10, Mod: repotest.Day(-1), Content: "7b"},
		{ID: 8, Key: "k8", Name: "Eight", Path: "Content Builder", Cat: 10, Mod: repotest.Day(-1), Content: "8"},
	}, []repo.DeletedBlock{{ID: 5, CustomerKey: "k5", DetectedAt: repotest.Day(0)}})
	var got []repo.ManifestBlock
	m, err := repo.ScanBackup(t.Context(), st, "backup_20261101", func(b repo.ManifestBlock) error {
		got = append(got, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[1].Files[0].Path != "blocks/7_Seven_v"+repotest.Day(-1).UTC().Format("20060102T150405.000Z")+".json" || !got[2].Modified.Equal(repotest.Day(-1)) {
		t.Fatalf("blocks = %+v", got)
	}
	if m.Blocks != nil || len(m.Deleted) != 1 || m.Deleted[0].ID != 5 || m.Counts != want.Counts || !m.StartedAt.Equal(repotest.Day(0)) {
		t.Fatalf("header = %+v", m)
	}
	stop := errors.New("stop")
	if _, err := repo.ScanBackup(t.Context(), st, "backup_20261101", func(repo.ManifestBlock) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("callback error = %v, want it returned unchanged", err)
	}
	repotest.PutObject(t, st, "backup_20261105/manifest.json", []byte(`{"formatVersion":99,"blocks":[]}`))
	if _, err := repo.ScanBackup(t.Context(), st, "backup_20261105", nil); err == nil || !strings.Contains(err.Error(), "upgrade") {
		t.Fatalf("newer format: %v", err)
	}
}

func TestLoadSnapshotPointInTime(t *testing.T) {
	st := mem.New()
	blk := func(id int64, content string, mod time.Time) repotest.Block {
		return repotest.Block{ID: id, Key: fmt.Sprintf("k%d", id), Name: fmt.Sprintf("Block %d", id), Path: "Content Builder", Cat: 10, Mod: mod, Content: content}
	}
	// B1: full backup of 1..4.
	repotest.PutBackup(t, st, "backup_20261101", repotest.Day(0), []repotest.Block{blk(1, "1a", repotest.Day(-1)), blk(2, "2a", repotest.Day(-1)), blk(3, "3a", repotest.Day(-1)), blk(4, "4a", repotest.Day(-1))}, nil)
	// B2: 1 changed, 3 deleted, 5 new; 2 re-read with the same modified instant (tie: later backup wins).
	repotest.PutBackup(t, st, "backup_20261102", repotest.Day(1), []repotest.Block{blk(1, "1b", repotest.Day(1).Add(-time.Hour)), blk(2, "2a-same-instant", repotest.Day(-1)), blk(5, "5a", repotest.Day(1).Add(-time.Hour))},
		[]repo.DeletedBlock{{ID: 3, CustomerKey: "k3", LastBackup: "backup_20261101", DetectedAt: repotest.Day(1)}})
	// An incomplete run after B2: ignored.
	repotest.PutObject(t, st, "backup_20261102_130000/blocks/1_Block_1.json", []byte(`{}`))
	// B3: 1 changed again; 4 deleted; 3 came back (restored) with a newer version; an
	// older version of 5 listed late (must not win over B2's newer one).
	repotest.PutBackup(t, st, "backup_20261103", repotest.Day(2), []repotest.Block{blk(1, "1c", repotest.Day(2).Add(-time.Hour)), blk(3, "3b", repotest.Day(2).Add(-time.Hour)), blk(5, "5-old", repotest.Day(0))},
		[]repo.DeletedBlock{{ID: 4, CustomerKey: "k4", LastBackup: "backup_20261101", DetectedAt: repotest.Day(2)}})

	type want struct {
		content string
		deleted bool
	}
	content := func(t *testing.T, b repo.SnapshotBlock) string {
		t.Helper()
		f, _ := b.File(repo.RoleContent)
		data, err := repo.ReadFile(t.Context(), st, b.Backup, f)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	cases := []struct {
		name, ref string
		at        time.Time
		backup    string
		want      map[int64]want
	}{
		{"first", "backup_20261101", time.Time{}, "backup_20261101", map[int64]want{1: {"1a", false}, 2: {"2a", false}, 3: {"3a", false}, 4: {"4a", false}}},
		{"second", "backup_20261102", time.Time{}, "backup_20261102", map[int64]want{1: {"1b", false}, 2: {"2a-same-instant", false}, 3: {"3a", true}, 4: {"4a", false}, 5: {"5a", false}}},
		{"latest", "latest", time.Time{}, "backup_20261103", map[int64]want{1: {"1c", false}, 2: {"2a-same-instant", false}, 3: {"3b", false}, 4: {"4a", true}, 5: {"5a", false}}},
		{"at between", "", repotest.Day(1).Add(12 * time.Hour), "backup_20261102", nil},
		{"at exact start", "latest", repotest.Day(2), "backup_20261103", nil},
		{"at before the first", "", repotest.Day(-5), "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			snap, err := repo.LoadSnapshot(t.Context(), st, tc.ref, tc.at)
			if tc.backup == "" {
				if !errors.Is(err, repo.ErrNoBackup) {
					t.Fatalf("error = %v, want ErrNoBackup", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if snap.Backup != tc.backup {
				t.Fatalf("snapshot of %s, want %s", snap.Backup, tc.backup)
			}
			sameAsStream(t, st, snap, tc.ref, tc.at)
			if tc.want == nil {
				return
			}
			got := map[int64]want{}
			for _, b := range snap.Blocks {
				got[b.ID] = want{content(t, b), b.Deleted != nil}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("state = %v\nwant    %v", got, tc.want)
			}
			if !slices.IsSortedFunc(snap.Blocks, func(a, b repo.SnapshotBlock) int { return int(a.ID - b.ID) }) {
				t.Error("blocks not sorted by id")
			}
		})
	}
	if _, err := repo.LoadSnapshot(t.Context(), st, "backup_20261101", repotest.Day(3)); err == nil {
		t.Error("a backup name and a time together must be refused")
	}
	if _, err := repo.OpenSnapshot(t.Context(), st, "", repotest.Day(-5)); !errors.Is(err, repo.ErrNoBackup) {
		t.Errorf("OpenSnapshot before the first backup: %v, want ErrNoBackup", err)
	}
}

// sameAsStream checks that OpenSnapshot gives the state LoadSnapshot gave:
// the same blocks, field by field, in the same (id) order.
func sameAsStream(t *testing.T, st storage.Store, snap *repo.Snapshot, ref string, at time.Time) {
	t.Helper()
	s, err := repo.OpenSnapshot(t.Context(), st, ref, at)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.AsOf() != snap.Backup || !s.StartedAt.Equal(snap.StartedAt) || !slices.Equal(s.Backups, snap.Backups) || s.Len() != len(snap.Blocks) {
		t.Fatalf("stream of %s (%v, %d blocks), snapshot of %s (%v, %d blocks)", s.AsOf(), s.Backups, s.Len(), snap.Backup, snap.Backups, len(snap.Blocks))
	}
	for pass := range 2 { // Each can be called again
		var got []repo.SnapshotBlock
		if err := s.Each(func(b *repo.SnapshotBlock) error { got = append(got, *b); return nil }); err != nil {
			t.Fatal(err)
		}
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(snap.Blocks)
		if string(g) != string(w) {
			t.Fatalf("pass %d: stream\n%s\nsnapshot\n%s", pass, g, w)
		}
	}
}

// Within one backup (a block changed while the run was under way), the
// later entry wins a tie, and an older version listed late does not win.
func TestSnapshotVersionsWithinOneBackup(t *testing.T) {
	st := mem.New()
	blk := func(id int64, content string, mod time.Time) repotest.Block {
		return repotest.Block{ID: id, Key: fmt.Sprintf("k%d", id), Name: fmt.Sprintf("Block %d", id), Mod: mod, Content: content}
	}
	repotest.PutBackup(t, st, "backup_20261101", repotest.Day(0), []repotest.Block{
		blk(7, "7a", repotest.Day(-1)), blk(8, "8-new", repotest.Day(-1)), blk(7, "7b-same-instant", repotest.Day(-1)), blk(8, "8-old", repotest.Day(-2)),
	}, []repo.DeletedBlock{{ID: 8, DetectedAt: repotest.Day(-1).Add(time.Second)}, {ID: 7, DetectedAt: repotest.Day(-2)}})
	snap, err := repo.LoadSnapshot(t.Context(), st, "latest", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Blocks) != 2 || snap.Blocks[0].Deleted != nil || snap.Blocks[1].Deleted == nil {
		t.Fatalf("state %+v: want 7 live (tombstone older than its version), 8 deleted", snap.Blocks)
	}
	for i, want := range []string{"7b-same-instant", "8-new"} {
		f, _ := snap.Blocks[i].File(repo.RoleContent)
		if data, err := repo.ReadFile(t.Context(), st, snap.Blocks[i].Backup, f); err != nil || string(data) != want {
			t.Errorf("block %d: %q %v, want %q", snap.Blocks[i].ID, data, err, want)
		}
	}
	sameAsStream(t, st, snap, "latest", time.Time{})
}

// BenchmarkLoadSnapshot resolves the state over 10 backups holding 20,000
// versions of 5,000 blocks (manifests only; block files are not read).
func BenchmarkLoadSnapshot(b *testing.B) {
	st := mem.New()
	for n := range 10 {
		var blocks []repotest.Block
		for i := range 2000 {
			id := int64((n*2000+i)%5000 + 1)
			blocks = append(blocks, repotest.Block{ID: id, Key: fmt.Sprintf("k%d", id), Name: fmt.Sprintf("Block %d", id),
				Path: "Content Builder/Bulk", Cat: 10, Mod: repotest.Day(n).Add(time.Duration(i) * time.Second), Content: "<p>x</p>"})
		}
		repotest.PutBackup(b, st, repo.FolderName(repotest.Day(n), 0), repotest.Day(n), blocks, nil)
	}
	b.ReportAllocs()
	for b.Loop() {
		snap, err := repo.LoadSnapshot(b.Context(), st, "latest", time.Time{})
		if err != nil || len(snap.Blocks) != 5000 {
			b.Fatalf("%v, %d blocks", err, len(snap.Blocks))
		}
	}
}

// A manifest entry whose file path leaves its folder (crafted or damaged) is
// never followed: the chain refuses it as damaged, and so does verify.
func TestManifestPathsOutsideTheFolderAreRefused(t *testing.T) {
	for _, bad := range []string{"../backup-creator.state.json", "blocks/../../backup_20261102/manifest.json", "/etc/passwd", "manifest.json", "blocks\\..\\x", ""} {
		st := mem.New()
		m := repotest.PutBackup(t, st, "backup_20261101", repotest.Day(0), []repotest.Block{{ID: 1, Key: "k", Name: "n", Mod: repotest.Day(-1), Content: "c"}}, nil)
		m.Blocks[0].Files[0].Path = bad
		b, _ := json.Marshal(m)
		repotest.PutObject(t, st, "backup_20261101/"+repo.ManifestName, b)
		if _, err := repo.LoadSnapshot(t.Context(), st, "latest", time.Time{}); err == nil || !repo.IsDamaged(err) {
			t.Errorf("path %q: LoadSnapshot error %v, want a damaged manifest", bad, err)
		}
		if _, err := repo.OpenSnapshot(t.Context(), st, "latest", time.Time{}); err == nil || !repo.IsDamaged(err) {
			t.Errorf("path %q: OpenSnapshot error %v, want a damaged manifest", bad, err)
		}
		if rep, err := repo.Verify(t.Context(), st, "backup_20261101"); err != nil || rep.Status != repo.VerifyDamaged {
			t.Errorf("path %q: verify %v %+v, want damaged", bad, err, rep)
		}
	}
}
