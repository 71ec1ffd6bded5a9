package repo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/backup-creator/backup-creator/pkg/storage"
)

// Kinds of VerifyProblem.
const (
	ProblemMissing = "missing" // listed in the manifest, not in the store
	ProblemSize    = "size"    // a different length than the manifest says
	ProblemHash    = "sha256"  // the right length, a different sha256
	ProblemExtra   = "extra"   // in the folder, not in the manifest
	ProblemDamaged = "damaged" // manifest.json cannot be decoded
)

// verifyConcurrency bounds the files read at once.
const verifyConcurrency = 4

// VerifyProblem is one file that does not match the manifest.
type VerifyProblem struct {
	// Path is relative to the backup folder ("blocks/123_Footer.html").
	Path string `json:"path"`
	// Kind is ProblemMissing, ProblemSize, ProblemHash, ProblemExtra or ProblemDamaged.
	Kind string `json:"kind"`
	// BlockID is the block the file belongs to (0 for extra files).
	BlockID int64 `json:"blockId,omitempty"`
	// WantSize/WantSHA256 are the manifest's values, GotSize/GotSHA256 what
	// was read (GotSHA256 is empty for a missing file).
	WantSize   int64  `json:"wantSize,omitempty"`
	GotSize    int64  `json:"gotSize,omitempty"`
	WantSHA256 string `json:"wantSha256,omitempty"`
	GotSHA256  string `json:"gotSha256,omitempty"`
	// Detail is a human-readable explanation.
	Detail string `json:"detail"`
}

// VerifyReport is the result of checking one backup. Its JSON form is part of
// `backup-creator verify --json`.
type VerifyReport struct {
	Backup string `json:"backup"`
	// Status is "ok", "damaged" (something is wrong) or "incomplete" (no
	// manifest: nothing to check against).
	Status string `json:"status"`
	// Files and Bytes count what the manifest lists; Checked how many of those
	// files were read and matched.
	Files   int   `json:"files"`
	Bytes   int64 `json:"bytes"`
	Checked int   `json:"checked"`
	// Missing, Corrupt (size or sha256 mismatch) and Extra list the problems,
	// sorted by path; empty lists are [] in JSON.
	Missing []VerifyProblem `json:"missing"`
	Corrupt []VerifyProblem `json:"corrupt"`
	Extra   []VerifyProblem `json:"extra"`
	// Pending lists files an interrupted prune staged under carried/ and has
	// not yet listed in the manifest; they are not problems (run prune again
	// to finish).
	Pending []string `json:"pending,omitempty"`
}

// Verify status values.
const (
	VerifyOK         = "ok"
	VerifyDamaged    = "damaged"
	VerifyIncomplete = BackupIncomplete
)

// OK reports whether every file matched and nothing was extra.
func (r *VerifyReport) OK() bool {
	return r.Status == VerifyOK
}

// Problems returns every problem, missing first, then corrupt, then extra.
func (r *VerifyReport) Problems() []VerifyProblem {
	out := make([]VerifyProblem, 0, len(r.Missing)+len(r.Corrupt)+len(r.Extra))
	out = append(out, r.Missing...)
	out = append(out, r.Corrupt...)
	return append(out, r.Extra...)
}

// Verify re-reads every file of a backup folder and checks its size and
// sha256 against the manifest, streaming (the files are checked while the
// manifest is read, and nothing is buffered beyond a copy buffer per file
// being read). It reports missing files, corrupt files and extra files (in
// the folder but not in the manifest). A folder without a manifest returns
// a report with Status "incomplete" and an error wrapping ErrIncomplete; a
// manifest that cannot be decoded gives Status "damaged". The error is
// non-nil only when the check itself could not be done. Memory grows by 16
// bytes per file listed (see pathSet), not with the manifest's entries.
func Verify(ctx context.Context, st storage.Store, folder string) (*VerifyReport, error) {
	newReport := func() *VerifyReport {
		return &VerifyReport{Backup: folder, Status: VerifyOK, Missing: []VerifyProblem{}, Corrupt: []VerifyProblem{}, Extra: []VerifyProblem{}}
	}
	rep := newReport()
	var mu sync.Mutex
	add := func(p VerifyProblem) {
		mu.Lock()
		defer mu.Unlock()
		switch p.Kind {
		case ProblemMissing:
			rep.Missing = append(rep.Missing, p)
		case ProblemExtra:
			rep.Extra = append(rep.Extra, p)
		default:
			rep.Corrupt = append(rep.Corrupt, p)
		}
	}
	var listed pathSet
	files, size := 0, int64(0)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(verifyConcurrency)
	_, err := ScanBackup(gctx, st, folder, func(b ManifestBlock) error {
		for _, f := range b.Files {
			listed.add(f.Path)
			files++
			size += f.Size
			id := b.ID
			g.Go(func() error {
				p, err := checkFile(gctx, st, folder, f)
				if err != nil {
					return err
				}
				if p != nil {
					p.BlockID = id
					add(*p)
					return nil
				}
				mu.Lock()
				rep.Checked++
				mu.Unlock()
				return nil
			})
		}
		return nil
	})
	werr := g.Wait()
	switch {
	case errors.Is(err, ErrIncomplete):
		rep = newReport()
		rep.Status = VerifyIncomplete
		return rep, err
	case werr != nil:
		return nil, fmt.Errorf("verify %s: %w", folder, werr)
	case err != nil && isDecodeError(err):
		// What was checked before the damage showed counts for nothing.
		rep = newReport()
		rep.Status = VerifyDamaged
		rep.Corrupt = append(rep.Corrupt, VerifyProblem{Path: ManifestName, Kind: ProblemDamaged, Detail: err.Error()})
		return rep, nil
	case err != nil:
		return nil, err
	}
	rep.Files, rep.Bytes = files, size
	// Files a prune staged under carried/ before it was interrupted are not
	// damage: the next prune either lists them in the manifest or removes them.
	journal, err := ReadPruneJournal(ctx, st)
	if err != nil {
		return nil, err
	}
	// Extra files: listed after the checks, against the paths' digests.
	listed.seal()
	prefix := folder + "/"
	err = st.List(ctx, prefix, func(o storage.ObjectInfo) error {
		rel := strings.TrimPrefix(o.Key, prefix)
		if rel == ManifestName || listed.has(rel) {
			return nil
		}
		if journal != nil && strings.HasPrefix(rel, CarriedDir+"/") {
			rep.Pending = append(rep.Pending, rel)
			return nil
		}
		add(VerifyProblem{Path: rel, Kind: ProblemExtra, GotSize: o.Size, Detail: "not listed in the manifest"})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("verify %s: list %s: %w", folder, prefix, err)
	}
	sort.Strings(rep.Pending)
	for _, l := range [][]VerifyProblem{rep.Missing, rep.Corrupt, rep.Extra} {
		sort.Slice(l, func(i, j int) bool { return l[i].Path < l[j].Path })
	}
	if len(rep.Missing)+len(rep.Corrupt)+len(rep.Extra) > 0 {
		rep.Status = VerifyDamaged
	}
	return rep, nil
}

// pathSet is a set of file paths held as the first 16 bytes of their
// sha256: 16 bytes per path, sorted once, instead of the paths themselves.
// Two paths sharing a digest (odds about 2^-128 per pair) would make an
// extra file pass as listed; nothing else depends on it.
type pathSet struct{ sums [][16]byte }

func pathSum(p string) [16]byte {
	full := sha256.Sum256([]byte(p))
	return [16]byte(full[:16])
}

func (s *pathSet) add(p string) { s.sums = append(s.sums, pathSum(p)) }

// seal sorts the set; call it after the last add, before has.
func (s *pathSet) seal() {
	slices.SortFunc(s.sums, func(a, b [16]byte) int { return bytes.Compare(a[:], b[:]) })
	s.sums = slices.Compact(s.sums)
}

func (s *pathSet) has(p string) bool {
	sum := pathSum(p)
	_, ok := slices.BinarySearchFunc(s.sums, sum, func(a, b [16]byte) int { return bytes.Compare(a[:], b[:]) })
	return ok
}

// checkFile reads one file and returns the problem it has, or nil.
func checkFile(ctx context.Context, st storage.Store, folder string, f ManifestFile) (*VerifyProblem, error) {
	key := path.Join(folder, f.Path)
	p := VerifyProblem{Path: f.Path, WantSize: f.Size, WantSHA256: f.SHA256}
	rc, _, err := st.Get(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		p.Kind, p.Detail = ProblemMissing, "listed in the manifest but not stored"
		return &p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	n, sum, err := hashReader(rc)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	p.GotSize, p.GotSHA256 = n, sum
	switch {
	case n != f.Size:
		p.Kind, p.Detail = ProblemSize, fmt.Sprintf("%d bytes, the manifest says %d", n, f.Size)
		return &p, nil
	case !strings.EqualFold(sum, f.SHA256):
		p.Kind, p.Detail = ProblemHash, "sha256 differs from the manifest"
		return &p, nil
	}
	return nil, nil
}

// copyBufs are the copy buffers of hashReader, reused across files.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// hashReader streams r through sha256 and returns its length and hex digest.
func hashReader(r io.Reader) (int64, string, error) {
	h := sha256.New()
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	n, err := io.CopyBuffer(h, r, *buf)
	if err != nil {
		return n, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// ErrFileMismatch means a backed-up file does not have the size or sha256
// its manifest entry records: the backup is damaged, and reading it again
// fails the same way.
var ErrFileMismatch = errors.New("does not match its manifest entry (size or sha256)")

// maxReadFile bounds what ReadFile holds when a manifest entry claims less.
const maxReadFile = 64 << 20

// ReadFile reads one backed-up file of folder into memory and checks its
// size and sha256 against the manifest entry f. Use it for files that are
// small enough to hold (a block's JSON or content); a mismatch is an error
// wrapping ErrFileMismatch.
func ReadFile(ctx context.Context, st storage.Store, folder string, f ManifestFile) ([]byte, error) {
	key := path.Join(folder, f.Path)
	rc, _, err := st.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	data, err := readAllLimited(rc, max(f.Size, maxReadFile))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	n, sum, _ := hashReader(bytes.NewReader(data))
	if n != f.Size || !strings.EqualFold(sum, f.SHA256) {
		return nil, fmt.Errorf("%s %w: the backup is damaged, run verify", key, ErrFileMismatch)
	}
	return data, nil
}
