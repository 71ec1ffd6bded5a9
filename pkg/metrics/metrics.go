// Package metrics reports the outcome of backup runs to Prometheus, the way
// batch jobs do: written to node_exporter's textfile collector
// (WriteTextfile) or pushed to a Pushgateway (Push).
//
// Every metric carries the business unit's MID as label account_id (in the
// textfile as a label of each series, on the Pushgateway as part of the
// grouping key). The one to alert on is LastSuccess: a run that did not
// succeed never resets it, so "time() - backup_creator_last_success_timestamp_seconds
// > 26*3600" fires when a nightly backup has not succeeded for a day.
package metrics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metric names.
const (
	LastSuccess  = "backup_creator_last_success_timestamp_seconds"
	LastRun      = "backup_creator_last_run_timestamp_seconds"
	ExitCode     = "backup_creator_last_run_exit_code"
	Duration     = "backup_creator_last_run_duration_seconds"
	Blocks       = "backup_creator_last_run_blocks"
	Bytes        = "backup_creator_last_run_bytes"
	Deleted      = "backup_creator_last_run_deleted"
	SFMCRequests = "backup_creator_last_run_sfmc_requests"
)

// Label is the label naming the business unit.
const Label = "account_id"

// Job is the Pushgateway job name.
const Job = "backup_creator"

// Run is the outcome of one business unit's run.
type Run struct {
	// AccountID is the MID (may be empty for a configuration without one).
	AccountID string
	// Success tells whether the run completed (exit code 0).
	Success bool
	// ExitCode is the process exit code of the unit's run.
	ExitCode int
	// Time is when the run ended.
	Time time.Time
	// Duration is how long the run took.
	Duration time.Duration
	// Blocks, Bytes and Deleted are the summary's counts.
	Blocks, Bytes, Deleted int64
	// SFMCRequests is the number of SFMC API requests sent (retries included).
	SFMCRequests int64
}

var help = map[string]string{
	LastSuccess:  "Unix time the last successful backup run of the business unit ended.",
	LastRun:      "Unix time the last backup run of the business unit ended, whatever its outcome.",
	ExitCode:     "Exit code of the last backup run (0 ok, 1 failure, 2 usage, 3 partial, 4 auth, 130 cancelled).",
	Duration:     "Duration of the last backup run in seconds.",
	Blocks:       "Content blocks backed up by the last run.",
	Bytes:        "Bytes written by the last run.",
	Deleted:      "Blocks found deleted in SFMC by the last run.",
	SFMCRequests: "SFMC API requests sent by the last run, retries included.",
}

// values returns the metrics of r that describe the run itself (all but
// LastSuccess), in a fixed order.
func (r Run) values() []struct {
	name string
	v    float64
} {
	return []struct {
		name string
		v    float64
	}{
		{LastRun, unix(r.Time)},
		{ExitCode, float64(r.ExitCode)},
		{Duration, r.Duration.Seconds()},
		{Blocks, float64(r.Blocks)},
		{Bytes, float64(r.Bytes)},
		{Deleted, float64(r.Deleted)},
		{SFMCRequests, float64(r.SFMCRequests)},
	}
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// gauges registers one gauge vector per metric name on reg.
func gauges(reg *prometheus.Registry, labels []string, names ...string) map[string]*prometheus.GaugeVec {
	out := map[string]*prometheus.GaugeVec{}
	for _, n := range names {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: n, Help: help[n]}, labels)
		reg.MustRegister(g)
		out[n] = g
	}
	return out
}

var runNames = []string{LastRun, ExitCode, Duration, Blocks, Bytes, Deleted, SFMCRequests}

// WriteTextfile writes the metrics of runs to path in the text format of
// node_exporter's textfile collector, atomically (a temporary file in the
// same directory, renamed over path). For a run that did not succeed, the
// LastSuccess value of its account_id is carried over from the file's
// previous content, so a failed run never resets it; a unit that never
// succeeded has no LastSuccess series. The units of keep that have no run
// (not started: the run was interrupted first) keep all their previous
// values; other units of the previous file are dropped. An unreadable
// previous file does not stop the write: the error returned then says so,
// after the new file is in place.
func WriteTextfile(path string, runs []Run, keep []string) error {
	prev, oldErr := ReadTextfile(path)
	old := prev[LastSuccess]
	reg := prometheus.NewRegistry()
	gs := gauges(reg, []string{Label}, append([]string{LastSuccess}, runNames...)...)
	ran := map[string]bool{}
	for _, r := range runs {
		ran[r.AccountID] = true
	}
	for _, id := range keep {
		if ran[id] {
			continue
		}
		for name, vals := range prev {
			if v, ok := vals[id]; ok && gs[name] != nil {
				gs[name].WithLabelValues(id).Set(v)
			}
		}
	}
	for _, r := range runs {
		for _, m := range r.values() {
			gs[m.name].WithLabelValues(r.AccountID).Set(m.v)
		}
		switch v, ok := old[r.AccountID]; {
		case r.Success:
			gs[LastSuccess].WithLabelValues(r.AccountID).Set(unix(r.Time))
		case ok:
			gs[LastSuccess].WithLabelValues(r.AccountID).Set(v)
		}
	}
	if err := prometheus.WriteToTextfile(path, reg); err != nil {
		return fmt.Errorf("metrics textfile %s: %w", path, err)
	}
	if oldErr != nil {
		return fmt.Errorf("metrics textfile %s: previous content unreadable, last-success values not carried over: %w", path, oldErr)
	}
	return nil
}

// ReadTextfile parses a metrics textfile: for each metric name, the value
// of each account_id. A missing file gives an empty map and no error.
func ReadTextfile(path string) (map[string]map[string]float64, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]map[string]float64{}, nil
	}
	if err != nil {
		return nil, err
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]float64{}
	for name, f := range fams {
		vals := map[string]float64{}
		for _, m := range f.GetMetric() {
			id := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == Label {
					id = l.GetValue()
				}
			}
			switch {
			case m.GetGauge() != nil:
				vals[id] = m.GetGauge().GetValue()
			case m.GetUntyped() != nil:
				vals[id] = m.GetUntyped().GetValue()
			}
		}
		out[name] = vals
	}
	return out, nil
}

// Push sends the metrics of r to the Pushgateway at gateway (a base URL
// such as http://pushgateway:9091; user:password@ in it become HTTP basic
// auth) under job Job, grouped by account_id. A successful run replaces the
// whole group (PUT) with every metric, LastSuccess included; any other run
// only adds (POST) the metrics describing it, without LastSuccess, so the
// Pushgateway keeps the last success — its documented pattern for batch
// jobs. The push is bounded by timeout and ends with ctx. Errors never
// contain the password.
func Push(ctx context.Context, client *http.Client, gateway string, r Run, timeout time.Duration) error {
	u, err := url.Parse(gateway)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("metrics.pushgateway_url is not an http(s) URL")
	}
	where := "pushgateway " + u.Scheme + "://" + u.Host
	var user *url.Userinfo
	user, u.User = u.User, nil
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	if client == nil {
		client = &http.Client{}
	}

	reg := prometheus.NewRegistry()
	names := runNames
	if r.Success {
		names = append([]string{LastSuccess}, runNames...)
	}
	gs := gauges(reg, nil, names...)
	for _, m := range r.values() {
		gs[m.name].WithLabelValues().Set(m.v)
	}
	if r.Success {
		gs[LastSuccess].WithLabelValues().Set(unix(r.Time))
	}
	p := push.New(u.String(), Job).Grouping(Label, r.AccountID).Gatherer(reg).Client(client)
	if user != nil {
		pw, _ := user.Password()
		p = p.BasicAuth(user.Username(), pw)
	}
	if r.Success {
		err = p.PushContext(ctx)
	} else {
		err = p.AddContext(ctx)
	}
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("%s: %w", where, err)
	}
	return nil
}
