package restore

import (
	"errors"
	"path"
	"strconv"
	"strings"
	"testing"

	"github.com/backup-creator/backup-creator/pkg/storage"
)

// A block whose file in the backup is damaged fails the same way on every
// attempt, so the error must not tell the operator to run the same restore
// again (it is what exit 3 otherwise means), and a dry run restored nothing,
// so it must not say that "the others were" restored.
//
// This fails today: RestoreError.Error always says "(the others were; run the
// same restore again to finish)". Reproduced with the CLI: after a run,
// `echo x >> backups/backup_*/blocks/<id>_*.html` and
// `backup-creator restore --id <id> --target ./r` (or --dry-run into SFMC
// with the .json damaged) exit 3 with that advice, and a second attempt fails
// identically; verify --help / README "verify" say to `run --full` instead.
func TestRestoreOfDamagedFileDoesNotAdviseRerun(t *testing.T) {
	e := newRestoreEnv(t)
	a := e.block("Header", "hdr", "<h1>Header</h1>", e.root)
	e.block("Footer", "ftr", "<p>Footer</p>", e.root)
	folder := e.run()

	// Damage the stored JSON of block a (what an SFMC restore reads).
	var damaged string
	err := e.st.List(t.Context(), path.Join(folder, "blocks")+"/", func(o storage.ObjectInfo) error {
		if strings.HasPrefix(path.Base(o.Key), strconv.FormatInt(a, 10)+"_") && strings.HasSuffix(o.Key, ".json") {
			damaged = o.Key
		}
		return nil
	})
	if err != nil || damaged == "" {
		t.Fatalf("block file of %d not found (%v)", a, err)
	}
	bad := `{"damaged":true}`
	if _, err := e.st.Put(t.Context(), damaged, strings.NewReader(bad), int64(len(bad)), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		opts RestoreOptions
	}{{"dry run", RestoreOptions{DryRun: true}}, {"restore", RestoreOptions{}}} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.restore("latest", tc.opts)
			var re *RestoreError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want a *RestoreError", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "damaged") {
				t.Fatalf("error does not say the backup is damaged: %s", msg)
			}
			if strings.Contains(msg, "run the same restore again") {
				t.Errorf("a damaged backup file fails again on every run, but the error says to rerun:\n%s", msg)
			}
			if tc.opts.DryRun && strings.Contains(msg, "the others were") {
				t.Errorf("a dry run restored nothing, but the error says the others were restored:\n%s", msg)
			}
		})
	}
}
