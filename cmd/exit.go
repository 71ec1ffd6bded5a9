package cmd

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/backup-creator/backup-creator/pkg/backup/restore"

	"github.com/backup-creator/backup-creator/pkg/backup"
	"github.com/backup-creator/backup-creator/pkg/sfmc"
)

// Exit codes. They are a contract with cron jobs and scripts: see README.md
// "Exit codes" and the EXIT STATUS section of every command's help.
const (
	ExitOK          = 0
	ExitFailure     = 1
	ExitUsage       = 2
	ExitPartial     = 3
	ExitAuth        = 4
	ExitInterrupted = 130
)

const exitStatusHelp = `EXIT STATUS
  0    success (also when nothing changed)
  1    failure (nothing claims completeness; watermark not advanced)
  2    usage or configuration error, or a stored watermark later than SFMC's
       clock (run once with --since or --full); nothing was done
  3    partial: some blocks could not be backed up (watermark not advanced)
  4    SFMC authentication failed: the credentials were refused, or there is no
       token endpoint at the auth URL (404, unknown host); check client id,
       secret, auth URL, account id. An auth URL that does not answer
       (connection refused, timeout) is retried and then exits 1
  130  interrupted by SIGINT/SIGTERM or --timeout (watermark not advanced)`

// UsageError is a bad flag, argument or configuration value: exit code 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usageErrorf(format string, a ...any) error {
	return &UsageError{Err: fmt.Errorf(format, a...)}
}

// ConfigError is a configuration or environment problem that is not a
// command-line mistake (an invalid value, an unreadable config file, a
// missing destination parent): exit code 2 like a UsageError, but without
// the pointer to --help, which would not help.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

func configErrorf(format string, a ...any) error {
	return &ConfigError{Err: fmt.Errorf(format, a...)}
}

// invalidConfig reports the problems of a configuration, all at once.
func invalidConfig(problems []string) error {
	return configErrorf("invalid configuration (%s):\n  - %s", plural(len(problems), "problem"), strings.Join(problems, "\n  - "))
}

// InterruptedError wraps the error of a run stopped by a signal or --timeout.
type InterruptedError struct{ Err error }

func (e *InterruptedError) Error() string { return e.Err.Error() }
func (e *InterruptedError) Unwrap() error { return e.Err }

// ExitCode maps an error returned by a command to the process exit code.
func ExitCode(err error) int {
	var (
		usage   *UsageError
		config  *ConfigError
		intr    *InterruptedError
		partial *backup.PartialError
		restore *restore.RestoreError
	)
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &intr):
		return ExitInterrupted
	case errors.As(err, &usage), errors.As(err, &config), errors.Is(err, backup.ErrFutureWatermark):
		// A watermark in the future needs a decision (--since or --full).
		return ExitUsage
	case errors.Is(err, sfmc.ErrUnauthorized), errors.Is(err, sfmc.ErrAuthEndpoint):
		return ExitAuth
	case errors.As(err, &partial), errors.As(err, &restore):
		return ExitPartial
	case errors.Is(err, context.Canceled):
		return ExitInterrupted
	default:
		return ExitFailure
	}
}
