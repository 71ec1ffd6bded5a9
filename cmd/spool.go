package cmd

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

// spoolMemory is how much output a spool holds in memory before it moves
// to a temporary file.
const spoolMemory = 1 << 20

// spool holds output that can only be written once it is complete (a
// table's column widths, a JSON document whose counts come first): in memory
// up to spoolMemory, then in a temporary file, so that the output of
// 100,000s of blocks does not stay in memory. Close it.
type spool struct {
	mem bytes.Buffer
	f   *os.File
	w   *bufio.Writer
}

func (s *spool) Write(p []byte) (int, error) {
	if s.f == nil && s.mem.Len()+len(p) <= spoolMemory {
		return s.mem.Write(p)
	}
	if s.f == nil {
		f, err := os.CreateTemp("", "backup-creator-output-*")
		if err != nil {
			return 0, fmt.Errorf("create output spool: %w", err)
		}
		s.f, s.w = f, bufio.NewWriterSize(f, 64<<10)
		if _, err := s.mem.WriteTo(s.w); err != nil {
			return 0, fmt.Errorf("write output spool: %w", err)
		}
	}
	n, err := s.w.Write(p)
	if err != nil {
		return n, fmt.Errorf("write output spool: %w", err)
	}
	return n, nil
}

// reader returns the spooled output from its start.
func (s *spool) reader() (io.Reader, error) {
	if s.f == nil {
		return bytes.NewReader(s.mem.Bytes()), nil
	}
	if err := s.w.Flush(); err != nil {
		return nil, fmt.Errorf("write output spool: %w", err)
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("read output spool: %w", err)
	}
	return bufio.NewReaderSize(s.f, 64<<10), nil
}

// Close removes the temporary file, if any. It is safe to call more than once.
func (s *spool) Close() {
	if s.f != nil {
		name := s.f.Name()
		_ = s.f.Close()
		_ = os.Remove(name)
		s.f = nil
	}
	s.mem = bytes.Buffer{}
}

// bigTable is a table whose rows are spooled rather than held: it writes
// exactly what table (text/tabwriter with the same settings) writes, every
// row having the header's number of cells. Close it.
type bigTable struct {
	widths []int // runes of the widest cell per column, last column excluded
	sp     spool
	err    error
}

func newBigTable(header ...string) *bigTable {
	t := &bigTable{widths: make([]int, len(header)-1)}
	t.row(header...)
	return t
}

func (t *bigTable) row(cells ...string) {
	if t.err != nil {
		return
	}
	if len(cells) != len(t.widths)+1 {
		t.err = fmt.Errorf("table row of %d cells, want %d", len(cells), len(t.widths)+1)
		return
	}
	for i, c := range cells {
		c = cellText(c)
		cells[i] = c
		if i < len(t.widths) {
			t.widths[i] = max(t.widths[i], utf8.RuneCountInString(c))
		}
	}
	// cellText leaves no tab or line break inside a cell.
	_, t.err = io.WriteString(&t.sp, strings.Join(cells, "\t")+"\n")
}

// writeTo writes the aligned table to w (columns two spaces apart, as table does).
func (t *bigTable) writeTo(w io.Writer) error {
	if t.err != nil {
		return t.err
	}
	r, err := t.sp.reader()
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	for sc.Scan() {
		line := sc.Text()
		for i := range t.widths {
			cell, rest, _ := strings.Cut(line, "\t")
			bw.WriteString(cell)
			bw.WriteString(strings.Repeat(" ", t.widths[i]+2-utf8.RuneCountInString(cell)))
			line = rest
		}
		bw.WriteString(line)
		_ = bw.WriteByte('\n') // a write error sticks: Flush returns it
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read output spool: %w", err)
	}
	return bw.Flush()
}

func (t *bigTable) Close() { t.sp.Close() }

// jsonArray spools the elements of one array of a JSON document, each
// encoded as writeJSON encodes it at the second level of indentation, so
// that writeJSONWith can write the document without holding the elements.
// Close it.
type jsonArray struct {
	sp  spool
	n   int
	buf bytes.Buffer
	enc *json.Encoder
}

func (a *jsonArray) add(v any) error {
	if a.enc == nil {
		a.enc = json.NewEncoder(&a.buf)
		a.enc.SetIndent("    ", "  ")
		a.enc.SetEscapeHTML(false)
	}
	a.buf.Reset()
	if err := a.enc.Encode(v); err != nil {
		return err
	}
	sep := ",\n    "
	if a.n == 0 {
		sep = "\n    "
	}
	a.n++
	if _, err := io.WriteString(&a.sp, sep); err != nil {
		return err
	}
	_, err := a.sp.Write(bytes.TrimSuffix(a.buf.Bytes(), []byte("\n")))
	return err
}

func (a *jsonArray) Close() { a.sp.Close() }

// writeJSONWith writes v as writeJSON does, except that the top-level field
// named field, which v must leave null, is the array a.
func writeJSONWith(w io.Writer, v any, field string, a *jsonArray) error {
	var head bytes.Buffer
	if err := writeJSON(&head, v); err != nil {
		return err
	}
	key := []byte("\n  \"" + field + "\": ")
	i := bytes.Index(head.Bytes(), append(key, "null"...))
	if i < 0 {
		return fmt.Errorf("JSON output: no %q field to fill in", field)
	}
	i += len(key)
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.Write(head.Bytes()[:i])
	if a.n == 0 {
		bw.WriteString("[]")
	} else {
		bw.WriteString("[")
		r, err := a.sp.reader()
		if err != nil {
			return err
		}
		if _, err := io.Copy(bw, r); err != nil {
			return fmt.Errorf("read output spool: %w", err)
		}
		bw.WriteString("\n  ]")
	}
	bw.Write(head.Bytes()[i+len("null"):])
	return bw.Flush()
}
