package cmd

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/rs/zerolog"

	"github.com/backup-creator/backup-creator/pkg/config"
	"github.com/backup-creator/backup-creator/pkg/redact"
	"github.com/backup-creator/backup-creator/pkg/sfmc"
	"github.com/backup-creator/backup-creator/pkg/storage"
	"github.com/backup-creator/backup-creator/pkg/storage/azblob"
	"github.com/backup-creator/backup-creator/pkg/storage/gcs"
	"github.com/backup-creator/backup-creator/pkg/storage/local"
	"github.com/backup-creator/backup-creator/pkg/storage/s3"
)

// DefaultApp wires the real dependencies.
func DefaultApp(stdout, stderr io.Writer, build BuildInfo) *App {
	a := &App{
		Out: stdout, Err: stderr,
		ErrIsTTY: isTerminal(stderr), OutIsTTY: isTerminal(stdout),
		Build:    build,
		NewStore: openStore,
		red:      redact.New(),
	}
	a.NewSource = func(cfg *config.Config, log zerolog.Logger, userAgent string) (Source, error) {
		c, err := sfmc.New(a.sfmcConfig(cfg, log, userAgent))
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	return a
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// sfmcConfig maps the configuration onto the client's; the clients of one
// run over several business units share its request budget, and every
// token they receive is registered with the App's redactor.
func (a *App) sfmcConfig(cfg *config.Config, log zerolog.Logger, userAgent string) sfmc.Config {
	return sfmc.Config{
		Redactor:         a.redactor(),
		AuthURL:          cfg.SFMC.AuthURL,
		ClientID:         cfg.SFMC.ClientID,
		ClientSecret:     cfg.SFMC.ClientSecret.Value(),
		AccountID:        cfg.SFMC.AccountID,
		AllowAnyEndpoint: cfg.SFMC.AllowAnyEndpoint,
		PageSize:         cfg.SFMC.PageSize,
		ListConcurrency:  cfg.SFMC.ListConcurrency,
		MaxAttempts:      cfg.SFMC.MaxAttempts,
		RequestTimeout:   cfg.SFMC.RequestTimeout,
		RetryBaseDelay:   cfg.SFMC.RetryBaseDelay,
		RetryMaxDelay:    cfg.SFMC.RetryMaxDelay,
		MaxRetryAfter:    cfg.SFMC.MaxRetryAfter,
		MaxResponseBytes: cfg.SFMC.MaxResponseBytes,
		MaxItemBytes:     cfg.SFMC.MaxItemBytes,
		UserAgent:        userAgent,
		Logger:           log,
		Budget:           a.budget,
	}
}

// openStore opens the destination named by cfg.Dest: a plain switch on the
// scheme, the only place that knows the concrete backends. The backend's
// configuration comes from cfg.Backend, the check config validate runs too.
func openStore(ctx context.Context, cfg *config.Config) (storage.Store, error) {
	b, err := cfg.Backend()
	if err != nil {
		return nil, &ConfigError{Err: err}
	}
	switch b.Scheme {
	case "file":
		return local.New(ctx, b.Local)
	case "s3":
		return s3.New(ctx, b.S3)
	case "gs":
		return gcs.New(ctx, b.GCS)
	case "azblob":
		return azblob.New(ctx, b.Azblob)
	default:
		return nil, &ConfigError{Err: fmt.Errorf("dest %s: unknown scheme %q", cfg.Dest, b.Scheme)}
	}
}

// redactor returns the App's redactor, making one for an App built without
// DefaultApp.
func (a *App) redactor() *redact.Redactor {
	if a.red == nil {
		a.red = redact.New()
	}
	return a.red
}

// cloudSecretEnv are the cloud SDKs' secret variables; their values are
// removed from every output like the SFMC secret.
var cloudSecretEnv = []string{"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AZURE_STORAGE_CONNECTION_STRING",
	"AZURE_STORAGE_KEY", "AZURE_CLIENT_SECRET", "AZURE_STORAGE_SAS_TOKEN"}

// registerSecrets teaches the redactor the configured secrets.
func (a *App) registerSecrets(cfg *config.Config) {
	r := a.redactor()
	r.Add(cfg.SFMC.ClientSecret.Value(), cfg.Notify.SlackWebhookURL.Value(), cfg.Notify.WebhookURL.Value(),
		cfg.Notify.PingURL.Value(), cfg.Metrics.PushgatewayURL.Value(), cfg.Notify.SMTP.Password.Value())
	for _, k := range cloudSecretEnv {
		r.Add(os.Getenv(k))
	}
}
