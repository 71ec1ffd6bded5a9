//go:build unix

package cmd

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"path"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
	"github.com/backup-creator/backup-creator/pkg/shard"
	"github.com/backup-creator/backup-creator/pkg/storage"
)

// shardProc is one backup-creator process running one shard.
type shardProc struct {
	cmd         *exec.Cmd
	out, errOut bytes.Buffer
}

func startShard(t *testing.T, bin, dest string, i, n int) *shardProc {
	t.Helper()
	p := &shardProc{}
	p.cmd = exec.Command(bin, "run", "--shard", fmt.Sprintf("%d/%d", i, n), "--dest", dest, "--json", "--log-format", "json")
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.errOut
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return p
}

// exitCode waits for p and returns its exit code (-1 when killed).
func (p *shardProc) exitCode(t *testing.T) int {
	t.Helper()
	err := p.cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	default:
		t.Fatal(err)
		return 0
	}
}

// backupsPerUnit counts, per mid-<MID> folder of the destination, the
// backups (manifests) and the state files.
func backupsPerUnit(t *testing.T, st storage.Store) (manifests, states map[string]int) {
	t.Helper()
	manifests, states = map[string]int{}, map[string]int{}
	err := st.List(t.Context(), "", func(o storage.ObjectInfo) error {
		unit, rest, ok := strings.Cut(o.Key, "/")
		if !ok || !strings.HasPrefix(unit, "mid-") {
			return fmt.Errorf("object %s is outside every unit's folder", o.Key)
		}
		mid := strings.TrimPrefix(unit, "mid-")
		switch {
		case rest == repo.StateKey:
			states[mid]++
		case path.Base(rest) == repo.ManifestName && strings.Count(rest, "/") == 1:
			manifests[mid]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return manifests, states
}

func seedSix(h *harness) {
	for _, mid := range sixMIDs {
		h.emu.Seed(sfmctest.SeedOptions{MID: mid, ExtraBlocks: 40})
	}
}

// Three processes, one shard each, run at once against one S3 bucket: every
// unit is backed up exactly once, by the shard its MID hashes to, and each
// process's exit code is the worst of its own units (a MID unknown to SFMC
// fails only its shard).
func TestShardProcessesShareOneBucket(t *testing.T) {
	bin := buildBinary(t) // before the harness changes directory
	h := newHarness(t, sfmctest.Options{MIDs: sixMIDs})
	dest := cloudDest(t, "s3")
	seedSix(h)
	const unknown = "999999"
	badShard, _ := shard.Of(unknown, 3)
	t.Setenv("BACKUP_CREATOR_ACCOUNT_IDS", sixMIDList+","+unknown)

	procs := make([]*shardProc, 3)
	for i := range procs {
		procs[i] = startShard(t, bin, dest, i, 3)
	}
	seen := map[string]int{}
	for i, p := range procs {
		code := p.exitCode(t)
		m, mids := multiUnits(t, p.out.String())
		if m.Shard != fmt.Sprintf("%d/3", i) || m.ExitCode != code {
			t.Errorf("shard %d: summary shard %q exit %d, process exit %d", i, m.Shard, m.ExitCode, code)
		}
		want := ExitOK
		if i == badShard {
			want = ExitAuth
		}
		if code != want {
			t.Errorf("shard %d: exit %d, want %d\n%s", i, code, want, p.errOut.String())
		}
		for _, bu := range m.BusinessUnits {
			if s, _ := shard.Of(bu.AccountID, 3); s != i {
				t.Errorf("shard %d backed up unit %s of shard %d", i, bu.AccountID, s)
			}
			if (bu.ExitCode != ExitOK) != (bu.AccountID == unknown) {
				t.Errorf("shard %d unit %s: exit %d", i, bu.AccountID, bu.ExitCode)
			}
			seen[bu.AccountID]++
		}
		if len(mids) == 0 {
			t.Errorf("shard %d had no unit", i)
		}
	}
	manifests, states := backupsPerUnit(t, openDest(t, dest))
	for _, mid := range strings.Split(sixMIDList, ",") {
		if seen[mid] != 1 || manifests[mid] != 1 || states[mid] != 1 {
			t.Errorf("unit %s: in %d summaries, %d backups, %d state files; want 1 each", mid, seen[mid], manifests[mid], states[mid])
		}
	}
	if manifests[unknown] != 0 || seen[unknown] != 1 {
		t.Errorf("unknown unit: %d backups, %d summaries", manifests[unknown], seen[unknown])
	}
}

// One shard is killed (SIGKILL) in the middle of its first unit: the other
// shards finish their units untouched, and the killed shard's next run takes
// over the dead process's lock and backs up its units, each exactly once.
func TestKilledShardLeavesOthersUnaffected(t *testing.T) {
	bin := buildBinary(t) // before the harness changes directory
	h := newHarness(t, sfmctest.Options{MIDs: sixMIDs})
	dest := cloudDest(t, "s3")
	seedSix(h)
	t.Setenv("BACKUP_CREATOR_ACCOUNT_IDS", sixMIDList)
	const victim = 1

	var (
		mu     sync.Mutex
		procs  = make([]*shardProc, 3)
		once   sync.Once
		killed = make(chan struct{})
	)
	h.emu.OnRequest(func(r sfmctest.RequestInfo) {
		if s, _ := shard.Of(fmt.Sprint(r.MID), 3); r.Route == sfmctest.RouteQuery && s == victim {
			once.Do(func() {
				mu.Lock()
				p := procs[victim]
				mu.Unlock()
				_ = p.cmd.Process.Signal(syscall.SIGKILL)
				close(killed)
			})
		}
	})
	mu.Lock()
	for i := range procs {
		procs[i] = startShard(t, bin, dest, i, 3)
	}
	mu.Unlock()
	for i, p := range procs {
		code := p.exitCode(t)
		if i == victim {
			select {
			case <-killed:
			default:
				t.Fatalf("shard %d ended before it was killed (exit %d)\n%s", i, code, p.errOut.String())
			}
			if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("shard %d: %v, want killed by SIGKILL", i, p.cmd.ProcessState)
			}
			continue
		}
		if code != ExitOK {
			t.Errorf("shard %d exit %d beside a killed shard\n%s", i, code, p.errOut.String())
		}
	}
	h.emu.OnRequest(nil)
	st := openDest(t, dest)
	manifests, _ := backupsPerUnit(t, st)
	for _, mid := range strings.Split(sixMIDList, ",") {
		s, _ := shard.Of(mid, 3)
		want := 1
		if s == victim {
			want = 0
		}
		if manifests[mid] != want {
			t.Errorf("unit %s (shard %d) has %d backups after the kill, want %d", mid, s, manifests[mid], want)
		}
	}
	// The killed process held its first unit's lock (100003 is shard 1's
	// first unit in account_ids).
	if _, err := st.Stat(t.Context(), "mid-100003/"+repo.LockKey); err != nil {
		t.Errorf("the killed shard left no lock behind (%v): the rerun proves nothing about taking it over", err)
	}

	p := startShard(t, bin, dest, victim, 3)
	if code := p.exitCode(t); code != ExitOK {
		t.Fatalf("the killed shard's next run: exit %d\n%s", code, p.errOut.String())
	}
	manifests, states := backupsPerUnit(t, st)
	for _, mid := range strings.Split(sixMIDList, ",") {
		if manifests[mid] != 1 || states[mid] != 1 {
			t.Errorf("unit %s: %d backups, %d state files, want 1 each", mid, manifests[mid], states[mid])
		}
	}
}
