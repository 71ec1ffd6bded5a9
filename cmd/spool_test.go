package cmd

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
)

// tableRows are cells that exercise the alignment: wide and narrow runes,
// controls and tabs (cleaned), empty cells ("-"), one very long column.
func tableRows(n int) [][]string {
	names := []string{"Footer", "Pied de page – légal", "页脚", "", "tab\there", "line\nbreak", "\u202eevil", strings.Repeat("x", 70)}
	var rows [][]string
	for i := range n {
		rows = append(rows, []string{fmt.Sprint(1000 + i*37), names[i%len(names)], names[(i*3)%len(names)], fmt.Sprintf("%d B", i*i)})
	}
	return rows
}

// bigTable writes byte for byte what table (text/tabwriter) writes, also
// once the rows no longer fit in memory and go to a temporary file.
func TestBigTableMatchesTable(t *testing.T) {
	for _, n := range []int{0, 1, 7, 40_000} {
		var want, got bytes.Buffer
		tw := newTable(&want, "ID", "NAME", "FOLDER", "SIZE")
		bt := newBigTable("ID", "NAME", "FOLDER", "SIZE")
		for _, r := range tableRows(n) {
			tw.row(append([]string(nil), r...)...)
			bt.row(append([]string(nil), r...)...)
		}
		if err := tw.flush(); err != nil {
			t.Fatal(err)
		}
		if err := bt.writeTo(&got); err != nil {
			t.Fatal(err)
		}
		spilled := bt.sp.f != nil
		bt.Close()
		if n == 40_000 && !spilled {
			t.Fatalf("%d rows (%d bytes) stayed in memory", n, got.Len())
		}
		if got.String() != want.String() {
			t.Fatalf("%d rows: bigTable output differs from table's\nwant %q\ngot  %q", n, head(want.String()), head(got.String()))
		}
	}
	bt := newBigTable("A", "B")
	defer bt.Close()
	bt.row("only one")
	if err := bt.writeTo(&bytes.Buffer{}); err == nil {
		t.Error("a row with fewer cells than the header must fail")
	}
}

func head(s string) string {
	if len(s) > 400 {
		return s[:400] + "…"
	}
	return s
}

// writeJSONWith writes byte for byte what writeJSON writes for the whole
// document, the array streamed from a spool.
func TestWriteJSONWithMatchesWriteJSON(t *testing.T) {
	mod := time.Date(2026, 11, 30, 8, 0, 0, 0, time.FixedZone("", -6*3600))
	for _, n := range []int{0, 1, 3, 5_000} {
		var blocks []blockJSON
		arr := &jsonArray{}
		for i := range n {
			b := blockJSON{ID: int64(i), CustomerKey: fmt.Sprintf("k<%d>&", i), Name: "Footer \"legal\" – <b>", Type: "htmlblock",
				Folder: `Content Builder/a\/b`, ModifiedDate: mod.Format(time.RFC3339), Modified: mod, Size: int64(i),
				Files: []repo.ManifestFile{{Path: fmt.Sprintf("blocks/%d_Footer.json", i), Role: repo.RoleJSON, Size: 3, SHA256: "ab"}}}
			if i%2 == 1 {
				b.Files = nil
			}
			blocks = append(blocks, b)
			if err := arr.add(b); err != nil {
				t.Fatal(err)
			}
		}
		doc := backupJSON{Destination: "/tmp/x", Backup: repo.BackupInfo{Name: "backup_20261130", Blocks: n}, Deleted: []repo.DeletedBlock{{ID: 9, DetectedAt: mod}}}
		var got bytes.Buffer
		if err := writeJSONWith(&got, doc, "blocks", arr); err != nil {
			t.Fatal(err)
		}
		arr.Close()
		doc.Blocks = blocks
		if doc.Blocks == nil {
			doc.Blocks = []blockJSON{}
		}
		var want bytes.Buffer
		if err := writeJSON(&want, doc); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Fatalf("%d blocks: output differs\nwant %s\ngot  %s", n, head(want.String()), head(got.String()))
		}
	}
}
