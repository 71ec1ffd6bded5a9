// Command bench-prune writes a year of synthetic daily backups into a
// destination, laid out exactly as backup-creator's runs write them, for
// timing `backup-creator prune` (scripts/bench-prune.sh):
//
//	go run ./scripts/bench-prune --dest /tmp/year --days 365 --blocks 10000 --change 0.01
//
// Day 0 is a full backup of every block; each later day changes a share of
// the blocks (spread over all of them, or over a hot share with --hot),
// deletes one block every tenth day and re-creates it on the next.
// Any --dest backup-creator accepts works (S3 reads the usual environment).
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/backup-creator/backup-creator/cmd"
	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/config"
	"github.com/backup-creator/backup-creator/pkg/storage"
)

func main() {
	dest := flag.String("dest", "", "destination to fill (must be empty)")
	days := flag.Int("days", 365, "daily backups to write")
	blocks := flag.Int("blocks", 10000, "blocks in the account")
	change := flag.Float64("change", 0.01, "share of the blocks changed each day")
	size := flag.Int("size", 1500, "bytes of content per block")
	hot := flag.Float64("hot", 1, "share of the blocks the daily changes fall on (1: spread over all; 0.1: a hot tenth)")
	flag.Parse()
	if *dest == "" {
		fmt.Fprintln(os.Stderr, "usage: bench-prune --dest DEST [--days N] [--blocks N] [--change F]")
		os.Exit(2)
	}
	if err := generate(context.Background(), *dest, *days, *blocks, *change, *size, *hot); err != nil {
		fmt.Fprintln(os.Stderr, "bench-prune:", err)
		os.Exit(1)
	}
}

type block struct {
	id      int64
	rev     int
	deleted bool
}

func generate(ctx context.Context, dest string, days, nBlocks int, change float64, size int, hot float64) error {
	v := config.NewViper()
	v.Set("dest", dest)
	cfg, err := config.Load(v)
	if err != nil {
		return err
	}
	st, err := cmd.DefaultApp(io.Discard, io.Discard, cmd.BuildInfo{}).NewStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	start := time.Date(2025, 12, 1, 2, 0, 0, 0, time.UTC)
	all := make([]*block, nBlocks)
	for i := range all {
		all[i] = &block{id: int64(1000000 + i)}
	}
	perDay := int(float64(nBlocks) * change)
	hotN := max(perDay, int(float64(nBlocks)*hot))
	var names []string
	var watermark time.Time
	for d := 0; d < days; d++ {
		t := start.AddDate(0, 0, d)
		name := repo.FolderName(t, 0)
		var changed []*block
		var tombs []repo.DeletedBlock
		if d == 0 {
			changed = all
		} else {
			for i := 0; i < perDay; i++ {
				b := all[(d*perDay*7+i*13)%hotN]
				if !b.deleted {
					b.rev++
					changed = append(changed, b)
				}
			}
			victim := all[(d*31)%nBlocks]
			switch {
			case d%10 == 0 && !victim.deleted:
				victim.deleted = true
				tombs = append(tombs, repo.DeletedBlock{ID: victim.id, CustomerKey: fmt.Sprintf("key-%d", victim.id), DetectedAt: t.Add(time.Minute)})
			case d%10 == 1:
				prev := all[((d-1)*31)%nBlocks]
				if prev.deleted {
					prev.deleted = false
					prev.rev++
					changed = append(changed, prev)
				}
			}
		}
		w, err := writeBackup(ctx, st, name, t, changed, tombs, size)
		if err != nil {
			return err
		}
		if w.After(watermark) {
			watermark = w
		}
		names = append(names, name)
	}
	s := &repo.State{FormatVersion: repo.StateFormatVersion, Watermark: watermark, LastBackup: names[len(names)-1], Backups: names, UpdatedAt: time.Now().UTC()}
	_, err = repo.WriteState(ctx, st, s, "")
	return err
}

func writeBackup(ctx context.Context, st storage.Store, name string, t time.Time, changed []*block, tombs []repo.DeletedBlock, size int) (time.Time, error) {
	mw, err := repo.NewManifestWriter()
	if err != nil {
		return time.Time{}, err
	}
	defer mw.Close()
	entries := make([]repo.ManifestBlock, len(changed))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	var newest time.Time
	for i, b := range changed {
		mod := t.Add(-time.Hour).Add(time.Duration(i) * time.Millisecond)
		if mod.After(newest) {
			newest = mod
		}
		g.Go(func() error {
			e, err := writeBlock(gctx, st, name, b, mod, size)
			entries[i] = e
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return time.Time{}, err
	}
	for _, e := range entries {
		if err := mw.Add(e); err != nil {
			return time.Time{}, err
		}
	}
	w := newest
	m := &repo.Manifest{FormatVersion: repo.ManifestFormatVersion, Tool: "backup-creator", ToolVersion: "bench", Name: name,
		StartedAt: t, FinishedAt: t.Add(time.Minute), Query: repo.ManifestQuery{TypeIDs: []int{197}, Full: len(changed) > 1000},
		Watermark: repo.ManifestWatermark{To: &w}, Counts: mw.Counts(), Deleted: tombs}
	_, err = mw.Put(ctx, st, m, storage.PutOptions{IfNotExists: true})
	return newest, err
}

func writeBlock(ctx context.Context, st storage.Store, folder string, b *block, mod time.Time, size int) (repo.ManifestBlock, error) {
	unit := []byte(fmt.Sprintf("<p>block %d revision %d</p>", b.id, b.rev))
	content := bytes.Repeat(unit, size/len(unit)+1)[:size]
	doc, _ := json.Marshal(map[string]any{
		"id": b.id, "customerKey": fmt.Sprintf("key-%d", b.id), "name": fmt.Sprintf("Block %d", b.id),
		"assetType": map[string]any{"id": 197, "name": "htmlblock"}, "category": map[string]any{"id": 1},
		"content": string(content), "modifiedDate": mod.Format(time.RFC3339Nano),
	})
	e := repo.ManifestBlock{ID: b.id, CustomerKey: fmt.Sprintf("key-%d", b.id), Name: fmt.Sprintf("Block %d", b.id),
		AssetType: repo.ManifestType{ID: 197, Name: "htmlblock"}, Category: repo.ManifestCategory{ID: 1, Name: "Content Builder", Path: "Content Builder"},
		ModifiedDate: mod.Format(time.RFC3339Nano), Modified: mod}
	base := repo.BlockBaseName(b.id, e.Name, time.Time{})
	for _, f := range []struct {
		rel, role string
		data      []byte
	}{{base + ".json", repo.RoleJSON, doc}, {base + ".html", repo.RoleContent, content}} {
		rel := path.Join(repo.BlocksDir, f.rel)
		if _, err := st.Put(ctx, path.Join(folder, rel), bytes.NewReader(f.data), int64(len(f.data)), storage.PutOptions{NoSync: true}); err != nil {
			return e, err
		}
		sum := sha256.Sum256(f.data)
		e.Files = append(e.Files, repo.ManifestFile{Path: rel, Role: f.role, Size: int64(len(f.data)), SHA256: hex.EncodeToString(sum[:])})
	}
	return e, nil
}
