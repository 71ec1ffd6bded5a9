package backup

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/storage"
	"github.com/backup-creator/backup-creator/pkg/storage/mem"
)

// tblock describes a block version for putBackup.
type tblock struct {
	id      int64
	key     string
	name    string
	typ     int
	path    string // folder path
	cat     int64
	mod     time.Time
	content string
}

func (b tblock) doc() []byte {
	typ := b.typ
	if typ == 0 {
		typ = 197
	}
	d := map[string]any{
		"id": b.id, "customerKey": b.key, "name": b.name,
		"assetType":    map[string]any{"id": typ, "name": TypeName(typ)},
		"category":     map[string]any{"id": b.cat},
		"content":      b.content,
		"modifiedDate": b.mod.In(time.FixedZone("", -6*3600)).Format("2006-01-02T15:04:05.999-07:00"),
		"meta":         map[string]any{"wrapperStyles": map[string]any{"mobile": map[string]any{"visible": true}}},
	}
	out, _ := json.Marshal(d)
	return out
}

func putObject(t testing.TB, st storage.Store, key string, data []byte) {
	t.Helper()
	if _, err := st.Put(t.Context(), key, bytes.NewReader(data), int64(len(data)), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

// putBackup writes a complete backup folder the way the engine lays it out,
// with fixed data, and returns its manifest.
func putBackup(t testing.TB, st storage.Store, name string, started time.Time, blocks []tblock, deleted []DeletedBlock) *Manifest {
	t.Helper()
	w := started.Add(-time.Minute).UTC()
	m := &Manifest{FormatVersion: ManifestFormatVersion, Tool: "backup-creator", ToolVersion: "test", Name: name,
		StartedAt: started.UTC(), FinishedAt: started.Add(90 * time.Second).UTC(),
		Query: ManifestQuery{TypeIDs: []int{197}, Full: len(blocks) > 2}, Watermark: ManifestWatermark{To: &w},
		Blocks: []ManifestBlock{}, Deleted: deleted}
	versions := map[int64]int{}
	for _, b := range blocks {
		typ := b.typ
		if typ == 0 {
			typ = 197
		}
		mb := ManifestBlock{ID: b.id, CustomerKey: b.key, Name: b.name, AssetType: ManifestType{ID: typ, Name: TypeName(typ)},
			Category: ManifestCategory{ID: b.cat, Path: b.path}, Modified: b.mod.UTC(),
			ModifiedDate: b.mod.In(time.FixedZone("", -6*3600)).Format("2006-01-02T15:04:05.999-07:00")}
		if segs := SplitCategoryPath(b.path); len(segs) > 0 {
			mb.Category.Name = segs[len(segs)-1]
		}
		base := BlockBaseName(b.id, b.name, versions[b.id])
		versions[b.id]++
		for _, f := range []struct {
			rel, role string
			data      []byte
		}{{base + ".json", RoleJSON, b.doc()}, {base + ContentExt(TypeName(typ), b.content), RoleContent, []byte(b.content)}} {
			rel := path.Join(BlocksDir, f.rel)
			putObject(t, st, path.Join(name, rel), f.data)
			sum := sha256.Sum256(f.data)
			mb.Files = append(mb.Files, ManifestFile{Path: rel, Role: f.role, Size: int64(len(f.data)), SHA256: hex.EncodeToString(sum[:])})
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
	putObject(t, st, path.Join(name, ManifestName), data)
	return m
}

var t0 = time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC)

func day(n int) time.Time { return t0.Add(time.Duration(n) * 24 * time.Hour) }

func TestListBackups(t *testing.T) {
	st := mem.New()
	putBackup(t, st, "backup_20261101", day(0), []tblock{
		{id: 1, key: "k1", name: "One", path: "Content Builder", cat: 10, mod: day(-1), content: "<p>1</p>"},
		{id: 2, key: "k2", name: "Two", path: "Content Builder/News", cat: 11, mod: day(-1), content: "two"},
		{id: 3, key: "k3", name: "Three", path: "Content Builder/News", cat: 11, mod: day(-1), content: "three"},
	}, nil)
	putBackup(t, st, "backup_20261102", day(1), []tblock{
		{id: 2, key: "k2", name: "Two", path: "Content Builder/News", cat: 11, mod: day(1).Add(-time.Hour), content: "two v2"},
	}, []DeletedBlock{{ID: 3, CustomerKey: "k3", Name: "Three", LastBackup: "backup_20261101", DetectedAt: day(1)}})
	// A second run the same day that failed: files, no manifest.
	putObject(t, st, "backup_20261102_120000/blocks/4_Four.json", []byte(`{"id":4}`))
	putObject(t, st, "backup_20261102_120000/blocks/4_Four.html", []byte(`four`))
	// A damaged manifest.
	putObject(t, st, "backup_20261103/manifest.json", []byte(`{"formatVersion":1,"blocks":[{"id":`))
	// Objects that are not backups.
	putObject(t, st, StateKey, []byte(`{}`))
	putObject(t, st, "backup_notes.txt", []byte(`x`))
	putObject(t, st, "other/backup_20261101/manifest.json", []byte(`{}`))

	list, err := ListBackups(t.Context(), st)
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
	if first.Blocks != 3 || first.Files != 6 || first.Deleted != 0 || first.StartedAt == nil || !first.StartedAt.Equal(day(0)) || first.Watermark == nil {
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

	latest, err := Latest(t.Context(), st)
	if err != nil || latest.Name != "backup_20261102" {
		t.Fatalf("Latest = %+v, %v; want backup_20261102", latest, err)
	}
	for ref, want := range map[string]string{"latest": "backup_20261102", "": "backup_20261102", "backup_20261101/": "backup_20261101", "backup_20261102_120000": "backup_20261102_120000"} {
		got, err := ResolveBackup(t.Context(), st, ref)
		if err != nil || got.Name != want {
			t.Errorf("ResolveBackup(%q) = %v, %v; want %s", ref, got, err, want)
		}
	}
	for _, ref := range []string{"backup_20991231", "yesterday"} {
		if _, err := ResolveBackup(t.Context(), st, ref); !errors.Is(err, ErrNoBackup) {
			t.Errorf("ResolveBackup(%q) error = %v, want ErrNoBackup", ref, err)
		}
	}
}

func TestLatestWithoutBackups(t *testing.T) {
	st := mem.New()
	putObject(t, st, "backup_20261101/blocks/1_x.json", []byte(`{}`))
	if _, err := Latest(t.Context(), st); !errors.Is(err, ErrNoBackup) {
		t.Fatalf("Latest error = %v, want ErrNoBackup", err)
	}
	if _, err := LoadSnapshot(t.Context(), st, "backup_20261101", time.Time{}); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("LoadSnapshot of an incomplete backup: %v, want ErrIncomplete", err)
	}
}

func TestScanBackupStreamsBlocksAndKeepsTombstones(t *testing.T) {
	st := mem.New()
	want := putBackup(t, st, "backup_20261101", day(0), []tblock{
		{id: 7, key: "k7", name: "Seven", path: "Content Builder", cat: 10, mod: day(-2), content: "7"},
		{id: 7, key: "k7", name: "Seven", path: "Content Builder", cat: 10, mod: day(-1), content: "7b"},
		{id: 8, key: "k8", name: "Eight", path: "Content Builder", cat: 10, mod: day(-1), content: "8"},
	}, []DeletedBlock{{ID: 5, CustomerKey: "k5", DetectedAt: day(0)}})
	var got []ManifestBlock
	m, err := ScanBackup(t.Context(), st, "backup_20261101", func(b ManifestBlock) error {
		got = append(got, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[1].Files[0].Path != "blocks/7_Seven_v2.json" || !got[2].Modified.Equal(day(-1)) {
		t.Fatalf("blocks = %+v", got)
	}
	if m.Blocks != nil || len(m.Deleted) != 1 || m.Deleted[0].ID != 5 || m.Counts != want.Counts || !m.StartedAt.Equal(day(0)) {
		t.Fatalf("header = %+v", m)
	}
	stop := errors.New("stop")
	if _, err := ScanBackup(t.Context(), st, "backup_20261101", func(ManifestBlock) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("callback error = %v, want it returned unchanged", err)
	}
	putObject(t, st, "backup_20261105/manifest.json", []byte(`{"formatVersion":99,"blocks":[]}`))
	if _, err := ScanBackup(t.Context(), st, "backup_20261105", nil); err == nil || !strings.Contains(err.Error(), "upgrade") {
		t.Fatalf("newer format: %v", err)
	}
}

func TestLoadSnapshotPointInTime(t *testing.T) {
	st := mem.New()
	blk := func(id int64, content string, mod time.Time) tblock {
		return tblock{id: id, key: fmt.Sprintf("k%d", id), name: fmt.Sprintf("Block %d", id), path: "Content Builder", cat: 10, mod: mod, content: content}
	}
	// B1: full backup of 1..4.
	putBackup(t, st, "backup_20261101", day(0), []tblock{blk(1, "1a", day(-1)), blk(2, "2a", day(-1)), blk(3, "3a", day(-1)), blk(4, "4a", day(-1))}, nil)
	// B2: 1 changed, 3 deleted, 5 new; 2 re-read with the same modified instant (tie: later backup wins).
	putBackup(t, st, "backup_20261102", day(1), []tblock{blk(1, "1b", day(1).Add(-time.Hour)), blk(2, "2a-same-instant", day(-1)), blk(5, "5a", day(1).Add(-time.Hour))},
		[]DeletedBlock{{ID: 3, CustomerKey: "k3", LastBackup: "backup_20261101", DetectedAt: day(1)}})
	// An incomplete run after B2: ignored.
	putObject(t, st, "backup_20261102_130000/blocks/1_Block_1.json", []byte(`{}`))
	// B3: 1 changed again; 4 deleted; 3 came back (restored) with a newer version; an
	// older version of 5 listed late (must not win over B2's newer one).
	putBackup(t, st, "backup_20261103", day(2), []tblock{blk(1, "1c", day(2).Add(-time.Hour)), blk(3, "3b", day(2).Add(-time.Hour)), blk(5, "5-old", day(0))},
		[]DeletedBlock{{ID: 4, CustomerKey: "k4", LastBackup: "backup_20261101", DetectedAt: day(2)}})

	type want struct {
		content string
		deleted bool
	}
	content := func(t *testing.T, b SnapshotBlock) string {
		t.Helper()
		f, _ := b.File(RoleContent)
		data, err := readBlockFile(t.Context(), st, b.Backup, f)
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
		{"at between", "", day(1).Add(12 * time.Hour), "backup_20261102", nil},
		{"at exact start", "latest", day(2), "backup_20261103", nil},
		{"at before the first", "", day(-5), "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			snap, err := LoadSnapshot(t.Context(), st, tc.ref, tc.at)
			if tc.backup == "" {
				if !errors.Is(err, ErrNoBackup) {
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
			if !slices.IsSortedFunc(snap.Blocks, func(a, b SnapshotBlock) int { return int(a.ID - b.ID) }) {
				t.Error("blocks not sorted by id")
			}
		})
	}
	if _, err := LoadSnapshot(t.Context(), st, "backup_20261101", day(3)); err == nil {
		t.Error("a backup name and a time together must be refused")
	}
}

// BenchmarkLoadSnapshot resolves the state over 10 backups holding 20,000
// versions of 5,000 blocks (manifests only; block files are not read).
func BenchmarkLoadSnapshot(b *testing.B) {
	st := mem.New()
	for n := range 10 {
		var blocks []tblock
		for i := range 2000 {
			id := int64((n*2000+i)%5000 + 1)
			blocks = append(blocks, tblock{id: id, key: fmt.Sprintf("k%d", id), name: fmt.Sprintf("Block %d", id),
				path: "Content Builder/Bulk", cat: 10, mod: day(n).Add(time.Duration(i) * time.Second), content: "<p>x</p>"})
		}
		putBackup(b, st, FolderName(day(n), 0), day(n), blocks, nil)
	}
	b.ReportAllocs()
	for b.Loop() {
		snap, err := LoadSnapshot(b.Context(), st, "latest", time.Time{})
		if err != nil || len(snap.Blocks) != 5000 {
			b.Fatalf("%v, %d blocks", err, len(snap.Blocks))
		}
	}
}
