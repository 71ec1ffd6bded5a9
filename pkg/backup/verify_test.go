package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/backup-creator/backup-creator/pkg/storage"
	"github.com/backup-creator/backup-creator/pkg/storage/mem"
)

func readObject(t *testing.T, st storage.Store, key string) []byte {
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

func TestVerify(t *testing.T) {
	const folder = "backup_20261101"
	setup := func(t *testing.T) (*mem.Store, *Manifest) {
		st := mem.New()
		m := putBackup(t, st, folder, day(0), []tblock{
			{id: 1, key: "k1", name: "One", path: "Content Builder", cat: 10, mod: day(-1), content: "<p>one</p>"},
			{id: 2, key: "k2", name: "Two", path: "Content Builder", cat: 10, mod: day(-1), content: "<p>two</p>"},
		}, nil)
		return st, m
	}
	cases := []struct {
		name    string
		damage  func(t *testing.T, st *mem.Store, m *Manifest) string // returns the damaged path
		kind    string
		missing int
		corrupt int
		extra   int
	}{
		{name: "intact"},
		{name: "flipped byte", kind: ProblemHash, corrupt: 1, damage: func(t *testing.T, st *mem.Store, m *Manifest) string {
			p := m.Blocks[1].Files[0].Path
			b := readObject(t, st, folder+"/"+p)
			b[len(b)/2] ^= 0x01
			putObject(t, st, folder+"/"+p, b)
			return p
		}},
		{name: "truncated", kind: ProblemSize, corrupt: 1, damage: func(t *testing.T, st *mem.Store, m *Manifest) string {
			p := m.Blocks[0].Files[1].Path
			b := readObject(t, st, folder+"/"+p)
			putObject(t, st, folder+"/"+p, b[:len(b)-3])
			return p
		}},
		{name: "missing", kind: ProblemMissing, missing: 1, damage: func(t *testing.T, st *mem.Store, m *Manifest) string {
			p := m.Blocks[0].Files[0].Path
			if err := st.Delete(t.Context(), folder+"/"+p, storage.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			return p
		}},
		{name: "extra", kind: ProblemExtra, extra: 1, damage: func(t *testing.T, st *mem.Store, m *Manifest) string {
			putObject(t, st, folder+"/blocks/99_stray.html", []byte("stray"))
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
			rep, err := Verify(t.Context(), st, folder)
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
			if rep.OK() || rep.Status != VerifyDamaged {
				t.Fatalf("status %s, want damaged", rep.Status)
			}
			p := rep.Problems()
			if len(p) != 1 || p[0].Path != damaged || p[0].Kind != tc.kind {
				t.Fatalf("problems %+v, want one %s on %s", p, tc.kind, damaged)
			}
			if tc.kind != ProblemExtra && (p[0].BlockID == 0 || p[0].WantSHA256 == "") {
				t.Errorf("problem lacks the block id or expected hash: %+v", p[0])
			}
			if tc.kind == ProblemHash && (p[0].GotSize != p[0].WantSize || p[0].GotSHA256 == p[0].WantSHA256) {
				t.Errorf("hash problem %+v", p[0])
			}
			if want := 3; tc.kind != ProblemExtra && rep.Checked != want {
				t.Errorf("checked %d, want %d", rep.Checked, want)
			}
		})
	}
}

func TestVerifyIncompleteAndDamagedManifest(t *testing.T) {
	st := mem.New()
	putObject(t, st, "backup_20261101/blocks/1_x.json", []byte(`{}`))
	rep, err := Verify(t.Context(), st, "backup_20261101")
	if !errors.Is(err, ErrIncomplete) || rep == nil || rep.Status != VerifyIncomplete {
		t.Fatalf("incomplete: %+v, %v", rep, err)
	}
	putObject(t, st, "backup_20261102/manifest.json", []byte(`{"formatVersion":1,"blocks":[{"id":1,`))
	rep, err = Verify(t.Context(), st, "backup_20261102")
	if err != nil || rep.OK() || len(rep.Corrupt) != 1 || rep.Corrupt[0].Path != ManifestName {
		t.Fatalf("damaged manifest: %+v, %v", rep, err)
	}
}

// failingGet fails every Get after the manifest with an I/O error.
type failingGet struct {
	*mem.Store
	err error
}

func (f failingGet) Get(ctx context.Context, key string) (io.ReadCloser, storage.ObjectInfo, error) {
	if !bytes.HasSuffix([]byte(key), []byte(ManifestName)) {
		return nil, storage.ObjectInfo{}, f.err
	}
	return f.Store.Get(ctx, key)
}

func TestVerifyReadErrorIsNotCorruption(t *testing.T) {
	st := mem.New()
	putBackup(t, st, "backup_20261101", day(0), []tblock{{id: 1, key: "k", name: "n", mod: day(-1), content: "c"}}, nil)
	boom := errors.New("connection reset")
	_, err := Verify(t.Context(), failingGet{st, boom}, "backup_20261101")
	if !errors.Is(err, boom) {
		t.Fatalf("error = %v, want the read error (a failed read proves nothing about the data)", err)
	}
}

// BenchmarkVerify checks a backup of 5,000 blocks (10,000 files).
func BenchmarkVerify(b *testing.B) {
	st := mem.New()
	var blocks []tblock
	for i := range 5000 {
		blocks = append(blocks, tblock{id: int64(i + 1), key: fmt.Sprintf("k%d", i), name: fmt.Sprintf("Block %d", i),
			path: "Content Builder", cat: 10, mod: day(-1), content: strings.Repeat("<p>content</p>", 100)})
	}
	m := putBackup(b, st, "backup_20261101", day(0), blocks, nil)
	b.SetBytes(m.Counts.Bytes)
	b.ReportAllocs()
	for b.Loop() {
		rep, err := Verify(b.Context(), st, "backup_20261101")
		if err != nil || !rep.OK() {
			b.Fatalf("%v %+v", err, rep)
		}
	}
}
