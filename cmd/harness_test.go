package cmd

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"

	"github.com/rs/zerolog"

	"github.com/backup-creator/backup-creator/pkg/backup"
	"github.com/backup-creator/backup-creator/pkg/config"
	"github.com/backup-creator/backup-creator/pkg/sfmc"
	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
)

// harness runs the real commands against the SFMC emulator and a local
// destination, recording every bearer token the client sent so tests can
// search outputs and stored files for it.
type harness struct {
	t    *testing.T
	emu  *sfmctest.Server
	dest string

	mu     sync.Mutex
	tokens map[string]bool
}

func clearConfigEnv(t *testing.T) {
	t.Helper()
	for _, k := range config.Keys() {
		for _, e := range config.EnvVars(k) {
			t.Setenv(e, "")
			os.Unsetenv(e)
		}
	}
}

// suiteListConcurrency is the listing concurrency the suite runs with: the
// default, or BACKUP_CREATOR_SFMC_LIST_CONCURRENCY as the suite was started
// with (CI runs it once more serially). clearConfigEnv would drop it.
var suiteListConcurrency = os.Getenv("BACKUP_CREATOR_SFMC_LIST_CONCURRENCY")

// listConcurrency is the suite's listing concurrency as a number.
func listConcurrency() int {
	if n, err := strconv.Atoi(suiteListConcurrency); err == nil && n > 0 {
		return n
	}
	return sfmc.DefaultListConcurrency
}

func newHarness(t *testing.T, opts sfmctest.Options) *harness {
	t.Helper()
	clearConfigEnv(t)
	if suiteListConcurrency != "" {
		t.Setenv("BACKUP_CREATOR_SFMC_LIST_CONCURRENCY", suiteListConcurrency)
	}
	// Pages of 50 make the emulator's ~650 fixture blocks a listing long
	// enough to be partitioned, so every end-to-end test runs through it.
	t.Setenv("BACKUP_CREATOR_SFMC_PAGE_SIZE", "50")
	emu := sfmctest.New(t, opts)
	t.Setenv("SFMC_AUTH_URL", emu.AuthURL())
	t.Setenv("SFMC_CLIENT_ID", emu.ClientID())
	t.Setenv("SFMC_CLIENT_SECRET", emu.ClientSecret())
	// Keep retries fast: the client's own tests check the real waits.
	t.Setenv("BACKUP_CREATOR_SFMC_RETRY_BASE_DELAY", "1ms")
	t.Setenv("BACKUP_CREATOR_SFMC_RETRY_MAX_DELAY", "5ms")
	t.Setenv("BACKUP_CREATOR_SFMC_MAX_RETRY_AFTER", "10ms")
	t.Chdir(t.TempDir()) // no stray .env or backup-creator.yaml
	return &harness{t: t, emu: emu, dest: filepath.Join(t.TempDir(), "backups"), tokens: map[string]bool{}}
}

type recordingTransport struct {
	h    *harness
	base http.RoundTripper
}

func (rt recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
		rt.h.mu.Lock()
		rt.h.tokens[strings.TrimPrefix(a, "Bearer ")] = true
		rt.h.mu.Unlock()
	}
	return rt.base.RoundTrip(r)
}

func (h *harness) app(out, errOut io.Writer) *App {
	a := DefaultApp(out, errOut, BuildInfo{Version: "test"})
	a.NewSource = func(cfg *config.Config, log zerolog.Logger, ua string) (Source, error) {
		sc := a.sfmcConfig(cfg, log, ua)
		sc.HTTPClient = &http.Client{Transport: recordingTransport{h: h, base: http.DefaultTransport}}
		return sfmc.New(sc)
	}
	return a
}

// run executes the root command with args and returns the exit code and outputs.
func (h *harness) run(args ...string) (int, string, string) {
	h.t.Helper()
	var out, errOut bytes.Buffer
	code := h.app(&out, &errOut).Execute(h.t.Context(), args)
	return code, out.String(), errOut.String()
}

// runJSON runs `run --json` plus args and decodes the summary.
func (h *harness) runJSON(args ...string) (int, backup.Summary, string) {
	h.t.Helper()
	code, out, errOut := h.run(append([]string{"run", "--dest", h.dest, "--json", "--log-format", "json"}, args...)...)
	var s backup.Summary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		h.t.Fatalf("run --json printed no summary (exit %d): %v\nstdout: %s\nstderr: %s", code, err, out, errOut)
	}
	return code, s, errOut
}

func (h *harness) manifest(name string) *repo.Manifest {
	h.t.Helper()
	b, err := os.ReadFile(filepath.Join(h.dest, name, repo.ManifestName))
	if err != nil {
		h.t.Fatalf("manifest of %s: %v", name, err)
	}
	var m repo.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		h.t.Fatal(err)
	}
	return &m
}

func (h *harness) state() *repo.State {
	h.t.Helper()
	b, err := os.ReadFile(filepath.Join(h.dest, repo.StateKey))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		h.t.Fatal(err)
	}
	var s repo.State
	if err := json.Unmarshal(b, &s); err != nil {
		h.t.Fatal(err)
	}
	return &s
}

func manifestIDs(m *repo.Manifest) map[int64]int {
	ids := map[int64]int{}
	for _, b := range m.Blocks {
		ids[b.ID]++
	}
	return ids
}

// secrets returns the client secret and every token the client used.
func (h *harness) secrets() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := []string{h.emu.ClientSecret()}
	for tok := range h.tokens {
		s = append(s, tok)
	}
	return s
}

// assertNoSecrets searches texts and every stored file for the secret and the tokens.
func (h *harness) assertNoSecrets(texts ...string) {
	h.t.Helper()
	secrets := h.secrets()
	if len(secrets) < 2 {
		h.t.Fatal("no token was recorded: the search would prove nothing")
	}
	for _, s := range secrets {
		for i, txt := range texts {
			if strings.Contains(txt, s) {
				h.t.Errorf("output %d contains a secret or token", i)
			}
		}
	}
	_ = filepath.WalkDir(h.dest, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				h.t.Errorf("stored file %s contains a secret or token", p)
			}
		}
		return nil
	})
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
