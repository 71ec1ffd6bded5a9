// Package cmd holds backup-creator's cobra commands. Commands only parse
// flags, load the configuration, wire dependencies (App), call pkg/backup and
// render results; Execute maps errors to the documented exit codes.
package cmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/backup-creator/backup-creator/pkg/config"
)

// Execute runs the command line args and returns the exit code. It is the
// only entry point main calls.
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer, build BuildInfo) int {
	app := DefaultApp(stdout, stderr, build)
	return app.Execute(ctx, args)
}

// Execute runs args against this App and returns the exit code.
func (a *App) Execute(ctx context.Context, args []string) int {
	root := NewRootCmd(a)
	root.SetArgs(args)
	root.SetOut(a.Out)
	root.SetErr(a.Err)
	err := root.ExecuteContext(ctx)
	code := ExitCode(err)
	if err != nil {
		var usage *UsageError
		if errors.As(err, &usage) {
			fmt.Fprintf(a.Err, "backup-creator: %v\n", err)
			fmt.Fprintln(a.Err, "Run 'backup-creator --help' for usage.")
		} else {
			// The error itself, once, for the person reading the terminal or the
			// cron mail; the structured log line carries it for log shippers.
			a.log.Error().Err(err).Int("exit_code", code).Msg("backup-creator failed")
			if !a.ErrIsTTY || a.cfg == nil {
				fmt.Fprintf(a.Err, "backup-creator: %v\n", err)
			}
		}
	}
	return code
}

// NewRootCmd builds the command tree.
func NewRootCmd(a *App) *cobra.Command {
	var configFile, envFile string
	root := &cobra.Command{
		Use:   "backup-creator",
		Short: "Back up Salesforce Marketing Cloud content blocks",
		Long: `backup-creator backs up Salesforce Marketing Cloud (SFMC) Content Builder content blocks
into local disk, Amazon S3 (and S3-compatible stores), Google Cloud Storage or Azure Blob.
Each run stores only what changed since the last successful run, in a new backup_YYYYMMDD
folder; the watermark lives in the destination, so any host can do the next run.

Credentials come from the environment (SFMC_CLIENT_ID, SFMC_CLIENT_SECRET or
SFMC_CLIENT_SECRET_FILE, SFMC_AUTH_URL, SFMC_ACCOUNT_ID), a .env file or the config file;
never from a flag.

` + exitStatusHelp,
		Version:       versionString(a.Build),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(c *cobra.Command, _ []string) error {
			return a.setup(c, configFile, envFile)
		},
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &UsageError{Err: err} })
	pf := root.PersistentFlags()
	pf.StringVar(&configFile, "config", "", "config file (YAML, JSON or TOML); default: ./backup-creator.yaml if present")
	pf.StringVar(&envFile, "env-file", "", "load variables not already set from this file (default: .env in the working directory, if present)")
	pf.String("log-level", "info", "log level: debug, info, warn, error")
	pf.String("log-format", "auto", "log format: json, console, or auto (console on a terminal, JSON otherwise)")

	root.AddCommand(newRunCmd(a, nil))
	root.AddCommand(newConfigCmd(a))
	root.AddCommand(newListCmd(a, nil))
	root.AddCommand(newRestoreCmd(a, nil))
	root.AddCommand(newVerifyCmd(a, nil))
	return root
}

func versionString(b BuildInfo) string {
	v := b.Version
	if v == "" {
		v = "dev"
	}
	s := "backup-creator " + v
	if b.Commit != "" {
		s += " (commit " + b.Commit
		if b.Date != "" {
			s += ", built " + b.Date
		}
		s += ")"
	}
	return s
}

// flagKeys maps flag names to configuration keys.
var flagKeys = map[string]string{
	"log-level":       "log.level",
	"log-format":      "log.format",
	"dest":            "dest",
	"types":           "types",
	"concurrency":     "concurrency",
	"timeout":         "timeout",
	"track-deletions": "track_deletions",
}

// setup loads the .env file and the configuration (flags > env > file >
// defaults) and builds the logger.
func (a *App) setup(c *cobra.Command, configFile, envFile string) error {
	if err := loadEnvFile(envFile); err != nil {
		return &UsageError{Err: err}
	}
	v := config.NewViper()
	if configFile == "" {
		if _, err := os.Stat("backup-creator.yaml"); err == nil {
			configFile = "backup-creator.yaml"
		}
	}
	if configFile != "" {
		v.SetConfigFile(configFile)
		if err := v.ReadInConfig(); err != nil {
			return usageErrorf("config file %s: %v", configFile, err)
		}
	}
	var bindErr error
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if key, ok := flagKeys[f.Name]; ok {
			if err := v.BindPFlag(key, f); err != nil && bindErr == nil {
				bindErr = err
			}
		}
	})
	if bindErr != nil {
		return bindErr
	}
	cfg, err := config.Load(v)
	if err != nil {
		return &UsageError{Err: err}
	}
	a.v, a.cfg = v, cfg
	log, err := newLogger(a.Err, cfg.Log, a.ErrIsTTY)
	if err != nil {
		return &UsageError{Err: err}
	}
	a.log = log
	return nil
}

func newLogger(w io.Writer, lc config.Log, tty bool) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(strings.ToLower(lc.Level))
	if err != nil || lc.Level == "" {
		return zerolog.Nop(), fmt.Errorf("log.level %q: use debug, info, warn or error", lc.Level)
	}
	switch lc.Format {
	case "console":
		tty = true
	case "json":
		tty = false
	case "auto", "":
	default:
		return zerolog.Nop(), fmt.Errorf("log.format %q: use json, console or auto", lc.Format)
	}
	if tty {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05"}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

// loadEnvFile sets the variables of a dotenv file that are not set already.
// An explicitly named file must exist; the default ./.env is optional.
func loadEnvFile(name string) error {
	explicit := name != ""
	if !explicit {
		name = ".env"
	}
	f, err := os.Open(name)
	if err != nil {
		if !explicit && errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("env file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		s = strings.TrimPrefix(s, "export ")
		k, val, ok := strings.Cut(s, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return fmt.Errorf("env file %s line %d: expected KEY=VALUE", name, line)
		}
		val = strings.TrimSpace(val)
		if len(val) >= 2 && (val[0] == '"' && val[len(val)-1] == '"' || val[0] == '\'' && val[len(val)-1] == '\'') {
			val = val[1 : len(val)-1]
		} else if i := strings.Index(val, " #"); i >= 0 {
			val = strings.TrimSpace(val[:i])
		}
		if _, set := os.LookupEnv(k); !set {
			if err := os.Setenv(k, val); err != nil {
				return fmt.Errorf("env file %s line %d: %w", name, line, err)
			}
		}
	}
	return sc.Err()
}
