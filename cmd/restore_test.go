package cmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/backup/restore"
	"github.com/backup-creator/backup-creator/pkg/sfmc"

	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
	"github.com/backup-creator/backup-creator/pkg/storage/local"
)

// blockState is what a restore must bring back, per customerKey.
type blockState struct {
	Name, Content, Folder string
	Type                  int
}

// emuBlock is one block as the emulator holds it.
type emuBlock struct {
	ID  int64
	Key string
	blockState
}

// emuBlocks returns the emulator's content blocks (default types) by customerKey,
// each with its folder path.
func emuBlocks(t *testing.T, emu *sfmctest.Server) map[string]emuBlock {
	t.Helper()
	mid := emu.DefaultMID()
	cats := map[int64]sfmctest.Category{}
	for _, c := range emu.Categories(mid) {
		cats[c.ID] = c
	}
	out := map[string]emuBlock{}
	for _, raw := range emu.Dump(mid) {
		var a struct {
			ID          int64
			CustomerKey string
			Name        string
			Content     string
			AssetType   struct{ ID int }
			Category    struct{ ID int64 }
		}
		if err := json.Unmarshal(raw, &a); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(sfmc.DefaultBlockTypes, a.AssetType.ID) {
			continue
		}
		var segs []string
		for id := a.Category.ID; id != 0; {
			c, ok := cats[id]
			if !ok {
				break
			}
			segs = append([]string{c.Name}, segs...)
			id = c.ParentID
		}
		if _, dup := out[a.CustomerKey]; dup {
			t.Fatalf("two blocks with customerKey %q", a.CustomerKey)
		}
		out[a.CustomerKey] = emuBlock{a.ID, a.CustomerKey, blockState{a.Name, a.Content, repo.CategoryPath(segs), a.AssetType.ID}}
	}
	return out
}

// backedUp returns the state as of a backup, per customerKey, read from the
// destination with the package's own snapshot resolution.
func (h *harness) backedUp(ref string) map[string]blockState {
	h.t.Helper()
	st, err := local.New(h.t.Context(), local.Config{Root: h.dest})
	if err != nil {
		h.t.Fatal(err)
	}
	defer st.Close()
	snap, err := repo.LoadSnapshot(h.t.Context(), st, ref, time.Time{})
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]blockState{}
	for _, b := range snap.Blocks {
		f, _ := b.File(repo.RoleJSON)
		raw, err := os.ReadFile(filepath.Join(h.dest, b.Backup, filepath.FromSlash(f.Path)))
		if err != nil {
			h.t.Fatal(err)
		}
		var a struct{ Content string }
		if err := json.Unmarshal(raw, &a); err != nil {
			h.t.Fatal(err)
		}
		out[b.CustomerKey] = blockState{b.Name, a.Content, b.Category.Path, b.AssetType.ID}
	}
	return out
}

// findBlock returns the emulator block with this name (and folder path suffix).
func findBlock(t *testing.T, emu *sfmctest.Server, name, folderSuffix string) emuBlock {
	t.Helper()
	for _, b := range emuBlocks(t, emu) {
		if b.Name == name && strings.HasSuffix(b.Folder, folderSuffix) {
			return b
		}
	}
	t.Fatalf("no block %q in a folder ending in %q", name, folderSuffix)
	return emuBlock{}
}

// restoreJSON runs restore with --json and decodes the report.
func (h *harness) restoreJSON(args ...string) (int, restoreOutput, string) {
	h.t.Helper()
	code, out, errOut := h.run(append([]string{"restore", "--dest", h.dest, "--json", "--log-format", "json"}, args...)...)
	var rep restoreOutput
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		h.t.Fatalf("restore --json printed no report (exit %d): %v\nstdout: %s\nstderr: %s", code, err, out, errOut)
	}
	return code, rep, errOut
}

// restoreOutput mirrors the documented JSON of `restore --json`.
type restoreOutput struct {
	Backup         string                `json:"backup"`
	Target         string                `json:"target"`
	DryRun         bool                  `json:"dryRun"`
	Counts         restore.RestoreCounts `json:"counts"`
	Items          []restore.RestoreItem `json:"items"`
	IDMap          []restore.IDMapping   `json:"idMap"`
	FoldersCreated []string              `json:"foldersCreated"`
	Requests       map[string]int64      `json:"requests"`
	Error          string                `json:"error"`
}

func (r restoreOutput) item(t *testing.T, id int64) restore.RestoreItem {
	t.Helper()
	for _, it := range r.Items {
		if it.ID == id {
			return it
		}
	}
	t.Fatalf("block %d not in the restore report", id)
	return restore.RestoreItem{}
}

// assertRestored checks that every block of the wanted state is in the
// emulator as backed up, and that nothing was duplicated.
func assertRestored(t *testing.T, emu *sfmctest.Server, want map[string]blockState, ignoreName map[string]bool) map[string]emuBlock {
	t.Helper()
	got := emuBlocks(t, emu)
	for key, w := range want {
		g, ok := got[key]
		if !ok {
			t.Errorf("block %q is not in SFMC after the restore", key)
			continue
		}
		if ignoreName[key] {
			g.Name = w.Name
		}
		if g.blockState != w {
			t.Errorf("block %q after restore: %+v\nwant %+v", key, g.blockState, w)
		}
	}
	return got
}

func TestRestoreRoundTripThroughTheCommands(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 30, TieBlocks: -1})
	mid := h.emu.DefaultMID()
	if code, _, errOut := h.runJSON(); code != ExitOK {
		t.Fatalf("run exit %d: %s", code, errOut)
	}
	want := h.backedUp("latest")
	before := emuBlocks(t, h.emu)

	// Change some blocks ...
	edit := func(b emuBlock, f func(*sfmctest.AssetSpec)) {
		t.Helper()
		if err := h.emu.UpdateAsset(mid, b.ID, f); err != nil {
			t.Fatal(err)
		}
	}
	edit(findBlock(t, h.emu, "Escapes block", ""), func(s *sfmctest.AssetSpec) { s.Content = "<p>overwritten</p>" })
	edit(findBlock(t, h.emu, "Sample textblock", ""), func(s *sfmctest.AssetSpec) { s.Name = "Renamed textblock" })
	root := h.emu.RootCategoryID(mid)
	edit(findBlock(t, h.emu, "Bulk 0000003", ""), func(s *sfmctest.AssetSpec) { s.CategoryID = root })
	edit(findBlock(t, h.emu, "Sample htmlblock", ""), func(s *sfmctest.AssetSpec) { s.Meta = json.RawMessage(`{"changed":true}`) })
	// ... and delete others: a duplicate name, an awkward key, a unicode name,
	// a block in a shared folder and a bulk block.
	var deleted []emuBlock
	for _, n := range []struct{ name, folder string }{{sfmctest.SeedNameDuplicate, "Duplicates A"}, {"Key block 0", ""},
		{sfmctest.SeedNameUnicode, ""}, {"Shared block", ""}, {"Bulk 0000007", ""}} {
		b := findBlock(t, h.emu, n.name, n.folder)
		if err := h.emu.DeleteAsset(mid, b.ID); err != nil {
			t.Fatal(err)
		}
		deleted = append(deleted, b)
	}

	h.emu.ResetStats()
	code, rep, errOut := h.restoreJSON("latest")
	if code != ExitOK {
		t.Fatalf("restore exit %d: %s\n%+v", code, errOut, rep)
	}
	if rep.Counts.Create != len(deleted) || rep.Counts.Update != 4 || rep.Counts.Failed != 0 || rep.Counts.Unchanged != len(want)-4-len(deleted) {
		t.Fatalf("counts %+v (want %d created, 4 updated)", rep.Counts, len(deleted))
	}
	got := assertRestored(t, h.emu, want, nil)
	if len(got) != len(before) {
		t.Errorf("SFMC holds %d blocks after the restore, %d before the changes", len(got), len(before))
	}
	// Re-created blocks live under new ids, as the map says; the others kept theirs.
	newID := map[int64]int64{}
	for _, m := range rep.IDMap {
		newID[m.OldID] = m.NewID
	}
	for _, d := range deleted {
		key := d.Key
		if n := newID[d.ID]; n == 0 || n == d.ID || got[key].ID != n {
			t.Errorf("deleted block %d (%q): map says %d, SFMC has it as %d", d.ID, key, n, got[key].ID)
		}
	}
	if len(rep.IDMap) != len(deleted) {
		t.Errorf("id map has %d entries, want %d", len(rep.IDMap), len(deleted))
	}
	for k, b := range got {
		if _, re := newID[before[k].ID]; !re && b.ID != before[k].ID {
			t.Errorf("block %q moved from id %d to %d", k, before[k].ID, b.ID)
		}
	}
	if rep.Requests["create"] != int64(len(deleted)) || rep.Requests["update"] != 4 {
		t.Errorf("requests %v", rep.Requests)
	}

	// A second restore changes nothing and sends no write request.
	h.emu.ResetStats()
	code, out, errOut := h.run("restore", "latest", "--dest", h.dest)
	if code != ExitOK {
		t.Fatalf("second restore exit %d: %s", code, errOut)
	}
	if st := h.emu.Stats(); st.Writes != 0 {
		t.Fatalf("second restore made %d write requests: %v", st.Writes, st.ByRoute)
	}
	if !strings.Contains(out, fmt.Sprintf("0 created, 0 updated, %d unchanged", len(want))) {
		t.Errorf("second restore output:\n%s", out)
	}
	// The id map is still printed: references need the new ids.
	if !strings.Contains(out, "Blocks now under a new id") || !strings.Contains(out, fmt.Sprint(newID[deleted[0].ID])) {
		t.Errorf("second restore does not print the id map:\n%s", out)
	}
	h.assertNoSecrets(out, errOut)
}

func TestRestorePointInTimeThroughTheCommands(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 10, TieBlocks: -1})
	mid := h.emu.DefaultMID()
	_, s1, _ := h.runJSON()
	state1 := emuBlocks(t, h.emu)

	a, b := findBlock(t, h.emu, "Bulk 0000001", ""), findBlock(t, h.emu, "Bulk 0000002", "")
	for _, id := range []int64{a.ID, b.ID} {
		if err := h.emu.UpdateAsset(mid, id, func(s *sfmctest.AssetSpec) { s.Content += " v2" }); err != nil {
			t.Fatal(err)
		}
	}
	newID, err := h.emu.CreateAsset(mid, sfmctest.AssetSpec{Name: "Added later", CustomerKey: "added-later", Content: "<p>new</p>"})
	if err != nil {
		t.Fatal(err)
	}
	_, s2, _ := h.runJSON()
	if err := h.emu.UpdateAsset(mid, a.ID, func(s *sfmctest.AssetSpec) { s.Content += " v3"; s.Name = "Bulk renamed" }); err != nil {
		t.Fatal(err)
	}
	if err := h.emu.DeleteAsset(mid, b.ID); err != nil {
		t.Fatal(err)
	}
	code, s3, errOut := h.runJSON()
	if code != ExitOK || s1.Backup == s2.Backup || s2.Backup == s3.Backup || s2.Blocks != 3 || s3.Deleted != 1 {
		t.Fatalf("runs: %+v / %+v / %+v (exit %d, %s)", s1, s2, s3, code, errOut)
	}

	// The plan for the first backup: A updated, B re-created, the rest unchanged.
	code, plan, errOut := h.restoreJSON(s1.Backup, "--dry-run")
	if code != ExitOK || plan.item(t, a.ID).Action != restore.ActionUpdate || plan.item(t, b.ID).Action != restore.ActionCreate ||
		plan.Counts.Unchanged != len(state1)-2 {
		t.Fatalf("plan (exit %d, %s): %+v", code, errOut, plan.Counts)
	}
	// The plan warns that A's later edit will be replaced.
	if notes := strings.Join(plan.item(t, a.ID).Notes, "; "); !strings.Contains(notes, "edited in SFMC after this backup") {
		t.Errorf("plan for a block edited since the backup does not warn: %q", notes)
	}
	// --at a time between the second and third run picks the second backup.
	code, plan2, _ := h.restoreJSON("--at", s3.StartedAt.Add(-1).Format("2006-01-02T15:04:05.999999999Z07:00"), "--dry-run")
	if code != ExitOK || plan2.Backup != s2.Backup {
		t.Fatalf("--at resolved to %s, want %s", plan2.Backup, s2.Backup)
	}

	code, rep, errOut := h.restoreJSON(s1.Backup)
	if code != ExitOK {
		t.Fatalf("restore exit %d: %s", code, errOut)
	}
	want := map[string]blockState{}
	for k, v := range state1 {
		want[k] = v.blockState
	}
	got := assertRestored(t, h.emu, want, nil)
	// Restore never deletes: the block added after the first backup stays.
	if g, ok := got["added-later"]; !ok || g.ID != newID {
		t.Errorf("the block added after the first backup is gone")
	}
	if rep.Counts.Create != 1 || rep.Counts.Update != 1 {
		t.Errorf("counts %+v", rep.Counts)
	}
}

func TestRestoreDryRunMakesNoWriteRequest(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 5, TieBlocks: -1})
	mid := h.emu.DefaultMID()
	h.runJSON()
	x, y := findBlock(t, h.emu, "Bulk 0000000", ""), findBlock(t, h.emu, "Bulk 0000001", "")
	if err := h.emu.UpdateAsset(mid, x.ID, func(s *sfmctest.AssetSpec) { s.Content = "changed" }); err != nil {
		t.Fatal(err)
	}
	if err := h.emu.DeleteAsset(mid, y.ID); err != nil {
		t.Fatal(err)
	}
	h.emu.ResetStats()
	code, out, errOut := h.run("restore", "--dest", h.dest, "--dry-run", "--name", "Bulk 000000[01]")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, re := range []string{
		fmt.Sprintf(`(?m)^%d\s+update\s+planned\s+htmlblock\s+Content Builder/Bulk\s+Bulk 0000000\s+differs in content; edited in SFMC after this backup`, x.ID),
		fmt.Sprintf(`(?m)^%d\s+create\s+planned\s+htmlblock\s+Content Builder/Bulk\s+Bulk 0000001\s+id %d and customerKey "bulk-\d+-0000001" not found in SFMC; re-create it$`, y.ID, y.ID),
		`dry run: would create 1, update 1, leave 0 unchanged, skip 0 .*nothing was written`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("plan does not match %s:\n%s", re, out)
		}
	}
	code, rep, _ := h.restoreJSON("--dry-run")
	if code != ExitOK || !rep.DryRun || rep.Counts.Create != 1 || rep.Counts.Update != 1 {
		t.Fatalf("json plan: %+v", rep)
	}
	st := h.emu.Stats()
	if st.Writes != 0 || st.ByRoute[sfmctest.RouteCreate]+st.ByRoute[sfmctest.RouteUpdate]+st.ByRoute[sfmctest.RouteCategoryWrite] != 0 {
		t.Fatalf("dry runs made write requests: %v", st.ByRoute)
	}
	if st.ByRoute[sfmctest.RouteAsset] == 0 {
		t.Fatal("the plan did not even look blocks up")
	}
}

func TestRestoreFailingHalfwayIsFinishedByARerun(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 8, TieBlocks: -1})
	mid := h.emu.DefaultMID()
	h.runJSON()
	want := h.backedUp("latest")
	for i := range 8 {
		b := findBlock(t, h.emu, fmt.Sprintf("Bulk %07d", i), "")
		if err := h.emu.DeleteAsset(mid, b.ID); err != nil {
			t.Fatal(err)
		}
	}
	// After three creates the create route fails for good.
	h.emu.InjectFault(sfmctest.Fault{Route: sfmctest.RouteCreate, After: 3, Times: -1, Status: 500})
	code, out, errOut := h.run("restore", "--dest", h.dest, "--folder", "Content Builder/Bulk")
	if code != ExitPartial {
		t.Fatalf("exit %d, want %d (partial): %s", code, ExitPartial, errOut)
	}
	done := regexp.MustCompile(`(?m)^\d+\s+create\s+done\s`).FindAllString(out, -1)
	failed := regexp.MustCompile(`(?m)^\d+\s+create\s+failed\s.*500`).FindAllString(out, -1)
	if len(done) != 3 || len(failed) != 5 || !strings.Contains(out, "3 created, 0 updated, 0 unchanged, 0 skipped, 5 failed") {
		t.Fatalf("report of the failed restore (%d done, %d failed):\n%s", len(done), len(failed), out)
	}
	if !strings.Contains(errOut, "5 of 8 selected blocks could not be restored") {
		t.Errorf("stderr does not say what failed:\n%s", errOut)
	}

	h.emu.ClearFaults()
	h.emu.ResetStats()
	code, rep, errOut := h.restoreJSON("--folder", "Content Builder/Bulk")
	if code != ExitOK || rep.Counts.Create != 5 || rep.Counts.Unchanged != 3 || len(rep.IDMap) != 8 {
		t.Fatalf("rerun (exit %d, %s): %+v", code, errOut, rep.Counts)
	}
	if n := h.emu.Stats().ByRoute[sfmctest.RouteCreate]; n != 5 {
		t.Errorf("rerun sent %d creates, want 5", n)
	}
	assertRestored(t, h.emu, want, nil)
}

func TestRestoreDeletedBlocksNeedAsking(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 3, TieBlocks: -1})
	h.runJSON()
	b := findBlock(t, h.emu, "Bulk 0000001", "")
	if err := h.emu.DeleteAsset(h.emu.DefaultMID(), b.ID); err != nil {
		t.Fatal(err)
	}
	_, s2, _ := h.runJSON()
	if s2.Deleted != 1 {
		t.Fatalf("second run recorded %d deletions, want 1", s2.Deleted)
	}
	code, rep, _ := h.restoreJSON("--dry-run")
	if it := rep.item(t, b.ID); code != ExitOK || it.Action != restore.ActionSkip || rep.Counts.Create != 0 {
		t.Fatalf("deleted block without --deleted: %+v", it)
	}
	code, rep, _ = h.restoreJSON("--deleted")
	if code != ExitOK || len(rep.Items) != 1 || rep.Items[0].Action != restore.ActionCreate || rep.Items[0].Status != restore.ItemDone {
		t.Fatalf("--deleted: %+v", rep)
	}
	if g := emuBlocks(t, h.emu)[b.Key]; g.ID != rep.Items[0].TargetID || g.Name != "Bulk 0000001" {
		t.Fatalf("re-created block %+v, report %+v", g, rep.Items[0])
	}
}

func TestRestoreToTargetDirectory(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 3, TieBlocks: -1})
	_, s, _ := h.runJSON()
	m := h.manifest(s.Backup)
	var blk repo.ManifestBlock
	for _, b := range m.Blocks {
		if b.Name == "Escapes block" {
			blk = b
		}
	}
	dir := filepath.Join(t.TempDir(), "restored")
	h.emu.ResetStats()
	code, out, errOut := h.run("restore", "--dest", h.dest, "--key", blk.CustomerKey, "--target", dir)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "wrote 1 block into "+dir) {
		t.Errorf("output:\n%s", out)
	}
	for _, f := range blk.Files {
		got, err := os.ReadFile(filepath.Join(dir, filepath.Base(f.Path)))
		if err != nil {
			t.Fatal(err)
		}
		want, _ := os.ReadFile(filepath.Join(h.dest, s.Backup, filepath.FromSlash(f.Path)))
		if string(got) != string(want) {
			t.Errorf("%s differs from the backup", f.Path)
		}
		// Restored files are as private as the backup's own.
		gi, _ := os.Stat(filepath.Join(dir, filepath.Base(f.Path)))
		wi, _ := os.Stat(filepath.Join(h.dest, s.Backup, filepath.FromSlash(f.Path)))
		if runtime.GOOS != "windows" && (gi == nil || wi == nil || gi.Mode().Perm() != wi.Mode().Perm()) {
			t.Errorf("%s: mode %v, the backup's file has %v", f.Path, gi.Mode().Perm(), wi.Mode().Perm())
		}
	}
	if st := h.emu.Stats(); len(st.ByRoute) != 0 {
		t.Errorf("--target talked to SFMC: %v", st.ByRoute)
	}
	// Writing into it again needs --force.
	if code, _, errOut := h.run("restore", "--dest", h.dest, "--key", blk.CustomerKey, "--target", dir); code != ExitUsage || !strings.Contains(errOut, "--force") {
		t.Fatalf("non-empty target: exit %d, %s", code, errOut)
	}
	if code, _, errOut := h.run("restore", "--dest", h.dest, "--key", blk.CustomerKey, "--target", dir, "--force"); code != ExitOK {
		t.Fatalf("--force: exit %d, %s", code, errOut)
	}
}

func TestRestoreUsageErrors(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	for _, args := range [][]string{
		{"restore", "backup_20261101", "--at", "2026-11-01"},
		{"restore", "latest", "--at", "2026-11-01"},
		{"restore", "--at", "yesterday"},
		{"restore", "--name", "[x"},
		{"restore", "--type", "nosuchtype"},
		{"restore", "--force"},
		{"restore", "a", "b"},
		{"verify", "latest", "--all"},
	} {
		code, _, errOut := h.run(append(args, "--dest", h.dest)...)
		if code != ExitUsage {
			t.Errorf("%v: exit %d, want %d: %s", args, code, ExitUsage, errOut)
		}
	}
	// No backup at all: a plain failure naming the problem.
	code, _, errOut := h.run("restore", "--dest", h.dest)
	if code != ExitFailure || !strings.Contains(errOut, "does not exist") {
		t.Errorf("missing destination: exit %d, %s", code, errOut)
	}
	if err := os.MkdirAll(h.dest, 0o755); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = h.run("restore", "--dest", h.dest)
	if code != ExitFailure || !strings.Contains(errOut, "no complete backup") {
		t.Errorf("empty destination: exit %d, %s", code, errOut)
	}
}

func TestHelpOfListRestoreVerifyShowsExitStatus(t *testing.T) {
	for cmd, code := range map[string]string{"list": "130", "restore": "3    partial", "verify": "1    a backup checked"} {
		var out bytes.Buffer
		if c := DefaultApp(&out, &out, BuildInfo{}).Execute(t.Context(), []string{cmd, "--help"}); c != ExitOK ||
			!strings.Contains(out.String(), "EXIT STATUS") || !strings.Contains(out.String(), code) {
			t.Errorf("%s --help (exit %d) lacks its exit status:\n%s", cmd, c, out.String())
		}
	}
}

func TestRestoreErrorMapsToExitPartial(t *testing.T) {
	err := fmt.Errorf("restore: %w", &restore.RestoreError{Failed: 1, Total: 2})
	if code := ExitCode(err); code != ExitPartial {
		t.Fatalf("ExitCode = %d, want %d", code, ExitPartial)
	}
}

func TestNewRestoreCmdParsesFlags(t *testing.T) {
	cases := []struct {
		args []string
		want RestoreOptions
	}{
		{[]string{"latest", "--id", "1,2", "--id", "3", "--key", "a,b", "--name", "F*", "--type", "htmlblock,220", "--folder", "Content Builder/A, B", "--deleted", "--dry-run", "--json"},
			RestoreOptions{Backup: "latest", IDs: []int64{1, 2, 3}, Keys: []string{"a,b"}, Names: []string{"F*"}, Types: []string{"htmlblock", "220"},
				Folders: []string{"Content Builder/A, B"}, Deleted: true, DryRun: true, JSON: true}},
		{[]string{"--at", "2026-11-01", "--target", "out", "--force"}, RestoreOptions{At: "2026-11-01", Target: "out", Force: true}},
	}
	for _, tc := range cases {
		var got *RestoreOptions
		c := newRestoreCmd(&App{}, func(o *RestoreOptions) error { got = o; return nil })
		c.SetArgs(tc.args)
		if err := c.Execute(); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if fmt.Sprintf("%+v", *got) != fmt.Sprintf("%+v", tc.want) {
			t.Errorf("%v:\n got %+v\nwant %+v", tc.args, *got, tc.want)
		}
	}
}

func TestRestoreRefusesADamagedBackupInTheChain(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 5, TieBlocks: -1})
	_, s1, _ := h.runJSON()
	a := findBlock(t, h.emu, "Bulk 0000001", "")
	if err := h.emu.UpdateAsset(h.emu.DefaultMID(), a.ID, func(s *sfmctest.AssetSpec) { s.Content += " v2" }); err != nil {
		t.Fatal(err)
	}
	_, s2, _ := h.runJSON()
	_, s3, _ := h.runJSON()
	// The middle backup, the only one holding a's second version, is damaged.
	if err := os.WriteFile(filepath.Join(h.dest, s2.Backup, repo.ManifestName), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"restore", "--dry-run"}, {"restore", s3.Backup, "--target", t.TempDir()}, {"restore", "--dry-run", "--id", strconv.FormatInt(a.ID, 10)}} {
		code, out, errOut := h.run(append(args, "--dest", h.dest)...)
		if code != ExitFailure || !strings.Contains(errOut, s2.Backup) || !strings.Contains(errOut, "damaged") {
			t.Errorf("%v: exit %d, want 1 naming the damaged %s\n%s%s", args, code, s2.Backup, out, errOut)
		}
	}
	// Backups before the damaged one still restore.
	if code, _, errOut := h.run("restore", s1.Backup, "--dry-run", "--dest", h.dest); code != ExitOK {
		t.Errorf("restore from before the damage: exit %d %s", code, errOut)
	}
}

func TestRestoreSelectionThatMatchesNothingFails(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 3, TieBlocks: -1})
	h.runJSON()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--id", "99999999"}, "--id 99999999"},
		{[]string{"--key", "no-such-key"}, "no-such-key"},
		{[]string{"--folder", "Footers"}, "no block matches"},
		{[]string{"--name", "zzz*"}, "no block matches"},
	} {
		code, _, errOut := h.run(append([]string{"restore", "--dry-run", "--dest", h.dest}, c.args...)...)
		if code != ExitFailure || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, want 1 mentioning %q: %s", c.args, code, c.want, errOut)
		}
	}
}

func TestRestoreAtADateMeansTheEndOfThatDay(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 3, TieBlocks: -1})
	_, s1, _ := h.runJSON()
	day := s1.StartedAt.UTC().Format("2006-01-02")
	code, plan, errOut := h.restoreJSON("--at", day, "--dry-run")
	if code != ExitOK || plan.Backup != s1.Backup {
		t.Errorf("--at %s (the day of the backup): exit %d, backup %q: %s", day, code, plan.Backup, errOut)
	}
}

// TestRestoreUnauthorizedMidwayExits4: SFMC refusing the credentials in the
// middle of a restore is an auth failure (exit 4), not a partial restore; the
// restore stops instead of failing every further block.
func TestRestoreUnauthorizedMidwayExits4(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 20, TieBlocks: -1})
	if code, _, errOut := h.runJSON(); code != ExitOK {
		t.Fatalf("run exit %d: %s", code, errOut)
	}
	// After five lookups every asset request answers 401, also with a fresh token.
	h.emu.InjectFault(sfmctest.Fault{Route: sfmctest.RouteAsset, After: 5, Times: -1, Status: 401})
	code, rep, errOut := h.restoreJSON("--dry-run")
	if code != ExitAuth {
		t.Fatalf("exit %d, want %d (auth): %s", code, ExitAuth, errOut)
	}
	if !strings.Contains(rep.Error, "unauthorized") && !strings.Contains(rep.Error, "401") {
		t.Errorf("error does not name the refusal: %q", rep.Error)
	}
	if rep.Counts.Failed == 0 || rep.Counts.Pending == 0 {
		t.Errorf("a refused restore stops: counts %+v", rep.Counts)
	}
	if n := h.emu.Stats().ByRoute[sfmctest.RouteAsset]; n > 5+2*4+2 {
		t.Errorf("%d asset requests after the credentials were refused: the restore went on", n-5)
	}
}

// TestRestoreSFMCUnreachableFailsFast: when SFMC cannot be reached, restore
// (also --dry-run) prints the real error, not a table of untouched blocks.
func TestRestoreSFMCUnreachableFailsFast(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 40, TieBlocks: -1})
	if code, _, errOut := h.runJSON(); code != ExitOK {
		t.Fatalf("run exit %d: %s", code, errOut)
	}
	h.emu.Close()
	for _, args := range [][]string{{"--dry-run"}, {}} {
		code, out, errOut := h.run(append([]string{"restore", "--dest", h.dest}, args...)...)
		if code != ExitFailure {
			t.Errorf("%v: exit %d, want %d: %s", args, code, ExitFailure, errOut)
		}
		if strings.Contains(out, restore.ItemNotAttempted) || strings.Count(out, "\n") > 2 {
			t.Errorf("%v: stdout lists blocks before the error:\n%s", args, out)
		}
		if !strings.Contains(errOut, "list SFMC folders") {
			t.Errorf("%v: stderr does not give the real error:\n%s", args, errOut)
		}
	}
}
