package cmd

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/backup-creator/backup-creator/pkg/backup"
	"github.com/backup-creator/backup-creator/pkg/config"
	"github.com/backup-creator/backup-creator/pkg/metrics"
	"github.com/backup-creator/backup-creator/pkg/notify"
)

// Monitoring is never in the way: pings and metrics failures are warnings,
// each bounded by notify.timeout, and none changes the exit code.

func (a *App) httpClient() *http.Client {
	if a.HTTPClient != nil {
		return a.HTTPClient
	}
	return http.DefaultClient
}

func (a *App) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// pingPerUnit tells whether the ping URL names a check per business unit.
func pingPerUnit(cfg *config.Config) bool {
	return strings.Contains(cfg.Notify.PingURL.Value(), notify.AccountIDPlaceholder)
}

// monitorProblems lists the configuration problems of pings and metrics that
// depend on the rest of the configuration.
func monitorProblems(cfg *config.Config) []string {
	var p []string
	if pingPerUnit(cfg) && len(cfg.AccountIDs) == 0 && cfg.SFMC.AccountID == "" {
		p = append(p, "notify.ping_url contains "+notify.AccountIDPlaceholder+" but no MID is configured (sfmc.account_id or account_ids)")
	}
	return p
}

// pinger sends the pings of one check: start, then the end ping once the
// start ping is done (so they arrive in order), neither delaying the backup
// by more than notify.timeout.
type pinger struct {
	a         *App
	accountID string
	started   chan struct{}
}

// startPing sends the start ping in the background; nil when no ping is
// configured.
func (a *App) startPing(ctx context.Context, accountID string) *pinger {
	if a.cfg.Notify.PingURL == "" {
		return nil
	}
	p := &pinger{a: a, accountID: accountID, started: make(chan struct{})}
	go func() {
		defer close(p.started)
		p.send(ctx, notify.PingStart, nil)
	}()
	return p
}

// finish sends the end ping for ev with summary as body, after the start
// ping. It runs also after SIGTERM or --timeout.
func (p *pinger) finish(ctx context.Context, ev notify.Event, summary any) {
	if p == nil {
		return
	}
	<-p.started
	body, err := json.Marshal(summary)
	if err != nil {
		body = nil
	}
	// The summary carries the run's error: redacted like every notification
	// (before Ping cuts the body, so no part of a secret survives the cut).
	body = []byte(p.a.redactor().String(string(body)))
	p.send(context.WithoutCancel(ctx), notify.PingKind(ev), body)
}

func (p *pinger) send(ctx context.Context, kind string, body []byte) {
	cfg := p.a.cfg
	err := notify.Ping(ctx, p.a.httpClient(), cfg.Notify.PingURL.Value(), p.accountID, kind, body, cfg.Notify.Timeout)
	if err != nil {
		p.a.log.Warn().Err(err).Str("account_id", p.accountID).Msg("health-check ping not delivered (the backup's outcome is unchanged)")
	}
}

// unitResult is one business unit's outcome, for the metrics.
type unitResult struct {
	accountID string
	sum       *backup.Summary
	err       error
	took      time.Duration
}

// requestTotal is the number of SFMC requests of a summary (retries
// included: they are counted per endpoint; "retries" and "throttled" are
// subsets).
func requestTotal(s *backup.Summary) int64 {
	var total int64
	for k, n := range s.Requests {
		if k != "retries" && k != "throttled" {
			total += n
		}
	}
	return total
}

func (a *App) metricsRun(r unitResult) metrics.Run {
	s := r.sum
	end := s.FinishedAt
	if end.IsZero() {
		end = a.now()
	}
	took := time.Duration(s.DurationMS) * time.Millisecond
	if s.StartedAt.IsZero() {
		took = r.took
	}
	return metrics.Run{
		AccountID: r.accountID, Success: r.err == nil, ExitCode: ExitCode(r.err), Time: end, Duration: took,
		Blocks: int64(s.Blocks), Bytes: s.Bytes, Deleted: int64(s.Deleted), SFMCRequests: requestTotal(s),
	}
}

// maxPushes bounds the pushes in flight to the Pushgateway.
const maxPushes = 8

// writeMetrics writes the textfile and pushes every unit's metrics, all under
// one notify.timeout. The units of planned that did not run keep their
// previous values in the textfile.
func (a *App) writeMetrics(ctx context.Context, results []unitResult, planned []string) {
	mc := a.cfg.Metrics
	if (mc.Textfile == "" && mc.PushgatewayURL == "") || len(results) == 0 {
		return
	}
	runs := make([]metrics.Run, len(results))
	for i, r := range results {
		runs[i] = a.metricsRun(r)
	}
	if mc.Textfile != "" {
		if err := metrics.WriteTextfile(mc.Textfile, runs, planned); err != nil {
			a.log.Warn().Err(err).Msg("metrics textfile not written (the backup's outcome is unchanged)")
		}
	}
	if mc.PushgatewayURL == "" {
		return
	}
	timeout := a.cfg.Notify.Timeout
	if timeout <= 0 {
		timeout = notify.DefaultTimeout
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	sem := make(chan struct{}, maxPushes)
	var wg sync.WaitGroup
	for _, r := range runs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := metrics.Push(pctx, a.httpClient(), mc.PushgatewayURL.Value(), r, 0); err != nil {
				a.log.Warn().Err(err).Str("account_id", r.AccountID).Msg("metrics not pushed (the backup's outcome is unchanged)")
			}
		}()
	}
	wg.Wait()
}
