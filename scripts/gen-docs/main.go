// Command gen-docs writes backup-creator's man pages and shell completions
// into a directory (the release archives ship them):
//
//	go run ./scripts/gen-docs build/docs
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/backup-creator/backup-creator/cmd"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gen-docs DIR")
		os.Exit(2)
	}
	if err := generate(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "gen-docs:", err)
		os.Exit(1)
	}
}

func generate(dir string) error {
	root := cmd.NewRootCmd(cmd.DefaultApp(io.Discard, io.Discard, cmd.BuildInfo{}))
	root.DisableAutoGenTag = true
	man := filepath.Join(dir, "man")
	comp := filepath.Join(dir, "completions")
	for _, d := range []string{man, comp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := doc.GenManTree(root, &doc.GenManHeader{Title: "BACKUP-CREATOR", Section: "1"}, man); err != nil {
		return fmt.Errorf("man pages: %w", err)
	}
	gens := map[string]func(*cobra.Command, string) error{
		"backup-creator.bash": func(c *cobra.Command, f string) error { return c.GenBashCompletionFileV2(f, true) },
		"_backup-creator":     func(c *cobra.Command, f string) error { return c.GenZshCompletionFile(f) },
		"backup-creator.fish": func(c *cobra.Command, f string) error { return c.GenFishCompletionFile(f, true) },
		"backup-creator.ps1":  func(c *cobra.Command, f string) error { return c.GenPowerShellCompletionFileWithDesc(f) },
	}
	for name, gen := range gens {
		if err := gen(root, filepath.Join(comp, name)); err != nil {
			return fmt.Errorf("completion %s: %w", name, err)
		}
	}
	return nil
}
