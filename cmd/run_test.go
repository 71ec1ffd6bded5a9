package cmd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/backup/restore"

	"github.com/backup-creator/backup-creator/pkg/backup"
	"github.com/backup-creator/backup-creator/pkg/sfmc"
	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
)

// contentBlockIDs lists the emulator's blocks of the default content-block types.
func contentBlockIDs(t *testing.T, emu *sfmctest.Server) map[int64]bool {
	t.Helper()
	want := map[int64]bool{}
	for _, raw := range emu.Dump(emu.DefaultMID()) {
		var a struct {
			ID        int64 `json:"id"`
			AssetType struct {
				ID int `json:"id"`
			} `json:"assetType"`
		}
		if err := json.Unmarshal(raw, &a); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(sfmc.DefaultBlockTypes, a.AssetType.ID) {
			want[a.ID] = true
		}
	}
	return want
}

// checkBackup verifies that every file of the backup is inside its folder,
// matches its manifest size and hash, and that each JSON file equals what the
// emulator serves for the block now.
func checkBackup(t *testing.T, h *harness, name string, compareJSON bool) *repo.Manifest {
	t.Helper()
	m := h.manifest(name)
	folder := filepath.Join(h.dest, name)
	seen := map[string]bool{}
	for _, b := range m.Blocks {
		for _, f := range b.Files {
			if !filepath.IsLocal(filepath.FromSlash(f.Path)) || seen[f.Path] {
				t.Fatalf("block %d: file path %q escapes the folder or collides", b.ID, f.Path)
			}
			seen[f.Path] = true
			data, err := os.ReadFile(filepath.Join(folder, filepath.FromSlash(f.Path)))
			if err != nil {
				t.Fatalf("block %d: %v", b.ID, err)
			}
			sum := sha256.Sum256(data)
			if int64(len(data)) != f.Size || hex.EncodeToString(sum[:]) != f.SHA256 {
				t.Fatalf("block %d: %s does not match its manifest entry", b.ID, f.Path)
			}
			if compareJSON && f.Role == repo.RoleJSON {
				served, ok := h.emu.AssetJSON(h.emu.DefaultMID(), b.ID)
				if !ok || !bytes.Equal(served, data) {
					t.Fatalf("block %d: stored JSON differs from what the emulator serves", b.ID)
				}
			}
		}
	}
	// Nothing on disk that the manifest does not list.
	_ = filepath.WalkDir(filepath.Join(folder, repo.BlocksDir), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(folder, p)
			if !seen[filepath.ToSlash(rel)] {
				t.Errorf("file %s is not in the manifest", rel)
			}
		}
		return err
	})
	return m
}

func TestRunFirstBackupOf12000Blocks(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	t.Setenv("BACKUP_CREATOR_SFMC_PAGE_SIZE", "500") // the real page size: the request count is checked
	h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 12000, LargeBlocks: true})
	want := contentBlockIDs(t, h.emu)
	if len(want) < 12000 {
		t.Fatalf("seed has %d content blocks, want at least 12000", len(want))
	}

	code, sum, errOut := h.runJSON()
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if sum.Status != backup.StatusComplete || sum.Blocks != len(want) {
		t.Fatalf("summary %+v, want %d blocks", sum, len(want))
	}
	m := checkBackup(t, h, sum.Backup, true)
	got := manifestIDs(m)
	for id, n := range got {
		if !want[id] {
			t.Errorf("block %d is not a content block but was backed up", id)
		}
		if n != 1 {
			t.Errorf("block %d backed up %d times", id, n)
		}
	}
	for id := range want {
		if got[id] == 0 {
			t.Errorf("content block %d missing from the backup", id)
		}
	}
	st := h.state()
	if st == nil || sum.WatermarkTo == nil || !st.Watermark.Equal(*sum.WatermarkTo) {
		t.Fatalf("state %+v does not hold the summary's watermark %v", st, sum.WatermarkTo)
	}
	// Requests: one token, and about one query page per 500 blocks, plus
	// at most 3 per partition when the listing is partitioned.
	pages := (len(want) + 499) / 500
	if k := listConcurrency(); k > 1 {
		pages += 3 * k
	}
	if q := sum.Requests["query"]; q < int64((len(want)+499)/500) || q > int64(pages)+5 {
		t.Errorf("query requests = %d, want about %d", q, pages)
	}
	if tok := sum.Requests["token"]; tok != 1 {
		t.Errorf("token requests = %d, want 1", tok)
	}
	h.assertNoSecrets(errOut)
}

func TestRunIncrementalHoldsExactlyTheChanges(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 1500})
	mid := h.emu.DefaultMID()
	if code, _, errOut := h.runJSON(); code != ExitOK {
		t.Fatalf("first run exit %d: %s", code, errOut)
	}
	ids := sortedIDs(contentBlockIDs(t, h.emu))
	changed := map[int64]bool{}
	update := func(id int64) {
		t.Helper()
		if err := h.emu.UpdateAsset(mid, id, func(a *sfmctest.AssetSpec) { a.Content += "<!-- edited -->" }); err != nil {
			t.Fatal(err)
		}
		changed[id] = true
	}
	// Some plain edits.
	for _, id := range ids[10:15] {
		update(id)
	}
	// Several sharing one modifiedDate.
	tie := time.Now().Add(time.Minute).Truncate(time.Millisecond)
	for _, id := range ids[100:110] {
		update(id)
		if err := h.emu.SetModifiedDate(mid, id, tie); err != nil {
			t.Fatal(err)
		}
	}
	// Some edited while the next run is under way (at its first query page).
	during := ids[1000:1003]
	h.emu.OnRequest(func(r sfmctest.RequestInfo) {
		if r.Route == "query" && r.N == 1 {
			for _, id := range during {
				update(id)
			}
		}
	})
	code, sum, errOut := h.runJSON()
	h.emu.OnRequest(nil)
	if code != ExitOK {
		t.Fatalf("second run exit %d: %s", code, errOut)
	}
	got := manifestIDs(checkBackup(t, h, sum.Backup, false))
	code, sum3, errOut := h.runJSON()
	if code != ExitOK {
		t.Fatalf("third run exit %d: %s", code, errOut)
	}
	for id, n := range manifestIDs(h.manifest(sum3.Backup)) {
		got[id] += n
	}
	if len(got) != len(changed) {
		t.Errorf("runs after the changes backed up %d blocks, want exactly the %d changed", len(got), len(changed))
	}
	for id := range changed {
		if got[id] != 1 {
			t.Errorf("changed block %d backed up %d times, want once", id, got[id])
		}
	}
	if sum3.Blocks != 0 {
		t.Errorf("a run with nothing changed backed up %d blocks", sum3.Blocks)
	}
}

func sortedIDs(m map[int64]bool) []int64 {
	var ids []int64
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// backupFiles maps each stored block file (by manifest path) to its content.
func backupFiles(t *testing.T, h *harness, name string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, b := range h.manifest(name).Blocks {
		for _, f := range b.Files {
			data, err := os.ReadFile(filepath.Join(h.dest, name, filepath.FromSlash(f.Path)))
			if err != nil {
				t.Fatal(err)
			}
			out[f.Path] = string(data)
		}
	}
	return out
}

func TestRunUnderFaultsEqualsCleanRun(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 2000})
	code, clean, errOut := h.runJSON()
	if code != ExitOK {
		t.Fatalf("clean run exit %d: %s", code, errOut)
	}
	want := backupFiles(t, h, clean.Backup)

	h.emu.InjectFault(sfmctest.Fault{Route: "token", Status: 503, RetryAfter: 1})
	h.emu.InjectFault(sfmctest.Fault{Route: "query", Status: 429, RetryAfter: 1})
	h.emu.InjectFault(sfmctest.Fault{Route: "query", After: 1, Status: 429}) // no Retry-After
	h.emu.InjectFault(sfmctest.Fault{Route: "query", After: 2, Status: 500, Times: 2})
	h.emu.InjectFault(sfmctest.Fault{Route: "query", After: 3, Drop: true})
	h.emu.InjectFault(sfmctest.Fault{Route: "categories", Status: 502})
	h.emu.OnRequest(func(r sfmctest.RequestInfo) {
		if r.Route == "query" && r.N == 4 {
			h.emu.ExpireAllTokens() // the token dies mid-run
		}
	})
	code, faulty, errOut := h.runJSON("--full")
	h.emu.OnRequest(nil)
	if code != ExitOK {
		t.Fatalf("run under faults exit %d: %s", code, errOut)
	}
	got := backupFiles(t, h, faulty.Backup)
	if len(got) != len(want) {
		t.Fatalf("run under faults stored %d files, clean run %d", len(got), len(want))
	}
	for p, data := range want {
		if got[p] != data {
			t.Errorf("%s differs from the clean run", p)
		}
	}
	if faulty.Requests["token"] < 2 || faulty.Requests["retries"] == 0 {
		t.Errorf("faults did not bite: requests %v", faulty.Requests)
	}
	h.assertNoSecrets(errOut)
}

func TestRunPersistentFailureKeepsWatermark(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 1200})
	if code, _, errOut := h.runJSON(); code != ExitOK {
		t.Fatalf("first run exit %d: %s", code, errOut)
	}
	before := h.state()
	ids := sortedIDs(contentBlockIDs(t, h.emu))
	for _, id := range ids[:700] {
		if err := h.emu.UpdateAsset(h.emu.DefaultMID(), id, func(a *sfmctest.AssetSpec) { a.Content = "v2" }); err != nil {
			t.Fatal(err)
		}
	}
	h.emu.InjectFault(sfmctest.Fault{Route: "query", After: 1, Times: -1, Status: 500})
	code, sum, errOut := h.runJSON()
	if code != ExitFailure && code != ExitPartial {
		t.Fatalf("persistent 500s: exit %d, want 1 or 3\n%s", code, errOut)
	}
	if sum.Status == backup.StatusComplete {
		t.Fatalf("summary claims completeness: %+v", sum)
	}
	if _, err := os.Stat(filepath.Join(h.dest, sum.Backup, repo.ManifestName)); !os.IsNotExist(err) {
		t.Fatalf("a failed run wrote a manifest (%v)", err)
	}
	if after := h.state(); !after.Watermark.Equal(before.Watermark) {
		t.Fatalf("watermark moved from %v to %v", before.Watermark, after.Watermark)
	}
	if !strings.Contains(errOut, "500") {
		t.Errorf("the error does not say what went wrong: %s", errOut)
	}
	h.emu.ClearFaults()
	code, sum, errOut = h.runJSON()
	if code != ExitOK || sum.Blocks != 700 {
		t.Fatalf("next run: exit %d, %d blocks (want 700)\n%s", code, sum.Blocks, errOut)
	}
}

func TestRunSecondConcurrentRunRefused(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 600})
	entered, release := make(chan struct{}), make(chan struct{})
	h.emu.OnRequest(func(r sfmctest.RequestInfo) {
		if r.Route == "query" && r.N == 1 {
			close(entered)
			<-release
		}
	})
	done := make(chan int)
	go func() {
		code, _, _ := h.run("run", "--dest", h.dest)
		done <- code
	}()
	<-entered
	code, _, errOut := h.run("run", "--dest", h.dest)
	close(release)
	if code != ExitFailure || !strings.Contains(errOut, "holds the lock") || !strings.Contains(errOut, "pid") {
		t.Errorf("second run: exit %d, stderr %q; want exit 1 naming the holder", code, errOut)
	}
	if first := <-done; first != ExitOK {
		t.Errorf("first run exit %d", first)
	}
}

func TestRunAuthFailureExit4AndNoSecretLeak(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	t.Setenv("SFMC_CLIENT_SECRET", "wrong-"+h.emu.ClientSecret())
	code, out, errOut := h.run("run", "--dest", h.dest, "--log-level", "debug")
	if code != ExitAuth {
		t.Fatalf("wrong secret: exit %d, want 4\n%s", code, errOut)
	}
	for _, s := range []string{h.emu.ClientSecret(), "wrong-" + h.emu.ClientSecret()} {
		if strings.Contains(out+errOut, s) {
			t.Fatal("the secret appears in the output")
		}
	}
	if !strings.Contains(errOut, "SFMC authentication") || strings.Contains(errOut, "list folders") {
		t.Errorf("error does not say authentication failed: %s", errOut)
	}
	if _, err := os.Stat(h.dest); !os.IsNotExist(err) {
		t.Errorf("a run that could not authenticate touched the destination (%v)", err)
	}
}

func TestRunSecretsNeverLeakAtDebugLevel(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 50})
	h.emu.OnRequest(func(r sfmctest.RequestInfo) {
		if r.Route == "query" && r.N == 1 {
			h.emu.ExpireAllTokens()
		}
	})
	code, out, errOut := h.run("run", "--dest", h.dest, "--json", "--log-level", "debug", "--log-format", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	code2, out2, errOut2 := h.run("run", "--dest", h.dest, "--log-level", "debug", "--log-format", "console")
	if code2 != ExitOK {
		t.Fatalf("exit %d: %s", code2, errOut2)
	}
	h.assertNoSecrets(out, errOut, out2, errOut2)
}

func TestRunUsageErrors(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown flag", []string{"run", "--nope"}, nil, "unknown flag"},
		{"unknown command", []string{"rnu"}, nil, "did you mean run"},
		{"bad since", []string{"run", "--since", "yesterday"}, nil, "--since"},
		{"full and since", []string{"run", "--full", "--since", "2026-01-01"}, nil, "--full"},
		{"bad types", []string{"run", "--types", "htmlblok"}, nil, "htmlblok"},
		{"bad dest scheme", []string{"run", "--dest", "ftp://x/y"}, nil, "ftp"},
		{"missing auth url", []string{"run"}, map[string]string{"SFMC_AUTH_URL": ""}, "sfmc.auth_url"},
		{"bad duration", []string{"run", "--timeout", "soon"}, nil, "timeout"},
		{"bad env var", []string{"run"}, map[string]string{"BACKUP_CREATOR_CONCURRENCY": "many"}, "concurrency"},
		{"missing env file", []string{"run", "--env-file", "/nonexistent/.env"}, nil, "env file"},
		{"lookalike auth url", []string{"run"}, map[string]string{"SFMC_AUTH_URL": "https://evil.example/?x=https://abc.auth.marketingcloudapis.com/"}, "evil.example"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			code, _, errOut := h.run(c.args...)
			if code != ExitUsage {
				t.Errorf("exit %d, want 2; stderr %s", code, errOut)
			}
			if !strings.Contains(errOut, c.want) {
				t.Errorf("stderr %q does not name %q", errOut, c.want)
			}
		})
	}
	if _, err := os.Stat(h.dest); !os.IsNotExist(err) {
		t.Errorf("a usage error created the destination (%v)", err)
	}
}

func TestPrecedenceFlagEnvFile(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	os.WriteFile("backup-creator.yaml", []byte("dest: "+filepath.Join(t.TempDir(), "from-file")+"\nconcurrency: 2\n"), 0o600)
	dest := func(args ...string) string {
		t.Helper()
		code, out, errOut := h.run(append([]string{"run", "--dry-run", "--json"}, args...)...)
		if code != ExitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var s backup.Summary
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatal(err)
		}
		return s.Destination
	}
	if d := dest(); !strings.HasSuffix(d, "from-file") {
		t.Errorf("file: dest %q", d)
	}
	envDest := filepath.Join(t.TempDir(), "from-env")
	t.Setenv("BACKUP_CREATOR_DEST", envDest)
	if d := dest(); !strings.HasSuffix(d, "from-env") {
		t.Errorf("env over file: dest %q", d)
	}
	if d := dest("--dest", filepath.Join(t.TempDir(), "from-flag")); !strings.HasSuffix(d, "from-flag") {
		t.Errorf("flag over env: dest %q", d)
	}
	// .env sets only what is not set already.
	os.WriteFile(".env", []byte("BACKUP_CREATOR_DEST="+filepath.Join(t.TempDir(), "from-dotenv")+"\n"), 0o600)
	if d := dest(); !strings.HasSuffix(d, "from-env") {
		t.Errorf(".env overrode the environment: dest %q", d)
	}
	os.Unsetenv("BACKUP_CREATOR_DEST")
	if d := dest(); !strings.HasSuffix(d, "from-dotenv") {
		t.Errorf(".env not loaded: dest %q", d)
	}
}

func TestExitCodeTable(t *testing.T) {
	cases := map[string]struct {
		err  error
		want int
	}{
		"nil":              {nil, 0},
		"usage":            {usageErrorf("x"), 2},
		"partial":          {fmt.Errorf("wrap: %w", &backup.PartialError{Failed: 1, Total: 2, Err: fmt.Errorf("x")}), 3},
		"interrupted":      {&InterruptedError{Err: fmt.Errorf("x")}, 130},
		"locked":           {&repo.LockedError{}, 1},
		"restore":          {fmt.Errorf("wrap: %w", &restore.RestoreError{Failed: 1, Total: 3, Err: fmt.Errorf("x")}), 3},
		"auth":             {fmt.Errorf("wrap: %w", sfmc.ErrUnauthorized), 4},
		"restore auth":     {fmt.Errorf("wrap: %w", &restore.RestoreError{Failed: 1, Total: 3, Err: fmt.Errorf("block 1: %w", sfmc.ErrUnauthorized)}), 4},
		"future watermark": {fmt.Errorf("wrap: %w", backup.ErrFutureWatermark), 2},
		"auth url":         {fmt.Errorf("wrap: %w", sfmc.ErrAuthEndpoint), 4},
		"config":           {fmt.Errorf("wrap: %w", configErrorf("x")), 2},
		"cancelled":        {fmt.Errorf("wrap: %w", context.Canceled), 130},
		"other":            {fmt.Errorf("boom"), 1},
	}
	for name, c := range cases {
		if got := ExitCode(c.err); got != c.want {
			t.Errorf("%s: ExitCode = %d, want %d", name, got, c.want)
		}
	}
}

func TestVersionAndHelpShowExitCodes(t *testing.T) {
	var out bytes.Buffer
	a := DefaultApp(&out, &out, BuildInfo{Version: "1.2.3", Commit: "abc123", Date: "2026-11-23"})
	if code := a.Execute(t.Context(), []string{"--version"}); code != 0 || !strings.Contains(out.String(), "1.2.3") || !strings.Contains(out.String(), "abc123") {
		t.Errorf("--version: %d %q", code, out.String())
	}
	out.Reset()
	if code := a.Execute(t.Context(), []string{"run", "--help"}); code != 0 || !strings.Contains(out.String(), "130") || !strings.Contains(out.String(), "EXIT STATUS") {
		t.Errorf("run --help lacks the exit codes: %q", out.String())
	}
}

func TestRunTimeoutSaysSoOnce(t *testing.T) {
	h := newHarness(t, sfmctest.Options{Latency: 50 * time.Millisecond})
	h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 10})
	code, out, errOut := h.run("run", "--dest", h.dest, "--timeout", "20ms", "--json")
	if code != ExitInterrupted {
		t.Fatalf("exit %d, want 130: %s", code, errOut)
	}
	var s backup.Summary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(s.Error, "--timeout 20ms reached"); n != 1 || s.ExitCode != ExitInterrupted || s.Status != "interrupted" {
		t.Errorf("summary %+v: the timeout is named %d times", s, n)
	}
}

func TestEnvFileValues(t *testing.T) {
	cases := map[string]string{
		`abc`:               "abc",
		`abc # comment`:     "abc",
		`"abc"`:             "abc",
		`"abc" # comment`:   "abc",
		`'a b#c' # comment`: "a b#c",
		`"p#ss"`:            "p#ss",
		``:                  "",
	}
	for in, want := range cases {
		got, err := envValue(in)
		if err != nil || got != want {
			t.Errorf("envValue(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`"abc`, `"abc" junk`} {
		if _, err := envValue(bad); err == nil {
			t.Errorf("envValue(%q) accepted", bad)
		}
	}
}

func TestConfigShowTellsEnvFileFromEnvironment(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	os.WriteFile(".env", []byte("BACKUP_CREATOR_DEST=\"./from-dotenv\" # the nightly one\n"), 0o600)
	code, out, errOut := h.run("config", "show", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var entries []ConfigEntry
	json.Unmarshal([]byte(out), &entries)
	for _, e := range entries {
		switch e.Key {
		case "dest":
			if e.Source != "env file" || e.Value != "./from-dotenv" {
				t.Errorf("dest: %+v", e)
			}
		case "sfmc.client_id":
			if e.Source != "env" {
				t.Errorf("client id set in the environment shows source %q", e.Source)
			}
		}
	}
}

// A run refused by SFMC still reports when it ran and where it would have
// written: the summary goes to notifications and the /fail ping.
func TestFailedRunSummaryHasItsTimesAndDestination(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	t.Setenv("SFMC_CLIENT_SECRET", "wrong")
	if err := os.MkdirAll(h.dest, 0o700); err != nil {
		t.Fatal(err)
	}
	code, sum, errOut := h.runJSON()
	if code != ExitAuth {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if sum.StartedAt.IsZero() || sum.FinishedAt.Before(sum.StartedAt) || !filepath.IsAbs(sum.Destination) {
		t.Errorf("summary of a refused run: started %v, finished %v, destination %q", sum.StartedAt, sum.FinishedAt, sum.Destination)
	}
}
