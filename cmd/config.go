package cmd

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/backup-creator/backup-creator/configs"
	"github.com/backup-creator/backup-creator/pkg/config"
	"github.com/backup-creator/backup-creator/pkg/progress"
	"github.com/backup-creator/backup-creator/pkg/redact"
	"github.com/backup-creator/backup-creator/pkg/storage"
)

func newConfigCmd(a *App) *cobra.Command {
	c := &cobra.Command{
		Use:   "config",
		Short: "Show, check and create configuration",
		Long: `Show the effective configuration (each value with where it came from), check it, or
write a commented configuration template.

` + configExitStatusHelp,
		Args: cobra.NoArgs,
	}
	c.AddCommand(newConfigShowCmd(a), newConfigValidateCmd(a), newConfigInitCmd(a))
	return c
}

// ConfigEntry is one line of `config show`.
type ConfigEntry struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Source string `json:"source"` // flag, env, file or default
	Env    string `json:"env"`
	Secret bool   `json:"secret,omitempty"`
}

func newConfigShowCmd(a *App) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "show",
		Short: "Print the effective configuration; secrets only as (set) or (unset)",
		Long: `Print every configuration key with its effective value, where the value came from
(flag, env, env file, file, secret file or default) and the environment variables that
set it. Secrets (client secret, webhook, ping and Pushgateway URLs, SMTP password) are
shown only as (set) or (unset). A value that loads but is out of range (concurrency: 0)
is shown as it is: "config validate" checks them.

EXIT STATUS
  0    success (also with values that "config validate" refuses)
  2    the configuration cannot be loaded: a bad flag, an unreadable config, env
       or secret file, a value of the wrong type (timeout: abc), both
       client_secret and client_secret_file set, a bad log level or format`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			entries := a.configEntries(c)
			if asJSON {
				enc := json.NewEncoder(a.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(entries)
			}
			tw := tabwriter.NewWriter(a.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY\tVALUE\tSOURCE\tENV")
			for _, e := range entries {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Key, displayValue(e.Value), e.Source, e.Env)
			}
			return tw.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	addDestFlag(c)
	return c
}

func displayValue(v string) string {
	if v == "" {
		return `""`
	}
	return v
}

func addDestFlag(c *cobra.Command) {
	c.Flags().String("dest", "./backups", destFlagHelp)
}

// configEntries lists every key with its effective value and source.
func (a *App) configEntries(c *cobra.Command) []ConfigEntry {
	red := a.cfg.Redacted(a.v)
	changed := map[string]bool{}
	for flag, key := range flagKeys {
		if f := c.Flags().Lookup(flag); f != nil && f.Changed {
			changed[key] = true
		}
	}
	var out []ConfigEntry
	for _, k := range config.Keys() {
		e := ConfigEntry{Key: k, Value: red[k], Env: strings.Join(config.EnvVars(k), ", "), Secret: config.SecretKeys[k]}
		switch {
		case changed[k]:
			e.Source = "flag"
		case envSet(k):
			e.Source = "env"
			if a.envFromFile[setEnvVar(k)] {
				e.Source = "env file"
			}
		case a.v.InConfig(k):
			e.Source = "file"
		default:
			e.Source = "default"
		}
		if k == "sfmc.client_secret" && a.cfg.SFMC.ClientSecretFile != "" && a.cfg.SFMC.ClientSecret != "" {
			e.Source = "secret file"
		}
		out = append(out, e)
	}
	return out
}

// setEnvVar returns the first variable that sets key (the one viper reads).
func setEnvVar(key string) string {
	for _, e := range config.EnvVars(key) {
		if v, ok := os.LookupEnv(e); ok && v != "" {
			return e
		}
	}
	return ""
}

func envSet(key string) bool {
	for _, e := range config.EnvVars(key) {
		if v, ok := os.LookupEnv(e); ok && v != "" {
			return true
		}
	}
	return false
}

func newConfigValidateCmd(a *App) *cobra.Command {
	var online bool
	c := &cobra.Command{
		Use:   "validate",
		Short: "Check every configuration value; with --online also SFMC and the destination",
		Long: `Check every configuration value (URLs, types, durations, destination) and report all
problems at once (exit 2), including unknown keys in the config file and unknown
BACKUP_CREATOR_* variables (other commands only warn about those). With --online, also
get an SFMC token and check the destination without changing it: a cloud bucket gets a
probe object written, read back and deleted; a local directory a temporary file created
and removed (a missing destination is not created: its parent is checked instead).

EXIT STATUS
  0    success
  1    --online: the destination probe failed
  2    invalid configuration or usage (every problem is listed)
  4    --online: SFMC authentication failed (credentials refused, or
       no token endpoint at the auth URL (404, unknown host))`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{unknownAreProblems: "yes"},
		RunE: func(c *cobra.Command, _ []string) error {
			problems := runProblems(a.cfg)
			for _, u := range a.unknownSettings() {
				problems = append(problems, a.describeUnknown(u))
			}
			// Retention is checked here and by prune, not by run: a retention
			// mistake must not stop the nightly backup (run reports it after).
			problems = append(problems, a.cfg.RetentionProblems()...)
			if len(problems) > 0 {
				return invalidConfig(problems)
			}
			fmt.Fprintln(a.Out, "configuration: ok")
			if !online {
				return nil
			}
			return a.validateOnline(c.Context())
		},
	}
	c.Flags().BoolVar(&online, "online", false, "also get an SFMC token and check that the destination can be written, leaving it as it was")
	addDestFlag(c)
	return c
}

func (a *App) validateOnline(ctx context.Context) error {
	var failed []error
	// Server and storage texts: redacted, control characters escaped.
	out := a.redactor().Writer(a.Out)
	text := func(err error) string { return redact.Escape(err.Error()) }
	src, err := a.NewSource(a.cfg, a.log, "backup-creator/"+a.versionOrDev())
	if err != nil {
		return &ConfigError{Err: err}
	}
	if auth, ok := src.(interface{ Authenticate(context.Context) error }); ok {
		if err := auth.Authenticate(ctx); err != nil {
			fmt.Fprintf(out, "SFMC authentication: FAILED: %s\n", text(err))
			failed = append(failed, fmt.Errorf("SFMC authentication: %w", err))
		} else {
			fmt.Fprintf(out, "SFMC authentication: ok (token from %s)\n", a.cfg.SFMC.AuthURL)
		}
	}
	if err := a.probeStore(ctx); err != nil {
		fmt.Fprintf(out, "destination %s: FAILED: %s\n", a.cfg.Dest, text(err))
		failed = append(failed, fmt.Errorf("destination: %w", err))
	}
	return errors.Join(failed...)
}

func (a *App) probeStore(ctx context.Context) error {
	if b, err := a.cfg.Backend(); err == nil && b.Scheme == "file" {
		return a.probeLocal(b.Local.Root)
	}
	// A cloud store is opened (the bucket checked) and a probe object
	// written, read back and deleted: nothing is left behind.
	st, err := a.NewStore(ctx, a.cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	var b [6]byte
	_, _ = rand.Read(b[:])
	key := "backup-creator.probe-" + hex.EncodeToString(b[:])
	data := []byte("backup-creator probe\n")
	if _, err := st.Put(ctx, key, bytes.NewReader(data), int64(len(data)), storage.PutOptions{IfNotExists: true}); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	rc, _, err := st.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		return fmt.Errorf("read back %q: %w", got, err)
	}
	if err := st.Delete(ctx, key, storage.DeleteOptions{}); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	fmt.Fprintf(a.Out, "destination %s: ok (write, read, delete)\n", st)
	return nil
}

// probeLocal checks a local destination without changing it: opening the
// store would create a missing destination and its lock file, so instead a
// temporary file (named like the store's own, which List never shows) is
// created and removed in the destination, or in its parent when the
// destination does not exist yet (run would create it there).
func (a *App) probeLocal(root string) error {
	abs, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	dir, note := abs, "write, delete"
	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		dir = filepath.Dir(abs)
		note = "does not exist yet; run will create it in " + dir + ", which is writable"
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory", abs)
	}
	f, err := os.CreateTemp(dir, ".backup-creator-tmp-probe-*")
	if err != nil {
		return fmt.Errorf("not writable: %w", err)
	}
	name := f.Name()
	cerr := f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("delete probe %s: %w", name, err)
	}
	if cerr != nil {
		return fmt.Errorf("write probe: %w", cerr)
	}
	fmt.Fprintf(a.Out, "destination %s: ok (%s)\n", abs, note)
	return nil
}

func newConfigInitCmd(a *App) *cobra.Command {
	return &cobra.Command{
		Use:   "init [FILE]",
		Short: "Write a commented configuration template with every key (default backup-creator.yaml)",
		Long: `Write the commented configuration template (configs/backup-creator.example.yaml: every
key with its default, secrets left empty) to FILE, default backup-creator.yaml in the
working directory (which every command started there reads; elsewhere pass --config
FILE). An existing file is never overwritten.

EXIT STATUS
  0    the file was written
  1    the file could not be written (e.g. its directory does not exist)
  2    usage error, or FILE exists`,
		Example: `  backup-creator config init
  backup-creator config init /etc/backup-creator/backup-creator.yaml`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			name := "backup-creator.yaml"
			if len(args) == 1 {
				name = args[0]
			}
			f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if errors.Is(err, os.ErrExist) {
				return configErrorf("%s exists: not overwriting it (remove it or name another file)", name)
			}
			if err != nil {
				return err
			}
			if _, err := f.Write(configs.ExampleConfig); err != nil {
				f.Close()
				return fmt.Errorf("write %s: %w", name, err)
			}
			if err := f.Close(); err != nil {
				return fmt.Errorf("write %s: %w", name, err)
			}
			fmt.Fprintf(a.Out, "wrote %s\n", name)
			return nil
		},
	}
}

// plural formats a count for people: "1 block", "2 blocks".
func plural(n int, word string) string { return progress.Count(n, word) }

const configExitStatusHelp = `EXIT STATUS
  0    success
  1    validate --online: the destination probe failed; init: the file could
       not be written
  2    invalid configuration or usage; init: the file exists
  4    validate --online: SFMC authentication failed (credentials refused, or
       no token endpoint at the auth URL (404, unknown host))`
