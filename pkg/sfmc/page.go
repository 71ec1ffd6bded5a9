package sfmc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// pageMeta is what a paged envelope ({count, page, pageSize, items}) says
// about itself; the items go to a callback one by one.
type pageMeta struct {
	Count    *int
	PageSize int
	N        int // items read
}

// itemSlack is how far past one item's limit the decoder may read ahead
// (separators, whitespace, the start of the next item).
const itemSlack = 64 << 10

// errItemLimit is the boundedReader's signal that an item passed its ceiling.
var errItemLimit = errors.New("item limit")

// boundedReader counts what the decoder reads and, while ceil > 0, refuses
// to read past ceil: that bounds the decoder's buffer, so one item of a page
// never costs more memory than the item limit, whatever the server sends.
type boundedReader struct {
	r    io.Reader
	read int64
	ceil int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.ceil > 0 {
		room := b.ceil - b.read
		if room <= 0 {
			return 0, errItemLimit
		}
		if int64(len(p)) > room {
			p = p[:room]
		}
	}
	n, err := b.r.Read(p)
	b.read += int64(n)
	return n, err
}

// streamPage reads a paged envelope from body, token by token, and calls
// onItem with the raw bytes of each element of "items" (a fresh slice per
// item, exactly as sent). No item larger than maxItem is ever held: such an
// item fails with an error wrapping ErrResponseTooLarge that names its
// position and, when it can be seen, its id. An error from onItem is
// returned unchanged.
func streamPage(body io.Reader, maxItem int64, onItem func(json.RawMessage) error) (pageMeta, error) {
	var m pageMeta
	br := &boundedReader{r: body}
	dec := json.NewDecoder(br)
	// bounded decodes one value with the per-item ceiling in force.
	bounded := func(v any) error {
		br.ceil = max(br.read, dec.InputOffset()+maxItem+itemSlack)
		defer func() { br.ceil = 0 }()
		return dec.Decode(v)
	}
	tooLarge := func(what string) error {
		id := ""
		if sub := idRE.FindSubmatch(peek(dec.Buffered(), 64<<10)); sub != nil {
			id = " (asset id " + string(sub[1]) + ")"
		}
		return fmt.Errorf("%w: %w: %s%s is larger than %d bytes (sfmc.max_item_bytes)", errBadResponse, ErrResponseTooLarge, what, id, maxItem)
	}
	tok, err := dec.Token()
	if err != nil {
		return m, decodeErr(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return m, fmt.Errorf("%w: the page is not a JSON object", errBadResponse)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return m, decodeErr(err)
		}
		key, _ := tok.(string)
		switch {
		case strings.EqualFold(key, "count"):
			err = bounded(&m.Count)
		case strings.EqualFold(key, "pageSize"):
			var n *int
			err = bounded(&n)
			if n != nil {
				m.PageSize = *n
			}
		case strings.EqualFold(key, "items"):
			err = streamItems(dec, &m, bounded, tooLarge, maxItem, onItem)
		default:
			var skip json.RawMessage
			err = bounded(&skip)
		}
		if errors.Is(err, errItemLimit) {
			return m, tooLarge(fmt.Sprintf("the value of %q", redactKey(key)))
		}
		if err != nil {
			return m, err
		}
	}
	if _, err := dec.Token(); err != nil {
		return m, decodeErr(err)
	}
	return m, nil
}

func streamItems(dec *json.Decoder, m *pageMeta, bounded func(any) error, tooLarge func(string) error, maxItem int64, onItem func(json.RawMessage) error) error {
	tok, err := dec.Token()
	if err != nil {
		return decodeErr(err)
	}
	if tok == nil {
		return nil // "items": null
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return fmt.Errorf("%w: items is not an array", errBadResponse)
	}
	for dec.More() {
		var raw json.RawMessage
		if err := bounded(&raw); err != nil {
			if errors.Is(err, errItemLimit) {
				return tooLarge(fmt.Sprintf("item %d of the page", m.N+1))
			}
			return decodeErr(err)
		}
		if int64(len(raw)) > maxItem {
			return tooLarge(fmt.Sprintf("item %d of the page", m.N+1))
		}
		m.N++
		if err := onItem(raw); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // ]
		return decodeErr(err)
	}
	return nil
}

var idRE = regexp.MustCompile(`^[\s,]*\{\s*(?:"[^"]*"\s*:\s*(?:"[^"]*"|[^,{}\[\]"]*)\s*,\s*)*?"id"\s*:\s*(\d{1,19})`)

// peek returns up to n bytes of r without consuming anything the caller
// needs (r is the decoder's buffer).
func peek(r io.Reader, n int64) []byte {
	var b bytes.Buffer
	_, _ = b.ReadFrom(io.LimitReader(r, n))
	return b.Bytes()
}

// redactKey keeps an envelope key printable and short.
func redactKey(k string) string {
	if len(k) > 40 {
		k = k[:40] + "…"
	}
	return k
}
