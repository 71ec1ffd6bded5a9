package prune

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/backup/repo/repotest"
	"github.com/backup-creator/backup-creator/pkg/backup/restore"
	"github.com/backup-creator/backup-creator/pkg/storage"
	"github.com/backup-creator/backup-creator/pkg/storage/mem"
	"github.com/backup-creator/backup-creator/pkg/storage/storagetest"
)

// chainFixture writes 12 daily backups (a full one, then incrementals) with
// edits, deletions, re-creations, renames and moves, and returns their names.
// Block ids 1..8; the history of each is spelled out so every kind of
// dependency on a removed backup occurs: versions only an old backup holds,
// tombstones in backups that will be removed, blocks deleted and re-created.
func chainFixture(t testing.TB, st storage.Store) []string {
	t.Helper()
	blk := func(id int64, rev, day int, opts ...string) repotest.Block {
		name := fmt.Sprintf("Block %d", id)
		path := "Content Builder"
		for _, o := range opts {
			if n, ok := strings.CutPrefix(o, "name="); ok {
				name = n
			}
			if p, ok := strings.CutPrefix(o, "path="); ok {
				path = p
			}
		}
		return repotest.Block{ID: id, Key: fmt.Sprintf("k%d", id), Name: name, Path: path, Cat: 10,
			Mod: repotest.Day(day).Add(-time.Duration(10-id) * time.Minute), Content: fmt.Sprintf("<p>block %d rev %d</p>", id, rev)}
	}
	tomb := func(id int64, day int) repo.DeletedBlock {
		return repo.DeletedBlock{ID: id, CustomerKey: fmt.Sprintf("k%d", id), DetectedAt: repotest.Day(day).Add(time.Minute)}
	}
	type day struct {
		blocks []repotest.Block
		tombs  []repo.DeletedBlock
	}
	days := []day{
		{blocks: []repotest.Block{blk(1, 1, 0), blk(2, 1, 0), blk(3, 1, 0), blk(4, 1, 0), blk(5, 1, 0), blk(6, 1, 0)}},
		{blocks: []repotest.Block{blk(2, 2, 1)}},
		{blocks: []repotest.Block{blk(7, 1, 2)}, tombs: []repo.DeletedBlock{tomb(3, 2)}},
		{blocks: []repotest.Block{blk(2, 3, 3, "name=Block two")}},
		{tombs: []repo.DeletedBlock{tomb(5, 4)}},
		{blocks: []repotest.Block{blk(5, 2, 5)}}, // re-created after its deletion
		{blocks: []repotest.Block{blk(6, 2, 6, "path=Content Builder/Moved"), blk(8, 1, 6)}},
		{tombs: []repo.DeletedBlock{tomb(7, 7)}},
		{blocks: []repotest.Block{blk(4, 2, 8)}},
		{},
		{blocks: []repotest.Block{blk(8, 2, 10)}, tombs: []repo.DeletedBlock{tomb(6, 10)}},
		{blocks: []repotest.Block{blk(1, 2, 11)}},
	}
	var names []string
	for i, d := range days {
		name := repo.FolderName(repotest.Day(i), 0)
		repotest.PutBackup(t, st, name, repotest.Day(i), d.blocks, d.tombs)
		names = append(names, name)
	}
	return names
}

// restoreView is everything a restore of one backup gives: each block's
// version, folder, deletion, and the bytes of every file, as restore reads
// them (through the chain), plus what RestoreToDir writes.
func restoreView(t testing.TB, st storage.Store, backup string) string {
	t.Helper()
	ctx := context.Background()
	snap, err := repo.LoadSnapshot(ctx, st, backup, time.Time{})
	if err != nil {
		t.Fatalf("load %s: %v", backup, err)
	}
	var b strings.Builder
	for _, blk := range snap.Blocks {
		fmt.Fprintf(&b, "%d %s %q %q %s", blk.ID, blk.CustomerKey, blk.Name, blk.Category.Path, blk.Modified.Format(time.RFC3339))
		if blk.Deleted != nil {
			fmt.Fprintf(&b, " deleted@%s", blk.Deleted.DetectedAt.Format(time.RFC3339))
		}
		for _, f := range blk.Files {
			data, err := repo.ReadFile(ctx, st, blk.Backup, f)
			if err != nil {
				t.Fatalf("backup %s, block %d: %v", backup, blk.ID, err)
			}
			fmt.Fprintf(&b, " %s=%s", f.Role, data)
		}
		b.WriteString("\n")
	}
	dir := filepath.Join(t.TempDir(), backup)
	if _, err := restore.RestoreToDir(ctx, st, snap, dir, restore.RestoreOptions{}); err != nil {
		t.Fatalf("restore %s to a directory: %v", backup, err)
	}
	var files []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			data, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(dir, p)
			sum := sha256.Sum256(data)
			files = append(files, rel+" "+hex.EncodeToString(sum[:8]))
		}
		return nil
	})
	sort.Strings(files)
	b.WriteString(strings.Join(files, "\n"))
	return b.String()
}

func views(t testing.TB, st storage.Store, backups []string) map[string]string {
	out := map[string]string{}
	for _, b := range backups {
		out[b] = restoreView(t, st, b)
	}
	return out
}

func verifyAll(t testing.TB, st storage.Store) {
	t.Helper()
	list, err := repo.ListBackups(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	for _, bi := range list {
		if !bi.Complete() {
			if bi.Status != repo.BackupIncomplete {
				t.Errorf("%s is %s", bi.Name, bi.Status)
			}
			continue
		}
		rep, err := repo.Verify(context.Background(), st, bi.Name)
		if err != nil || !rep.OK() {
			t.Errorf("verify %s: %v %+v", bi.Name, err, rep)
		}
	}
}

func completeBackups(t testing.TB, st storage.Store) []string {
	list, err := repo.ListBackups(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, bi := range list {
		if bi.Complete() {
			out = append(out, bi.Name)
		}
	}
	return out
}

var testPolicy = Policy{Last: 2, Weekly: 2}

func testOpts(p Policy) Options {
	return Options{Policy: p, Lock: repo.LockInfo{Host: "test", PID: 1 << 30, RunID: "prune"}, Now: func() time.Time { return repotest.Day(30) }}
}

func TestPruneKeepsEveryKeptBackupRestorable(t *testing.T) {
	for _, p := range []Policy{testPolicy, {Last: 1}, {Daily: 3, Weekly: 1}, {Within: Duration{Days: 4}}, {Last: 3, Monthly: 1}} {
		t.Run(p.String(), func(t *testing.T) {
			st := mem.New()
			all := chainFixture(t, st)
			before := views(t, st, all)
			sizeBefore := totalSize(t, st)

			rep, err := Run(t.Context(), st, testOpts(p))
			if err != nil {
				t.Fatal(err)
			}
			kept := completeBackups(t, st)
			if len(kept) != len(rep.Keep) || len(rep.Keep)+len(rep.Remove) != len(all) {
				t.Fatalf("kept %v, report keep %v remove %v", kept, rep.Keep, rep.Remove)
			}
			if kept[len(kept)-1] != all[len(all)-1] {
				t.Errorf("the newest backup %s was not kept", all[len(all)-1])
			}
			for _, k := range kept {
				if got := restoreView(t, st, k); got != before[k] {
					t.Errorf("%s restores differently after the prune:\n--- before\n%s\n--- after\n%s", k, before[k], got)
				}
			}
			verifyAll(t, st)
			// Removed folders are gone, every object of them.
			for _, r := range rep.Remove {
				st.List(t.Context(), r.Backup+"/", func(o storage.ObjectInfo) error {
					t.Errorf("%s left behind", o.Key)
					return nil
				})
			}
			// freed is net and exact: what the destination really lost.
			if got := sizeBefore - totalSize(t, st); rep.Freed.Bytes != got || rep.Deleted.Bytes <= rep.Freed.Bytes {
				t.Errorf("report says %d bytes freed (%d deleted, %d carried); the destination shrank by %d", rep.Freed.Bytes, rep.Deleted.Bytes, rep.Carried.Bytes, got)
			}
			// A second prune with the same policy changes nothing.
			rep2, err := Run(t.Context(), st, testOpts(p))
			if err != nil || len(rep2.Remove) != 0 || rep2.Carried.Files != 0 {
				t.Errorf("second prune: %+v %v", rep2, err)
			}
		})
	}
}

func TestPruneDryRunWritesNothingAndReportsTheSame(t *testing.T) {
	st := mem.New()
	chainFixture(t, st)
	var keysBefore []string
	st.List(t.Context(), "", func(o storage.ObjectInfo) error { keysBefore = append(keysBefore, o.Key+o.Version); return nil })
	opts := testOpts(testPolicy)
	opts.DryRun = true
	dry, err := Run(t.Context(), st, opts)
	if err != nil {
		t.Fatal(err)
	}
	var keysAfter []string
	st.List(t.Context(), "", func(o storage.ObjectInfo) error { keysAfter = append(keysAfter, o.Key+o.Version); return nil })
	if !slices.Equal(keysBefore, keysAfter) {
		t.Fatal("a dry run changed the destination")
	}
	real, err := Run(t.Context(), st, testOpts(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(dry.Keep, dry.Remove, dry.Carried) != fmt.Sprint(real.Keep, real.Remove, real.Carried) {
		t.Errorf("dry run\n %v %v %+v\nreal\n %v %v %+v", dry.Keep, dry.Remove, dry.Carried, real.Keep, real.Remove, real.Carried)
	}
	if dry.Deleted != real.Deleted || dry.Copies != real.Copies || dry.Deletes != real.Deletes {
		t.Errorf("dry run deletes %+v (%d copies, %d deletes), real %+v (%d, %d)", dry.Deleted, dry.Copies, dry.Deletes, real.Deleted, real.Copies, real.Deletes)
	}
	// The dry run's freed leaves out how much the rewritten manifests grow.
	if dry.Freed.Files != real.Freed.Files || dry.Freed.Bytes < real.Freed.Bytes {
		t.Errorf("dry run frees %+v, real %+v", dry.Freed, real.Freed)
	}
	if dry.Carried.Files == 0 {
		t.Error("the fixture should need carrying")
	}
}

func TestPruneCrashAtEveryStepThenFinish(t *testing.T) {
	// The prune without a crash: how many mutating steps, and the result.
	refStore := mem.New()
	all := chainFixture(t, refStore)
	before := views(t, refStore, all)
	ref := storagetest.NewFaulty(refStore)
	want, err := Run(t.Context(), ref, testOpts(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	steps := len(ref.Steps())
	t.Logf("a crash injected at each of %d mutating steps", steps)
	if steps < 20 {
		t.Fatalf("only %d steps: the fixture does not exercise prune", steps)
	}
	var kept []string
	for _, k := range want.Keep {
		kept = append(kept, k.Backup)
	}
	wantObjects := objects(t, refStore)

	for n := 0; n < steps; n++ {
		inner := mem.New()
		chainFixture(t, inner)
		f := storagetest.NewFaulty(inner)
		f.CrashAfter(n)
		_, err := Run(t.Context(), f, testOpts(testPolicy))
		if n == steps-1 {
			// The last step is releasing the lock: a failure there is a
			// warning (the lock goes stale), the prune itself is done.
			if err != nil {
				t.Fatalf("crash at the lock release: %v", err)
			}
		} else if !errors.Is(err, storagetest.ErrCrashed) {
			t.Fatalf("crash at step %d (%v): prune returned %v", n, ref.Steps()[n], err)
		}
		// Every backup the policy keeps restores exactly as before, and
		// every complete backup verifies clean.
		for _, k := range kept {
			if got := restoreView(t, inner, k); got != before[k] {
				t.Fatalf("crash at step %d (%v): %s restores differently:\n%s\n---\n%s", n, ref.Steps()[n], k, before[k], got)
			}
		}
		verifyAll(t, inner)
		// A second prune finishes the job: the same destination as without a
		// crash. It takes over the killed prune's lock (same host, its pid
		// gone), as after a real SIGKILL.
		if _, err := Run(t.Context(), inner, testOpts(testPolicy)); err != nil {
			t.Fatalf("crash at step %d (%v): second prune: %v", n, ref.Steps()[n], err)
		}
		if got := objects(t, inner); !slices.Equal(got, wantObjects) {
			t.Fatalf("crash at step %d: after the second prune the destination differs:\n%s\n---\n%s", n, strings.Join(got, "\n"), strings.Join(wantObjects, "\n"))
		}
	}
}

// objects lists every key with a hash of its content, the lock excluded.
func objects(t testing.TB, st storage.Store) []string {
	var out []string
	st.List(context.Background(), "", func(o storage.ObjectInfo) error {
		if o.Key == repo.LockKey {
			return nil
		}
		data := repotest.ReadObject(t, st, o.Key)
		if o.Key == repo.StateKey || strings.HasSuffix(o.Key, repo.ManifestName) {
			// Rewritten manifests are compared by what they list.
			out = append(out, o.Key)
			return nil
		}
		sum := sha256.Sum256(data)
		out = append(out, o.Key+" "+hex.EncodeToString(sum[:8]))
		return nil
	})
	return out
}

func TestPruneRefusesWhenUnsure(t *testing.T) {
	cases := map[string]func(t *testing.T, st *mem.Store, names []string){
		"damaged manifest": func(t *testing.T, st *mem.Store, names []string) {
			repotest.PutObject(t, st, names[3]+"/"+repo.ManifestName, []byte(`{"formatVersion": 1, "blocks": [`))
		},
		"unknown manifest format": func(t *testing.T, st *mem.Store, names []string) {
			repotest.PutObject(t, st, names[2]+"/"+repo.ManifestName, []byte(`{"formatVersion": 99, "blocks": []}`))
		},
		"manifest entry pointing outside its folder": func(t *testing.T, st *mem.Store, names []string) {
			m, err := repo.ReadManifest(t.Context(), st, names[1])
			if err != nil {
				t.Fatal(err)
			}
			m.Blocks[0].Files[0].Path = "../" + repo.StateKey
			b, _ := json.Marshal(m)
			repotest.PutObject(t, st, names[1]+"/"+repo.ManifestName, b)
		},
		"folder names out of start-time order": func(t *testing.T, st *mem.Store, names []string) {
			repotest.PutBackup(t, st, "backup_20261201", repotest.Day(5), nil, nil)
		},
		"folder name that does not parse": func(t *testing.T, st *mem.Store, names []string) {
			repotest.PutObject(t, st, "backup_20261399/manifest.json", []byte(`{}`))
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			st := mem.New()
			names := chainFixture(t, st)
			damage(t, st, names)
			before := objects(t, st)
			_, err := Run(t.Context(), st, testOpts(testPolicy))
			if !errors.Is(err, ErrUnsafe) {
				t.Fatalf("err = %v, want ErrUnsafe", err)
			}
			if got := objects(t, st); !slices.Equal(got, before) {
				t.Error("prune removed or changed something although it refused")
			}
		})
	}
}

func TestPruneRefusesAnEmptyPolicy(t *testing.T) {
	st := mem.New()
	chainFixture(t, st)
	if _, err := Run(t.Context(), st, testOpts(Policy{})); !errors.Is(err, ErrEmptyPolicy) {
		t.Errorf("err = %v", err)
	}
}

func TestPruneHoldsTheLock(t *testing.T) {
	st := mem.New()
	chainFixture(t, st)
	// Another run holds a fresh lock: prune is refused and removes nothing.
	other := repo.LockInfo{Host: "other-host", PID: 42, RunID: "run"}
	lk, err := repo.AcquireLock(t.Context(), st, other, repotest.Day(30), 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	before := objects(t, st)
	var le *repo.LockedError
	if _, err := Run(t.Context(), st, testOpts(testPolicy)); !errors.As(err, &le) {
		t.Fatalf("err = %v, want LockedError", err)
	}
	if got := objects(t, st); !slices.Equal(got, before) {
		t.Error("prune changed the destination while another run held the lock")
	}
	lk.Release(t.Context())

	// While prune works, a run trying to take the lock is refused.
	hook := &lockProbe{Store: st, t: t}
	if _, err := Run(t.Context(), hook, testOpts(testPolicy)); err != nil {
		t.Fatal(err)
	}
	if !hook.probed {
		t.Fatal("the probe never ran")
	}
}

// lockProbe tries to take the destination lock, as a run would, at the first
// file prune carries.
type lockProbe struct {
	*mem.Store
	t      *testing.T
	mu     sync.Mutex // copies run concurrently
	probed bool
}

func (p *lockProbe) Copy(ctx context.Context, src, dst string) (storage.ObjectInfo, error) {
	p.mu.Lock()
	first := !p.probed && strings.Contains(dst, "/"+repo.CarriedDir+"/")
	if first {
		p.probed = true
	}
	p.mu.Unlock()
	if first {
		var le *repo.LockedError
		if _, err := repo.AcquireLock(ctx, p.Store, repo.LockInfo{Host: "other-host", PID: 7, RunID: "run"}, repotest.Day(30), 30*time.Minute); !errors.As(err, &le) {
			p.t.Errorf("a run could take the lock while prune worked: %v", err)
		}
	}
	return p.Store.Copy(ctx, src, dst)
}

func TestPruneRemovesOldIncompleteFoldersOnly(t *testing.T) {
	st := mem.New()
	chainFixture(t, st)
	clock := repotest.Day(30)
	st.Now = func() time.Time { return clock }
	repotest.PutObject(t, st, "backup_20261125/blocks/1_a.json", []byte("{}"))
	clock = repotest.Day(30).Add(29 * time.Minute)
	repotest.PutObject(t, st, "backup_20261201/blocks/1_a.json", []byte("{}"))
	opts := testOpts(Policy{Last: 100})
	opts.Now = func() time.Time { return repotest.Day(30).Add(40 * time.Minute) }
	rep, err := Run(t.Context(), st, opts)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(rep.Incomplete) != "[{backup_20261125}]" || len(rep.Remove) != 0 {
		t.Errorf("incomplete %v, remove %v", rep.Incomplete, rep.Remove)
	}
	if _, err := st.Stat(t.Context(), "backup_20261201/blocks/1_a.json"); err != nil {
		t.Error("a folder younger than the stale age was removed")
	}
	if _, err := st.Stat(t.Context(), "backup_20261125/blocks/1_a.json"); !errors.Is(err, storage.ErrNotFound) {
		t.Error("an old incomplete folder was kept")
	}
}

func TestPruneUpdatesTheStateOnly(t *testing.T) {
	st := mem.New()
	names := chainFixture(t, st)
	w := repotest.Day(11)
	s := &repo.State{FormatVersion: repo.StateFormatVersion, Watermark: w, LastBackup: names[len(names)-1], Backups: names,
		Known: []int64{1, 2, 4, 5, 8}, KnownTypes: []int{197}, Recent: []repo.Version{{ID: 1, Modified: w}}}
	if _, err := repo.WriteState(t.Context(), st, s, ""); err != nil {
		t.Fatal(err)
	}
	rep, err := Run(t.Context(), st, testOpts(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	got, err := repo.ReadState(t.Context(), st)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Backups, completeBackups(t, st)) {
		t.Errorf("state lists %v, the destination holds %v", got.Backups, completeBackups(t, st))
	}
	got.Backups, s.Backups = nil, nil
	if fmt.Sprint(*got) != fmt.Sprint(*s) {
		t.Errorf("prune changed more than the backup list:\n%+v\n%+v", *got, *s)
	}
	if len(rep.Remove) == 0 {
		t.Fatal("nothing removed")
	}
}

func totalSize(t testing.TB, st storage.Store) int64 {
	var n int64
	st.List(context.Background(), "", func(o storage.ObjectInfo) error {
		if o.Key != repo.LockKey {
			n += o.Size
		}
		return nil
	})
	return n
}
