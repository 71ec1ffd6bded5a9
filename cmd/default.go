package cmd

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/rs/zerolog"

	"github.com/backup-creator/backup-creator/pkg/config"
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
// run over several business units share its request budget.
func (a *App) sfmcConfig(cfg *config.Config, log zerolog.Logger, userAgent string) sfmc.Config {
	return sfmc.Config{
		AuthURL:          cfg.SFMC.AuthURL,
		ClientID:         cfg.SFMC.ClientID,
		ClientSecret:     cfg.SFMC.ClientSecret.Value(),
		AccountID:        cfg.SFMC.AccountID,
		AllowAnyEndpoint: cfg.SFMC.AllowAnyEndpoint,
		PageSize:         cfg.SFMC.PageSize,
		MaxAttempts:      cfg.SFMC.MaxAttempts,
		RequestTimeout:   cfg.SFMC.RequestTimeout,
		RetryBaseDelay:   cfg.SFMC.RetryBaseDelay,
		RetryMaxDelay:    cfg.SFMC.RetryMaxDelay,
		MaxRetryAfter:    cfg.SFMC.MaxRetryAfter,
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
