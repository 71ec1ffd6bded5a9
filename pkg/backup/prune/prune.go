// Package prune removes the backups a retention policy does not keep, and
// keeps every kept backup restorable exactly as before.
//
// Backups are incremental: a backup's restorable state draws on every
// earlier one (repo.Chain). Removing a backup whose versions or tombstones a
// later kept backup still needs would change that backup's state, so those
// are carried forward first: their files are copied (server-side where the
// store can) into the earliest kept backup that needs them, under
// carried/<origin>/, and that backup's manifest is rewritten to list them.
//
// The order makes every step safe to interrupt:
//  1. the journal (repo.PruneJournalKey) records what is being removed;
//  2. carried files are copied into kept backups (verify treats them as
//     pending while the journal exists);
//  3. each receiving backup's manifest is replaced in one atomic write, its
//     commit point (compare-and-swap on the version read);
//  4. each removed backup loses its manifest first (it is then an incomplete
//     folder that nothing reads), then its files;
//  5. the state file stops listing the removed backups;
//  6. the journal is removed.
//
// A prune that finds a journal finishes that job before it plans anew; the
// carries are recomputed from the chain, so steps already done are not
// repeated. Prune holds the destination lock, so it never interleaves with a
// run.
package prune

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/storage"
)

// Options control a prune.
type Options struct {
	Policy Policy
	// DryRun plans and reports, writing nothing (not even the lock).
	DryRun bool
	// Locked means the caller already holds the destination lock (a run with
	// retention.auto); otherwise prune takes it with Lock as its identity.
	Locked bool
	Lock   repo.LockInfo
	// StaleAfter is the lock's stale age; incomplete folders whose newest
	// object is older than that are removed too (default 30m).
	StaleAfter time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Concurrency bounds copies and deletes in flight (default 8).
	Concurrency int
	// Warn receives problems that do not stop the prune (default: dropped).
	Warn func(msg string, err error)
}

// Kept is one backup the policy keeps, with the rules that kept it.
type Kept struct {
	Backup  string   `json:"backup"`
	Reasons []string `json:"reasons"`
}

// Named is one backup (or incomplete folder) by name.
type Named struct {
	Backup string `json:"backup"`
}

// Carried counts what was (or, in a dry run, would be) carried forward.
type Carried struct {
	Blocks int   `json:"blocks"`
	Files  int   `json:"files"`
	Bytes  int64 `json:"bytes"`
}

// Freed counts files and bytes: what was (or would be) deleted, and the
// net space freed (deleted minus carried; negative when a prune's carries
// and rewritten manifests outweigh what it removed).
type Freed struct {
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
}

// Report is the result of a prune. Its JSON form is `prune --json`.
type Report struct {
	DryRun     bool    `json:"dryRun"`
	Policy     string  `json:"policy"`
	Keep       []Kept  `json:"keep"`
	Remove     []Named `json:"remove"`
	Incomplete []Named `json:"incomplete"`
	Carried    Carried `json:"carried"`
	// Freed is the net space freed: Deleted minus Carried and minus what the
	// rewritten manifests grew (a dry run cannot know that growth, so its
	// figure is slightly high).
	Freed Freed `json:"freed"`
	// Deleted is everything removed: the removed backups' and incomplete
	// folders' files, manifests included.
	Deleted Freed `json:"deleted"`
	// Resumed lists the backups an interrupted prune was removing, whose
	// removal this prune finished first (in a dry run: would finish).
	Resumed []Named `json:"resumed,omitempty"`
	// Copies and Deletes count store operations (server-side copies or
	// fallbacks; objects deleted); in a dry run, the ones planned.
	Copies  int `json:"copies"`
	Deletes int `json:"deletes"`

	// grown is how much the rewritten manifests grew (a real prune only).
	grown int64
}

// ErrEmptyPolicy is returned for a policy with no rule: prune refuses to
// guess that "keep nothing" was meant.
var ErrEmptyPolicy = errors.New("empty retention policy: give at least one --keep-* option (or retention.keep_* in the configuration)")

// ErrUnsafe wraps every reason prune refuses to remove anything: a damaged
// manifest, a manifest format it does not know, a folder name it cannot parse.
var ErrUnsafe = errors.New("prune refused: nothing was removed")

func (o *Options) defaults() {
	if o.StaleAfter <= 0 {
		o.StaleAfter = 30 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.Warn == nil {
		o.Warn = func(string, error) {}
	}
}

// Run applies the policy to the destination st.
func Run(ctx context.Context, st storage.Store, opts Options) (rep *Report, err error) {
	opts.defaults()
	if err := opts.Policy.Validate(); err != nil {
		return nil, err
	}
	if opts.Policy.Empty() {
		return nil, ErrEmptyPolicy
	}
	if !opts.DryRun && !opts.Locked {
		lk, err := repo.AcquireLock(ctx, st, opts.Lock, opts.Now(), opts.StaleAfter)
		if err != nil {
			return nil, err
		}
		var stop func() error
		ctx, stop = lk.Keep(ctx, opts.StaleAfter, opts.Now, func(err error) { opts.Warn("could not refresh the lock; retrying", err) })
		defer func() {
			if lerr := stop(); lerr != nil && err == nil {
				err = lerr
			}
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if rerr := lk.Release(rctx); rerr != nil {
				opts.Warn("could not release the lock; the next run takes it over once it is stale", rerr)
			}
		}()
	}
	p := &pruner{st: st, opts: opts}
	rep = &Report{DryRun: opts.DryRun, Policy: opts.Policy.String(), Keep: []Kept{}, Remove: []Named{}, Incomplete: []Named{}}
	defer rep.net()
	j, err := repo.ReadPruneJournal(ctx, st)
	if err != nil {
		return nil, err
	}
	if j != nil {
		for _, n := range j.Remove {
			rep.Resumed = append(rep.Resumed, Named{Backup: n})
		}
		if !opts.DryRun {
			if err := p.execute(ctx, j, nil, rep); err != nil {
				return rep, fmt.Errorf("finish the interrupted prune of %s: %w", strings.Join(j.Remove, ", "), err)
			}
		}
	}
	plan, list, err := p.plan(ctx, rep)
	if err != nil {
		return rep, err
	}
	if opts.DryRun {
		rep.Copies, rep.Deletes = rep.Carried.Files, rep.Deleted.Files
		return rep, nil
	}
	if len(plan.Remove)+len(plan.Incomplete) == 0 {
		return rep, nil
	}
	if err := p.execute(ctx, plan, list, rep); err != nil {
		return rep, err
	}
	return rep, nil
}

// net sets Freed from what was deleted and carried.
func (rep *Report) net() {
	rep.Freed = Freed{Files: rep.Deleted.Files - rep.Carried.Files, Bytes: rep.Deleted.Bytes - rep.Carried.Bytes - rep.grown}
}

type pruner struct {
	st   storage.Store
	opts Options
}

// plan lists the destination, refuses anything it cannot be sure of, and
// applies the policy. In a dry run it also counts what would be carried and
// freed.
func (p *pruner) plan(ctx context.Context, rep *Report) (*repo.PruneJournal, []repo.BackupInfo, error) {
	list, err := repo.ListBackups(ctx, p.st)
	if err != nil {
		return nil, nil, err
	}
	var backups []Backup
	j := &repo.PruneJournal{StartedAt: p.opts.Now().UTC()}
	cutoff := p.opts.Now().Add(-p.opts.StaleAfter)
	for _, bi := range list {
		switch bi.Status {
		case repo.BackupDamaged:
			return nil, nil, fmt.Errorf("backup %s has a damaged or unknown manifest (%s); run `backup-creator verify --all`, repair or move that folder away: %w", bi.Name, bi.Error, ErrUnsafe)
		case repo.BackupUnrecognized:
			return nil, nil, fmt.Errorf("%s in %s: %w", bi.Error, p.st, ErrUnsafe)
		case repo.BackupIncomplete:
			if !bi.Newest.IsZero() && bi.Newest.Before(cutoff) {
				j.Incomplete = append(j.Incomplete, bi.Name)
				rep.Incomplete = append(rep.Incomplete, Named{Backup: bi.Name})
			}
		case repo.BackupComplete:
			t := time.Time{}
			if bi.StartedAt != nil {
				t = *bi.StartedAt
			} else if ft, err := repo.FolderTime(bi.Name); err == nil {
				t = ft
			}
			backups = append(backups, Backup{Name: bi.Name, Time: t})
		}
	}
	// The chain is read in name order, the policy in start-time order: they
	// must agree, or what prune carries would not be what restore reads.
	for i := 1; i < len(backups); i++ {
		if backups[i].Time.Before(backups[i-1].Time) {
			return nil, nil, fmt.Errorf("backup %s started at %s, before %s (%s), although its name sorts after it: the folder names do not follow the order the backups were made in (a clock set back, or folders copied in by hand): %w",
				backups[i].Name, backups[i].Time.UTC().Format(time.RFC3339), backups[i-1].Name, backups[i-1].Time.UTC().Format(time.RFC3339), ErrUnsafe)
		}
	}
	keep, remove, reasons := ApplyPolicy(backups, p.opts.Policy)
	for i, k := range keep {
		rep.Keep = append(rep.Keep, Kept{Backup: k.Name, Reasons: reasons[i]})
	}
	for _, r := range remove {
		rep.Remove = append(rep.Remove, Named{Backup: r.Name})
		j.Remove = append(j.Remove, r.Name)
	}
	slices.Sort(j.Remove)
	// Walk the chain now, also for a real prune: a manifest that cannot be
	// trusted stops it before the journal is written and anything changes.
	counted := &Report{}
	if p.opts.DryRun {
		counted = rep
	}
	err = p.carries(ctx, list, j.Remove, func(c carry) error {
		countCarry(counted, c)
		return nil
	})
	if repo.IsDamaged(err) {
		return nil, nil, fmt.Errorf("%w: %w", ErrUnsafe, err)
	}
	if err != nil {
		return nil, nil, err
	}
	if p.opts.DryRun {
		for _, bi := range list {
			if slices.Contains(j.Remove, bi.Name) || slices.Contains(j.Incomplete, bi.Name) {
				rep.Deleted.Files += bi.Files
				rep.Deleted.Bytes += bi.Bytes
			}
			if slices.Contains(j.Remove, bi.Name) {
				info, err := p.st.Stat(ctx, path.Join(bi.Name, repo.ManifestName))
				if err != nil {
					return nil, nil, err
				}
				rep.Deleted.Files++
				rep.Deleted.Bytes += info.Size
			}
		}
	}
	return j, list, nil
}

// carry is what one kept backup receives.
type carry struct {
	into    string
	entries []repo.ManifestBlock
	tombs   []repo.DeletedBlock
	copies  []copyOp
}

type copyOp struct {
	src, dst string
	size     int64
}

func countCarry(rep *Report, c carry) {
	rep.Carried.Blocks += len(c.entries)
	for _, op := range c.copies {
		rep.Carried.Files++
		rep.Carried.Bytes += op.size
	}
}

// carries walks the chain of complete backups and, for each kept backup,
// calls fn with the versions and tombstones it needs from removed backups
// that no earlier kept backup has received. Only one kept backup's carry is
// held at a time.
func (p *pruner) carries(ctx context.Context, list []repo.BackupInfo, remove []string, fn func(carry) error) error {
	gone := func(b string) bool { _, ok := slices.BinarySearch(remove, b); return ok }
	c := repo.NewChain()
	for _, bi := range list {
		if !bi.Complete() {
			continue
		}
		if _, err := c.Add(ctx, p.st, bi.Name, nil); err != nil {
			return err
		}
		if gone(bi.Name) {
			continue
		}
		cr := carry{into: bi.Name}
		for _, s := range c.Stranded(gone) {
			var entry *repo.ManifestBlock
			var tomb *repo.DeletedBlock
			if s.Version {
				e, ops := carriedEntry(&s.Block, bi.Name)
				entry = &e
				cr.entries = append(cr.entries, e)
				cr.copies = append(cr.copies, ops...)
			}
			if s.Tomb {
				t := *s.Block.Deleted
				if t.CarriedFrom == "" {
					t.CarriedFrom = s.Block.DeletedIn
				}
				t.LastBackup = bi.Name
				tomb = &t
				cr.tombs = append(cr.tombs, t)
			}
			c.Carry(s.Block.ID, entry, tomb)
		}
		if len(cr.entries)+len(cr.tombs) > 0 {
			if err := fn(cr); err != nil {
				return err
			}
		}
	}
	return nil
}

// carriedEntry is b's manifest entry as it will read in backup into, and
// the copies that put its files there.
func carriedEntry(b *repo.SnapshotBlock, into string) (repo.ManifestBlock, []copyOp) {
	e := b.ManifestBlock
	origin := b.Origin()
	e.CarriedFrom = origin
	e.Files = make([]repo.ManifestFile, len(b.Files))
	var ops []copyOp
	prefix := repo.CarriedDir + "/" + origin + "/"
	for i, f := range b.Files {
		rel := strings.TrimPrefix(f.Path, prefix)
		nf := f
		nf.Path = prefix + rel
		e.Files[i] = nf
		ops = append(ops, copyOp{src: path.Join(b.Backup, f.Path), dst: path.Join(into, nf.Path), size: f.Size})
	}
	return e, ops
}

// execute carries what the kept backups need out of j.Remove, then removes
// j.Remove and j.Incomplete, updates the state and ends the journal.
//
// list is the destination's catalog when the caller has just read it (the
// plan's); nil lists it again (an interrupted prune being finished).
func (p *pruner) execute(ctx context.Context, j *repo.PruneJournal, list []repo.BackupInfo, rep *Report) error {
	if err := repo.WritePruneJournal(ctx, p.st, j); err != nil {
		return err
	}
	if list == nil {
		var err error
		if list, err = repo.ListBackups(ctx, p.st); err != nil {
			return err
		}
	}
	for _, bi := range list {
		if bi.Status == repo.BackupDamaged || bi.Status == repo.BackupUnrecognized {
			return fmt.Errorf("backup %s: %s: %w", bi.Name, bi.Error, ErrUnsafe)
		}
	}
	err := p.carries(ctx, list, j.Remove, func(c carry) error {
		if err := p.applyCarry(ctx, c, rep); err != nil {
			return err
		}
		countCarry(rep, c)
		return nil
	})
	if repo.IsDamaged(err) {
		return fmt.Errorf("%w: %w", ErrUnsafe, err)
	}
	if err != nil {
		return err
	}
	for _, name := range j.Remove {
		if err := p.removeFolder(ctx, name, true, rep); err != nil {
			return err
		}
	}
	for _, name := range j.Incomplete {
		if err := p.removeFolder(ctx, name, false, rep); err != nil {
			return err
		}
	}
	if err := p.forgetInState(ctx, j.Remove); err != nil {
		return err
	}
	if err := p.sweepCarried(ctx, list, j, rep); err != nil {
		return err
	}
	return repo.DeletePruneJournal(ctx, p.st)
}

// sweepCarried deletes what an interrupted prune staged under carried/ in a
// kept backup and no manifest lists (a copy made before a crash that the
// finished job did not need): while the journal exists verify calls such
// files pending, after it they would be extra files. Listing carried/ of a
// backup that has none costs one empty listing.
func (p *pruner) sweepCarried(ctx context.Context, list []repo.BackupInfo, j *repo.PruneJournal, rep *Report) error {
	for _, bi := range list {
		if !bi.Complete() || slices.Contains(j.Remove, bi.Name) {
			continue
		}
		prefix := bi.Name + "/" + repo.CarriedDir + "/"
		var staged []storage.ObjectInfo
		if err := p.st.List(ctx, prefix, func(o storage.ObjectInfo) error {
			staged = append(staged, o)
			return nil
		}); err != nil {
			return fmt.Errorf("check %s: %w", prefix, err)
		}
		if len(staged) == 0 {
			continue
		}
		listed := map[string]bool{}
		if _, err := repo.ScanBackup(ctx, p.st, bi.Name, func(b repo.ManifestBlock) error {
			for _, f := range b.Files {
				listed[path.Join(bi.Name, f.Path)] = true
			}
			return nil
		}); err != nil {
			return err
		}
		var orphans []string
		for _, o := range staged {
			if !listed[o.Key] {
				orphans = append(orphans, o.Key)
				rep.Deleted.Bytes += o.Size
			}
		}
		if len(orphans) == 0 {
			continue
		}
		if err := storage.DeleteKeys(ctx, p.st, orphans); err != nil {
			return fmt.Errorf("remove files an interrupted prune staged in %s: %w", bi.Name, err)
		}
		rep.Deleted.Files += len(orphans)
		rep.Deletes += len(orphans)
	}
	return nil
}

// applyCarry copies the carried files into the kept backup, then replaces
// its manifest with one that lists them (the commit point of the carry).
func (p *pruner) applyCarry(ctx context.Context, c carry, rep *Report) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.opts.Concurrency)
	var mu sync.Mutex
	for _, op := range c.copies {
		g.Go(func() error {
			info, err := p.copy(gctx, op.src, op.dst)
			if err != nil {
				return fmt.Errorf("carry %s into %s: %w", op.src, c.into, err)
			}
			if info.Size != op.size {
				return fmt.Errorf("carry %s into %s: copied %d bytes, the manifest says %d", op.src, c.into, info.Size, op.size)
			}
			mu.Lock()
			rep.Copies++
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	// The carried files must be durable before the manifest lists them.
	if s, ok := p.st.(storage.Syncer); ok {
		if err := s.Sync(ctx); err != nil {
			return fmt.Errorf("carry into %s: make the copies durable: %w", c.into, err)
		}
	}
	key := path.Join(c.into, repo.ManifestName)
	cur, err := p.st.Stat(ctx, key)
	if err != nil {
		return fmt.Errorf("carry into %s: %w", c.into, err)
	}
	w, err := repo.NewManifestWriter()
	if err != nil {
		return err
	}
	defer w.Close()
	m, err := repo.ScanBackup(ctx, p.st, c.into, w.Add)
	if err != nil {
		return err
	}
	for _, e := range c.entries {
		if err := w.Add(e); err != nil {
			return err
		}
	}
	m.Deleted = append(m.Deleted, c.tombs...)
	m.Counts = w.Counts()
	info, err := w.Put(ctx, p.st, m, storage.PutOptions{IfVersion: cur.Version})
	if err != nil {
		return fmt.Errorf("carry into %s: %w", c.into, err)
	}
	rep.grown += info.Size - cur.Size
	return nil
}

// copy carries one file. A store that can defer durability (local disk)
// gets a plain write without a sync, made durable by the one Sync before the
// manifest that lists the copies; every other store copies server-side
// where it can (storage.Copy), durable on return.
func (p *pruner) copy(ctx context.Context, src, dst string) (storage.ObjectInfo, error) {
	if _, ok := p.st.(storage.Syncer); !ok {
		return storage.Copy(ctx, p.st, src, dst)
	}
	rc, info, err := p.st.Get(ctx, src)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	defer rc.Close()
	return p.st.Put(ctx, dst, rc, info.Size, storage.PutOptions{NoSync: true})
}

// removeFolder deletes a folder's objects, the manifest first when it has
// one, so that it is never a complete-looking backup with missing files.
func (p *pruner) removeFolder(ctx context.Context, name string, complete bool, rep *Report) error {
	if complete {
		key := path.Join(name, repo.ManifestName)
		info, err := p.st.Stat(ctx, key)
		switch {
		case errors.Is(err, storage.ErrNotFound):
		case err != nil:
			return fmt.Errorf("remove backup %s: %w", name, err)
		default:
			if err := p.st.Delete(ctx, key, storage.DeleteOptions{}); err != nil && !errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("remove backup %s: %w", name, err)
			}
			rep.Deleted.Files++
			rep.Deleted.Bytes += info.Size
			rep.Deletes++
		}
	}
	var keys []string
	var bytes int64
	err := p.st.List(ctx, name+"/", func(o storage.ObjectInfo) error {
		keys = append(keys, o.Key)
		bytes += o.Size
		return nil
	})
	if err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	if err := storage.DeleteKeys(ctx, p.st, keys); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	rep.Deleted.Files += len(keys)
	rep.Deleted.Bytes += bytes
	rep.Deletes += len(keys)
	if d, ok := p.st.(storage.DirRemover); ok {
		if err := d.RemoveEmptyDirs(ctx, name+"/"); err != nil {
			return fmt.Errorf("remove %s: %w", name, err)
		}
	}
	return nil
}

// forgetInState drops the removed backups from the state's list, so list,
// verify, restore and the state agree. The watermark and deletion tracking
// are left as they are.
func (p *pruner) forgetInState(ctx context.Context, removed []string) error {
	s, version, err := repo.ReadStateVersion(ctx, p.st)
	if err != nil || s == nil {
		return err
	}
	n := len(s.Backups)
	s.Backups = slices.DeleteFunc(s.Backups, func(b string) bool { return slices.Contains(removed, b) })
	if len(s.Backups) == n {
		return nil
	}
	_, err = repo.WriteState(ctx, p.st, s, version)
	return err
}
