package cmd

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
)

type hookRecorder struct {
	mu     sync.Mutex
	bodies []map[string]any
}

func (r *hookRecorder) serve(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("webhook body is not JSON: %q", b)
		}
		r.mu.Lock()
		r.bodies = append(r.bodies, m)
		r.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/hook/secret-path-Tq9"
}

func (r *hookRecorder) last(t *testing.T) map[string]any {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.bodies) == 0 {
		t.Fatal("the webhook received nothing")
	}
	return r.bodies[len(r.bodies)-1]
}

func TestNotificationsOnSuccessAndFailure(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 20})
	var generic, slack hookRecorder
	t.Setenv("BACKUP_CREATOR_NOTIFY_WEBHOOK_URL", generic.serve(t))
	t.Setenv("BACKUP_CREATOR_NOTIFY_SLACK_WEBHOOK_URL", slack.serve(t))
	t.Setenv("BACKUP_CREATOR_NOTIFY_ON", "always")

	code, sum, errOut := h.runJSON()
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	ev := generic.last(t)
	if ev["status"] != "complete" || ev["exitCode"] != float64(0) {
		t.Errorf("success event: %v", ev)
	}
	s, _ := ev["summary"].(map[string]any)
	if s == nil || s["backup"] != sum.Backup || s["blocks"] != float64(sum.Blocks) {
		t.Errorf("success event does not carry the run summary: %v", ev["summary"])
	}
	if txt, _ := slack.last(t)["text"].(string); !strings.Contains(txt, sum.Backup) {
		t.Errorf("slack text %q does not name the backup", txt)
	}

	t.Setenv("SFMC_CLIENT_SECRET", "wrong")
	code, _, _ = h.runJSON()
	if code != ExitAuth {
		t.Fatalf("exit %d, want 4", code)
	}
	ev = generic.last(t)
	if ev["status"] != "failed" || ev["exitCode"] != float64(ExitAuth) || ev["error"] == "" {
		t.Errorf("failure event: %v", ev)
	}
	if strings.Contains(errOut, "secret-path-Tq9") {
		t.Error("a webhook URL (a secret) appears in the log")
	}
}

func TestNotifyOnFailureOnlySkipsSuccess(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	var generic hookRecorder
	t.Setenv("BACKUP_CREATOR_NOTIFY_WEBHOOK_URL", generic.serve(t))
	if code, _, errOut := h.runJSON(); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if len(generic.bodies) != 0 {
		t.Errorf("notify.on=failure (default) sent %d notifications for a success", len(generic.bodies))
	}
}

func TestDeadWebhookLeavesExitCode(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String() + "/hook"
	l.Close()
	t.Setenv("BACKUP_CREATOR_NOTIFY_WEBHOOK_URL", dead)
	t.Setenv("BACKUP_CREATOR_NOTIFY_ON", "always")
	code, sum, errOut := h.runJSON()
	if code != ExitOK || sum.Status != "complete" {
		t.Fatalf("a dead webhook changed the outcome: exit %d, %+v", code, sum)
	}
	if !strings.Contains(errOut, "notification not delivered") {
		t.Errorf("no warning about the dead webhook:\n%s", errOut)
	}
}

func TestTwoBusinessUnits(t *testing.T) {
	h := newHarness(t, sfmctest.Options{MIDs: []int64{100001, 100002}})
	h.emu.Seed(sfmctest.SeedOptions{MID: 100001, ExtraBlocks: 30})
	h.emu.Seed(sfmctest.SeedOptions{MID: 100002, ExtraBlocks: 70})
	t.Setenv("BACKUP_CREATOR_ACCOUNT_IDS", "100001,100002")
	code, out, errOut := h.run("run", "--dest", h.dest, "--json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var m MultiSummary
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	if len(m.BusinessUnits) != 2 || m.Status != "complete" {
		t.Fatalf("summary %+v", m)
	}
	for _, bu := range m.BusinessUnits {
		mid := bu.AccountID
		want := h.emu.AssetCount(map[string]int64{"100001": 100001, "100002": 100002}[mid])
		if bu.Summary.Blocks == 0 || bu.Summary.Blocks > want || !strings.HasSuffix(bu.Summary.Destination, "mid-"+mid) {
			t.Errorf("BU %s: %+v", mid, bu.Summary)
		}
		sub := &harness{t: t, dest: bu.Summary.Destination}
		if st := sub.state(); st == nil || st.LastBackup != bu.Summary.Backup {
			t.Errorf("BU %s has no watermark of its own: %+v", mid, st)
		}
	}
	if m.BusinessUnits[0].Summary.Blocks == m.BusinessUnits[1].Summary.Blocks {
		t.Error("both BUs backed up the same number of blocks: not independent")
	}

	// One BU failing does not stop the other; the exit code is the worst.
	t.Setenv("BACKUP_CREATOR_ACCOUNT_IDS", "999999,100002")
	code, out, _ = h.run("run", "--dest", h.dest, "--json")
	if code == ExitOK {
		t.Fatal("an unknown MID did not fail")
	}
	json.Unmarshal([]byte(out), &m)
	if len(m.BusinessUnits) != 2 || m.BusinessUnits[1].ExitCode != ExitOK || m.ExitCode != code {
		t.Errorf("after one BU failed: %+v (exit %d)", m, code)
	}
}
