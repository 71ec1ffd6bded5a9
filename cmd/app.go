package cmd

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/viper"

	"github.com/backup-creator/backup-creator/pkg/backup"
	"github.com/backup-creator/backup-creator/pkg/config"
	"github.com/backup-creator/backup-creator/pkg/redact"
	"github.com/backup-creator/backup-creator/pkg/sfmc"
	"github.com/backup-creator/backup-creator/pkg/storage"
)

// BuildInfo is set by the linker in release builds (see .goreleaser.yaml).
type BuildInfo struct {
	Version, Commit, Date string
}

// Source is the SFMC client as the commands use it: the engine's Source plus
// the request counters for the run summary.
type Source interface {
	backup.Source
	Stats() map[string]int64
}

// App is the composition root: every real dependency is built here, and tests
// swap the factories and streams.
type App struct {
	Out, Err io.Writer
	// ErrIsTTY tells whether Err is a terminal (console logs, progress).
	ErrIsTTY bool
	// OutIsTTY tells whether Out is a terminal (tables vs plain output).
	OutIsTTY bool
	Build    BuildInfo
	Now      func() time.Time

	// NewSource builds the SFMC client from the configuration.
	NewSource func(cfg *config.Config, log zerolog.Logger, userAgent string) (Source, error)
	// NewStore opens the destination.
	NewStore func(ctx context.Context, cfg *config.Config) (storage.Store, error)
	// HTTPClient sends notifications (nil: http.DefaultClient).
	HTTPClient *http.Client

	// red removes secrets from everything the commands print or send: every
	// log line (the logger writes through it), the final error, the --json
	// summary and notifications. It learns the configured secrets in setup
	// and every SFMC access token as the client receives it.
	red *redact.Redactor

	// Set by the root command's PersistentPreRunE.
	v           *viper.Viper
	envFromFile map[string]bool // variables the env file set
	envFileName string          // the env file read (or looked for)
	configFile  string          // the config file read; "" if none
	cfg         *config.Config
	log         zerolog.Logger
	logJSON     bool // log lines are JSON (the final error is printed as one)
	// budget is the SFMC request budget the business units of a run share
	// (nil outside a run over account_ids).
	budget *sfmc.Budget
}
