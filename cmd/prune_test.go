package cmd

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/backup/prune"
	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
)

// dirDigest lists every file below dir with a hash of its content.
func dirDigest(t *testing.T, dir string) string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		sum := sha256.Sum256(data)
		out = append(out, rel+" "+hex.EncodeToString(sum[:8]))
		return nil
	})
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// restoreViews restores each backup to a directory and plans its restore into
// SFMC (dry run), and returns both per backup.
func (h *harness) restoreViews(backups []string) map[string]string {
	h.t.Helper()
	out := map[string]string{}
	for _, b := range backups {
		dir := filepath.Join(h.t.TempDir(), b)
		if code, _, errOut := h.run("restore", b, "--dest", h.dest, "--target", dir, "--log-format", "json"); code != ExitOK {
			h.t.Fatalf("restore %s --target: exit %d: %s", b, code, errOut)
		}
		code, rep, errOut := h.restoreJSON(b, "--dry-run")
		if code != ExitOK {
			h.t.Fatalf("restore %s --dry-run: exit %d: %s", b, code, errOut)
		}
		var plan []string
		for _, it := range rep.Items {
			plan = append(plan, fmt.Sprintf("%d %s %s %s %v", it.ID, it.Action, it.Status, it.Name, it.Changes))
		}
		sort.Strings(plan)
		out[b] = dirDigest(h.t, dir) + "\n--\n" + strings.Join(plan, "\n")
	}
	return out
}

func (h *harness) completeBackups() []string {
	h.t.Helper()
	code, out, errOut := h.run("list", "--dest", h.dest, "--json")
	if code != ExitOK {
		h.t.Fatalf("list: exit %d: %s", code, errOut)
	}
	var l struct {
		Backups []repo.BackupInfo `json:"backups"`
	}
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		h.t.Fatalf("list --json: %v\n%s", err, out)
	}
	var names []string
	for _, b := range l.Backups {
		if b.Complete() {
			names = append(names, b.Name)
		}
	}
	return names
}

// history makes six backups with edits, a rename, a move, deletions and a
// re-creation between them.
func (h *harness) history(t *testing.T) {
	mid := h.emu.DefaultMID()
	h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 12, TieBlocks: -1})
	root := h.emu.RootCategoryID(mid)
	edit := func(name string, f func(*sfmctest.AssetSpec)) {
		t.Helper()
		if err := h.emu.UpdateAsset(mid, findBlock(t, h.emu, name, "").ID, f); err != nil {
			t.Fatal(err)
		}
	}
	del := func(name string) {
		t.Helper()
		if err := h.emu.DeleteAsset(mid, findBlock(t, h.emu, name, "").ID); err != nil {
			t.Fatal(err)
		}
	}
	steps := []func(){
		func() {},
		func() { edit("Bulk 0000001", func(s *sfmctest.AssetSpec) { s.Content = "<p>one, second version</p>" }) },
		func() {
			del("Bulk 0000002")
			edit("Bulk 0000003", func(s *sfmctest.AssetSpec) { s.Name = "Bulk three renamed" })
		},
		func() { edit("Bulk 0000004", func(s *sfmctest.AssetSpec) { s.CategoryID = root }) },
		func() {
			del("Bulk 0000005")
			if _, err := h.emu.CreateAsset(mid, sfmctest.AssetSpec{Name: "Bulk 0000002", CustomerKey: "recreated-2", TypeID: 197, CategoryID: root, Content: "<p>back</p>"}); err != nil {
				t.Fatal(err)
			}
		},
		func() { edit("Bulk 0000001", func(s *sfmctest.AssetSpec) { s.Content = "<p>one, third version</p>" }) },
	}
	for i, step := range steps {
		step()
		if code, _, errOut := h.runJSON(); code != ExitOK {
			t.Fatalf("run %d: exit %d: %s", i, code, errOut)
		}
	}
}

func TestPruneThroughTheCommandsKeepsRestoresIdentical(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	h.history(t)
	all := h.completeBackups()
	if len(all) != 6 {
		t.Fatalf("%d backups, want 6: %v", len(all), all)
	}
	before := h.restoreViews(all)

	// A dry run reports and changes nothing.
	snapshot := dirDigest(t, h.dest)
	code, out, errOut := h.run("prune", "--dest", h.dest, "--keep-last", "2", "--dry-run", "--json")
	if code != ExitOK {
		t.Fatalf("prune --dry-run: exit %d: %s", code, errOut)
	}
	var dry prune.Report
	if err := json.Unmarshal([]byte(out), &dry); err != nil {
		t.Fatal(err)
	}
	if !dry.DryRun || len(dry.Keep) != 2 || len(dry.Remove) != 4 || dry.Carried.Files == 0 {
		t.Fatalf("dry run report %+v", dry)
	}
	if dirDigest(t, h.dest) != snapshot {
		t.Fatal("prune --dry-run changed the destination")
	}

	code, out, errOut = h.run("prune", "--dest", h.dest, "--keep-last", "2", "--json")
	if code != ExitOK {
		t.Fatalf("prune: exit %d: %s", code, errOut)
	}
	var rep prune.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	kept := h.completeBackups()
	if !slices.Equal(kept, all[4:]) {
		t.Fatalf("kept %v, want %v", kept, all[4:])
	}
	if fmt.Sprint(rep.Keep, rep.Remove, rep.Carried, rep.Deleted, rep.Copies, rep.Deletes) != fmt.Sprint(dry.Keep, dry.Remove, dry.Carried, dry.Deleted, dry.Copies, dry.Deletes) {
		t.Errorf("prune did not do what its dry run said:\n%+v\n%+v", dry, rep)
	}
	after := h.restoreViews(kept)
	for _, k := range kept {
		if after[k] != before[k] {
			t.Errorf("%s restores differently after prune:\n%s\n--- after\n%s", k, before[k], after[k])
		}
	}
	if code, _, errOut := h.run("verify", "--all", "--dest", h.dest); code != ExitOK {
		t.Errorf("verify --all after prune: exit %d: %s", code, errOut)
	}
	if s := h.state(); !slices.Equal(s.Backups, kept) {
		t.Errorf("state lists %v, the destination holds %v", s.Backups, kept)
	}
	// The freed space is really gone from the disk.
	for _, r := range rep.Remove {
		if _, err := os.Stat(filepath.Join(h.dest, r.Backup)); err == nil {
			var left []string
			filepath.WalkDir(filepath.Join(h.dest, r.Backup), func(p string, d os.DirEntry, err error) error {
				left = append(left, p)
				return err
			})
			t.Errorf("%s is still there: %v", r.Backup, left)
		}
	}
	// The next run continues from the same watermark: nothing is stored again.
	code, sum, errOut := h.runJSON()
	if code != ExitOK || sum.Blocks != 0 {
		t.Errorf("run after prune: exit %d, %d blocks: %s", code, sum.Blocks, errOut)
	}
}

func TestPruneTableAndExitCodes(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	h.history(t)
	code, out, errOut := h.run("prune", "--dest", h.dest, "--keep-last", "1", "--keep-weekly", "1", "--dry-run")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"keep the last 1, 1 weekly", "ACTION", "keep    backup_", "newest, last, weekly", "remove  backup_", "5 backups would be removed", "would be deleted", "would be freed"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry-run table lacks %q:\n%s", want, out)
		}
	}
	// An empty policy and a bad span are usage errors.
	if code, _, errOut := h.run("prune", "--dest", h.dest); code != ExitUsage || !strings.Contains(errOut, "empty retention policy") {
		t.Errorf("empty policy: exit %d: %s", code, errOut)
	}
	if code, _, errOut := h.run("prune", "--dest", h.dest, "--keep-within", "1w"); code != ExitUsage || !strings.Contains(errOut, `"1w"`) {
		t.Errorf("bad span: exit %d: %s", code, errOut)
	}
	// Another run holds the lock: exit 1, nothing removed, the holder named.
	lock := repo.LockInfo{Host: "other-host", PID: 4242, RunID: "nightly", AcquiredAt: time.Now(), RefreshedAt: time.Now()}
	b, _ := json.Marshal(lock)
	if err := os.WriteFile(filepath.Join(h.dest, repo.LockKey), b, 0o600); err != nil {
		t.Fatal(err)
	}
	n := len(h.completeBackups())
	if code, _, errOut := h.run("prune", "--dest", h.dest, "--keep-last", "1"); code != ExitFailure || !strings.Contains(errOut, "other-host") {
		t.Errorf("locked: exit %d: %s", code, errOut)
	}
	if len(h.completeBackups()) != n {
		t.Error("prune removed backups while another run held the lock")
	}
}

func TestRunWithRetentionAutoPrunesEachBusinessUnit(t *testing.T) {
	h := newHarness(t, sfmctest.Options{MIDs: []int64{100001, 100002}})
	mids := []int64{100001, 100002}
	t.Setenv("BACKUP_CREATOR_ACCOUNT_IDS", fmt.Sprintf("%d,%d", mids[0], mids[1]))
	t.Setenv("BACKUP_CREATOR_RETENTION_AUTO", "true")
	t.Setenv("BACKUP_CREATOR_RETENTION_KEEP_LAST", "2")
	for _, mid := range mids {
		h.emu.AddBlocks(mid, 3, 197)
	}
	for i := 0; i < 4; i++ {
		for _, mid := range mids {
			h.emu.AddBlocks(mid, 1, 197)
		}
		code, out, errOut := h.run("run", "--dest", h.dest, "--json", "--log-format", "json")
		if code != ExitOK {
			t.Fatalf("run %d: exit %d: %s", i, code, errOut)
		}
		var multi MultiSummary
		if err := json.Unmarshal([]byte(out), &multi); err != nil {
			t.Fatal(err)
		}
		for _, bu := range multi.BusinessUnits {
			if bu.Summary.Prune == nil {
				t.Fatalf("run %d, unit %s: no prune in the summary", i, bu.AccountID)
			}
			if i >= 2 && len(bu.Summary.Prune.Remove) != 1 {
				t.Errorf("run %d, unit %s: removed %v, want one backup", i, bu.AccountID, bu.Summary.Prune.Remove)
			}
		}
	}
	for _, mid := range mids {
		sub := &harness{t: t, emu: h.emu, dest: filepath.Join(h.dest, fmt.Sprintf("mid-%d", mid))}
		if got := sub.completeBackups(); len(got) != 2 {
			t.Errorf("unit %d keeps %v, want the 2 newest", mid, got)
		}
		// Still restorable: every block of the unit is in the latest backup's state.
		if state := sub.backedUp("latest"); len(state) != 7 {
			t.Errorf("unit %d: latest backup restores %d blocks, want 7", mid, len(state))
		}
	}
}

// Several runs the same day with retention.auto keeping one backup a day:
// each prune removes the day's earlier folders, and the next run must not take
// a freed name that sorts before the kept one (it would read as the oldest
// backup, and prune would then remove the folder holding everything).
func TestRetentionAutoSameDayKeepsEverythingRestorable(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 20, TieBlocks: -1})
	t.Setenv("BACKUP_CREATOR_RETENTION_AUTO", "true")
	t.Setenv("BACKUP_CREATOR_RETENTION_KEEP_DAILY", "1")
	mid := h.emu.DefaultMID()
	var want int
	for i := 0; i < 4; i++ {
		if i > 0 {
			if err := h.emu.UpdateAsset(mid, findBlock(t, h.emu, "Bulk 0000001", "").ID, func(s *sfmctest.AssetSpec) {
				s.Content = fmt.Sprintf("<p>edit %d</p>", i)
			}); err != nil {
				t.Fatal(err)
			}
		}
		code, sum, errOut := h.runJSON()
		if code != ExitOK {
			t.Fatalf("run %d: exit %d: %s", i, code, errOut)
		}
		if i == 0 {
			want = sum.Blocks
		}
		kept := h.completeBackups()
		if len(kept) != 1 || kept[0] != sum.Backup {
			t.Fatalf("run %d made %s; kept %v", i, sum.Backup, kept)
		}
		state := h.backedUp("latest")
		if len(state) != want {
			t.Fatalf("run %d: the kept backup restores %d blocks, want %d", i, len(state), want)
		}
		if got := state[findBlock(t, h.emu, "Bulk 0000001", "").Key].Content; i > 0 && got != fmt.Sprintf("<p>edit %d</p>", i) {
			t.Fatalf("run %d: the kept backup holds %q for the edited block", i, got)
		}
	}
	if code, _, errOut := h.run("verify", "--all", "--dest", h.dest); code != ExitOK {
		t.Errorf("verify --all: exit %d: %s", code, errOut)
	}
}

// With account_ids, prune follows run: each unit's <dest>/mid-<MID> on its
// own, one failing (here: locked) does not stop the others, and the exit code
// is the worst.
func TestPruneCommandPrunesEachBusinessUnit(t *testing.T) {
	h := newHarness(t, sfmctest.Options{MIDs: []int64{100001, 100002}})
	t.Setenv("BACKUP_CREATOR_ACCOUNT_IDS", "100001,100002")
	for i := 0; i < 3; i++ {
		for _, mid := range []int64{100001, 100002} {
			h.emu.AddBlocks(mid, 2, 197)
		}
		if code, _, errOut := h.run("run", "--dest", h.dest, "--log-format", "json"); code != ExitOK {
			t.Fatalf("run %d: exit %d: %s", i, code, errOut)
		}
	}
	unit := func(mid string) *harness { return &harness{t: t, emu: h.emu, dest: filepath.Join(h.dest, "mid-"+mid)} }
	lock := repo.LockInfo{Host: "other-host", PID: 4242, RunID: "nightly", AcquiredAt: time.Now(), RefreshedAt: time.Now()}
	b, _ := json.Marshal(lock)
	if err := os.WriteFile(filepath.Join(unit("100002").dest, repo.LockKey), b, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := h.run("prune", "--dest", h.dest, "--keep-last", "1", "--json", "--log-format", "json")
	if code != ExitFailure {
		t.Fatalf("exit %d, want 1 (one unit locked): %s", code, errOut)
	}
	var multi multiPrune
	if err := json.Unmarshal([]byte(out), &multi); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(multi.BusinessUnits) != 2 || multi.BusinessUnits[0].ExitCode != ExitOK || multi.BusinessUnits[1].ExitCode != ExitFailure ||
		!strings.Contains(multi.BusinessUnits[1].Error, "other-host") {
		t.Fatalf("units %+v", multi.BusinessUnits)
	}
	if got := unit("100001").completeBackups(); len(got) != 1 {
		t.Errorf("unit 100001 keeps %v, want 1 backup", got)
	}
	if got := unit("100002").completeBackups(); len(got) != 3 {
		t.Errorf("the locked unit 100002 keeps %v, want all 3", got)
	}
	if state := unit("100001").backedUp("latest"); len(state) != 6 {
		t.Errorf("unit 100001 restores %d blocks after prune, want 6", len(state))
	}
}

// An interrupted prune is visible: verify reports the files it staged as
// such (not as problems, exit 0), run warns, prune --dry-run says it will
// finish it first, and the next prune does.
func TestInterruptedPruneIsVisible(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	h.history(t)
	all := h.completeBackups()
	// What a prune killed after its journal and its first carried copy leaves.
	j := &repo.PruneJournal{StartedAt: time.Now().UTC(), Remove: all[:2]}
	b, _ := json.Marshal(j)
	if err := os.WriteFile(filepath.Join(h.dest, repo.PruneJournalKey), b, 0o600); err != nil {
		t.Fatal(err)
	}
	staged := filepath.Join(h.dest, all[2], repo.CarriedDir, all[0], "blocks", "1_x.json")
	if err := os.MkdirAll(filepath.Dir(staged), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(staged, []byte(`{}`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := h.run("verify", "--all", "--dest", h.dest)
	if code != ExitOK || !strings.Contains(out, "1 file staged by an interrupted prune") {
		t.Errorf("verify: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := h.runJSON(); code != ExitOK || !strings.Contains(errOut, "an interrupted prune left") {
		t.Errorf("run: exit %d, no warning: %s", code, errOut)
	}
	code, out, errOut = h.run("prune", "--dest", h.dest, "--keep-last", "100", "--dry-run")
	if code != ExitOK || !strings.Contains(out, "an interrupted prune will first finish the interrupted removal of 2 backups") {
		t.Errorf("prune --dry-run: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = h.run("prune", "--dest", h.dest, "--keep-last", "100")
	if code != ExitOK || !strings.Contains(out, "finished the interrupted removal of 2 backups") {
		t.Errorf("prune: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(h.dest, repo.PruneJournalKey)); !os.IsNotExist(err) {
		t.Errorf("the journal is still there: %v", err)
	}
	if got := h.completeBackups(); len(got) != len(all)-1 || slices.Contains(got, all[0]) || slices.Contains(got, all[1]) {
		t.Errorf("after finishing: %v (had %v plus one run)", got, all)
	}
	if code, _, errOut := h.run("verify", "--all", "--dest", h.dest); code != ExitOK {
		t.Errorf("verify after finishing: exit %d: %s", code, errOut)
	}
}
