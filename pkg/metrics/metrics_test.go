package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/backup-creator/backup-creator/pkg/metrics"
)

var allNames = []string{metrics.LastSuccess, metrics.LastRun, metrics.ExitCode, metrics.Duration,
	metrics.Blocks, metrics.Bytes, metrics.Deleted, metrics.SFMCRequests}

var t0 = time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)

func okRun(mid string, at time.Time) metrics.Run {
	return metrics.Run{AccountID: mid, Success: true, ExitCode: 0, Time: at, Duration: 41500 * time.Millisecond,
		Blocks: 12, Bytes: 4096, Deleted: 2, SFMCRequests: 7}
}

// parse reads the textfile with the Prometheus text parser.
func parse(t *testing.T, path string) map[string]*dto.MetricFamily {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("textfile does not parse: %v", err)
	}
	return fams
}

func value(t *testing.T, fams map[string]*dto.MetricFamily, name, mid string) (float64, bool) {
	t.Helper()
	f := fams[name]
	if f == nil {
		return 0, false
	}
	if f.GetType() != dto.MetricType_GAUGE {
		t.Errorf("%s is a %s, want a gauge", name, f.GetType())
	}
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != 1 || m.GetLabel()[0].GetName() != "account_id" {
			t.Errorf("%s: labels %v, want only account_id", name, m.GetLabel())
		}
		if m.GetLabel()[0].GetValue() == mid {
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

func TestTextfileKeepsLastSuccessAcrossFailures(t *testing.T) {
	path := filepath.Join(t.TempDir(), "backup-creator.prom")
	if err := metrics.WriteTextfile(path, []metrics.Run{okRun("100001", t0), okRun("100002", t0)}, nil); err != nil {
		t.Fatal(err)
	}
	fams := parse(t, path)
	for _, name := range allNames {
		if fams[name] == nil {
			t.Errorf("metric %s missing", name)
		}
	}
	want := map[string]float64{
		metrics.LastSuccess: float64(t0.Unix()), metrics.LastRun: float64(t0.Unix()), metrics.ExitCode: 0,
		metrics.Duration: 41.5, metrics.Blocks: 12, metrics.Bytes: 4096, metrics.Deleted: 2, metrics.SFMCRequests: 7,
	}
	for name, w := range want {
		if v, ok := value(t, fams, name, "100001"); !ok || v != w {
			t.Errorf("%s{account_id=100001} = %v (%v), want %v", name, v, ok, w)
		}
	}

	// A day later unit 100001 fails and unit 100003 (new) fails too.
	t1 := t0.Add(24 * time.Hour)
	failed := metrics.Run{AccountID: "100001", ExitCode: 3, Time: t1, Duration: time.Second, Blocks: 5}
	if err := metrics.WriteTextfile(path, []metrics.Run{failed, okRun("100002", t1),
		{AccountID: "100003", ExitCode: 4, Time: t1}}, nil); err != nil {
		t.Fatal(err)
	}
	fams = parse(t, path)
	for _, c := range []struct {
		name, mid string
		want      float64
	}{
		{metrics.LastSuccess, "100001", float64(t0.Unix())}, // kept, not reset
		{metrics.LastRun, "100001", float64(t1.Unix())},
		{metrics.ExitCode, "100001", 3},
		{metrics.Blocks, "100001", 5},
		{metrics.LastSuccess, "100002", float64(t1.Unix())},
		{metrics.ExitCode, "100003", 4},
	} {
		if v, ok := value(t, fams, c.name, c.mid); !ok || v != c.want {
			t.Errorf("%s{account_id=%s} = %v (%v), want %v", c.name, c.mid, v, ok, c.want)
		}
	}
	if _, ok := value(t, fams, metrics.LastSuccess, "100003"); ok {
		t.Error("a unit that never succeeded has a last-success value")
	}
	if m, _ := os.ReadDir(filepath.Dir(path)); len(m) != 1 {
		t.Errorf("temporary files left behind: %v", m)
	}
}

// A unit the run did not get to (interrupted first) keeps its series; a unit
// no longer configured is dropped.
func TestTextfileKeepsUnitsNotRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.prom")
	if err := metrics.WriteTextfile(path, []metrics.Run{okRun("1", t0), okRun("2", t0), okRun("3", t0)}, nil); err != nil {
		t.Fatal(err)
	}
	t1 := t0.Add(time.Hour)
	if err := metrics.WriteTextfile(path, []metrics.Run{okRun("1", t1)}, []string{"1", "2"}); err != nil {
		t.Fatal(err)
	}
	fams := parse(t, path)
	for _, c := range []struct {
		name, mid string
		want      float64
		ok        bool
	}{
		{metrics.LastSuccess, "1", float64(t1.Unix()), true},
		{metrics.LastSuccess, "2", float64(t0.Unix()), true},
		{metrics.Blocks, "2", 12, true},
		{metrics.LastRun, "2", float64(t0.Unix()), true},
		{metrics.LastSuccess, "3", 0, false},
		{metrics.Blocks, "3", 0, false},
	} {
		if v, ok := value(t, fams, c.name, c.mid); ok != c.ok || v != c.want {
			t.Errorf("%s{account_id=%s} = %v (%v), want %v (%v)", c.name, c.mid, v, ok, c.want, c.ok)
		}
	}
}

func TestTextfileUnreadablePreviousContent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.prom")
	if err := os.WriteFile(path, []byte("this is { not the text format\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := metrics.WriteTextfile(path, []metrics.Run{okRun("1", t0)}, nil)
	if err == nil || !strings.Contains(err.Error(), "previous content unreadable") {
		t.Fatalf("err = %v", err)
	}
	if v, ok := value(t, parse(t, path), metrics.LastSuccess, "1"); !ok || v != float64(t0.Unix()) {
		t.Errorf("new file not written: %v %v", v, ok)
	}
}

func TestTextfileUnwritableDirectory(t *testing.T) {
	err := metrics.WriteTextfile(filepath.Join(t.TempDir(), "missing", "m.prom"), []metrics.Run{okRun("1", t0)}, nil)
	if err == nil {
		t.Fatal("no error for a missing directory")
	}
}

type pushReq struct {
	method, path, user, pass string
	fams                     map[string]*dto.MetricFamily
}

// gateway is a Pushgateway stand-in: it decodes every push.
func gateway(t *testing.T, got chan<- pushReq) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dec := expfmt.NewDecoder(r.Body, expfmt.ResponseFormat(r.Header))
		fams := map[string]*dto.MetricFamily{}
		for {
			var mf dto.MetricFamily
			if err := dec.Decode(&mf); err != nil {
				if !errors.Is(err, io.EOF) {
					t.Errorf("push body: %v", err)
				}
				break
			}
			fams[mf.GetName()] = &mf
		}
		u, p, _ := r.BasicAuth()
		got <- pushReq{r.Method, r.URL.EscapedPath(), u, p, fams}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func gaugeValue(t *testing.T, fams map[string]*dto.MetricFamily, name string) float64 {
	t.Helper()
	f := fams[name]
	if f == nil || len(f.GetMetric()) != 1 {
		t.Fatalf("pushed %s: %v", name, f)
	}
	if l := f.GetMetric()[0].GetLabel(); len(l) != 0 {
		t.Errorf("%s carries labels %v of its own (account_id belongs in the grouping key)", name, l)
	}
	return f.GetMetric()[0].GetGauge().GetValue()
}

func TestPushSuccessReplacesFailureAdds(t *testing.T) {
	got := make(chan pushReq, 2)
	srv := gateway(t, got)

	if err := metrics.Push(t.Context(), srv.Client(), srv.URL, okRun("100001", t0), time.Minute); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.method != http.MethodPut || r.path != "/metrics/job/backup_creator/account_id/100001" {
		t.Errorf("success push: %s %s, want PUT /metrics/job/backup_creator/account_id/100001", r.method, r.path)
	}
	if len(r.fams) != len(allNames) {
		t.Errorf("success push has %d metrics, want %d", len(r.fams), len(allNames))
	}
	if v := gaugeValue(t, r.fams, metrics.LastSuccess); v != float64(t0.Unix()) {
		t.Errorf("last success %v", v)
	}
	if v := gaugeValue(t, r.fams, metrics.Blocks); v != 12 {
		t.Errorf("blocks %v", v)
	}

	failed := metrics.Run{AccountID: "100002", ExitCode: 1, Time: t0, Blocks: 3}
	if err := metrics.Push(t.Context(), srv.Client(), srv.URL+"/", failed, time.Minute); err != nil {
		t.Fatal(err)
	}
	r = <-got
	if r.method != http.MethodPost || r.path != "/metrics/job/backup_creator/account_id/100002" {
		t.Errorf("failure push: %s %s, want POST …/account_id/100002", r.method, r.path)
	}
	if _, ok := r.fams[metrics.LastSuccess]; ok {
		t.Error("a failed run pushed the last-success gauge (it would erase the previous success)")
	}
	var names []string
	for n := range r.fams {
		names = append(names, n)
	}
	slices.Sort(names)
	want := slices.Clone(allNames[1:])
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("failure push metrics %v, want %v", names, want)
	}
	if v := gaugeValue(t, r.fams, metrics.ExitCode); v != 1 {
		t.Errorf("exit code %v", v)
	}
}

func TestPushBasicAuthAndErrors(t *testing.T) {
	got := make(chan pushReq, 1)
	srv := gateway(t, got)
	withAuth := strings.Replace(srv.URL, "http://", "http://pgw:s3cret-Pw@", 1)
	if err := metrics.Push(t.Context(), srv.Client(), withAuth, okRun("7", t0), time.Minute); err != nil {
		t.Fatal(err)
	}
	if r := <-got; r.user != "pgw" || r.pass != "s3cret-Pw" {
		t.Errorf("basic auth %q %q", r.user, r.pass)
	}

	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
	}))
	defer bad.Close()
	err := metrics.Push(t.Context(), bad.Client(), strings.Replace(bad.URL, "http://", "http://pgw:s3cret-Pw@", 1), okRun("7", t0), time.Minute)
	if err == nil || strings.Contains(err.Error(), "s3cret-Pw") {
		t.Errorf("400 answer: %v", err)
	}
	if err := metrics.Push(t.Context(), nil, "pushgateway:9091", okRun("7", t0), time.Minute); err == nil {
		t.Error("a URL without scheme was accepted")
	}
}

func TestPushHangingGatewayIsBounded(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	err := metrics.Push(t.Context(), srv.Client(), srv.URL, okRun("7", t0), 50*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hanging gateway: %v", err)
	}
}
