package backup

// Storing the blocks of a run: the worker pool fed by the pager, one block's
// files, and the bookkeeping that becomes the manifest and the next state.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sync"
	"time"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/sfmc"
	"github.com/backup-creator/backup-creator/pkg/storage"
)

// counts copies the run's counters into the summary.
func (r *runState) counts(sum *Summary) {
	sum.Blocks, sum.Files, sum.Bytes, sum.Skipped, sum.Failed, sum.Interrupted = r.blocks, r.files, r.bytes, r.skipped, r.failed, r.interrupted
}

// finish waits for the blocks under way and turns failures into the run's error.
func (r *runState) finish(ctx context.Context, sum *Summary) error {
	r.wait()
	r.counts(sum)
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %w", errInterrupted, context.Cause(ctx))
	}
	if len(r.failures) > 0 {
		sum.Status = StatusPartial
		return &PartialError{Failed: r.failed, Total: r.blocks + r.failed, Err: errors.Join(r.failures...)}
	}
	return nil
}

func (e *Engine) loadCategories(ctx context.Context) (map[int64]sfmc.Category, error) {
	cats := map[int64]sfmc.Category{}
	err := e.Source.ListCategories(ctx, func(c sfmc.Category) error {
		cats[c.ID] = c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list folders: %w", err)
	}
	return cats, nil
}

// runState is the bookkeeping of one run. handle is called by the pager one
// asset at a time; the writes run in up to Concurrency goroutines.
type runState struct {
	e      *Engine
	opts   RunOptions
	folder string
	spool  *repo.ManifestWriter
	skip   map[repo.Version]bool
	// seen is the modifiedDate (UnixNano) of the first version of each id
	// this run took; later holds any further versions (a block changed
	// while the run was under way). Versions are told apart by
	// (id, modifiedDate), never by the order they arrive in: a partitioned
	// listing delivers them in no particular order.
	seen  map[int64]int64
	later map[repo.Version]bool
	ids   []int64 // every id the query returned (for deletion tracking)
	// skippedIDs are the ids of ids skipped as already stored (overlap).
	skippedIDs []int64
	cats       map[int64]sfmc.Category

	// work feeds the write workers (nil while none run); seq, the next
	// block's place in the manifest, is only touched by handle.
	work chan blockJob
	seq  int
	wg   sync.WaitGroup

	mu       sync.Mutex
	nextOut  int // next sequence number to append to the spool
	pending  map[int]*repo.ManifestBlock
	blocks   int
	files    int
	bytes    int64
	skipped  int
	failed   int
	failures []error
	// interrupted counts blocks cut off by the end of the run's context.
	interrupted     int
	spoolErrCounted bool
	maxSeen         time.Time
	// futureAfter: blocks dated after it do not move maxSeen (counted in future).
	futureAfter time.Time
	future      int
	recent      []repo.Version
	spoolErr    error
}

// handle takes one asset from the listing. The listing never calls it
// concurrently.
func (r *runState) handle(ctx context.Context, a sfmc.Asset) error {
	v := repo.Version{ID: a.ID, Modified: jsonInstant(a.ModifiedDate)}
	if r.skip[v] {
		r.ids = append(r.ids, a.ID)
		r.skippedIDs = append(r.skippedIDs, a.ID)
		r.mu.Lock()
		r.skipped++
		r.noteModified(v, false)
		r.mu.Unlock()
		return nil
	}
	var later time.Time // zero for the first version of the id in this run
	md := v.Modified.UnixNano()
	switch first, ok := r.seen[a.ID]; {
	case !ok:
		r.seen[a.ID] = md
	case first == md || r.later[v]:
		return nil // this version is already taken: the listing repeated it
	default:
		if r.later == nil {
			r.later = map[repo.Version]bool{}
		}
		r.later[v] = true
		later = v.Modified
	}
	r.ids = append(r.ids, a.ID)
	if r.opts.DryRun {
		r.mu.Lock()
		r.blocks++
		r.bytes += int64(len(a.Raw))
		r.noteModified(v, true)
		r.mu.Unlock()
		return nil
	}
	if r.work == nil {
		r.startWorkers()
	}
	// Wait for a free worker: this is what bounds memory to about
	// Concurrency blocks plus the page the pager holds.
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	select {
	case r.work <- blockJob{ctx: ctx, seq: r.seq, v: v, a: a, later: later}:
		r.seq++
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	return nil
}

// blockJob is one block handed to a write worker; seq is its place in the
// manifest.
type blockJob struct {
	ctx   context.Context
	seq   int
	v     repo.Version
	a     sfmc.Asset
	later time.Time
}

// startWorkers starts Concurrency write workers. They live until wait: a
// goroutine per block would grow a fresh stack through the storage SDKs'
// deep call chains for every block.
func (r *runState) startWorkers() {
	if r.pending == nil {
		r.pending = map[int]*repo.ManifestBlock{}
	}
	r.work = make(chan blockJob)
	for range r.opts.Concurrency {
		r.wg.Add(1)
		go r.worker(r.work)
	}
}

func (r *runState) worker(work <-chan blockJob) {
	defer r.wg.Done()
	for j := range work {
		if j.ctx.Err() != nil {
			// Handed over as the run stopped: start nothing.
			r.done(j.seq, j.v, nil, nil, true)
			continue
		}
		entry, err := r.e.storeBlock(j.ctx, r, j.a, j.later)
		r.done(j.seq, j.v, entry, err, j.ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)))
	}
}

// done records the outcome of one block; stopped says err is the run's
// context ending (the block is interrupted, not failed).
func (r *runState) done(seq int, v repo.Version, entry *repo.ManifestBlock, err error, stopped bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case err == nil && entry == nil:
		// Not started: the run stopped as the block was handed over.
	case err != nil && stopped:
		r.interrupted++
		entry = nil
	case err != nil:
		r.failed++
		if len(r.failures) < maxReportedErrors {
			r.failures = append(r.failures, err)
		}
		r.e.Log.Error().Err(err).Int64("asset_id", v.ID).Msg("block not backed up")
		entry = nil
	default:
		r.blocks++
		r.files += len(entry.Files)
		var n int64
		for _, f := range entry.Files {
			n += f.Size
		}
		r.bytes += n
		if r.e.Progress != nil {
			r.e.Progress.Add(1, n)
		}
		r.noteModified(v, true)
		r.recent = appendRecent(r.recent, v, r.maxSeen.Add(-r.opts.Overlap))
	}
	r.pending[seq] = entry
	for {
		e, ok := r.pending[r.nextOut]
		if !ok {
			break
		}
		delete(r.pending, r.nextOut)
		r.nextOut++
		if e != nil && r.spoolErr == nil {
			r.spoolErr = r.spool.Add(*e)
		}
	}
}

// noteModified moves maxSeen to v's date (r.mu held), unless v is dated more
// than futureAllowance after SFMC's clock: such a block is backed up, but a
// watermark at its date would hide every change until then. stored says the
// version is stored by this run (it is warned about only then).
func (r *runState) noteModified(v repo.Version, stored bool) {
	if v.Modified.After(r.futureAfter) {
		r.future++
		if stored {
			r.e.Log.Warn().Int64("asset_id", v.ID).Str("modified", v.Modified.Format(time.RFC3339Nano)).
				Msg("block dated more than a day after SFMC's clock: backed up, but the watermark does not move to its date")
		}
		return
	}
	if v.Modified.After(r.maxSeen) {
		r.maxSeen = v.Modified
	}
}

// appendRecent keeps only the versions at or above cutoff, so the list stays
// bounded by what changed within the overlap window.
func appendRecent(list []repo.Version, v repo.Version, cutoff time.Time) []repo.Version {
	list = append(list, v)
	if len(list) < 1024 || len(list)%1024 != 0 {
		return list
	}
	out := list[:0]
	for _, x := range list {
		if !x.Modified.Before(cutoff) {
			out = append(out, x)
		}
	}
	return out
}

func (r *runState) close() {
	r.wait() // no worker outlives the run
	if r.spool != nil {
		r.spool.Close()
	}
}

func (r *runState) wait() {
	if r.work != nil {
		close(r.work)
		r.work = nil
	}
	r.wg.Wait()
	if r.spoolErr != nil && !r.spoolErrCounted {
		r.spoolErrCounted = true
		r.failures = append(r.failures, fmt.Errorf("manifest spool: %w", r.spoolErr))
		r.failed++
	}
}

// storeBlock writes one block's files and returns its manifest entry; later
// is the version's modifiedDate when the run took another version of the
// block before (see repo.BlockBaseName).
func (e *Engine) storeBlock(ctx context.Context, r *runState, a sfmc.Asset, later time.Time) (*repo.ManifestBlock, error) {
	base := repo.BlockBaseName(a.ID, a.Name, later)
	typeName := a.AssetType.Name
	if typeName == "" {
		typeName = sfmc.TypeName(a.AssetType.ID)
	}
	entry := &repo.ManifestBlock{
		ID: a.ID, CustomerKey: a.CustomerKey, Name: a.Name,
		AssetType:    repo.ManifestType{ID: a.AssetType.ID, Name: typeName},
		Category:     r.category(a.Category),
		ModifiedDate: a.ModifiedDateRaw, Modified: jsonInstant(a.ModifiedDate),
	}
	put := func(rel, role string, data []byte) error {
		key := path.Join(r.folder, repo.BlocksDir, rel)
		// Block files need not be durable one by one, nor atomic: the folder
		// is new, nothing reads it before its manifest (the commit point), and
		// the store syncs them all before the manifest is written.
		if _, err := e.Store.Put(ctx, key, bytes.NewReader(data), int64(len(data)), storage.PutOptions{Fresh: true, NoSync: true}); err != nil {
			return fmt.Errorf("block %d: store %s: %w", a.ID, key, err)
		}
		sum := sha256.Sum256(data)
		entry.Files = append(entry.Files, repo.ManifestFile{Path: path.Join(repo.BlocksDir, rel), Role: role, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])})
		return nil
	}
	if err := put(base+".json", repo.RoleJSON, a.Raw); err != nil {
		return nil, err
	}
	if sfmc.IsFileType(a.AssetType.ID) {
		bin, err := e.Source.GetAssetFile(ctx, a.ID)
		if err != nil {
			return nil, fmt.Errorf("block %d: fetch file: %w", a.ID, err)
		}
		var fp struct {
			FileProperties struct {
				Extension string `json:"extension"`
			} `json:"fileProperties"`
		}
		_ = json.Unmarshal(a.Raw, &fp)
		if err := put(base+repo.FileExt(fp.FileProperties.Extension, typeName), repo.RoleFile, bin); err != nil {
			return nil, err
		}
	} else {
		if err := put(base+repo.ContentExt(typeName, a.Content), repo.RoleContent, []byte(a.Content)); err != nil {
			return nil, err
		}
	}
	return entry, nil
}

func (r *runState) category(ref sfmc.CategoryRef) repo.ManifestCategory {
	mc := repo.ManifestCategory{ID: ref.ID, Name: ref.Name}
	var segs []string
	id := ref.ID
	for depth := 0; id != 0 && depth < 64; depth++ {
		c, ok := r.cats[id]
		if !ok {
			break
		}
		segs = append(segs, c.Name)
		id = c.ParentID
	}
	for i, j := 0, len(segs)-1; i < j; i, j = i+1, j-1 {
		segs[i], segs[j] = segs[j], segs[i]
	}
	if len(segs) > 0 {
		mc.Path = repo.CategoryPath(segs)
		if mc.Name == "" {
			mc.Name = segs[len(segs)-1]
		}
	}
	return mc
}

// jsonInstant is a block's modifiedDate instant as the manifest and the
// state keep it: in UTC and clamped to the years JSON can hold, so that one
// odd date (SFMC's 9999-12-31T23:59:59-06:00 is year 10000 in UTC) cannot
// make the manifest or the state unwritable. The block's modifiedDate string
// is kept as SFMC sent it; a date clamped to year 9999 is far in the future
// and does not move the watermark (noteModified).
func jsonInstant(t time.Time) time.Time {
	t = t.UTC()
	switch {
	case t.After(maxJSONTime):
		return maxJSONTime
	case t.Before(minJSONTime):
		return minJSONTime
	}
	return t
}

// Bounds of the instants time.Time can put into JSON (years 0–9999, UTC).
var (
	minJSONTime = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)
	maxJSONTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)
