package cmd

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"

	"github.com/backup-creator/backup-creator/pkg/config"
	"github.com/backup-creator/backup-creator/pkg/sfmc"
	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
	"github.com/backup-creator/backup-creator/pkg/shard"
)

// sixMIDs hash to three shards of two units each (pkg/shard's table):
// 0/3 → 100002, 100004; 1/3 → 100003, 100005; 2/3 → 100001, 100006.
var sixMIDs = []int64{100001, 100002, 100003, 100004, 100005, 100006}

const sixMIDList = "100001,100002,100003,100004,100005,100006"

func TestResolveShard(t *testing.T) {
	clearConfigEnv(t)
	for _, tc := range []struct {
		name       string
		shard      string
		count      int
		jobIndex   string // "" = unset
		accountIDs []string
		want       *shard.Shard
		err        string
	}{
		{name: "none", accountIDs: []string{"1"}},
		{name: "none without units"},
		{name: "flag", shard: "1/3", accountIDs: []string{"1"}, want: &shard.Shard{Index: 1, Count: 3}},
		{name: "flag wins over the job index", shard: "0/2", count: 5, jobIndex: "4", accountIDs: []string{"1"}, want: &shard.Shard{Index: 0, Count: 2}},
		{name: "job index", count: 4, jobIndex: "3", accountIDs: []string{"1"}, want: &shard.Shard{Index: 3, Count: 4}},
		{name: "job index without count", jobIndex: "0", accountIDs: []string{"1"}, err: "shard_count is not"},
		{name: "job index out of range", count: 2, jobIndex: "2", accountIDs: []string{"1"}, err: "out of range"},
		{name: "job index not a number", count: 2, jobIndex: "x", accountIDs: []string{"1"}, err: "not a number"},
		{name: "count without index", count: 3, accountIDs: []string{"1"}, err: "this is not a shard"},
		{name: "bad flag", shard: "3/3", accountIDs: []string{"1"}, err: "out of range"},
		{name: "malformed flag", shard: "1-3", accountIDs: []string{"1"}, err: "use I/N"},
		{name: "no units to split", shard: "0/2", err: "none is set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.jobIndex != "" {
				t.Setenv(jobIndexEnv, tc.jobIndex)
			}
			got, err := resolveShard(&config.Config{Shard: tc.shard, ShardCount: tc.count, AccountIDs: tc.accountIDs})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || ExitCode(err) != ExitUsage {
					t.Fatalf("err = %v (exit %d), want exit 2 with %q", err, ExitCode(err), tc.err)
				}
				return
			}
			if err != nil || (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestUnitsToRunDropsDuplicates(t *testing.T) {
	got, err := unitsToRun(&config.Config{AccountIDs: []string{"100001", "100002", "100001", "0100002"}}, nil)
	if err != nil || !slices.Equal(got, []string{"100001", "100002"}) {
		t.Fatalf("got %v, %v", got, err)
	}
}

func multiUnits(t *testing.T, out string) (MultiSummary, []string) {
	t.Helper()
	var m MultiSummary
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("no summary: %v\n%s", err, out)
	}
	var mids []string
	for _, bu := range m.BusinessUnits {
		mids = append(mids, bu.AccountID)
	}
	return m, mids
}

func TestRunBacksUpOnlyItsShard(t *testing.T) {
	h := newHarness(t, sfmctest.Options{MIDs: sixMIDs})
	for _, mid := range sixMIDs {
		h.emu.Seed(sfmctest.SeedOptions{MID: mid, ExtraBlocks: 3})
	}
	t.Setenv("BACKUP_CREATOR_ACCOUNT_IDS", sixMIDList)
	run := func(args ...string) (MultiSummary, []string) {
		t.Helper()
		code, out, errOut := h.run(append([]string{"run", "--dest", h.dest, "--json", "--log-format", "json"}, args...)...)
		if code != ExitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		return multiUnits(t, out)
	}
	m, mids := run("--shard", "1/3")
	if m.Shard != "1/3" || !slices.Equal(mids, []string{"100003", "100005"}) {
		t.Errorf("--shard 1/3 backed up %v (shard %q), want [100003 100005]", mids, m.Shard)
	}
	t.Setenv("BACKUP_CREATOR_SHARD", "0/3")
	if _, mids = run(); !slices.Equal(mids, []string{"100002", "100004"}) {
		t.Errorf("BACKUP_CREATOR_SHARD=0/3 backed up %v", mids)
	}
	if _, mids = run("--shard", "2/3"); !slices.Equal(mids, []string{"100001", "100006"}) {
		t.Errorf("--shard 2/3 over BACKUP_CREATOR_SHARD backed up %v", mids)
	}
	t.Setenv("BACKUP_CREATOR_SHARD", "")
	t.Setenv(jobIndexEnv, "2")
	t.Setenv("BACKUP_CREATOR_SHARD_COUNT", "3")
	// Shard 2 ran already: its units are incremental now, still only its own.
	if m, mids = run(); !slices.Equal(mids, []string{"100001", "100006"}) || m.Shard != "2/3" {
		t.Errorf("JOB_COMPLETION_INDEX=2 of 3 backed up %v", mids)
	}
	// Every unit has been backed up by exactly one shard.
	for _, mid := range sixMIDs {
		sub := &harness{t: t, dest: subDest(h.dest, "mid-"+itoa(mid))}
		if sub.state() == nil {
			t.Errorf("unit %d was never backed up", mid)
		}
	}

	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{args: []string{"--shard", "3/3"}, want: "shard index 3 is out of range"},
		{args: []string{"--shard", "two"}, want: "use I/N"},
		{env: map[string]string{"BACKUP_CREATOR_SHARD_COUNT": ""}, want: "shard_count is not"},
		{env: map[string]string{jobIndexEnv: "", "BACKUP_CREATOR_SHARD_COUNT": "3"}, want: "this is not a shard"},
		{args: []string{"--shard", "0/2"}, env: map[string]string{"BACKUP_CREATOR_ACCOUNT_IDS": ""}, want: "none is set"},
	} {
		for k, v := range tc.env {
			t.Setenv(k, v)
		}
		code, _, errOut := h.run(append([]string{"run", "--dest", h.dest}, tc.args...)...)
		if code != ExitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v %v: exit %d, want 2 with %q:\n%s", tc.args, tc.env, code, tc.want, errOut)
		}
		t.Setenv(jobIndexEnv, "2")
		t.Setenv("BACKUP_CREATOR_SHARD_COUNT", "3")
		t.Setenv("BACKUP_CREATOR_ACCOUNT_IDS", sixMIDList)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// inflight counts the SFMC requests in flight across clients, as the
// request budget bounds them: from sending until the body is closed, but for
// an asset query only until SFMC has answered (its slot is freed then, so
// that the writers can fetch file assets while its items are handed on; see
// sfmc.Budget).
type inflight struct {
	base     http.RoundTripper
	now, max atomic.Int64
}

func (f *inflight) RoundTrip(r *http.Request) (*http.Response, error) {
	n := f.now.Add(1)
	for m := f.max.Load(); n > m && !f.max.CompareAndSwap(m, n); m = f.max.Load() {
	}
	resp, err := f.base.RoundTrip(r)
	if err != nil || strings.HasSuffix(r.URL.Path, "/assets/query") {
		f.now.Add(-1)
		return resp, err
	}
	resp.Body = &countedBody{ReadCloser: resp.Body, f: f}
	return resp, nil
}

type countedBody struct {
	io.ReadCloser
	f    *inflight
	once sync.Once
}

func (b *countedBody) Close() error {
	b.once.Do(func() { b.f.now.Add(-1) })
	return b.ReadCloser.Close()
}

// Units run at the same time (the first unit's first request is held until
// another unit's arrives), and together never have more than `concurrency`
// requests in flight.
func TestBUConcurrencySharesOneSFMCBudget(t *testing.T) {
	mids := []int64{100001, 100002, 100003, 100004}
	h := newHarness(t, sfmctest.Options{MIDs: mids})
	for _, mid := range mids {
		h.emu.AddBlocks(mid, 40, 197)
	}
	var (
		first    atomic.Int64
		released = make(chan struct{})
		once     sync.Once
	)
	h.emu.OnRequest(func(r sfmctest.RequestInfo) {
		if first.CompareAndSwap(0, r.MID) {
			<-released
			return
		}
		if r.MID != first.Load() {
			once.Do(func() { close(released) })
		}
	})
	t.Setenv("BACKUP_CREATOR_ACCOUNT_IDS", "100001,100002,100003,100004")
	t.Setenv("BACKUP_CREATOR_BU_CONCURRENCY", "4")
	counter := &inflight{base: http.DefaultTransport}
	code, out, errOut := h.runApp(func(a *App) {
		a.NewSource = func(cfg *config.Config, log zerolog.Logger, ua string) (Source, error) {
			sc := a.sfmcConfig(cfg, log, ua)
			sc.HTTPClient = &http.Client{Transport: counter}
			return sfmc.New(sc)
		}
	}, "run", "--dest", h.dest, "--json", "--log-format", "json", "--concurrency", "2")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	m, got := multiUnits(t, out)
	if !slices.Equal(got, []string{"100001", "100002", "100003", "100004"}) {
		t.Fatalf("units %v", got)
	}
	for _, bu := range m.BusinessUnits {
		if bu.Summary.Blocks < 40 {
			t.Errorf("unit %s: %d blocks", bu.AccountID, bu.Summary.Blocks)
		}
	}
	if mx := counter.max.Load(); mx > 2 {
		t.Errorf("%d SFMC requests in flight at once, budget 2", mx)
	}
	if n := counter.now.Load(); n != 0 {
		t.Errorf("%d requests still counted in flight", n)
	}
}
