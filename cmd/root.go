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
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/backup-creator/backup-creator/pkg/config"
	"github.com/backup-creator/backup-creator/pkg/redact"
)

// Execute runs the command line args and returns the exit code. It is the
// only entry point main calls.
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer, build BuildInfo) int {
	app := DefaultApp(stdout, stderr, build)
	return app.Execute(ctx, args)
}

// Execute runs args against this App and returns the exit code.
func (a *App) Execute(ctx context.Context, args []string) int {
	// Several business units (and the health-check pings) log at once:
	// every write to Err is one whole line, never interleaved.
	if _, ok := a.Err.(*lockedWriter); !ok {
		a.Err = &lockedWriter{w: a.Err}
	}
	root := NewRootCmd(a)
	root.SetArgs(args)
	root.SetOut(a.Out)
	root.SetErr(a.Err)
	err := root.ExecuteContext(ctx)
	code := ExitCode(err)
	if err != nil {
		// The error, once. With JSON logs (--log-format json, or auto when
		// stderr is not a terminal, e.g. cron) it is one JSON line: what log
		// shippers parse and what the cron mail shows. Otherwise (a terminal,
		// --log-format console, or an error before the configuration chose a
		// format) it is one plain line: secrets removed (the JSON line goes
		// through the redacting writer), control characters escaped so that
		// server text cannot drive the terminal or forge a line, our own
		// problem lists kept as indented lines.
		var usage *UsageError
		switch {
		case a.logJSON && !errors.As(err, &usage):
			a.log.Error().Err(err).Int("exit_code", code).Msg("backup-creator failed")
		default:
			fmt.Fprintf(a.Err, "backup-creator: %s\n", plainLine(a.redactor().Error(err)))
		}
		if errors.As(err, &usage) {
			fmt.Fprintln(a.Err, "Run 'backup-creator --help' for usage.")
		}
	}
	return code
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
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
	// An unknown subcommand is a usage error (exit 2), with cobra's suggestions.
	root.Args = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
		if s := c.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "; did you mean " + strings.Join(s, " or ") + "?"
		}
		return &UsageError{Err: errors.New(msg)}
	}
	root.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	root.SuggestionsMinimumDistance = 2
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &UsageError{Err: err} })
	pf := root.PersistentFlags()
	pf.StringVar(&configFile, "config", "", "config file, YAML, JSON or TOML by its extension (.yaml/.yml, .json, .toml); default: ./backup-creator.yaml if present")
	pf.StringVar(&envFile, "env-file", "", "load variables not already set from this file (default: .env in the working directory, if present)")
	pf.String("log-level", "info", "log level: debug, info, warn, error")
	pf.String("log-format", "auto", "log format: json, console, or auto (console on a terminal, JSON otherwise)")

	root.AddCommand(newRunCmd(a, nil))
	root.AddCommand(newConfigCmd(a))
	root.AddCommand(newListCmd(a, nil))
	root.AddCommand(newRestoreCmd(a, nil))
	root.AddCommand(newVerifyCmd(a, nil))
	root.AddCommand(newPruneCmd(a, nil))
	root.AddCommand(newHistoryCmd(a, nil))
	root.AddCommand(newDiffCmd(a, nil))
	root.AddCommand(newShowCmd(a, nil))
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
	"shard":           "shard",
	"keep-last":       "retention.keep_last",
	"keep-hourly":     "retention.keep_hourly",
	"keep-daily":      "retention.keep_daily",
	"keep-weekly":     "retention.keep_weekly",
	"keep-monthly":    "retention.keep_monthly",
	"keep-yearly":     "retention.keep_yearly",
	"keep-within":     "retention.keep_within",
}

// setup loads the .env file and the configuration (flags > env > file >
// defaults) and builds the logger.
func (a *App) setup(c *cobra.Command, configFile, envFile string) error {
	loaded, ignored, err := loadEnvFile(envFile)
	if err != nil {
		return &ConfigError{Err: err}
	}
	a.envFromFile = loaded
	a.envFileName = envFile
	if envFile == "" {
		a.envFileName = ".env"
	}
	v := config.NewViper()
	if configFile == "" {
		if _, err := os.Stat("backup-creator.yaml"); err == nil {
			configFile = "backup-creator.yaml"
		}
	}
	a.configFile = configFile
	if configFile != "" {
		v.SetConfigFile(configFile)
		if err := v.ReadInConfig(); err != nil {
			var unsupported viper.UnsupportedConfigError
			if errors.As(err, &unsupported) {
				// The extension decides the format (viper's message is only
				// `Unsupported Config Type ""`).
				if ext := filepath.Ext(configFile); ext != "" {
					return configErrorf("config file %s: its extension decides the format, and %q is none that backup-creator reads: use .yaml or .yml (YAML), .json (JSON) or .toml (TOML)", configFile, ext)
				}
				return configErrorf("config file %s has no extension, and its extension decides the format: name it %s.yaml for YAML (or use .yml, .json or .toml)", configFile, configFile)
			}
			return configErrorf("config file %s: %w", configFile, err)
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
	var typeErr *config.TypeError
	if errors.As(err, &typeErr) {
		return invalidConfig(typeErr.Problems)
	}
	if err != nil {
		return &ConfigError{Err: err}
	}
	a.v, a.cfg = v, cfg
	a.registerSecrets(cfg)
	log, err := newLogger(a.redactor().Writer(a.Err), cfg.Log, a.ErrIsTTY)
	if err != nil {
		return &ConfigError{Err: err}
	}
	a.log = log
	a.logJSON = !consoleLog(cfg.Log.Format, a.ErrIsTTY)
	if len(ignored) > 0 {
		// Names only: a value may be a secret.
		a.log.Warn().Str("env_file", a.envFileName).Strs("ignored", ignored).
			Msg("env file: variables that are neither backup-creator settings nor cloud credentials are not set (see README, Configuration); set them in the real environment if you need them")
	}
	a.warnUnknown(c)
	for _, w := range cfg.Warnings {
		a.log.Warn().Str("problem", w).Msg("configuration warning")
	}
	return nil
}

func newLogger(w io.Writer, lc config.Log, tty bool) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(strings.ToLower(lc.Level))
	if err != nil || lc.Level == "" {
		return zerolog.Nop(), fmt.Errorf("log.level %q: use debug, info, warn or error", lc.Level)
	}
	switch lc.Format {
	case "console", "json", "auto", "":
	default:
		return zerolog.Nop(), fmt.Errorf("log.format %q: use json, console or auto", lc.Format)
	}
	if consoleLog(lc.Format, tty) {
		// Colour only on a terminal, and not when NO_COLOR is set
		// (no-color.org): a file or a cron mail gets plain text. Field
		// values with control characters are quoted by the console writer;
		// the message is not, so it is escaped here.
		noColor := !tty || os.Getenv("NO_COLOR") != ""
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05", NoColor: noColor, FormatPrepare: escapeMessage}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

// plainLine makes an error message safe for the plain stderr line: control
// characters escaped, continuation lines (joined errors, problem lists)
// indented, so text from outside cannot drive the terminal or forge a line.
func plainLine(msg string) string { return redact.EscapeLines(msg) }

// escapeMessage escapes the control characters of a console log line's
// message (JSON lines are escaped by zerolog itself).
func escapeMessage(evt map[string]any) error {
	if m, ok := evt[zerolog.MessageFieldName].(string); ok {
		evt[zerolog.MessageFieldName] = redact.Escape(m)
	}
	return nil
}

// consoleLog reports whether log.format (already checked) asks for console
// output on a stderr that is (tty) or is not a terminal.
func consoleLog(format string, tty bool) bool {
	switch format {
	case "console":
		return true
	case "json":
		return false
	}
	return tty
}

// envFileVars are the variables an env file may set besides SFMC_* and
// BACKUP_CREATOR_*: the cloud SDKs' credential (and region) variables. Not
// in it, because they redirect traffic or change whom TLS trusts: proxies
// (HTTPS_PROXY), CA bundles (SSL_CERT_FILE, AWS_CA_BUNDLE), endpoint
// overrides (AWS_ENDPOINT_URL, STORAGE_EMULATOR_HOST, AZURE_AUTHORITY_HOST);
// those belong in the real environment. README "Configuration" lists the
// same names.
var envFileVars = map[string]bool{
	"AWS_ACCESS_KEY_ID":                 true,
	"AWS_SECRET_ACCESS_KEY":             true,
	"AWS_SESSION_TOKEN":                 true,
	"AWS_PROFILE":                       true,
	"AWS_REGION":                        true,
	"AWS_DEFAULT_REGION":                true,
	"AWS_SHARED_CREDENTIALS_FILE":       true,
	"AWS_CONFIG_FILE":                   true,
	"AWS_ROLE_ARN":                      true,
	"AWS_ROLE_SESSION_NAME":             true,
	"AWS_WEB_IDENTITY_TOKEN_FILE":       true,
	"GOOGLE_APPLICATION_CREDENTIALS":    true,
	"AZURE_STORAGE_CONNECTION_STRING":   true,
	"AZURE_CLIENT_ID":                   true,
	"AZURE_TENANT_ID":                   true,
	"AZURE_CLIENT_SECRET":               true,
	"AZURE_CLIENT_CERTIFICATE_PATH":     true,
	"AZURE_CLIENT_CERTIFICATE_PASSWORD": true,
	"AZURE_FEDERATED_TOKEN_FILE":        true,
}

// envFileMaySet reports whether an env file may set the variable name.
func envFileMaySet(name string) bool {
	return strings.HasPrefix(name, "SFMC_") || strings.HasPrefix(name, config.EnvPrefix+"_") || envFileVars[name]
}

// loadEnvFile sets the variables of a dotenv file that are not set already
// and that envFileMaySet allows; it returns the ones it set and the names of
// the ones it refused. An explicitly named file must exist; the default
// ./.env is optional. A UTF-8 byte-order mark at the start is skipped.
func loadEnvFile(name string) (map[string]bool, []string, error) {
	loaded := map[string]bool{}
	var ignored []string
	explicit := name != ""
	if !explicit {
		name = ".env"
	}
	f, err := os.Open(name)
	if err != nil {
		if !explicit && errors.Is(err, os.ErrNotExist) {
			return loaded, nil, nil
		}
		return nil, nil, fmt.Errorf("env file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		s := sc.Text()
		if line == 1 {
			s = strings.TrimPrefix(s, "\ufeff") // editors on Windows write one
		}
		s = strings.TrimSpace(s)
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		s = strings.TrimPrefix(s, "export ")
		k, val, ok := strings.Cut(s, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, nil, fmt.Errorf("env file %s line %d: expected KEY=VALUE", name, line)
		}
		val, err = envValue(strings.TrimSpace(val))
		if err != nil {
			return nil, nil, fmt.Errorf("env file %s line %d (%s): %w", name, line, k, err)
		}
		if !envFileMaySet(k) {
			if !slices.Contains(ignored, k) {
				ignored = append(ignored, k)
			}
			continue
		}
		if _, set := os.LookupEnv(k); !set {
			if err := os.Setenv(k, val); err != nil {
				return nil, nil, fmt.Errorf("env file %s line %d: %w", name, line, err)
			}
			loaded[k] = true
		}
	}
	return loaded, ignored, sc.Err()
}

// envValue reads the value part of a dotenv line: 'single' or "double" quoted
// (quotes removed, nothing interpreted inside), or bare; a " #" after the
// value starts a comment.
func envValue(v string) (string, error) {
	if v != "" && (v[0] == '"' || v[0] == '\'') {
		end := strings.IndexByte(v[1:], v[0])
		if end < 0 {
			return "", errors.New("unterminated quote")
		}
		rest := strings.TrimSpace(v[end+2:])
		if rest != "" && !strings.HasPrefix(rest, "#") {
			// Not quoted back: the text may be the tail of a secret.
			return "", fmt.Errorf("unexpected text after the closing quote (%d characters; a quote inside the value?)", len([]rune(rest)))
		}
		return v[1 : end+1], nil
	}
	if i := strings.Index(v, " #"); i >= 0 {
		v = v[:i]
	}
	return strings.TrimSpace(v), nil
}
