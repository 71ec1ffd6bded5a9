//go:build unix

package backup

import (
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/storage"
	"github.com/backup-creator/backup-creator/pkg/storage/mem"
)

func TestRunTakesOverTheLockOfADeadProcessOnThisHost(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("cannot start a short-lived process:", err)
	}
	dead := cmd.Process.Pid // exited and reaped: no process has this pid (reuse is unlikely within the test)
	src := newFakeSource()
	src.put(1, "a", "x", base)
	st := mem.New()
	c := &clock{t: time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)}
	holder := repo.LockInfo{Host: "test-host", PID: dead, RunID: "killed", AcquiredAt: c.Now(), RefreshedAt: c.Now()}
	b, _ := json.Marshal(holder)
	if _, err := st.Put(t.Context(), repo.LockKey, strings.NewReader(string(b)), int64(len(b)), storage.PutOptions{IfNotExists: true}); err != nil {
		t.Fatal(err)
	}
	// A fresh lock (not stale by age) whose process on this host is gone: a
	// run killed with SIGKILL. The next run on the same host takes it over.
	sum, err := newEngine(src, st, c).Run(t.Context(), RunOptions{})
	if err != nil || sum.Blocks != 1 {
		t.Fatalf("lock of a dead process not taken over: %+v %v", sum, err)
	}
	// The same lock held by another host is respected.
	holder.Host = "other-host"
	b, _ = json.Marshal(holder)
	st.Put(t.Context(), repo.LockKey, strings.NewReader(string(b)), int64(len(b)), storage.PutOptions{})
	var le *repo.LockedError
	if _, err := newEngine(src, st, c).Run(t.Context(), RunOptions{}); !errors.As(err, &le) {
		t.Errorf("another host's fresh lock: err = %v, want LockedError", err)
	}
}
