package cmd

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/backup-creator/backup-creator/pkg/backup/history"
	"github.com/backup-creator/backup-creator/pkg/storage"
)

// DiffOptions are the parsed arguments of `diff`.
type DiffOptions struct {
	From, To string
	IDs      []int64
	Keys     []string
	Folders  []string
	Stat     bool
	JSON     bool
}

func newDiffCmd(a *App, runF func(*DiffOptions) error) *cobra.Command {
	opts := &DiffOptions{}
	c := &cobra.Command{
		Use:   "diff [FROM [TO]]",
		Short: "Show what changed between the states at two backups",
		Long: `Compare the states a restore would give as of two complete backups (default: the two
newest; one argument: that backup against the newest; "latest" names the newest) and
list the blocks added, changed and deleted in between (id, customerKey, name, folder).
For each changed block it names the fields that differ (content, name, folder,
customerKey, meta, slots, views, ...; when only SFMC's own fields such as modifiedDate
differ, the block was saved without an edit), the earlier name, key or folder, and a
unified diff of the readable content: coloured on a terminal (unless NO_COLOR is set),
plain otherwise.

--id and --key limit the comparison to those blocks, --folder to the blocks in that
folder or below (in either state). --stat lists counts and blocks only and reads no
block file. --json prints {"from", "to", "added": [{"id", "customerKey", "name",
"folder", "type"}], "changed": [{..., "fields": [...], "previous": {...}, "diff"}],
"deleted": [{..., "deletedIn"}]}.

EXIT STATUS
  0    success, whether or not anything differs
  1    a backup is missing, incomplete or damaged, or the destination is unreadable
  2    usage or configuration error
  130  interrupted by SIGINT/SIGTERM`,
		Example: `  backup-creator diff
  backup-creator diff backup_20261101
  backup-creator diff backup_20261101 backup_20261115 --folder "Content Builder/Footers"
  backup-creator diff --stat --json`,
		Args: maxArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				opts.From = args[0]
			}
			if len(args) > 1 {
				opts.To = args[1]
			}
			if runF != nil {
				return runF(opts)
			}
			return a.runDiff(c.Context(), opts)
		},
	}
	f := c.Flags()
	f.String("dest", "./backups", destFlagHelp)
	f.Int64SliceVar(&opts.IDs, "id", nil, "compare the block with this id (repeatable, or comma-separated)")
	f.StringArrayVar(&opts.Keys, "key", nil, "compare the blocks with this customerKey (repeatable)")
	f.StringArrayVar(&opts.Folders, "folder", nil, `compare the blocks in this folder or below (path as "list BACKUP" shows it; repeatable)`)
	f.BoolVar(&opts.Stat, "stat", false, "counts and blocks only, no fields or content diff")
	f.BoolVar(&opts.JSON, "json", false, "print JSON")
	return c
}

func (a *App) runDiff(ctx context.Context, opts *DiffOptions) error {
	lowerGCTarget()
	st, err := a.openDestination(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := history.Diff(ctx, st, history.DiffOptions{From: opts.From, To: opts.To, Stat: opts.Stat,
		Select: history.Selector{IDs: opts.IDs, Keys: opts.Keys, Folders: opts.Folders}})
	if err != nil {
		return a.noBackupHere(ctx, st, err)
	}
	if opts.JSON {
		return a.interrupted(ctx, writeDiffJSON(ctx, a.Out, st, rep, opts.Stat))
	}
	colour := a.OutIsTTY && os.Getenv("NO_COLOR") == ""
	return a.interrupted(ctx, printDiff(ctx, a.Out, st, rep, opts.Stat, colour))
}

// contentDiff is the unified diff of a changed block's content, or a note
// when it is binary.
func contentDiff(ctx context.Context, st storage.Store, ch history.Change) (text string, binary bool, err error) {
	text, err = history.ContentDiff(ctx, st, ch)
	if errors.Is(err, history.ErrBinary) {
		return "", true, nil
	}
	return text, false, err
}

// diffChangeJSON is one changed block of `diff --json`.
type diffChangeJSON struct {
	history.Change
	// Fields are the fields that differ (absent with --stat).
	Fields *[]string `json:"fields,omitempty"`
	// Diff is the unified diff of the readable content (absent with --stat
	// or when the content is the same).
	Diff string `json:"diff,omitempty"`
	// Binary is set when the content is not text and differs.
	Binary bool `json:"binary,omitempty"`
}

// writeDiffJSON writes the report as JSON, computing each changed block's
// content diff as it goes, so that no more than one is held.
func writeDiffJSON(ctx context.Context, out io.Writer, st storage.Store, rep *history.DiffReport, stat bool) error {
	w := bufio.NewWriter(out)
	enc := func(v any, indent string) error {
		b, err := marshalIndent(v, indent)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	list := func(name string, items []history.Change, each func(history.Change) (any, error)) error {
		fmt.Fprintf(w, "  %q: [", name)
		for i, it := range items {
			if i > 0 {
				w.WriteString(",")
			}
			w.WriteString("\n    ")
			v, err := each(it)
			if err != nil {
				return err
			}
			if err := enc(v, "    "); err != nil {
				return err
			}
		}
		if len(items) > 0 {
			w.WriteString("\n  ")
		}
		w.WriteString("]")
		return nil
	}
	plain := func(c history.Change) (any, error) { return c, nil }
	fmt.Fprintf(w, "{\n  \"from\": %s,\n  \"to\": %s,\n", strconv.Quote(rep.From), strconv.Quote(rep.To))
	if err := list("added", rep.Added, plain); err != nil {
		return err
	}
	w.WriteString(",\n")
	if err := list("changed", rep.Changed, func(c history.Change) (any, error) {
		v := diffChangeJSON{Change: c}
		if stat {
			return v, nil
		}
		fields := c.Fields
		if fields == nil {
			fields = []string{}
		}
		v.Fields = &fields
		var err error
		v.Diff, v.Binary, err = contentDiff(ctx, st, c)
		return v, err
	}); err != nil {
		return err
	}
	w.WriteString(",\n")
	if err := list("deleted", rep.Deleted, plain); err != nil {
		return err
	}
	w.WriteString("\n}\n")
	return w.Flush()
}

func marshalIndent(v any, prefix string) ([]byte, error) {
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	enc.SetIndent(prefix, "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return []byte(strings.TrimSuffix(sb.String(), "\n")), nil
}

// ANSI colours of the diff on a terminal.
const (
	ansiReset = "\x1b[0m"
	ansiBold  = "\x1b[1m"
	ansiRed   = "\x1b[31m"
	ansiGreen = "\x1b[32m"
	ansiCyan  = "\x1b[36m"
)

func printDiff(ctx context.Context, out io.Writer, st storage.Store, rep *history.DiffReport, stat, colour bool) error {
	w := bufio.NewWriter(out)
	paint := func(code, s string) string {
		if !colour {
			return s
		}
		return code + s + ansiReset
	}
	section := func(title string, items []history.Change, last string, lastOf func(history.Change) string) error {
		if len(items) == 0 {
			return nil
		}
		fmt.Fprintf(w, "%s (%d):\n", paint(ansiBold, title), len(items))
		header := []string{"ID", "KEY", "TYPE", "FOLDER", "NAME"}
		if last != "" {
			header = append(header, last)
		}
		t := newTable(w, header...)
		for _, c := range items {
			row := []string{strconv.FormatInt(c.ID, 10), c.CustomerKey, c.Type, clip(c.Folder, maxCell), clip(c.Name, maxCell)}
			if last != "" {
				row = append(row, lastOf(c))
			}
			t.row(row...)
		}
		if err := t.flush(); err != nil {
			return err
		}
		_, err := fmt.Fprintln(w)
		return err
	}
	fmt.Fprintf(w, "Changes from %s to %s (the states a restore would give)\n\n", rep.From, rep.To)
	if err := section("Added", rep.Added, "", nil); err != nil {
		return err
	}
	fields := ""
	if !stat {
		fields = "FIELDS"
	}
	if err := section("Changed", rep.Changed, fields, func(c history.Change) string { return strings.Join(c.Fields, ", ") }); err != nil {
		return err
	}
	if err := section("Deleted", rep.Deleted, "DELETED IN", func(c history.Change) string { return c.DeletedIn }); err != nil {
		return err
	}
	if !stat {
		for _, c := range rep.Changed {
			text, binary, err := contentDiff(ctx, st, c)
			if err != nil {
				return err
			}
			var was []string
			if p := c.Prev; p != nil {
				if p.Name != c.Name {
					was = append(was, fmt.Sprintf("name: %q -> %q", p.Name, c.Name))
				}
				if p.CustomerKey != c.CustomerKey {
					was = append(was, fmt.Sprintf("customerKey: %q -> %q", p.CustomerKey, c.CustomerKey))
				}
				if p.Folder != c.Folder {
					was = append(was, fmt.Sprintf("folder: %s -> %s", p.Folder, c.Folder))
				}
			}
			if text == "" && !binary && len(was) == 0 {
				continue
			}
			fmt.Fprintf(w, "%s\n", paint(ansiBold, fmt.Sprintf("block %d %q (%s): %s", c.ID, c.Name, cellText(c.CustomerKey), strings.Join(c.Fields, ", "))))
			for _, l := range was {
				fmt.Fprintf(w, "  %s\n", l)
			}
			if binary {
				fmt.Fprintln(w, "  binary content differs")
			}
			writeUnified(w, text, paint)
			fmt.Fprintln(w)
		}
	}
	fmt.Fprintf(w, "%d added, %d changed, %d deleted\n", len(rep.Added), len(rep.Changed), len(rep.Deleted))
	return w.Flush()
}

// writeUnified writes a unified diff, colouring its lines by kind.
func writeUnified(w *bufio.Writer, text string, paint func(code, s string) string) {
	for line := range strings.SplitAfterSeq(text, "\n") {
		if line == "" {
			continue
		}
		body := strings.TrimSuffix(line, "\n")
		switch {
		case strings.HasPrefix(body, "--- "), strings.HasPrefix(body, "+++ "):
			body = paint(ansiBold, body)
		case strings.HasPrefix(body, "@@"):
			body = paint(ansiCyan, body)
		case strings.HasPrefix(body, "-"):
			body = paint(ansiRed, body)
		case strings.HasPrefix(body, "+"):
			body = paint(ansiGreen, body)
		}
		w.WriteString(body)
		w.WriteString("\n")
	}
}
