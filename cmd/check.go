package cmd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/backup-creator/backup-creator/pkg/config"
	"github.com/backup-creator/backup-creator/pkg/sfmc"
)

// runProblems lists everything `run` refuses before it starts: the
// configuration values (config.Problems, which includes the destination's
// backend settings), the notifications, the asset types, and a local
// destination whose parent directory is missing. `config validate` reports
// exactly this list, so it never says ok for a configuration run refuses.
func runProblems(cfg *config.Config) []string {
	problems := cfg.Problems(true)
	problems = append(problems, notifyConfig(cfg).Problems()...)
	problems = append(problems, monitorProblems(cfg)...)
	if _, err := sfmc.ParseTypes(cfg.Types); err != nil {
		problems = append(problems, "types: "+err.Error())
	}
	if p := localDestProblem(cfg.Dest); p != "" {
		problems = append(problems, p)
	}
	return problems
}

// localDestProblem checks a local destination that run would create: it
// creates only the last directory, so its parent must exist (a mistyped
// --dest must not silently grow a directory tree). "" when fine, or when the
// destination is not local or is an existing directory.
func localDestProblem(dest string) string {
	d, err := config.ParseDest(dest)
	if err != nil || d.Scheme != "file" {
		return ""
	}
	abs, err := filepath.Abs(d.Path)
	if err != nil {
		return fmt.Sprintf("dest %s: %v", d.Path, err)
	}
	if fi, err := os.Stat(abs); err == nil {
		if !fi.IsDir() {
			return fmt.Sprintf("dest %s is not a directory", abs)
		}
		return ""
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "" // cannot be checked: opening it will say why
	}
	parent := filepath.Dir(abs)
	fi, err := os.Stat(parent)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("dest %s: the parent directory %s does not exist (run creates only the destination itself): create it, or check --dest (or dest / BACKUP_CREATOR_DEST) and the working directory", abs, parent)
	case err != nil:
		return fmt.Sprintf("dest %s: parent directory: %v", abs, err)
	case !fi.IsDir():
		return fmt.Sprintf("dest %s: %s is not a directory", abs, parent)
	}
	return ""
}

// localMissing returns the absolute path of a local destination that does
// not exist (yet), or "".
func localMissing(dest string) string {
	d, err := config.ParseDest(dest)
	if err != nil || d.Scheme != "file" {
		return ""
	}
	abs, err := filepath.Abs(d.Path)
	if err != nil {
		return ""
	}
	if _, err := os.Lstat(abs); errors.Is(err, fs.ErrNotExist) {
		return abs
	}
	return ""
}

// unknownAreProblems is the annotation of a command (config validate) that
// reports unknown keys and variables as problems instead of warnings.
const unknownAreProblems = "unknown-settings-are-problems"

// unknownSettings finds the config file keys and BACKUP_CREATOR_* variables
// that set nothing. v holds the config file over registered keys only (the
// environment is bound for known keys alone), so its unknown keys are the
// file's.
func (a *App) unknownSettings() []config.Unknown {
	return config.UnknownSettings(a.v.AllKeys(), os.Environ())
}

// describeUnknown says where an unknown setting came from.
func (a *App) describeUnknown(u config.Unknown) string {
	switch {
	case u.Env && a.envFromFile[u.Name]:
		return fmt.Sprintf("env file %s: %s", a.envFileName, u)
	case u.Env:
		return "environment: " + u.String()
	default:
		return fmt.Sprintf("config file %s: %s", a.configFile, u)
	}
}

// warnUnknown logs every unknown setting, unless the command reports them
// itself.
func (a *App) warnUnknown(c *cobra.Command) {
	if c.Annotations[unknownAreProblems] != "" {
		return
	}
	for _, u := range a.unknownSettings() {
		ev := a.log.Warn()
		if u.Env {
			ev = ev.Str("env", u.Name)
			if a.envFromFile[u.Name] {
				ev = ev.Str("env_file", a.envFileName)
			}
		} else {
			ev = ev.Str("key", u.Name).Str("config_file", a.configFile)
		}
		if u.Suggestion != "" {
			ev = ev.Str("did_you_mean", u.Suggestion)
		}
		ev.Msg("unknown setting ignored: check its spelling (config validate reports it as an error)")
	}
}
