//go:build unix

package cmd

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"

	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
)

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

// TestMain removes the binary buildBinary built: 77 MB per test process,
// which otherwise piled up in the temp folder run after run.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildBinary builds backup-creator once per test process.
func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "backup-creator-bin-") //nolint:usetesting // one binary for every test of the process
		if err != nil {
			buildErr = err
			return
		}
		binDir = dir
		binPath = filepath.Join(dir, "backup-creator")
		root, _ := filepath.Abs("..")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("build backup-creator: %v", buildErr)
	}
	return binPath
}

// TestRunSIGTERMMidRun sends a real SIGTERM to the binary while it pages
// through the blocks: it must exit 130 without advancing the watermark, and
// the next run must back up everything.
func TestRunSIGTERMMidRun(t *testing.T) {
	bin := buildBinary(t)
	h := newHarness(t, sfmctest.Options{})
	h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 3000})
	want := len(contentBlockIDs(t, h.emu))

	var proc *os.Process
	var mu sync.Mutex
	signalled := make(chan struct{})
	h.emu.OnRequest(func(r sfmctest.RequestInfo) {
		if r.Route == "query" && r.N == 3 {
			mu.Lock()
			p := proc
			mu.Unlock()
			_ = p.Signal(syscall.SIGTERM)
			close(signalled)
		}
	})
	var stderr bytes.Buffer
	c := exec.Command(bin, "run", "--dest", h.dest, "--log-format", "json")
	c.Stderr = &stderr
	mu.Lock()
	if err := c.Start(); err != nil {
		mu.Unlock()
		t.Fatal(err)
	}
	proc = c.Process
	mu.Unlock()
	err := c.Wait()
	h.emu.OnRequest(nil)
	select {
	case <-signalled:
	default:
		t.Fatalf("the run ended before it was signalled: %v\n%s", err, stderr.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != ExitInterrupted {
		t.Fatalf("exit: %v, want 130\n%s", err, stderr.String())
	}
	if s := h.state(); s != nil {
		t.Fatalf("an interrupted first run wrote a watermark: %+v", s)
	}
	if _, err := os.Stat(filepath.Join(h.dest, repo.LockKey)); !os.IsNotExist(err) {
		t.Errorf("the lock was left behind (%v)", err)
	}
	code, sum, errOut := h.runJSON()
	if code != ExitOK || sum.Blocks != want {
		t.Fatalf("next run: exit %d, %d blocks, want %d\n%s", code, sum.Blocks, want, errOut)
	}
}
