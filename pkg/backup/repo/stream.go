package repo

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/backup-creator/backup-creator/pkg/storage"
)

// BlockState is a point-in-time state read block by block, in id order: a
// *Snapshot (every block in memory) or a *SnapshotStream (the blocks spooled
// to a temporary file, memory per block id a few dozen bytes).
type BlockState interface {
	// AsOf is the backup the state is as of.
	AsOf() string
	// Len is the number of blocks in the state (deleted ones included).
	Len() int
	// Each calls fn for every block in id order, a new *SnapshotBlock each
	// time (fn may keep it); an error from fn stops it and is returned. It
	// reads nothing from the destination, so it can be called again, and
	// also after a context ended, to account for every block.
	Each(fn func(*SnapshotBlock) error) error
}

// AsOf implements BlockState.
func (s *Snapshot) AsOf() string { return s.Backup }

// Len implements BlockState.
func (s *Snapshot) Len() int { return len(s.Blocks) }

// Each implements BlockState.
func (s *Snapshot) Each(fn func(*SnapshotBlock) error) error {
	for i := range s.Blocks {
		b := s.Blocks[i]
		if err := fn(&b); err != nil {
			return err
		}
	}
	return nil
}

// SnapshotStream is the state of LoadSnapshot without the blocks in memory:
// OpenSnapshot reads every manifest of the chain once, copying each entry
// into a temporary file and keeping, per block id, only where the winning
// version's entry lies there and which backup holds it (the rules are
// Chain's). Each then reads the winners back in id order. Close it.
type SnapshotStream struct {
	// Backup is the backup the state is as of.
	Backup string
	// StartedAt is when that backup's run started.
	StartedAt time.Time
	// Backups are the complete backups the state draws from, oldest first.
	Backups []string

	spool *os.File
	// Parallel, sorted by id: one element per block id.
	ids  []int64
	vers []streamVersion
	// tombs holds the tombstone that applies to a block, by id.
	tombs map[int64]chainTomb
}

// streamVersion locates one block's winning version: its entry in the spool
// and the backup (index in Backups) that holds it. The modified instant is
// kept as integers so that the index holds no pointers for the collector to
// scan.
type streamVersion struct {
	off  int64
	sec  int64
	nsec int32
	size int32
	idx  int32
}

func (v *streamVersion) modified() time.Time { return time.Unix(v.sec, int64(v.nsec)).UTC() }

// OpenSnapshot resolves the same state as LoadSnapshot (same ref, at and
// errors) as a SnapshotStream.
func OpenSnapshot(ctx context.Context, st storage.Store, ref string, at time.Time) (_ *SnapshotStream, err error) {
	target, backups, err := snapshotBackups(ctx, st, ref, at)
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp("", "backup-creator-state-*.jsonl")
	if err != nil {
		return nil, fmt.Errorf("create snapshot spool: %w", err)
	}
	s := &SnapshotStream{Backup: target.Name, Backups: backups, spool: f}
	if target.StartedAt != nil {
		s.StartedAt = *target.StartedAt
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	w := &countingWriter{w: bufio.NewWriterSize(f, 64<<10)}
	enc := json.NewEncoder(w)
	latest := map[int64]streamVersion{}
	tombs := map[int64]chainTomb{}
	for idx, name := range backups {
		m, err := ScanBackup(ctx, st, name, func(b ManifestBlock) error {
			cur, ok := latest[b.ID]
			if ok && !supersedes(b.Modified, cur.modified()) {
				return nil
			}
			off := w.n
			if err := enc.Encode(&b); err != nil {
				return fmt.Errorf("write snapshot spool: %w", err)
			}
			if w.n-off > 1<<30 {
				return fmt.Errorf("%s: block %d: manifest entry too large", name, b.ID)
			}
			latest[b.ID] = streamVersion{off: off, size: int32(w.n - off), sec: b.Modified.Unix(), nsec: int32(b.Modified.Nanosecond()), idx: int32(idx)}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for _, d := range m.Deleted {
			if t, ok := tombs[d.ID]; !ok || supersedes(d.DetectedAt, t.d.DetectedAt) {
				tombs[d.ID] = chainTomb{d: d, idx: idx}
			}
		}
	}
	if err := w.w.Flush(); err != nil {
		return nil, fmt.Errorf("write snapshot spool: %w", err)
	}
	s.ids = make([]int64, 0, len(latest))
	for id := range latest {
		s.ids = append(s.ids, id)
	}
	slices.Sort(s.ids)
	s.vers = make([]streamVersion, len(s.ids))
	s.tombs = map[int64]chainTomb{}
	for i, id := range s.ids {
		v := latest[id]
		s.vers[i] = v
		if t, ok := tombs[id]; ok && tombApplies(t.idx, t.d.DetectedAt, int(v.idx), v.modified()) {
			s.tombs[id] = t
		}
	}
	return s, nil
}

// AsOf implements BlockState.
func (s *SnapshotStream) AsOf() string { return s.Backup }

// Len implements BlockState.
func (s *SnapshotStream) Len() int { return len(s.ids) }

// Each implements BlockState.
func (s *SnapshotStream) Each(fn func(*SnapshotBlock) error) error {
	if s.spool == nil {
		return errors.New("snapshot stream is closed")
	}
	var buf []byte
	for i, id := range s.ids {
		v := &s.vers[i]
		if cap(buf) < int(v.size) {
			buf = make([]byte, v.size)
		}
		buf = buf[:v.size]
		if _, err := s.spool.ReadAt(buf, v.off); err != nil {
			return fmt.Errorf("read snapshot spool: %w", err)
		}
		b := &SnapshotBlock{Backup: s.Backups[v.idx]}
		if err := json.Unmarshal(buf, &b.ManifestBlock); err != nil {
			return fmt.Errorf("read snapshot spool: block %d: %w", id, err)
		}
		if t, ok := s.tombs[id]; ok {
			d := t.d
			b.Deleted = &d
			b.DeletedIn = s.Backups[t.idx]
		}
		if err := fn(b); err != nil {
			return err
		}
	}
	return nil
}

// Close removes the spool. It is safe to call more than once.
func (s *SnapshotStream) Close() {
	if s == nil || s.spool == nil {
		return
	}
	name := s.spool.Name()
	_ = s.spool.Close()
	_ = os.Remove(name)
	s.spool = nil
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w *bufio.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
