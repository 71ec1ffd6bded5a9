package cmd

import (
	"context"
	"net/http"
	"os"

	"github.com/backup-creator/backup-creator/pkg/backup"
	"github.com/backup-creator/backup-creator/pkg/config"
	"github.com/backup-creator/backup-creator/pkg/notify"
)

// notifyConfig maps the configuration onto pkg/notify's.
func notifyConfig(cfg *config.Config) notify.Config {
	n := cfg.Notify
	return notify.Config{
		SlackWebhookURL: n.SlackWebhookURL.Value(),
		WebhookURL:      n.WebhookURL.Value(),
		On:              n.On,
		Timeout:         n.Timeout,
		PingURL:         n.PingURL.Value(),
		SMTP: notify.SMTPConfig{
			Host: n.SMTP.Host, Port: n.SMTP.Port, Username: n.SMTP.Username, Password: n.SMTP.Password.Value(),
			From: n.SMTP.From, To: n.SMTP.To, StartTLS: n.SMTP.StartTLS,
		},
	}
}

func (a *App) sendNotification(ctx context.Context, ev notify.Event) {
	nc := notifyConfig(a.cfg)
	if !notify.ShouldSend(nc, ev) {
		return
	}
	nc.Redact = a.redactor().String
	ev.Host, _ = os.Hostname()
	ev.Version = a.versionOrDev()
	client := a.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	// A notification is sent also after SIGTERM or --timeout: on a context
	// of its own, bounded by notify.timeout.
	for _, err := range notify.Send(context.WithoutCancel(ctx), nc, ev, client) {
		a.log.Warn().Err(err).Msg("notification not delivered (the backup's outcome is unchanged)")
	}
}

// notify reports one run's outcome.
func (a *App) notify(ctx context.Context, sum *backup.Summary, err error) {
	a.sendNotification(ctx, notify.Event{
		Status: eventStatus(sum.Status, err), ExitCode: ExitCode(err), Error: errString(err),
		Backup: sum.Backup, Destination: sum.Destination, Summary: sum,
	})
}

// notifyMulti reports a run over several business units in one message.
func (a *App) notifyMulti(ctx context.Context, m *MultiSummary, err error) {
	status := notify.StatusComplete
	if err != nil {
		status = eventStatus(backup.StatusFailed, err)
	}
	a.sendNotification(ctx, notify.Event{Status: status, ExitCode: m.ExitCode, Error: errString(err), Destination: a.cfg.Dest, Summary: m})
}

func eventStatus(status string, err error) string {
	switch {
	case err == nil && status == backup.StatusDryRun:
		return notify.StatusDryRun
	case err == nil:
		return notify.StatusComplete
	}
	switch ExitCode(err) {
	case ExitPartial:
		return notify.StatusPartial
	case ExitInterrupted:
		return notify.StatusInterrupted
	default:
		return notify.StatusFailed
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
