// Command backup-creator backs up Salesforce Marketing Cloud content blocks.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/backup-creator/backup-creator/cmd"
)

// Set by -ldflags -X at release time.
var (
	version = ""
	commit  = ""
	date    = ""
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cmd.Execute(ctx, os.Args[1:], os.Stdout, os.Stderr, cmd.BuildInfo{Version: version, Commit: commit, Date: date})
	stop()
	os.Exit(code)
}
