package cmd

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/backup"
	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
)

// A run that fails authentication (a refused secret here; an auth URL that
// refuses connections takes 11 s of retries with the defaults) logs a
// "backup summary" line whose duration_ms must be the time the run took, as
// the --json summary, the metrics and the pings report it.
//
// This fails today: runOne logs the summary before its deferred function
// sets FinishedAt and DurationMS, so the log line says duration_ms=0 while
// --json says durationMs 11000. CLI reproduction: stop the emulator, then
// `backup-creator run --json --log-format console`.
func TestAuthFailureSummaryLogHasTheRunsDuration(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	t.Setenv("SFMC_CLIENT_SECRET", "wrong")
	var out, errOut bytes.Buffer
	a := h.app(&out, &errOut)
	var mu sync.Mutex
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	a.Now = func() time.Time { // every reading of the clock is a second later
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Second)
		return now
	}
	code := a.Execute(t.Context(), []string{"run", "--dest", h.dest, "--json", "--log-format", "json"})
	if code != ExitAuth {
		t.Fatalf("exit %d, want %d\n%s", code, ExitAuth, errOut.String())
	}
	var sum backup.Summary
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatalf("no --json summary: %v\n%s", err, out.String())
	}
	if sum.DurationMS <= 0 {
		t.Fatalf("--json durationMs = %d, want > 0 with a clock that ticks", sum.DurationMS)
	}
	found := false
	sc := bufio.NewScanner(strings.NewReader(errOut.String()))
	for sc.Scan() {
		var line struct {
			Message    string `json:"message"`
			DurationMS *int64 `json:"duration_ms"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil || line.Message != "backup summary" {
			continue
		}
		found = true
		if line.DurationMS == nil || *line.DurationMS != sum.DurationMS {
			got := "none"
			if line.DurationMS != nil {
				got = time.Duration(*line.DurationMS * int64(time.Millisecond)).String()
			}
			t.Errorf("backup summary log line: duration_ms %s, but --json says durationMs %d", got, sum.DurationMS)
		}
	}
	if !found {
		t.Fatalf("no backup summary log line:\n%s", errOut.String())
	}
}
