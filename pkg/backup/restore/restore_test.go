package restore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/backup"

	"github.com/backup-creator/backup-creator/pkg/backup/repo/repotest"

	"github.com/rs/zerolog"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/sfmc"
	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
	"github.com/backup-creator/backup-creator/pkg/storage/mem"
)

// rclock is a manual clock shared by the emulator and the engine.
type rclock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *rclock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *rclock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// restoreEnv is an emulated SFMC account, a client for it and an in-memory
// destination that real engine runs fill.
type restoreEnv struct {
	t     *testing.T
	clk   *rclock
	emu   *sfmctest.Server
	cl    *sfmc.Client
	st    *mem.Store
	mid   int64
	root  int64
	runs  []string
	types []int
}

func newSFMCClient(t *testing.T, emu *sfmctest.Server) *sfmc.Client {
	t.Helper()
	cl, err := sfmc.New(sfmc.Config{AuthURL: emu.AuthURL(), ClientID: emu.ClientID(), ClientSecret: emu.ClientSecret(),
		RetryBaseDelay: time.Millisecond, RetryMaxDelay: 2 * time.Millisecond, MaxRetryAfter: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func newRestoreEnv(t *testing.T) *restoreEnv {
	t.Helper()
	clk := &rclock{t: repotest.T0}
	emu := sfmctest.New(t, sfmctest.Options{Now: clk.Now, TokenLifetime: 1000 * time.Hour})
	mid := emu.DefaultMID()
	return &restoreEnv{t: t, clk: clk, emu: emu, cl: newSFMCClient(t, emu), st: mem.New(), mid: mid, root: emu.RootCategoryID(mid), types: []int{197, 220}}
}

func (e *restoreEnv) folder(name string, parent int64) int64 {
	e.t.Helper()
	id, err := e.emu.CreateCategory(e.mid, name, parent)
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *restoreEnv) block(name, key, content string, cat int64) int64 {
	e.t.Helper()
	e.clk.Add(time.Second)
	id, err := e.emu.CreateAsset(e.mid, sfmctest.AssetSpec{Name: name, CustomerKey: key, Content: content, CategoryID: cat,
		Meta: json.RawMessage(`{"wrapperStyles":{"mobile":{"visible":true},"styling":{}}}`)})
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *restoreEnv) edit(id int64, f func(*sfmctest.AssetSpec)) {
	e.t.Helper()
	e.clk.Add(time.Second)
	if err := e.emu.UpdateAsset(e.mid, id, f); err != nil {
		e.t.Fatal(err)
	}
}

func (e *restoreEnv) remove(id int64) {
	e.t.Helper()
	e.clk.Add(time.Second)
	if err := e.emu.DeleteAsset(e.mid, id); err != nil {
		e.t.Fatal(err)
	}
}

// run makes a backup with the real engine and returns its folder.
func (e *restoreEnv) run() string {
	e.t.Helper()
	e.clk.Add(time.Minute)
	eng := &backup.Engine{Source: e.cl, Store: e.st, Log: zerolog.Nop(), Now: e.clk.Now, Version: "test", Host: "test", PID: 1 << 30}
	sum, err := eng.Run(e.t.Context(), backup.RunOptions{TypeIDs: e.types, TrackDeletions: true, Overlap: time.Millisecond})
	if err != nil {
		e.t.Fatalf("backup run: %v", err)
	}
	e.runs = append(e.runs, sum.Backup)
	e.clk.Add(time.Minute)
	return sum.Backup
}

func (e *restoreEnv) restoreInto(target *sfmc.Client, ref string, opts RestoreOptions) (*RestoreReport, error) {
	e.t.Helper()
	snap, err := repo.LoadSnapshot(e.t.Context(), e.st, ref, time.Time{})
	if err != nil {
		e.t.Fatal(err)
	}
	r := &Restorer{Target: target, Store: e.st, Log: zerolog.Nop()}
	return r.Restore(e.t.Context(), snap, opts)
}

func (e *restoreEnv) restore(ref string, opts RestoreOptions) (*RestoreReport, error) {
	return e.restoreInto(e.cl, ref, opts)
}

// blockState is what a restore must bring back.
type blockState struct {
	Key, Name, Content, Folder string
	Type                       int
}

// state returns the emulator's blocks of the test types by customerKey, with
// their folder as a path.
func stateOf(t *testing.T, emu *sfmctest.Server, mid int64, types []int) map[string]blockState {
	t.Helper()
	cats := map[int64]sfmctest.Category{}
	for _, c := range emu.Categories(mid) {
		cats[c.ID] = c
	}
	pathOf := func(id int64) string {
		var segs []string
		for id != 0 {
			c, ok := cats[id]
			if !ok {
				break
			}
			segs = append([]string{c.Name}, segs...)
			id = c.ParentID
		}
		return repo.CategoryPath(segs)
	}
	out := map[string]blockState{}
	for _, raw := range emu.Dump(mid) {
		var a struct {
			CustomerKey, Name, Content string
			AssetType                  struct{ ID int }
			Category                   struct{ ID int64 }
		}
		if err := json.Unmarshal(raw, &a); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(types, a.AssetType.ID) {
			out[a.CustomerKey] = blockState{a.CustomerKey, a.Name, a.Content, pathOf(a.Category.ID), a.AssetType.ID}
		}
	}
	return out
}

func itemByID(t *testing.T, rep *RestoreReport, id int64) RestoreItem {
	t.Helper()
	for _, it := range rep.Items {
		if it.ID == id {
			return it
		}
	}
	t.Fatalf("block %d not in the report", id)
	return RestoreItem{}
}

func TestRestoreRoundTripAndIdempotence(t *testing.T) {
	e := newRestoreEnv(t)
	news := e.folder("News", e.root)
	y2026 := e.folder("2026", news)
	a := e.block("Header", "hdr", "<h1>Header</h1>", y2026)
	b := e.block("Footer", "ftr", "<p>Footer</p>", e.root)
	c := e.block("Teaser", "tsr", "<p>Teaser</p>", news)
	d := e.block("Legal", "lgl", "<p>Legal</p>", news)
	e.run()
	want := stateOf(t, e.emu, e.mid, e.types)

	// Edits of content, name, folder and meta; two deletes.
	e.edit(a, func(s *sfmctest.AssetSpec) { s.Content = "<h1>broken</h1>"; s.Name = "Header renamed" })
	e.edit(c, func(s *sfmctest.AssetSpec) { s.CategoryID = e.root; s.Meta = json.RawMessage(`{"x":1}`) })
	e.remove(b)
	e.remove(d)
	// A namesake of the deleted Footer takes its name meanwhile.
	e.block("Footer", "someone-elses-footer", "<p>new footer</p>", e.root)

	e.emu.ResetStats()
	dry, err := e.restore("latest", RestoreOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if w := e.emu.Stats().Writes; w != 0 {
		t.Fatalf("dry run made %d write requests", w)
	}
	for id, act := range map[int64]string{a: ActionUpdate, b: ActionCreate, c: ActionUpdate, d: ActionCreate} {
		if it := itemByID(t, dry, id); it.Action != act || it.Status != ItemPlanned {
			t.Errorf("dry run: block %d %s/%s, want %s/planned", id, it.Action, it.Status, act)
		}
	}
	if ch := itemByID(t, dry, a).Changes; !slices.Equal(ch, []string{"name", "content"}) {
		t.Errorf("changes of the edited block = %v, want [name content]", ch)
	}
	if ch := itemByID(t, dry, c).Changes; !slices.Equal(ch, []string{"category", "meta"}) {
		t.Errorf("changes of the moved block = %v, want [category meta]", ch)
	}

	rep, err := e.restore("latest", RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Counts.Create != 2 || rep.Counts.Update != 2 || rep.Counts.Failed != 0 {
		t.Fatalf("counts %+v", rep.Counts)
	}
	got := stateOf(t, e.emu, e.mid, e.types)
	delete(got, "someone-elses-footer")
	// The re-created Footer had to take Content Builder's suggested name.
	if f := got["ftr"]; f.Name != "Footer (1)" {
		t.Errorf("re-created namesake is called %q, want %q", f.Name, "Footer (1)")
	} else {
		f.Name = "Footer"
		got["ftr"] = f
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after restore:\n%v\nwant\n%v", got, want)
	}
	// Re-created blocks have new ids, and the map says which.
	ids := map[int64]int64{}
	for _, m := range rep.IDMap {
		ids[m.OldID] = m.NewID
	}
	if len(ids) != 2 || ids[b] == 0 || ids[d] == 0 || ids[b] == b {
		t.Fatalf("id map %+v", rep.IDMap)
	}
	if raw, ok := e.emu.AssetJSON(e.mid, ids[d]); !ok || !strings.Contains(string(raw), `"customerKey":"lgl"`) {
		t.Fatalf("new id %d of block %d does not hold it: %s", ids[d], d, raw)
	}

	// A second restore finds everything in place: no write request, same map.
	e.emu.ResetStats()
	again, err := e.restore("latest", RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if w := e.emu.Stats().Writes; w != 0 {
		t.Fatalf("second restore made %d write requests: %+v", w, again.Items)
	}
	if again.Counts.Unchanged != 4 || fmt.Sprint(again.IDMap) != fmt.Sprint(rep.IDMap) {
		t.Fatalf("second restore: counts %+v, map %v (first %v)", again.Counts, again.IDMap, rep.IDMap)
	}
}

func TestRestorePointInTimeAndTombstones(t *testing.T) {
	e := newRestoreEnv(t)
	a := e.block("A", "ka", "a1", e.root)
	b := e.block("B", "kb", "b1", e.root)
	b1 := e.run()
	e.edit(a, func(s *sfmctest.AssetSpec) { s.Content = "a2" })
	c := e.block("C", "kc", "c1", e.root)
	e.run()
	e.remove(b)
	e.edit(a, func(s *sfmctest.AssetSpec) { s.Content = "a3" })
	b3 := e.run()
	if m, err := repo.ReadManifest(t.Context(), e.st, b3); err != nil || len(m.Deleted) != 1 || m.Deleted[0].ID != b {
		t.Fatalf("the third run should record B as deleted: %+v, %v", m, err)
	}

	// As of the latest backup B is deleted: skipped unless asked for.
	rep, err := e.restore("latest", RestoreOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if it := itemByID(t, rep, b); it.Action != ActionSkip || !strings.Contains(it.Reason, "--deleted") {
		t.Fatalf("deleted block: %+v", it)
	}
	if it := itemByID(t, rep, a); it.Action != ActionUnchanged {
		t.Fatalf("block A as of latest: %+v", it)
	}
	rep, err = e.restore("latest", RestoreOptions{Select: Selection{Deleted: true}, DryRun: true})
	if err != nil || len(rep.Items) != 1 || rep.Items[0].ID != b || rep.Items[0].Action != ActionCreate {
		t.Fatalf("--deleted selects only B for re-creation: %+v, %v", rep, err)
	}

	// Back to the state after the first backup: A's first content, B back, C untouched.
	rep, err = e.restore(b1, RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Counts.Update != 1 || rep.Counts.Create != 1 || len(rep.Items) != 2 {
		t.Fatalf("restore of the first backup: %+v", rep.Counts)
	}
	got := stateOf(t, e.emu, e.mid, e.types)
	if got["ka"].Content != "a1" || got["kb"].Content != "b1" || got["kc"].Content != "c1" {
		t.Fatalf("state after restoring %s: %v", b1, got)
	}
	if _, ok := e.emu.AssetJSON(e.mid, c); !ok {
		t.Fatal("restore deleted a block that did not exist at the first backup")
	}
}

func TestRestoreCancelledMidway(t *testing.T) {
	e := newRestoreEnv(t)
	for i := range 6 {
		e.block(fmt.Sprintf("Block %d", i), fmt.Sprintf("key-%d", i), "x", e.root)
	}
	e.run()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	e.emu.OnRequest(func(r sfmctest.RequestInfo) {
		if r.Route == sfmctest.RouteAsset && r.N == 3 {
			cancel()
		}
	})
	// The third lookup is never answered (the server waits until the client
	// gives up), so the cancellation, not a race with the answer, decides it.
	e.emu.InjectFault(sfmctest.Fault{Route: sfmctest.RouteAsset, After: 2, Latency: time.Hour})
	snap, err := repo.LoadSnapshot(t.Context(), e.st, "latest", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := (&Restorer{Target: e.cl, Store: e.st, Log: zerolog.Nop()}).Restore(ctx, snap, RestoreOptions{Concurrency: 1})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	// The block cut off is not failed: it and the rest are not attempted.
	if rep.Counts.Pending != 4 || rep.Counts.Unchanged != 2 || rep.Counts.Failed != 0 {
		t.Fatalf("counts %+v", rep.Counts)
	}
	for _, it := range rep.Items[len(rep.Items)-rep.Counts.Pending:] {
		if it.Status != ItemNotAttempted {
			t.Errorf("item %d: %s, want not-attempted", it.ID, it.Status)
		}
	}
}

func TestRestoreIntoAnotherAccountRecreatesFolders(t *testing.T) {
	e := newRestoreEnv(t)
	f1 := e.folder("Brand/Legal", e.root) // a "/" inside a folder name
	f2 := e.folder("DE", f1)
	x := e.block("Impressum", "imp", "<p>Impressum</p>", f2)
	y := e.block("AGB", "agb", "<p>AGB</p>", f2)
	e.run()

	// Another account (another stack: its own MID) without those folders.
	// Its ids start where the source's do, so they collide.
	other := sfmctest.New(t, sfmctest.Options{MIDs: []int64{200001}, EnterpriseID: 200000})
	target := newSFMCClient(t, other)
	rep, err := e.restoreInto(target, "latest", RestoreOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.FoldersCreated, []string{`Content Builder/Brand\/Legal`, `Content Builder/Brand\/Legal/DE`}) {
		t.Fatalf("planned folders %q", rep.FoldersCreated)
	}
	if st := other.Stats(); st.Writes != 0 {
		t.Fatalf("dry run wrote %d times", st.Writes)
	}
	rep, err = e.restoreInto(target, "latest", RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := stateOf(t, other, other.DefaultMID(), e.types)
	if len(got) != 2 || got["imp"].Folder != `Content Builder/Brand\/Legal/DE` || got["agb"].Content != "<p>AGB</p>" {
		t.Fatalf("other account: %v", got)
	}
	for id, key := range map[int64]string{x: "imp", y: "agb"} {
		it := itemByID(t, rep, id)
		raw, ok := other.AssetJSON(other.DefaultMID(), it.TargetID)
		if it.Action != ActionCreate || !ok || !strings.Contains(string(raw), `"customerKey":"`+key+`"`) {
			t.Errorf("block %d: %+v; target holds %s", id, it, raw)
		}
	}
}

// otherAccount is a second SFMC account (another stack, its own MID) whose
// ids collide with the source's.
func otherAccount(t *testing.T) (*sfmctest.Server, *sfmc.Client) {
	t.Helper()
	other := sfmctest.New(t, sfmctest.Options{MIDs: []int64{200001}, EnterpriseID: 200000, TokenLifetime: 1000 * time.Hour})
	return other, newSFMCClient(t, other)
}

// TestRestoreIntoAnotherAccountNeverTakesACollidingID: ids mean nothing in
// another account. The target holds unrelated blocks of the same type under
// the backed-up ids, and a block created by the restore gets the id of a
// block restored after it; each backed-up block must land in its own new
// block, and the unrelated ones stay as they are.
func TestRestoreIntoAnotherAccountNeverTakesACollidingID(t *testing.T) {
	for _, conc := range []int{1, 4} {
		t.Run(fmt.Sprintf("concurrency %d", conc), func(t *testing.T) {
			e := newRestoreEnv(t)
			var ids []int64
			for i := range 5 {
				ids = append(ids, e.block(fmt.Sprintf("Block %d", i), fmt.Sprintf("key-%d", i), fmt.Sprintf("<p>%d</p>", i), e.root))
			}
			e.run()
			other, target := otherAccount(t)
			omid := other.DefaultMID()
			// Strangers under the first two backed-up ids.
			for i, want := range ids[:2] {
				id, err := other.CreateAsset(omid, sfmctest.AssetSpec{Name: fmt.Sprintf("Stranger %d", i), CustomerKey: fmt.Sprintf("stranger-%d", i), Content: "mine"})
				if err != nil || id != want {
					t.Fatalf("stranger %d got id %d (%v), want the colliding id %d", i, id, err, want)
				}
			}
			before := stateOf(t, other, omid, e.types)

			rep, err := e.restoreInto(target, "latest", RestoreOptions{Concurrency: conc})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Counts.Create != 5 {
				t.Fatalf("counts %+v, want 5 creates", rep.Counts)
			}
			got := stateOf(t, other, omid, e.types)
			for k, v := range before {
				if got[k] != v {
					t.Errorf("stranger %s was changed: %+v, was %+v", k, got[k], v)
				}
			}
			seen := map[int64]int64{}
			for i, id := range ids {
				it := itemByID(t, rep, id)
				if prev, dup := seen[it.TargetID]; dup {
					t.Fatalf("blocks %d and %d both went to target id %d", prev, id, it.TargetID)
				}
				seen[it.TargetID] = id
				raw, _ := other.AssetJSON(omid, it.TargetID)
				var held struct{ CustomerKey, Content string }
				_ = json.Unmarshal(raw, &held)
				if held.CustomerKey != fmt.Sprintf("key-%d", i) || held.Content != fmt.Sprintf("<p>%d</p>", i) {
					t.Errorf("block %d: %+v; target id holds %s", id, it, raw)
				}
			}
			// Again: everything is found by key, nothing is written.
			other.ResetStats()
			again, err := e.restoreInto(target, "latest", RestoreOptions{Concurrency: conc})
			if err != nil || again.Counts.Unchanged != 5 || other.Stats().Writes != 0 {
				t.Fatalf("second restore: %+v, %d writes, %v", again.Counts, other.Stats().Writes, err)
			}
		})
	}
}

// TestRestoreSameAccountIDDecides: in the account the backup came from, the
// block under the backed-up id is the block, also after its customerKey was
// edited; it is updated, not duplicated.
func TestRestoreSameAccountIDDecides(t *testing.T) {
	e := newRestoreEnv(t)
	a := e.block("Header", "hdr", "<h1>v1</h1>", e.root)
	e.run()
	e.edit(a, func(s *sfmctest.AssetSpec) { s.CustomerKey = "hdr-renamed"; s.Content = "<h1>v2</h1>" })
	rep, err := e.restore("latest", RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	it := itemByID(t, rep, a)
	if it.Action != ActionUpdate || it.TargetID != a || !slices.Equal(it.Changes, []string{"customerKey", "content"}) {
		t.Fatalf("item %+v", it)
	}
	if got := stateOf(t, e.emu, e.mid, e.types); len(got) != 1 || got["hdr"].Content != "<h1>v1</h1>" {
		t.Fatalf("after restore: %v", got)
	}
}

// hiddenMID is a target whose assets come without memberId, so the restore
// cannot tell whether it is the backup's account.
type hiddenMID struct{ *sfmc.Client }

func (h hiddenMID) GetAsset(ctx context.Context, id int64) (sfmc.Asset, error) {
	a, err := h.Client.GetAsset(ctx, id)
	if err != nil {
		return a, err
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(a.Raw, &doc); err != nil {
		return a, err
	}
	delete(doc, "memberId")
	a.Raw, err = json.Marshal(doc)
	return a, err
}

// TestRestoreAccountUnknownNeedsTheKey: when the account cannot be
// confirmed, the block under the backed-up id is used only if its
// customerKey agrees; otherwise it is left alone and the block re-created.
// With the target's MID configured, the id decides again.
func TestRestoreAccountUnknownNeedsTheKey(t *testing.T) {
	e := newRestoreEnv(t)
	a := e.block("Header", "hdr", "<h1>v1</h1>", e.root)
	b := e.block("Footer", "ftr", "<p>v1</p>", e.root)
	e.run()
	e.edit(a, func(s *sfmctest.AssetSpec) { s.CustomerKey = "not-hdr"; s.Content = "<h1>someone's</h1>" })
	e.edit(b, func(s *sfmctest.AssetSpec) { s.Content = "<p>v2</p>" })
	snap, err := repo.LoadSnapshot(t.Context(), e.st, "latest", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	r := &Restorer{Target: hiddenMID{e.cl}, Store: e.st, Log: zerolog.Nop()}
	rep, err := r.Restore(t.Context(), snap, RestoreOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if it := itemByID(t, rep, a); it.Action != ActionCreate || len(it.Notes) == 0 || !strings.Contains(it.Notes[0], "could not be confirmed") {
		t.Errorf("key differs, account unknown: %+v", it)
	}
	if it := itemByID(t, rep, b); it.Action != ActionUpdate || it.TargetID != b {
		t.Errorf("same key, account unknown: %+v", it)
	}
	r.TargetMID = e.mid
	rep, err = r.Restore(t.Context(), snap, RestoreOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if it := itemByID(t, rep, a); it.Action != ActionUpdate || it.TargetID != a {
		t.Errorf("key differs, configured MID is the backup's: %+v", it)
	}
}

func TestRestoreKeyTakenElsewhereCreatesWithGeneratedKey(t *testing.T) {
	// Two business units of one enterprise share the key space.
	clk := &rclock{t: repotest.T0}
	emu := sfmctest.New(t, sfmctest.Options{Now: clk.Now, MIDs: []int64{100001, 100002}, TokenLifetime: 1000 * time.Hour})
	e := &restoreEnv{t: t, clk: clk, emu: emu, cl: newSFMCClient(t, emu), st: mem.New(), mid: 100001, root: emu.RootCategoryID(100001), types: []int{197}}
	id := e.block("Shared", "shared-key", "<p>x</p>", e.root)
	e.run()
	e.remove(id)
	// Someone in the other BU took the key meanwhile.
	if _, err := emu.CreateAsset(100002, sfmctest.AssetSpec{Name: "Other", CustomerKey: "shared-key", Content: "y"}); err != nil {
		t.Fatal(err)
	}
	rep, err := e.restore("latest", RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	it := itemByID(t, rep, id)
	if it.Action != ActionCreate || it.Status != ItemDone || len(it.Notes) == 0 || !strings.Contains(it.Notes[0], "generated key") {
		t.Fatalf("item %+v", it)
	}
	raw, ok := emu.AssetJSON(100001, it.TargetID)
	if !ok || strings.Contains(string(raw), `"customerKey":"shared-key"`) || !strings.Contains(string(raw), `"name":"Shared"`) {
		t.Fatalf("re-created block: %s", raw)
	}
}

func TestRestoreFailsHalfwayThenFinishes(t *testing.T) {
	e := newRestoreEnv(t)
	var ids []int64
	for i := range 6 {
		ids = append(ids, e.block(fmt.Sprintf("Block %d", i), fmt.Sprintf("key-%d", i), fmt.Sprintf("<p>%d</p>", i), e.root))
	}
	e.run()
	want := stateOf(t, e.emu, e.mid, e.types)
	for _, id := range ids {
		e.remove(id)
	}
	// The create route breaks for good after two creates.
	e.emu.InjectFault(sfmctest.Fault{Route: sfmctest.RouteCreate, After: 2, Times: -1, Status: 500})
	rep, err := e.restore("latest", RestoreOptions{Concurrency: 1})
	var rerr *RestoreError
	if !errors.As(err, &rerr) || rerr.Failed != 4 || rerr.Total != 6 {
		t.Fatalf("error = %v, want a RestoreError for 4 of 6", err)
	}
	if rep.Counts.Create != 2 || rep.Counts.Failed != 4 || len(rep.IDMap) != 2 {
		t.Fatalf("report %+v, map %v", rep.Counts, rep.IDMap)
	}
	for _, it := range rep.Items {
		if (it.Status == ItemDone) != (it.TargetID != 0) || it.Status == ItemFailed && it.Error == "" {
			t.Errorf("item %+v", it)
		}
	}
	e.emu.ClearFaults()
	e.emu.ResetStats()
	rep, err = e.restore("latest", RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Counts.Create != 4 || rep.Counts.Unchanged != 2 || len(rep.IDMap) != 6 {
		t.Fatalf("second run %+v, map %v", rep.Counts, rep.IDMap)
	}
	if w := e.emu.Stats().ByRoute[sfmctest.RouteCreate]; w != 4 {
		t.Errorf("second run made %d creates, want 4", w)
	}
	if got := stateOf(t, e.emu, e.mid, e.types); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after finishing:\n%v\nwant\n%v", got, want)
	}
}

func TestRestoreToDir(t *testing.T) {
	st := mem.New()
	repotest.PutBackup(t, st, "backup_20261101", repotest.Day(0), []repotest.Block{
		{ID: 1, Key: "k1", Name: "One", Path: "Content Builder", Cat: 10, Mod: repotest.Day(-1), Content: "<p>one</p>"},
		{ID: 2, Key: "k2", Name: "Two", Path: "Content Builder/News", Cat: 11, Mod: repotest.Day(-1), Content: "two"},
	}, nil)
	m2 := repotest.PutBackup(t, st, "backup_20261102", repotest.Day(1), []repotest.Block{
		{ID: 2, Key: "k2", Name: "Two", Path: "Content Builder/News", Cat: 11, Mod: repotest.Day(1).Add(-time.Hour), Content: "two v2"},
	}, nil)
	snap, err := repo.LoadSnapshot(t.Context(), st, "latest", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out")
	rep, err := RestoreToDir(t.Context(), st, snap, dir, RestoreOptions{Select: Selection{Folders: []string{"Content Builder/News"}}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Counts.Write != 1 || len(rep.Items) != 1 || rep.Items[0].Backup != "backup_20261102" {
		t.Fatalf("report %+v", rep)
	}
	for _, f := range m2.Blocks[0].Files {
		got, err := os.ReadFile(filepath.Join(dir, filepath.Base(f.Path)))
		if err != nil {
			t.Fatal(err)
		}
		if want := repotest.ReadObject(t, st, "backup_20261102/"+f.Path); string(got) != string(want) {
			t.Errorf("%s differs from the backup", f.Path)
		}
	}
	// A non-empty directory is refused without Force.
	if _, err := RestoreToDir(t.Context(), st, snap, dir, RestoreOptions{}); !errors.Is(err, ErrTargetNotEmpty) {
		t.Fatalf("error = %v, want ErrTargetNotEmpty", err)
	}
	// A corrupt backup file fails its block and leaves no file behind.
	f := m2.Blocks[0].Files[1]
	repotest.PutObject(t, st, "backup_20261102/"+f.Path, []byte("two v3"))
	dir2 := t.TempDir()
	_, err = RestoreToDir(t.Context(), st, snap, dir2, RestoreOptions{Select: Selection{IDs: []int64{2}}})
	var rerr *RestoreError
	if !errors.As(err, &rerr) {
		t.Fatalf("error = %v, want RestoreError", err)
	}
	if _, err := os.Stat(filepath.Join(dir2, filepath.Base(f.Path))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("corrupt file was written: %v", err)
	}
	entries, _ := os.ReadDir(dir2)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".restore-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestSelection(t *testing.T) {
	blk := func(id int64, key, name string, typ int, folder string, deleted bool) *repo.SnapshotBlock {
		b := &repo.SnapshotBlock{ManifestBlock: repo.ManifestBlock{ID: id, CustomerKey: key, Name: name, AssetType: repo.ManifestType{ID: typ}, Category: repo.ManifestCategory{Path: folder}}}
		if deleted {
			b.Deleted = &repo.DeletedBlock{ID: id}
		}
		return b
	}
	news := blk(1, "k1", "Newsletter header", 197, "Content Builder/News", false)
	newsArchive := blk(2, "k2", "Old header", 220, "Content Builder/News/Archive", false)
	newsy := blk(3, "k3", "Footer", 197, "Content Builder/Newsy", false)
	gone := blk(4, "k4", "Gone header", 197, "Content Builder/News", true)
	all := []*repo.SnapshotBlock{news, newsArchive, newsy, gone}
	cases := []struct {
		name string
		sel  Selection
		want string // ids selected, "s" marks a skip
	}{
		{"everything", Selection{}, "1 2 3 4s"},
		{"by id", Selection{IDs: []int64{2, 4}}, "2 4"},
		{"by key", Selection{Keys: []string{"k3"}}, "3"},
		{"id or key", Selection{IDs: []int64{1}, Keys: []string{"k3"}}, "1 3"},
		{"name glob", Selection{Names: []string{"*header"}}, "1 2 4s"},
		{"type", Selection{TypeIDs: []int{220}}, "2"},
		{"folder prefix on segments", Selection{Folders: []string{"Content Builder/News/"}}, "1 2 4s"},
		{"deleted only", Selection{Deleted: true}, "4"},
		{"filters combine", Selection{Names: []string{"*header"}, TypeIDs: []int{197}}, "1 4s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, b := range all {
				ok, skip := tc.sel.match(b)
				switch {
				case ok && skip:
					got = append(got, fmt.Sprintf("%ds", b.ID))
				case ok:
					got = append(got, fmt.Sprint(b.ID))
				}
			}
			if s := strings.Join(got, " "); s != tc.want {
				t.Fatalf("selected %q, want %q", s, tc.want)
			}
		})
	}
	bad := Selection{Names: []string{"[x"}}
	if err := bad.Validate(); err == nil {
		t.Error("a bad glob must be refused")
	}
}

func TestDiffDocs(t *testing.T) {
	doc := func(s string) map[string]json.RawMessage {
		d, err := decodeDoc([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	cases := []struct {
		name, backup, current string
		folder                int64
		changes               string
		body                  string
	}{
		{"same, other key order and number spelling", `{"name":"A","content":"x","meta":{"a":1,"b":[1,2]},"category":{"id":5}}`,
			`{"meta":{"b":[1,2.0],"a":1},"content":"x","name":"A","category":{"id":5,"name":"F"},"modifiedDate":"later"}`, 5, "", `{}`},
		{"content and folder", `{"name":"A","content":"x"}`, `{"name":"A","content":"y","category":{"id":6}}`, 5,
			"category,content", `{"category":{"id":5},"content":"x"}`},
		{"collision suffix is kept", `{"name":"Footer"}`, `{"name":"Footer (2)"}`, 0, "", `{}`},
		{"other rename is undone", `{"name":"Footer"}`, `{"name":"Footer v2"}`, 0, "name", `{"name":"Footer"}`},
		{"empty forms are equal", `{"name":"A","design":"","slots":{}}`, `{"name":"A","views":null}`, 0, "", `{}`},
		{"a field added since is cleared", `{"name":"A"}`, `{"name":"A","superContent":"s","data":{"x":1}}`, 0,
			"superContent,data", `{"data":{},"superContent":""}`},
		{"customerKey", `{"name":"A","customerKey":"k"}`, `{"name":"A","customerKey":"other"}`, 0, "customerKey", `{"customerKey":"k"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body, changes, _ := diffDocs(doc(tc.backup), doc(tc.current), tc.folder)
			if got := strings.Join(changes, ","); got != tc.changes {
				t.Errorf("changes %q, want %q", got, tc.changes)
			}
			b, _ := json.Marshal(body)
			if string(b) != tc.body {
				t.Errorf("body %s, want %s", b, tc.body)
			}
		})
	}
}

// BenchmarkRestoreUnchanged restores 2,000 blocks that are all in place
// (one GET per block, no write) against the emulator.
func BenchmarkRestoreUnchanged(b *testing.B) {
	clk := &rclock{t: repotest.T0}
	emu := sfmctest.New(b, sfmctest.Options{Now: clk.Now, TokenLifetime: 1000 * time.Hour})
	mid := emu.DefaultMID()
	emu.AddBlocks(mid, 2000, 197)
	cl, err := sfmc.New(sfmc.Config{AuthURL: emu.AuthURL(), ClientID: emu.ClientID(), ClientSecret: emu.ClientSecret()})
	if err != nil {
		b.Fatal(err)
	}
	st := mem.New()
	clk.Add(time.Minute)
	eng := &backup.Engine{Source: cl, Store: st, Log: zerolog.Nop(), Now: clk.Now, Version: "test", Host: "test", PID: 1 << 30}
	if _, err := eng.Run(b.Context(), backup.RunOptions{TypeIDs: []int{197}}); err != nil {
		b.Fatal(err)
	}
	snap, err := repo.LoadSnapshot(b.Context(), st, "latest", time.Time{})
	if err != nil {
		b.Fatal(err)
	}
	r := &Restorer{Target: cl, Store: st, Log: zerolog.Nop()}
	b.ReportAllocs()
	for b.Loop() {
		rep, err := r.Restore(b.Context(), snap, RestoreOptions{})
		if err != nil || rep.Counts.Unchanged != 2000 {
			b.Fatalf("%v %+v", err, rep.Counts)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/2000, "µs/block")
}
