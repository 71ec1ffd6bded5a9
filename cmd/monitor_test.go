package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/backup-creator/backup-creator/pkg/backup"
	"github.com/backup-creator/backup-creator/pkg/backup/repo"
	"github.com/backup-creator/backup-creator/pkg/config"
	"github.com/backup-creator/backup-creator/pkg/metrics"
	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
	"github.com/backup-creator/backup-creator/pkg/storage"
)

// pingReq is one request a health-check stand-in received.
type pingReq struct {
	method, path string
	body         []byte
}

// pingServer is a Healthchecks stand-in on 127.0.0.1.
type pingServer struct {
	url  string
	mu   sync.Mutex
	reqs []pingReq
}

func newPingServer(t *testing.T) *pingServer {
	t.Helper()
	p := &pingServer{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.reqs = append(p.reqs, pingReq{r.Method, r.URL.Path, b})
		p.mu.Unlock()
		io.WriteString(w, "OK")
	}))
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

// take returns and forgets the requests received so far.
func (p *pingServer) take() []pingReq {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.reqs
	p.reqs = nil
	return r
}

// runApp runs args with an App that mod adjusts (nil: the harness's own).
func (h *harness) runApp(mod func(*App), args ...string) (int, string, string) {
	h.t.Helper()
	var out, errOut bytes.Buffer
	a := h.app(&out, &errOut)
	if mod != nil {
		mod(a)
	}
	code := a.Execute(h.t.Context(), args)
	return code, out.String(), errOut.String()
}

// failingStore fails every Put whose key contains match.
type failingStore struct {
	storage.Store
	match string
}

func (s failingStore) Put(ctx context.Context, key string, r io.Reader, size int64, o storage.PutOptions) (storage.ObjectInfo, error) {
	if strings.Contains(key, s.match) {
		return storage.ObjectInfo{}, errors.New("injected write failure")
	}
	return s.Store.Put(ctx, key, r, size, o)
}

// failPuts makes the App's stores whose dest contains destMatch fail every
// Put of a key containing keyMatch.
func failPuts(destMatch, keyMatch string) func(*App) {
	return func(a *App) {
		open := a.NewStore
		a.NewStore = func(ctx context.Context, cfg *config.Config) (storage.Store, error) {
			st, err := open(ctx, cfg)
			if err != nil || !strings.Contains(cfg.Dest, destMatch) {
				return st, err
			}
			return failingStore{Store: st, match: keyMatch}, nil
		}
	}
}

func decodeSummary(t *testing.T, b []byte) backup.Summary {
	t.Helper()
	var s backup.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("ping body is not a run summary: %v: %q", err, b)
	}
	return s
}

// checkPings asserts a start ping then an end ping on base+endSuffix, and
// returns the end ping's body as a summary.
func checkPings(t *testing.T, got []pingReq, base, endSuffix string) backup.Summary {
	t.Helper()
	if len(got) != 2 {
		t.Fatalf("pings %+v, want start and end", got)
	}
	if got[0].method != http.MethodPost || got[0].path != base+"/start" || len(got[0].body) != 0 {
		t.Errorf("start ping: %s %s %q", got[0].method, got[0].path, got[0].body)
	}
	if got[1].method != http.MethodPost || got[1].path != base+endSuffix {
		t.Errorf("end ping: %s %s, want POST %s", got[1].method, got[1].path, base+endSuffix)
	}
	return decodeSummary(t, got[1].body)
}

func TestPingsOfARun(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 20})
	ps := newPingServer(t)
	const base = "/ping/check-key-Qm4"
	t.Setenv("BACKUP_CREATOR_NOTIFY_PING_URL", ps.url+base)

	// Success: /start, then the check's URL with the summary.
	code, sum, errOut := h.runJSON()
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	s := checkPings(t, ps.take(), base, "")
	if s.Status != backup.StatusComplete || s.Backup != sum.Backup || s.Blocks != sum.Blocks || s.ExitCode != 0 {
		t.Errorf("success ping body %+v, want the run summary %+v", s, sum)
	}
	if strings.Contains(errOut, "check-key-Qm4") {
		t.Error("the ping URL (a secret) appears in the log")
	}

	// Partial: /fail with the summary.
	for _, id := range sortedIDs(contentBlockIDs(t, h.emu))[:4] {
		if err := h.emu.UpdateAsset(h.emu.DefaultMID(), id, func(a *sfmctest.AssetSpec) { a.Content += " v2" }); err != nil {
			t.Fatal(err)
		}
	}
	code, _, errOut = h.runApp(failPuts("", "/"+repo.BlocksDir+"/"), "run", "--dest", h.dest, "--json", "--log-format", "json")
	if code != ExitPartial {
		t.Fatalf("exit %d, want 3: %s", code, errOut)
	}
	s = checkPings(t, ps.take(), base, "/fail")
	if s.Status != "partial" || s.ExitCode != ExitPartial || s.Failed == 0 {
		t.Errorf("partial ping body %+v", s)
	}

	// Failure (authentication): /fail with the summary.
	t.Setenv("SFMC_CLIENT_SECRET", "wrong")
	code, _, _ = h.runJSON()
	if code != ExitAuth {
		t.Fatalf("exit %d, want 4", code)
	}
	s = checkPings(t, ps.take(), base, "/fail")
	if s.Status != backup.StatusFailed || s.ExitCode != ExitAuth || s.Error == "" {
		t.Errorf("failure ping body %+v", s)
	}

	// A dry run is not reported.
	t.Setenv("SFMC_CLIENT_SECRET", h.emu.ClientSecret())
	if code, _, errOut := h.run("run", "--dest", h.dest, "--dry-run"); code != ExitOK {
		t.Fatalf("dry run exit %d: %s", code, errOut)
	}
	if got := ps.take(); len(got) != 0 {
		t.Errorf("a dry run pinged: %+v", got)
	}
}

func TestDeadOrHangingPingLeavesExitCode(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 10})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String() + "/ping/dead-key"
	l.Close()

	release := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release // never answers while the run lasts
	}))
	t.Cleanup(hanging.Close)
	t.Cleanup(func() { close(release) }) // runs first: lets the handlers return
	t.Setenv("BACKUP_CREATOR_NOTIFY_TIMEOUT", "200ms")

	for name, url := range map[string]string{"refused": dead, "hanging": hanging.URL + "/ping/hang-key"} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("BACKUP_CREATOR_NOTIFY_PING_URL", url)
			code, sum, errOut := h.runJSON("--full")
			if code != ExitOK || sum.Status != backup.StatusComplete {
				t.Fatalf("a %s ping changed the outcome: exit %d, %+v\n%s", name, code, sum, errOut)
			}
			if n := strings.Count(errOut, "health-check ping not delivered"); n != 2 {
				t.Errorf("%d ping warnings, want 2 (start and success):\n%s", n, errOut)
			}
			code, _, errOut = h.runApp(failPuts("", repo.StateKey), "run", "--dest", h.dest, "--full", "--json", "--log-format", "json")
			if code != ExitFailure {
				t.Fatalf("failed run with a %s ping: exit %d, want 1\n%s", name, code, errOut)
			}
		})
	}
}

func TestPingPerBusinessUnit(t *testing.T) {
	h := newHarness(t, sfmctest.Options{MIDs: []int64{100001, 100002}})
	h.emu.Seed(sfmctest.SeedOptions{MID: 100001, ExtraBlocks: 10})
	h.emu.Seed(sfmctest.SeedOptions{MID: 100002, ExtraBlocks: 15})
	ps := newPingServer(t)
	t.Setenv("BACKUP_CREATOR_NOTIFY_PING_URL", ps.url+"/ping/key-Xy/bc-{account_id}")
	t.Setenv("BACKUP_CREATOR_ACCOUNT_IDS", "100001,999999,100002")
	t.Setenv("BACKUP_CREATOR_BU_CONCURRENCY", "2")
	code, out, errOut := h.run("run", "--dest", h.dest, "--json", "--log-format", "json")
	if code == ExitOK {
		t.Fatalf("an unknown MID did not fail: %s", errOut)
	}
	byPath := map[string]pingReq{}
	for _, r := range ps.take() {
		byPath[r.path] = r
	}
	if len(byPath) != 6 {
		t.Errorf("pings %v, want start and end for each of 3 units", byPath)
	}
	for _, c := range []struct{ mid, end string }{{"100001", ""}, {"100002", ""}, {"999999", "/fail"}} {
		base := "/ping/key-Xy/bc-" + c.mid
		if _, ok := byPath[base+"/start"]; !ok {
			t.Errorf("unit %s: no start ping", c.mid)
		}
		end, ok := byPath[base+c.end]
		if !ok {
			t.Errorf("unit %s: no ping on %s", c.mid, base+c.end)
			continue
		}
		if s := decodeSummary(t, end.body); !strings.HasSuffix(s.Destination, "mid-"+c.mid) {
			t.Errorf("unit %s: end ping carries another unit's summary: %+v", c.mid, s)
		}
	}
	var m MultiSummary
	if err := json.Unmarshal([]byte(out), &m); err != nil || len(m.BusinessUnits) != 3 {
		t.Fatalf("summary %s: %v", out, err)
	}
}

func TestPingURLWithPlaceholderNeedsAMID(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	t.Setenv("BACKUP_CREATOR_NOTIFY_PING_URL", "https://hc.example/ping/key/{account_id}")
	code, _, errOut := h.run("run", "--dest", h.dest)
	if code != ExitUsage || !strings.Contains(errOut, "no MID is configured") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

// readProm parses a textfile with the Prometheus text parser.
func readProm(t *testing.T, path string) map[string]map[string]float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("%s does not parse: %v", path, err)
	}
	out := map[string]map[string]float64{}
	for name, fam := range fams {
		out[name] = map[string]float64{}
		for _, m := range fam.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "account_id" {
					out[name][l.GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
	}
	return out
}

// pushGateway is a Pushgateway stand-in recording every push.
type pushGateway struct {
	url    string
	mu     sync.Mutex
	pushes []pushed
}

type pushed struct {
	method, path string
	fams         map[string]float64
}

func newPushGateway(t *testing.T) *pushGateway {
	g := &pushGateway{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dec := expfmt.NewDecoder(r.Body, expfmt.ResponseFormat(r.Header))
		fams := map[string]float64{}
		for {
			var mf dto.MetricFamily
			if err := dec.Decode(&mf); err != nil {
				if !errors.Is(err, io.EOF) {
					t.Errorf("push body: %v", err)
				}
				break
			}
			fams[mf.GetName()] = mf.GetMetric()[0].GetGauge().GetValue()
		}
		g.mu.Lock()
		g.pushes = append(g.pushes, pushed{r.Method, r.URL.Path, fams})
		g.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	g.url = srv.URL
	return g
}

func (g *pushGateway) take() map[string]pushed {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := map[string]pushed{}
	for _, p := range g.pushes {
		out[p.path] = p
	}
	g.pushes = nil
	return out
}

func unixSeconds(s *backup.Summary) float64 { return float64(s.FinishedAt.UnixNano()) / 1e9 }

func TestMetricsTextfileAndPushgateway(t *testing.T) {
	h := newHarness(t, sfmctest.Options{MIDs: []int64{100001, 100002}})
	h.emu.Seed(sfmctest.SeedOptions{MID: 100001, ExtraBlocks: 10})
	h.emu.Seed(sfmctest.SeedOptions{MID: 100002, ExtraBlocks: 15})
	prom := filepath.Join(t.TempDir(), "backup-creator.prom")
	gw := newPushGateway(t)
	t.Setenv("BACKUP_CREATOR_ACCOUNT_IDS", "100001,100002")
	t.Setenv("BACKUP_CREATOR_METRICS_TEXTFILE", prom)
	t.Setenv("BACKUP_CREATOR_METRICS_PUSHGATEWAY_URL", gw.url)

	code, out, errOut := h.run("run", "--dest", h.dest, "--json", "--log-format", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var first MultiSummary
	if err := json.Unmarshal([]byte(out), &first); err != nil {
		t.Fatal(err)
	}
	m := readProm(t, prom)
	for _, name := range []string{metrics.LastSuccess, metrics.LastRun, metrics.ExitCode, metrics.Duration,
		metrics.Blocks, metrics.Bytes, metrics.Deleted, metrics.SFMCRequests} {
		if len(m[name]) != 2 {
			t.Errorf("%s: %v, want one series per unit", name, m[name])
		}
	}
	for _, bu := range first.BusinessUnits {
		mid, s := bu.AccountID, bu.Summary
		if v := m[metrics.LastSuccess][mid]; math.Abs(v-unixSeconds(s)) > 1e-3 {
			t.Errorf("%s last success %v, want %v", mid, v, unixSeconds(s))
		}
		if m[metrics.Blocks][mid] != float64(s.Blocks) || m[metrics.Bytes][mid] != float64(s.Bytes) ||
			m[metrics.ExitCode][mid] != 0 || m[metrics.SFMCRequests][mid] != float64(requestTotal(s)) || m[metrics.SFMCRequests][mid] == 0 {
			t.Errorf("%s metrics %v do not match the summary %+v", mid, m, s)
		}
	}
	pushes := gw.take()
	for _, mid := range []string{"100001", "100002"} {
		p, ok := pushes["/metrics/job/backup_creator/account_id/"+mid]
		if !ok || p.method != http.MethodPut || len(p.fams) != 8 {
			t.Errorf("push for %s: %+v (ok %v), want a PUT of 8 metrics", mid, p, ok)
		}
	}

	// Unit 100002 cannot write to its destination: it fails, and its last
	// success stays what it was.
	code, out, errOut = h.runApp(failPuts("mid-100002", ""), "run", "--dest", h.dest, "--json", "--log-format", "json")
	if code != ExitFailure {
		t.Fatalf("exit %d, want 1: %s", code, errOut)
	}
	var second MultiSummary
	if err := json.Unmarshal([]byte(out), &second); err != nil {
		t.Fatal(err)
	}
	old := m
	m = readProm(t, prom)
	if m[metrics.LastSuccess]["100002"] != old[metrics.LastSuccess]["100002"] {
		t.Errorf("a failed run changed last success from %v to %v", old[metrics.LastSuccess]["100002"], m[metrics.LastSuccess]["100002"])
	}
	if m[metrics.ExitCode]["100002"] != ExitFailure || m[metrics.LastRun]["100002"] < old[metrics.LastRun]["100002"] {
		t.Errorf("failed unit: exit %v, last run %v (was %v)", m[metrics.ExitCode]["100002"], m[metrics.LastRun]["100002"], old[metrics.LastRun]["100002"])
	}
	if v := m[metrics.LastSuccess]["100001"]; math.Abs(v-unixSeconds(second.BusinessUnits[0].Summary)) > 1e-3 || v <= old[metrics.LastSuccess]["100001"] {
		t.Errorf("the unit that succeeded again has last success %v", v)
	}
	pushes = gw.take()
	if p := pushes["/metrics/job/backup_creator/account_id/100002"]; p.method != http.MethodPost || len(p.fams) != 7 {
		t.Errorf("failed unit push %+v, want a POST of 7 metrics", p)
	} else if _, ok := p.fams[metrics.LastSuccess]; ok || p.fams[metrics.ExitCode] != ExitFailure {
		t.Errorf("failed unit push %+v: must not carry last success", p)
	}
	if p := pushes["/metrics/job/backup_creator/account_id/100001"]; p.method != http.MethodPut {
		t.Errorf("successful unit push %+v, want PUT", p)
	}
}

func TestDeadMetricsTargetsLeaveExitCode(t *testing.T) {
	h := newHarness(t, sfmctest.Options{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	t.Setenv("BACKUP_CREATOR_METRICS_PUSHGATEWAY_URL", dead)
	t.Setenv("BACKUP_CREATOR_METRICS_TEXTFILE", filepath.Join(t.TempDir(), "missing-dir", "m.prom"))
	code, _, errOut := h.runJSON()
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, w := range []string{"metrics textfile not written", "metrics not pushed"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("no warning %q:\n%s", w, errOut)
		}
	}
}
