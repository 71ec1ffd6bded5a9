package history_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/backup/history"
	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/backup/repo/repotest"
	"github.com/backup-creator/backup-creator/pkg/storage"
	"github.com/backup-creator/backup-creator/pkg/storage/mem"
)

const (
	b1 = "backup_20261101"
	b2 = "backup_20261102"
	b3 = "backup_20261103"
	b4 = "backup_20261104"
)

// fixture writes four backups:
//
//	b1 (full): 1 Footer v1, 2 Header, 3 Legal, 5 Promo
//	b2: 1 renamed "Footer DE" with new content (by Jane); 4 Banner added;
//	    3 moved to "Content Builder/Archive"
//	b3: 1 stored again unchanged (the overlap window); an older version of 2
//	    stored late; tombstones for 1 and 5
//	b4: 1 back, a newer version (re-created in SFMC with its id)
func fixture(t *testing.T) storage.Store {
	t.Helper()
	st := mem.New()
	root, legal := "Content Builder", "Content Builder/Legal"
	v1 := repotest.Block{ID: 1, Key: "footer", Name: "Footer", Path: root, Cat: 10, Mod: repotest.Day(-1), Content: "<p>Impressum</p>\n<p>2025</p>\n", By: "Jane Doe"}
	v2 := repotest.Block{ID: 1, Key: "footer", Name: "Footer DE", Path: root, Cat: 10, Mod: repotest.Day(1).Add(-time.Hour), Content: "<p>Impressum</p>\n<p>2026</p>\n", By: "Jane Doe"}
	v3 := repotest.Block{ID: 1, Key: "footer", Name: "Footer DE", Path: root, Cat: 10, Mod: repotest.Day(3).Add(-time.Hour), Content: "<p>back</p>\n", By: "SFMC DEVOPS app user"}
	header := repotest.Block{ID: 2, Key: "header", Name: "Header", Path: root, Cat: 10, Mod: repotest.Day(-2), Content: "<h1>Hi</h1>", By: "Joe"}
	legal1 := repotest.Block{ID: 3, Key: "legal", Name: "Legal", Path: legal, Cat: 11, Mod: repotest.Day(-3), Content: "terms", By: "Joe"}
	legal2 := legal1
	legal2.Path, legal2.Cat, legal2.Mod = "Content Builder/Archive", 12, repotest.Day(1).Add(-2*time.Hour)
	promo := repotest.Block{ID: 5, Key: "promo", Name: "Promo", Path: root, Cat: 10, Mod: repotest.Day(-1), Content: "sale", By: "Joe"}
	banner := repotest.Block{ID: 4, Key: "banner", Name: "Banner", Path: root, Cat: 10, Mod: repotest.Day(1).Add(-3 * time.Hour), Content: "<img>", By: "Joe"}
	oldHeader := header
	oldHeader.Mod, oldHeader.Content = repotest.Day(-5), "<h1>older</h1>"

	repotest.PutBackup(t, st, b1, repotest.Day(0), []repotest.Block{v1, header, legal1, promo}, nil)
	repotest.PutBackup(t, st, b2, repotest.Day(1), []repotest.Block{v2, banner, legal2}, nil)
	repotest.PutBackup(t, st, b3, repotest.Day(2), []repotest.Block{v2, oldHeader}, []repo.DeletedBlock{
		{ID: 1, CustomerKey: "footer", Name: "Footer DE", LastBackup: b3, DetectedAt: repotest.Day(2).Add(time.Minute)},
		{ID: 5, CustomerKey: "promo", Name: "Promo", LastBackup: b1, DetectedAt: repotest.Day(2).Add(time.Minute)},
	})
	repotest.PutBackup(t, st, b4, repotest.Day(3), []repotest.Block{v3}, nil)
	return st
}

type ev struct {
	backup, event, name, by string
}

func events(b history.Block) []ev {
	var out []ev
	for _, v := range b.Versions {
		out = append(out, ev{v.Backup, v.Event, v.Name, v.ModifiedBy})
	}
	return out
}

func TestHistory(t *testing.T) {
	st := fixture(t)
	rep, err := history.History(t.Context(), st, history.Selector{IDs: []int64{1}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Blocks) != 1 {
		t.Fatalf("blocks %+v", rep.Blocks)
	}
	b := rep.Blocks[0]
	want := []ev{
		{b4, history.EventCreated, "Footer DE", "SFMC DEVOPS app user"},
		{b3, history.EventDeleted, "Footer DE", ""},
		{b2, history.EventChanged, "Footer DE", "Jane Doe"},
		{b1, history.EventCreated, "Footer", "Jane Doe"},
	}
	if got := events(b); !slices.Equal(got, want) {
		t.Fatalf("events\n got %v\nwant %v", got, want)
	}
	if b.ID != 1 || b.Name != "Footer DE" || b.CustomerKey != "footer" {
		t.Errorf("block %+v", b)
	}
	v := b.Versions[3]
	if v.Size != int64(len("<p>Impressum</p>\n<p>2025</p>\n")) || len(v.SHA256) != 64 || !v.ModifiedDate.Equal(repotest.Day(-1)) || v.ModifiedDate.Location() != time.UTC {
		t.Errorf("first version %+v", v)
	}
	if d := b.Versions[1]; !d.ModifiedDate.Equal(repotest.Day(2).Add(time.Minute)) || d.Size != 0 || d.SHA256 != "" {
		t.Errorf("deletion %+v", d)
	}

	// The move shows as a change with the new folder; an older version
	// stored late is no event.
	rep, err = history.History(t.Context(), st, history.Selector{Keys: []string{"legal", "header"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Blocks) != 2 || rep.Blocks[0].ID != 2 || rep.Blocks[1].ID != 3 {
		t.Fatalf("blocks %+v", rep.Blocks)
	}
	if got := events(rep.Blocks[0]); !slices.Equal(got, []ev{{b1, history.EventCreated, "Header", "Joe"}}) {
		t.Errorf("header events %v", got)
	}
	lg := rep.Blocks[1].Versions
	if len(lg) != 2 || lg[0].Event != history.EventChanged || lg[0].Folder != "Content Builder/Archive" || lg[1].Folder != "Content Builder/Legal" {
		t.Errorf("legal events %+v", lg)
	}

	// A name pattern matching an earlier name finds the renamed block with
	// its whole history.
	rep, err = history.History(t.Context(), st, history.Selector{Names: []string{"Footer"}})
	if err != nil || len(rep.Blocks) != 1 || len(rep.Blocks[0].Versions) != 4 {
		t.Fatalf("--name Footer: %v %+v", err, rep)
	}
	rep, err = history.History(t.Context(), st, history.Selector{Names: []string{"P*"}})
	if err != nil || len(rep.Blocks) != 1 || !slices.Equal(events(rep.Blocks[0]), []ev{{b3, history.EventDeleted, "Promo", ""}, {b1, history.EventCreated, "Promo", "Joe"}}) {
		t.Fatalf("--name P*: %v %+v", err, rep)
	}

	if _, err := history.History(t.Context(), st, history.Selector{IDs: []int64{99}}); !errors.Is(err, history.ErrNoMatch) {
		t.Errorf("unknown id: %v", err)
	}
	if _, err := history.History(t.Context(), st, history.Selector{Names: []string{"["}}); err == nil {
		t.Error("a bad pattern was accepted")
	}
	if _, err := history.History(t.Context(), st, history.Selector{}); err == nil {
		t.Error("an empty selection was accepted")
	}
}

type chg struct {
	id     int64
	fields string
}

func changes(cs []history.Change) []chg {
	var out []chg
	for _, c := range cs {
		out = append(out, chg{c.ID, strings.Join(c.Fields, ",")})
	}
	return out
}

func TestDiff(t *testing.T) {
	st := fixture(t)
	cases := []struct {
		name                    string
		opts                    history.DiffOptions
		from, to                string
		added, changed, deleted []chg
	}{
		{name: "b1 to b2", opts: history.DiffOptions{From: b1, To: b2}, from: b1, to: b2,
			added: []chg{{4, ""}}, changed: []chg{{1, "content,name"}, {3, "folder"}}},
		{name: "b2 to b3", opts: history.DiffOptions{From: b2, To: b3}, from: b2, to: b3,
			deleted: []chg{{1, ""}, {5, ""}}},
		{name: "default: the two newest", from: b3, to: b4, added: []chg{{1, ""}}},
		{name: "one argument: against the newest", opts: history.DiffOptions{From: b1}, from: b1, to: b4,
			added: []chg{{4, ""}}, changed: []chg{{1, "content,name"}, {3, "folder"}}, deleted: []chg{{5, ""}}},
		{name: "backwards", opts: history.DiffOptions{From: b2, To: b1}, from: b2, to: b1,
			changed: []chg{{1, "content,name"}, {3, "folder"}}, deleted: []chg{{4, ""}}},
		{name: "same backup", opts: history.DiffOptions{From: b2, To: b2}, from: b2, to: b2},
		{name: "in batches of two ids", opts: history.DiffOptions{From: b1, Batch: 2}, from: b1, to: b4,
			added: []chg{{4, ""}}, changed: []chg{{1, "content,name"}, {3, "folder"}}, deleted: []chg{{5, ""}}},
		{name: "stat", opts: history.DiffOptions{From: b1, To: b2, Stat: true}, from: b1, to: b2,
			added: []chg{{4, ""}}, changed: []chg{{1, ""}, {3, ""}}},
		{name: "by key", opts: history.DiffOptions{From: b1, To: b2, Select: history.Selector{Keys: []string{"legal"}}}, from: b1, to: b2,
			changed: []chg{{3, "folder"}}},
		{name: "folder matches either side", opts: history.DiffOptions{From: b1, To: "latest", Select: history.Selector{Folders: []string{"Content Builder/Legal"}}}, from: b1, to: b4,
			changed: []chg{{3, "folder"}}},
		{name: "folder with nothing in it", opts: history.DiffOptions{From: b1, To: b2, Select: history.Selector{Folders: []string{"Content"}}}, from: b1, to: b2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := history.Diff(t.Context(), st, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if rep.From != tc.from || rep.To != tc.to {
				t.Errorf("compared %s..%s, want %s..%s", rep.From, rep.To, tc.from, tc.to)
			}
			for _, l := range []struct {
				name      string
				got, want []chg
			}{{"added", changes(rep.Added), tc.added}, {"changed", changes(rep.Changed), tc.changed}, {"deleted", changes(rep.Deleted), tc.deleted}} {
				if !slices.Equal(l.got, l.want) {
					t.Errorf("%s = %v, want %v", l.name, l.got, l.want)
				}
			}
		})
	}

	rep, err := history.Diff(t.Context(), st, history.DiffOptions{From: b1, To: b2})
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Changed[0]
	if c.Prev == nil || c.Prev.Name != "Footer" || c.Name != "Footer DE" {
		t.Errorf("renamed block: %+v prev %+v", c, c.Prev)
	}
	text, err := history.ContentDiff(t.Context(), st, c)
	if err != nil {
		t.Fatal(err)
	}
	want := `--- backup_20261101/blocks/1_Footer.html
+++ backup_20261102/blocks/1_Footer_DE.html
@@ -1,2 +1,2 @@
 <p>Impressum</p>
-<p>2025</p>
+<p>2026</p>
`
	if text != want {
		t.Errorf("content diff\n%s\nwant\n%s", text, want)
	}
	if text, err := history.ContentDiff(t.Context(), st, rep.Changed[1]); err != nil || text != "" {
		t.Errorf("moved block content diff %q, %v", text, err)
	}
	if rep, err := history.Diff(t.Context(), st, history.DiffOptions{From: b2, To: b3}); err != nil || rep.Deleted[0].DeletedIn != b3 {
		t.Errorf("deleted: %v %+v", err, rep)
	}
}

func TestDiffErrors(t *testing.T) {
	st := fixture(t)
	if _, err := history.Diff(t.Context(), st, history.DiffOptions{From: "backup_20991231"}); !errors.Is(err, repo.ErrNoBackup) {
		t.Errorf("missing backup: %v", err)
	}
	if _, err := history.Diff(t.Context(), st, history.DiffOptions{From: "yesterday"}); !errors.Is(err, repo.ErrNoBackup) {
		t.Errorf("not a backup name: %v", err)
	}
	one := mem.New()
	repotest.PutBackup(t, one, b1, repotest.Day(0), []repotest.Block{{ID: 1, Name: "A", Mod: repotest.Day(-1)}}, nil)
	if _, err := history.Diff(t.Context(), one, history.DiffOptions{}); !errors.Is(err, repo.ErrNoBackup) || !strings.Contains(err.Error(), "two complete backups") {
		t.Errorf("one backup: %v", err)
	}
	// An incomplete run is not a state.
	repotest.PutObject(t, st, "backup_20261105/blocks/9_X.html", []byte(`x`))
	if _, err := history.Diff(t.Context(), st, history.DiffOptions{From: "backup_20261105"}); !errors.Is(err, repo.ErrIncomplete) {
		t.Errorf("incomplete backup: %v", err)
	}
	// A damaged manifest anywhere in the chain is refused, as restore does.
	repotest.PutObject(t, st, b2+"/"+repo.ManifestName, []byte(`{"formatVersion":1,"blocks":[{"id":`))
	for name, f := range map[string]func() error{
		"diff": func() error {
			_, err := history.Diff(t.Context(), st, history.DiffOptions{From: b3, To: b4})
			return err
		},
		"history": func() error {
			_, err := history.History(t.Context(), st, history.Selector{IDs: []int64{1}})
			return err
		},
		"show": func() error { _, err := history.Show(t.Context(), st, history.ShowOptions{ID: 1}); return err },
	} {
		if err := f(); !errors.Is(err, repo.ErrDamaged) {
			t.Errorf("%s over a damaged backup: %v", name, err)
		}
	}
}

func TestShow(t *testing.T) {
	st := fixture(t)
	cases := []struct {
		opts    history.ShowOptions
		want    string
		holder  string
		deleted bool
	}{
		{history.ShowOptions{Backup: b1, ID: 1}, "<p>Impressum</p>\n<p>2025</p>\n", b1, false},
		{history.ShowOptions{Backup: b2, Key: "footer"}, "<p>Impressum</p>\n<p>2026</p>\n", b2, false},
		// Stored again by b3 unchanged; deleted as of b3: its last version.
		{history.ShowOptions{Backup: b3, ID: 1}, "<p>Impressum</p>\n<p>2026</p>\n", b3, true},
		{history.ShowOptions{ID: 1}, "<p>back</p>\n", b4, false},
		{history.ShowOptions{Backup: "latest", Key: "header"}, "<h1>Hi</h1>", b1, false},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%+v", tc.opts), func(t *testing.T) {
			got, err := history.Show(t.Context(), st, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if string(got.Data) != tc.want || got.Block.Backup != tc.holder || (got.Block.Deleted != nil) != tc.deleted {
				t.Errorf("got %q from %s (deleted %v)", got.Data, got.Block.Backup, got.Block.Deleted != nil)
			}
		})
	}
	js, err := history.Show(t.Context(), st, history.ShowOptions{Backup: b1, ID: 1, JSON: true})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := js.Block.File(repo.RoleJSON)
	if want := repotest.ReadObject(t, st, b1+"/"+f.Path); string(js.Data) != string(want) {
		t.Errorf("--json gave %s, want %s", js.Data, want)
	}
	if _, err := history.Show(t.Context(), st, history.ShowOptions{Backup: b1, ID: 4}); !errors.Is(err, history.ErrNoMatch) {
		t.Errorf("a block added later, as of b1: %v", err)
	}
	if _, err := history.Show(t.Context(), st, history.ShowOptions{}); err == nil {
		t.Error("no --id or --key accepted")
	}
	// A damaged file is refused, not printed.
	repotest.PutObject(t, st, b4+"/blocks/1_Footer_DE.html", []byte("<p>tampered</p>\n"))
	if _, err := history.Show(t.Context(), st, history.ShowOptions{ID: 1}); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("tampered file: %v", err)
	}
}

func TestShowAmbiguousKey(t *testing.T) {
	st := mem.New()
	repotest.PutBackup(t, st, b1, repotest.Day(0), []repotest.Block{
		{ID: 1, Key: "k", Name: "A", Mod: repotest.Day(-1), Content: "a"},
		{ID: 2, Key: "k", Name: "B", Mod: repotest.Day(-1), Content: "b"},
	}, nil)
	if _, err := history.Show(t.Context(), st, history.ShowOptions{Key: "k"}); err == nil || !strings.Contains(err.Error(), "ids 1, 2") {
		t.Errorf("ambiguous key: %v", err)
	}
	// Once one of them is deleted, the live one is meant.
	repotest.PutBackup(t, st, b2, repotest.Day(1), nil, []repo.DeletedBlock{{ID: 1, DetectedAt: repotest.Day(1)}})
	got, err := history.Show(t.Context(), st, history.ShowOptions{Key: "k"})
	if err != nil || got.Block.ID != 2 {
		t.Errorf("key with one live block: %v %+v", err, got)
	}
}

// Show, Diff and restore's snapshot agree on every block of every backup.
func TestAgreesWithRestoreSnapshot(t *testing.T) {
	st := fixture(t)
	backups := []string{b1, b2, b3, b4}
	for i, name := range backups {
		snap, err := repo.LoadSnapshot(t.Context(), st, name, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		live := map[int64]bool{}
		for _, b := range snap.Blocks {
			got, err := history.Show(t.Context(), st, history.ShowOptions{Backup: name, ID: b.ID})
			if err != nil {
				t.Fatal(err)
			}
			if got.Block.Backup != b.Backup || (got.Block.Deleted != nil) != (b.Deleted != nil) {
				t.Errorf("%s block %d: show has %s (deleted %v), restore %s (deleted %v)", name, b.ID, got.Block.Backup, got.Block.Deleted != nil, b.Backup, b.Deleted != nil)
			}
			live[b.ID] = b.Deleted == nil
		}
		if i == 0 {
			continue
		}
		// Diff from the first backup: added + unchanged-or-changed = live now.
		rep, err := history.Diff(t.Context(), st, history.DiffOptions{From: b1, To: name, Stat: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range rep.Added {
			if !live[c.ID] {
				t.Errorf("%s: diff says %d was added, restore's state does not hold it live", name, c.ID)
			}
		}
		for _, c := range rep.Deleted {
			if live[c.ID] {
				t.Errorf("%s: diff says %d was deleted, restore's state holds it live", name, c.ID)
			}
		}
	}
}
