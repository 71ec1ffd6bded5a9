// Package repotest builds backup folders for tests: complete backups laid out
// as the engine writes them, with fixed data, without running SFMC.
package repotest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"runtime"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/sfmc"
	"github.com/backup-creator/backup-creator/pkg/storage"
)

// Block describes a block version for PutBackup.
type Block struct {
	ID      int64
	Key     string
	Name    string
	Type    int    // asset type id (default 197, htmlblock)
	Path    string // folder path
	Cat     int64
	Mod     time.Time
	Content string
	By      string // modifiedBy.name in the document (omitted when "")
}

// Doc is the block's SFMC JSON document.
func (b Block) Doc() []byte {
	typ := b.Type
	if typ == 0 {
		typ = 197
	}
	d := map[string]any{
		"id": b.ID, "customerKey": b.Key, "name": b.Name,
		"assetType":    map[string]any{"id": typ, "name": sfmc.TypeName(typ)},
		"category":     map[string]any{"id": b.Cat},
		"content":      b.Content,
		"modifiedDate": b.Mod.In(time.FixedZone("", -6*3600)).Format("2006-01-02T15:04:05.999-07:00"),
		"meta":         map[string]any{"wrapperStyles": map[string]any{"mobile": map[string]any{"visible": true}}},
	}
	if b.By != "" {
		d["modifiedBy"] = map[string]any{"id": 700304523, "email": "", "name": b.By, "userId": "700304523"}
	}
	out, _ := json.Marshal(d)
	return out
}

// PutObject stores data under key or fails the test.
func PutObject(t testing.TB, st storage.Store, key string, data []byte) {
	t.Helper()
	if _, err := st.Put(t.Context(), key, bytes.NewReader(data), int64(len(data)), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

// PutBackup writes a complete backup folder the way the engine lays it out,
// with fixed data, and returns its manifest.
func PutBackup(t testing.TB, st storage.Store, name string, started time.Time, blocks []Block, deleted []repo.DeletedBlock) *repo.Manifest {
	t.Helper()
	w := started.Add(-time.Minute).UTC()
	m := &repo.Manifest{FormatVersion: repo.ManifestFormatVersion, Tool: "backup-creator", ToolVersion: "test", Name: name,
		StartedAt: started.UTC(), FinishedAt: started.Add(90 * time.Second).UTC(),
		Query: repo.ManifestQuery{TypeIDs: []int{197}, Full: len(blocks) > 2}, Watermark: repo.ManifestWatermark{To: &w},
		Blocks: []repo.ManifestBlock{}, Deleted: deleted}
	versions := map[int64]bool{}
	for _, b := range blocks {
		typ := b.Type
		if typ == 0 {
			typ = 197
		}
		mb := repo.ManifestBlock{ID: b.ID, CustomerKey: b.Key, Name: b.Name, AssetType: repo.ManifestType{ID: typ, Name: sfmc.TypeName(typ)},
			Category: repo.ManifestCategory{ID: b.Cat, Path: b.Path}, Modified: b.Mod.UTC(),
			ModifiedDate: b.Mod.In(time.FixedZone("", -6*3600)).Format("2006-01-02T15:04:05.999-07:00")}
		if segs := repo.SplitCategoryPath(b.Path); len(segs) > 0 {
			mb.Category.Name = segs[len(segs)-1]
		}
		var later time.Time
		if versions[b.ID] {
			later = b.Mod
		}
		base := repo.BlockBaseName(b.ID, b.Name, later)
		versions[b.ID] = true
		for _, f := range []struct {
			rel, role string
			data      []byte
		}{{base + ".json", repo.RoleJSON, b.Doc()}, {base + repo.ContentExt(sfmc.TypeName(typ), b.Content), repo.RoleContent, []byte(b.Content)}} {
			rel := path.Join(repo.BlocksDir, f.rel)
			PutObject(t, st, path.Join(name, rel), f.data)
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
	PutObject(t, st, path.Join(name, repo.ManifestName), data)
	return m
}

// T0 is the fixtures' reference time.
var T0 = time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC)

// Day is T0 plus n days.
func Day(n int) time.Time { return T0.Add(time.Duration(n) * 24 * time.Hour) }

// ReadObject returns the content stored under key or fails the test.
func ReadObject(t testing.TB, st storage.Store, key string) []byte {
	t.Helper()
	rc, _, err := st.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// PutManyBlocks writes a complete backup of n blocks the way a run lays it out
// (two small files per block, entries with a folder path), fast: the
// manifest goes through repo.ManifestWriter like the engine's.
func PutManyBlocks(t testing.TB, st storage.Store, n int) string {
	t.Helper()
	const name = "backup_20261101"
	mw, err := repo.NewManifestWriter()
	if err != nil {
		t.Fatal(err)
	}
	defer mw.Close()
	for i := range n {
		id := int64(1_000_000 + i)
		mod := Day(-1).Add(time.Duration(i) * time.Millisecond)
		e := repo.ManifestBlock{ID: id, CustomerKey: fmt.Sprintf("key-%d", id), Name: fmt.Sprintf("Newsletter block %d", id),
			AssetType: repo.ManifestType{ID: 197, Name: "htmlblock"}, ModifiedDate: mod.Format(time.RFC3339Nano), Modified: mod,
			Category: repo.ManifestCategory{ID: int64(100 + i%50), Name: fmt.Sprintf("Folder %d", i%50), Path: fmt.Sprintf("Content Builder/Newsletters/Folder %d", i%50)}}
		base := repo.BlockBaseName(id, e.Name, time.Time{})
		for _, f := range []struct{ ext, role string }{{".json", repo.RoleJSON}, {".html", repo.RoleContent}} {
			data := []byte(fmt.Sprintf("<p>%d%s</p>", id, f.ext))
			rel := path.Join(repo.BlocksDir, base+f.ext)
			PutObject(t, st, path.Join(name, rel), data)
			sum := sha256.Sum256(data)
			e.Files = append(e.Files, repo.ManifestFile{Path: rel, Role: f.role, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])})
		}
		if err := mw.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	w := Day(0)
	m := &repo.Manifest{FormatVersion: repo.ManifestFormatVersion, Tool: "backup-creator", ToolVersion: "test", Name: name,
		StartedAt: Day(0), FinishedAt: Day(0).Add(time.Minute), Query: repo.ManifestQuery{TypeIDs: []int{197}, Full: true},
		Watermark: repo.ManifestWatermark{To: &w}, Counts: mw.Counts()}
	if _, err := mw.Put(t.Context(), st, m, storage.PutOptions{IfNotExists: true}); err != nil {
		t.Fatal(err)
	}
	return name
}

// LiveHeap is the heap in use after a full collection (for tests that
// check what a reader holds).
func LiveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
