package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGenerate(t *testing.T) {
	dir := t.TempDir()
	if err := generate(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"man/backup-creator.1", "man/backup-creator-run.1", "man/backup-creator-config-show.1",
		"completions/backup-creator.bash", "completions/_backup-creator", "completions/backup-creator.fish", "completions/backup-creator.ps1"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || len(b) == 0 {
			t.Errorf("%s: %v (%d bytes)", f, err, len(b))
		}
	}
	run, _ := os.ReadFile(filepath.Join(dir, "man/backup-creator-run.1"))
	for _, want := range []string{"--since", "--dry-run", "EXIT STATUS"} {
		if !strings.Contains(string(run), want) {
			t.Errorf("man page of run lacks %q", want)
		}
	}
}
