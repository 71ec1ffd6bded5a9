package cmd

import (
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Every command of ours documents its exit codes in its help, and every
// --dest flag is described the same way, naming every form it accepts
// (config show and config validate used to leave out file://).
func TestEveryCommandHelpHasExitStatusAndOneDestText(t *testing.T) {
	root := NewRootCmd(DefaultApp(io.Discard, io.Discard, BuildInfo{}))
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			name := sub.CommandPath()
			if !strings.Contains(sub.Long, "EXIT STATUS") {
				t.Errorf("%s: help has no EXIT STATUS section", name)
			}
			if f := sub.Flags().Lookup("dest"); f != nil && f.Usage != destFlagHelp {
				t.Errorf("%s --dest: usage %q, want %q", name, f.Usage, destFlagHelp)
			}
			walk(sub)
		}
	}
	walk(root)
}
