package repo_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/backup/repo/repotest"

	"github.com/backup-creator/backup-creator/pkg/storage"
	"github.com/backup-creator/backup-creator/pkg/storage/mem"
)

func TestVerify(t *testing.T) {
	const folder = "backup_20261101"
	setup := func(t *testing.T) (*mem.Store, *repo.Manifest) {
		st := mem.New()
		m := repotest.PutBackup(t, st, folder, repotest.Day(0), []repotest.Block{
			{ID: 1, Key: "k1", Name: "One", Path: "Content Builder", Cat: 10, Mod: repotest.Day(-1), Content: "<p>one</p>"},
			{ID: 2, Key: "k2", Name: "Two", Path: "Content Builder", Cat: 10, Mod: repotest.Day(-1), Content: "<p>two</p>"},
		}, nil)
		return st, m
	}
	cases := []struct {
		name    string
		damage  func(t *testing.T, st *mem.Store, m *repo.Manifest) string // returns the damaged path
		kind    string
		missing int
		corrupt int
		extra   int
	}{
		{name: "intact"},
		{name: "flipped byte", kind: repo.ProblemHash, corrupt: 1, damage: func(t *testing.T, st *mem.Store, m *repo.Manifest) string {
			p := m.Blocks[1].Files[0].Path
			b := repotest.ReadObject(t, st, folder+"/"+p)
			b[len(b)/2] ^= 0x01
			repotest.PutObject(t, st, folder+"/"+p, b)
			return p
		}},
		{name: "truncated", kind: repo.ProblemSize, corrupt: 1, damage: func(t *testing.T, st *mem.Store, m *repo.Manifest) string {
			p := m.Blocks[0].Files[1].Path
			b := repotest.ReadObject(t, st, folder+"/"+p)
			repotest.PutObject(t, st, folder+"/"+p, b[:len(b)-3])
			return p
		}},
		{name: "missing", kind: repo.ProblemMissing, missing: 1, damage: func(t *testing.T, st *mem.Store, m *repo.Manifest) string {
			p := m.Blocks[0].Files[0].Path
			if err := st.Delete(t.Context(), folder+"/"+p, storage.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			return p
		}},
		{name: "extra", kind: repo.ProblemExtra, extra: 1, damage: func(t *testing.T, st *mem.Store, m *repo.Manifest) string {
			repotest.PutObject(t, st, folder+"/blocks/99_stray.html", []byte("stray"))
			return "blocks/99_stray.html"
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, m := setup(t)
			var damaged string
			if tc.damage != nil {
				damaged = tc.damage(t, st, m)
			}
			rep, err := repo.Verify(t.Context(), st, folder)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Files != 4 || rep.Bytes != m.Counts.Bytes {
				t.Errorf("files %d bytes %d, want 4 and %d", rep.Files, rep.Bytes, m.Counts.Bytes)
			}
			if len(rep.Missing) != tc.missing || len(rep.Corrupt) != tc.corrupt || len(rep.Extra) != tc.extra {
				t.Fatalf("report %+v", rep)
			}
			if tc.damage == nil {
				if !rep.OK() || rep.Checked != 4 {
					t.Fatalf("intact backup reported %+v", rep)
				}
				return
			}
			if rep.OK() || rep.Status != repo.VerifyDamaged {
				t.Fatalf("status %s, want damaged", rep.Status)
			}
			p := rep.Problems()
			if len(p) != 1 || p[0].Path != damaged || p[0].Kind != tc.kind {
				t.Fatalf("problems %+v, want one %s on %s", p, tc.kind, damaged)
			}
			if tc.kind != repo.ProblemExtra && (p[0].BlockID == 0 || p[0].WantSHA256 == "") {
				t.Errorf("problem lacks the block id or expected hash: %+v", p[0])
			}
			if tc.kind == repo.ProblemHash && (p[0].GotSize != p[0].WantSize || p[0].GotSHA256 == p[0].WantSHA256) {
				t.Errorf("hash problem %+v", p[0])
			}
			if want := 3; tc.kind != repo.ProblemExtra && rep.Checked != want {
				t.Errorf("checked %d, want %d", rep.Checked, want)
			}
		})
	}
}

func TestVerifyIncompleteAndDamagedManifest(t *testing.T) {
	st := mem.New()
	repotest.PutObject(t, st, "backup_20261101/blocks/1_x.json", []byte(`{}`))
	rep, err := repo.Verify(t.Context(), st, "backup_20261101")
	if !errors.Is(err, repo.ErrIncomplete) || rep == nil || rep.Status != repo.VerifyIncomplete {
		t.Fatalf("incomplete: %+v, %v", rep, err)
	}
	repotest.PutObject(t, st, "backup_20261102/manifest.json", []byte(`{"formatVersion":1,"blocks":[{"id":1,`))
	rep, err = repo.Verify(t.Context(), st, "backup_20261102")
	if err != nil || rep.OK() || len(rep.Corrupt) != 1 || rep.Corrupt[0].Path != repo.ManifestName {
		t.Fatalf("damaged manifest: %+v, %v", rep, err)
	}
}

// failingGet fails every Get after the manifest with an I/O error.
type failingGet struct {
	*mem.Store
	err error
}

func (f failingGet) Get(ctx context.Context, key string) (io.ReadCloser, storage.ObjectInfo, error) {
	if !bytes.HasSuffix([]byte(key), []byte(repo.ManifestName)) {
		return nil, storage.ObjectInfo{}, f.err
	}
	return f.Store.Get(ctx, key)
}

func TestVerifyReadErrorIsNotCorruption(t *testing.T) {
	st := mem.New()
	repotest.PutBackup(t, st, "backup_20261101", repotest.Day(0), []repotest.Block{{ID: 1, Key: "k", Name: "n", Mod: repotest.Day(-1), Content: "c"}}, nil)
	boom := errors.New("connection reset")
	_, err := repo.Verify(t.Context(), failingGet{st, boom}, "backup_20261101")
	if !errors.Is(err, boom) {
		t.Fatalf("error = %v, want the read error (a failed read proves nothing about the data)", err)
	}
}

// BenchmarkVerify checks a backup of 5,000 blocks (10,000 files).
func BenchmarkVerify(b *testing.B) {
	st := mem.New()
	var blocks []repotest.Block
	for i := range 5000 {
		blocks = append(blocks, repotest.Block{ID: int64(i + 1), Key: fmt.Sprintf("k%d", i), Name: fmt.Sprintf("Block %d", i),
			Path: "Content Builder", Cat: 10, Mod: repotest.Day(-1), Content: strings.Repeat("<p>content</p>", 100)})
	}
	m := repotest.PutBackup(b, st, "backup_20261101", repotest.Day(0), blocks, nil)
	b.SetBytes(m.Counts.Bytes)
	b.ReportAllocs()
	for b.Loop() {
		rep, err := repo.Verify(b.Context(), st, "backup_20261101")
		if err != nil || !rep.OK() {
			b.Fatalf("%v %+v", err, rep)
		}
	}
}
