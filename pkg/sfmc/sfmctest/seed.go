package sfmctest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// SeedOptions controls Seed.
type SeedOptions struct {
	// MID is the business unit to seed (0 = default MID).
	MID int64
	// ExtraBlocks adds this many plain htmlblocks (folder "Bulk").
	ExtraBlocks int
	// LargeBlocks adds three blocks of about 1, 2 and 3 MB.
	LargeBlocks bool
	// TieBlocks is how many blocks share one modifiedDate (default 600,
	// more than a 500-item page; -1 for none).
	TieBlocks int
	// Start is the base modifiedDate of the fixture (default
	// 2024-01-01T00:00:00-06:00). Every seeded date is derived from it.
	Start time.Time
	// Assets adds a realistic account of this many assets after the
	// fixture: about 70 % content blocks of the default types (a mix of
	// htmlblock, freeformblock, textblock, imageblock, codesnippetblock, …,
	// about 4.4 KB of JSON and content each) and 30 % emails, templates,
	// images and documents, in a folder tree of campaigns, brands and
	// libraries, created over three years up to a month after Start with
	// ids increasing with creation, bursts of creation and of automated
	// edits, and blocks sharing modifiedDates (small groups and one of 550).
	// The same Assets (with the same MID and Start) gives the same account.
	Assets int
}

// DefaultBlockTypes is the default content-block type set (§12.3).
func DefaultBlockTypes() []int {
	return []int{3, 195, 196, 197, 198, 199, 200, 201, 202, 203, 210, 211, 212, 213, 219, 220, 221, 223, 224, 225, 226}
}

// Fixed names of seeded folders and assets, for tests that look them up.
const (
	SeedFolderSlash     = "Headers/Banners"
	SeedFolderTies      = "Ties"
	SeedFolderBulk      = "Bulk"
	SeedNameSpecial     = `a/b\c:d*e?f"g<h>i|j`
	SeedNameUnicode     = "Ünïcödé Blöck — 日本語 🚀🎉"
	SeedNameDuplicate   = "Footer"
	SeedNameEmpty       = "Empty content block"
	SeedNameLargePrefix = "Large block "
)

// seedUsers are the human owners of seeded assets.
func seedUsers() []user {
	return []user{
		{ID: 700301950, Email: "jane.doe@example.com", Name: "Jane Doe"},
		{ID: 700301951, Email: "max.mustermann@example.com", Name: "Max Mustermann"},
	}
}

// seeder creates fixture data for one store; the caller holds the write lock.
type seeder struct {
	s     *Server
	st    *store
	rnd   *mrand.Rand
	start time.Time
	n     int
}

func (sd *seeder) folder(name string, parent int64) int64 {
	c, msg := sd.s.addCategory(sd.st, name, parent, "")
	if c == nil {
		panic("sfmctest: seed folder " + name + ": " + msg + " (Seed called twice for one MID?)")
	}
	return c.id
}

// fracs are fractional-second values seen on real timestamps.
var seedFracs = []int{0, 600, 60, 277, 143, 553, 927, 7, 3, 10, 500, 830, 997, 1}

// date returns the i-th fixture date: hours apart, with varied fractions.
func (sd *seeder) date() time.Time {
	sd.n++
	ms := seedFracs[sd.n%len(seedFracs)]
	return sd.start.Add(time.Duration(sd.n)*time.Hour + time.Duration(sd.rnd.IntN(3600))*time.Second +
		time.Duration(ms)*time.Millisecond)
}

type seedAsset struct {
	name, key string
	typ       int
	cat       int64
	content   *string
	extra     map[int]string // raw JSON by field index
	file      []byte
	modified  time.Time
	createdBy user
}

func strPtr(s string) *string { return &s }

func (sd *seeder) add(a seedAsset) int64 {
	in := assetInput{hasName: true, name: a.name, hasType: true, typeID: a.typ, hasCat: a.cat != 0, catID: a.cat}
	if a.key != "" {
		in.hasKey, in.key = true, a.key
	}
	if a.content != nil {
		in.raw[fContent] = appendString(nil, *a.content)
	}
	for i, v := range a.extra {
		in.raw[i] = compactRaw(json.RawMessage(v))
	}
	if a.file != nil {
		in.hasFile, in.file = true, a.file
	}
	mod := a.modified
	if mod.IsZero() {
		mod = sd.date()
	}
	by := a.createdBy
	if by.ID == 0 {
		by = seedUsers()[sd.rnd.IntN(2)]
	}
	created, errs := sd.s.createAsset(sd.st, in, mod, by, false)
	if len(errs) > 0 {
		panic(fmt.Sprintf("sfmctest: seed asset %q: %s (Seed called twice for one MID?)", a.name, strings.Join(errs, "; ")))
	}
	created.indexed = time.Time{} // fixture data is indexed from the start
	created.created = mod.Add(-time.Duration(24+sd.rnd.IntN(24*90)) * time.Hour).Add(time.Duration(seedFracs[sd.rnd.IntN(len(seedFracs))]) * time.Millisecond)
	if sd.rnd.IntN(3) == 0 {
		created.modifiedBy = appUser()
	}
	if a.typ >= 16 && a.typ <= 194 {
		created.raw[fFileProperties] = sd.s.fileProperties(created, in.raw[fFileProperties], created.created)
	}
	sd.s.rerender(sd.st, created)
	return created.id
}

// seedPNG makes a small deterministic PNG.
func seedPNG(rnd *mrand.Rand, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(rnd.IntN(256)), uint8(rnd.IntN(256)), uint8(rnd.IntN(256)), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic("sfmctest: encode png: " + err.Error())
	}
	return buf.Bytes()
}

// blockContent returns representative content for a block type.
func blockContent(typ int, name string) (string, map[int]string) {
	wrap := `{"wrapperStyles":{"mobile":{"visible":true},"styling":{}}}`
	switch typ {
	case 196:
		return "Plain text for " + name + "\nSecond line.", map[int]string{fMeta: wrap}
	case 199:
		return `<table width="100%" cellspacing="0" cellpadding="0" role="presentation"><tr><td align="center"><img src="https://image.s7.sfmc-content.com/lib/fe3a11717564047b771c78/m/1/hero.png" alt="Hero" width="600" style="display: block; padding: 0px; text-align: center; height: auto; width: 100%; border: 0px;"></td></tr></table>`,
			map[int]string{fMeta: wrap, fContentType: `"application/vnd.etmc.image"`}
	case 201:
		return `%%[ IF @segment == "A" THEN ]%%<p>Variant A</p>%%[ ELSE ]%%<p>Default</p>%%[ ENDIF ]%%`,
			map[int]string{fMeta: `{"wrapperStyles":{"mobile":{"visible":true},"styling":{}},"options":{"rules":[{"attribute":"segment","operator":"equals","value":"A"}]}}`}
	case 212:
		return `<table role="presentation"><tr><td style="background-color:#0070d2;border-radius:4px"><a href="https://example.com/?a=1&b=2" style="color:#fff">Click &amp; go</a></td></tr></table>`,
			map[int]string{fMeta: wrap, fDesign: `"<p>Button</p>"`}
	case 213:
		return `<table width="100%"><tr><td><div data-type="slot" data-key="col1"></div></td><td><div data-type="slot" data-key="col2"></div></td></tr></table>`,
			map[int]string{
				fMeta:  wrap,
				fSlots: `{"col1":{"content":"<div data-type=\"block\" data-key=\"b1\"></div>","design":"<p>Drop here</p>","blocks":{"b1":{"assetType":{"id":196,"name":"textblock"},"content":"Left column","design":"","meta":{},"availableViews":[],"modelVersion":2}},"minBlocks":0,"maxBlocks":0,"allowedBlocks":[],"modelVersion":2},"col2":{"content":"","design":"<p>Drop here</p>","blocks":{},"modelVersion":2}}`,
			}
	case 220:
		return "%%[\n  SET @name = AttributeValue(\"FirstName\")\n  IF Empty(@name) THEN SET @name = \"friend\" ENDIF\n]%%\n<p>Hello %%=v(@name)=%%</p>", nil
	case 219:
		return `%%=TreatAsContent(HTTPGet("https://example.com/snippet.html"))=%%`, map[int]string{fMeta: wrap}
	case 221:
		return `<p>RSS</p>`, map[int]string{fData: `{"feedUrl":"https://example.com/feed.xml","itemCount":3}`}
	case 223:
		return `%%=ContentBlockByKey("footer-legal")=%%`, nil
	case 225:
		return `<div class="custom">Custom widget</div>`, map[int]string{fData: `{"widget":{"url":"https://example.com/widget","config":{"a":1}}}`, fMeta: wrap}
	}
	return `<table cellpadding="0" cellspacing="0" width="100%" role="presentation" style="min-width: 100%; " class="stylingblock-content-wrapper"><tr><td class="stylingblock-content-wrapper camarker-inner"><p>` + name + `</p></td></tr></table>`,
		map[int]string{fMeta: wrap}
}

// Seed loads the deterministic fixture into o.MID: one block of every default
// content-block type, emails, images (png with a binary), non-block assets,
// a folder tree with "/" in names, awkward names and keys, empty content,
// duplicate names in different folders, o.TieBlocks blocks sharing one
// modifiedDate, optional large blocks, o.ExtraBlocks plain blocks and a
// realistic account of o.Assets assets.
// Two servers seeded alike serve identical bytes. Seed panics if the data
// clashes with existing data (e.g. when called twice for one MID).
func (s *Server) Seed(o SeedOptions) {
	if o.Start.IsZero() {
		o.Start = time.Date(2024, 1, 1, 0, 0, 0, 0, cst())
	}
	if o.TieBlocks == 0 {
		o.TieBlocks = 600
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.store(o.MID)
	if st == nil {
		panic(fmt.Sprintf("sfmctest: seed: unknown mid %d", o.MID))
	}
	mid := st.mid
	ms := strconv.FormatInt(mid, 10)
	sd := &seeder{s: s, st: st, rnd: mrand.New(mrand.NewPCG(uint64(mid), 42)), start: o.Start}
	root := st.rootID

	footers := sd.folder("Footers", root)
	slash := sd.folder(SeedFolderSlash, root)
	legal := sd.folder("Legal / DE", root)
	q1 := sd.folder("2024/Q1", legal)
	emails := sd.folder("Emails", root)
	images := sd.folder("Images", root)
	uni := sd.folder("Ünïcödé 📁", root)
	deep := sd.folder("Level 3", sd.folder("Level 2", sd.folder("Deep", root)))
	deepest := sd.folder("a/b", deep)
	dupA := sd.folder("Duplicates A", root)
	dupB := sd.folder("Duplicates B", root)
	ties := sd.folder(SeedFolderTies, root)
	bulk := sd.folder(SeedFolderBulk, root)
	shared := sd.folder("Shared Blocks", st.sharedID)
	sd.folder("Empty folder", root)

	// One block of every default content-block type.
	folders := []int64{footers, slash, legal, q1, uni, deep, deepest}
	for i, typ := range DefaultBlockTypes() {
		tn := s.types[typ].Name
		content, extra := blockContent(typ, "Sample "+tn)
		if i%3 == 0 {
			if extra == nil {
				extra = map[int]string{}
			}
			extra[fDescription] = strconv.Quote("Sample " + tn + " description")
		}
		sd.add(seedAsset{name: "Sample " + tn, key: "sample-" + tn + "-" + ms, typ: typ, cat: folders[i%len(folders)],
			content: &content, extra: extra})
	}
	// The same block name in several folders.
	for _, c := range []int64{footers, dupA, dupB} {
		content, extra := blockContent(197, SeedNameDuplicate)
		sd.add(seedAsset{name: SeedNameDuplicate, typ: 197, cat: c, content: &content, extra: extra})
	}
	// Awkward names (API creates would reject the 250+ character one).
	long := "Long name " + strings.Repeat("abcdefghij", 25) + " end"
	for i, n := range []string{SeedNameSpecial, "..", ".", SeedNameUnicode, long, "trailing space ", " leading space",
		"CON", "name\twith\ttabs", "percent %20 and plus +", "emoji only 🧱"} {
		content, extra := blockContent(197, n)
		sd.add(seedAsset{name: n, key: fmt.Sprintf("awkward-name-%d-%s", i, ms), typ: 197, cat: []int64{slash, uni, deepest}[i%3],
			content: &content, extra: extra})
	}
	// Awkward customer keys.
	for i, k := range []string{"key with spaces " + ms, " leading-" + ms, "trailing-" + ms + " ", "  both-" + ms + "  ",
		"testExisting_htmlblock 3 spaces" + ms[len(ms)-1:], "UPPER-lower-" + ms, "dots.and_under-" + ms, "slash/key\\" + ms} {
		content, extra := blockContent(196, "key block")
		sd.add(seedAsset{name: fmt.Sprintf("Key block %d", i), key: k, typ: 196, cat: legal, content: &content, extra: extra})
	}
	// Empty and unusual content.
	sd.add(seedAsset{name: SeedNameEmpty, key: "empty-" + ms, typ: 197, cat: footers, content: strPtr("")})
	sd.add(seedAsset{name: "Escapes block", key: "escapes-" + ms, typ: 197, cat: footers,
		content: strPtr("<p>a & b < c > d \"quoted\" 'single' \\ backslash</p>\r\n\ttab\u2028sep\u0001ctl ünï 😀"),
		extra:   map[int]string{fTags: `["legal","footer","de"]`, fMeta: `{"wrapperStyles":{"mobile":{"visible":true},"styling":{}}}`}})
	sd.add(seedAsset{name: "No meta block", key: "nometa-" + ms, typ: 197, cat: footers, content: strPtr("<p>x</p>")})
	// A July timestamp (CST stays -06:00 under DST).
	july := time.Date(2024, 7, 15, 10, 2, 11, 600_000_000, cst())
	c197, x197 := blockContent(197, "July block")
	sd.add(seedAsset{name: "July block", key: "july-" + ms, typ: 197, cat: legal, content: &c197, extra: x197, modified: july})
	// A block in a shared folder.
	cs, xs := blockContent(197, "Shared block")
	sd.add(seedAsset{name: "Shared block", key: "shared-" + ms, typ: 197, cat: shared, content: &cs, extra: xs})
	// Emails and other non-block assets.
	sd.add(seedAsset{name: "Welcome email", key: "welcome-email-" + ms, typ: 207, cat: emails,
		extra: map[int]string{
			fContentType: `"application/vnd.etmc.email.Message; kind=template"`,
			fViews:       `{"html":{"content":"<html><body><div data-type=\"slot\" data-key=\"main\"></div></body></html>","slots":{"main":{"content":"<div data-type=\"block\" data-key=\"b1\"></div>","blocks":{"b1":{"id":1,"assetType":{"id":197,"name":"htmlblock"},"content":"<p>Hi</p>"}}}},"template":{"id":0,"assetType":{"id":214,"name":"defaulttemplate"},"name":"Default","content":"<html></html>"}},"subjectline":{"content":"Welcome, %%FirstName%%"},"preheader":{"content":"Hello"}}`,
			fData:        `{"email":{"options":{"characterEncoding":"utf-8"},"attributes":[],"legacy":{"legacyId":4711,"legacyKey":"abc","legacyType":"email"}}}`,
			fChannels:    `{"email":true,"web":false}`,
		}})
	sd.add(seedAsset{name: "Newsletter HTML", key: "newsletter-" + ms, typ: 208, cat: emails,
		extra: map[int]string{
			fContentType: `"application/vnd.etmc.email.Message; kind=paste"`,
			fViews:       `{"html":{"content":"<html><body><p>News</p></body></html>"},"text":{"content":"News"},"subjectline":{"content":"News"}}`,
			fData:        `{"email":{"options":{"characterEncoding":"utf-8"}}}`,
		}})
	sd.add(seedAsset{name: "Landing page", key: "landing-" + ms, typ: 205, cat: root, content: strPtr("<html><body>Page</body></html>"),
		extra: map[int]string{fContentType: `"text/html"`, fAvailableViews: `["html"]`, fVersion: `1`}})
	sd.add(seedAsset{name: "Default template", key: "template-" + ms, typ: 214, cat: emails, content: strPtr("<html><body><div data-type=\"slot\" data-key=\"main\"></div></body></html>")})
	// Images with binaries.
	for i, n := range []string{"hero-banner.png", "logo.png"} {
		sd.add(seedAsset{name: n, key: fmt.Sprintf("image-%d-%s", i, ms), typ: 28, cat: images, file: seedPNG(sd.rnd, 16+8*i, 8),
			extra: map[int]string{fFileProperties: `{"fileName":` + strconv.Quote(n) + `}`}})
	}
	sd.add(seedAsset{name: "terms.pdf", key: "pdf-" + ms, typ: 127, cat: images, file: []byte("%PDF-1.4\n% emulator\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")})
	// Large blocks.
	if o.LargeBlocks {
		for i, mb := range []int{1, 2, 3} {
			content := largeContent(mb << 20)
			sd.add(seedAsset{name: fmt.Sprintf("%s%d MB", SeedNameLargePrefix, mb), key: fmt.Sprintf("large-%d-%s", i, ms), typ: 197, cat: footers,
				content: &content, extra: map[int]string{fMeta: `{"wrapperStyles":{"mobile":{"visible":true},"styling":{}}}`}})
		}
	}
	// Many blocks sharing one modifiedDate across page boundaries.
	if o.TieBlocks > 0 {
		tie := o.Start.Add(10*24*time.Hour + 500*time.Millisecond)
		for i := range o.TieBlocks {
			content := fmt.Sprintf("<p>Tie block %04d</p>", i)
			sd.add(seedAsset{name: fmt.Sprintf("Tie %04d", i), key: fmt.Sprintf("tie-%s-%04d", ms, i), typ: []int{197, 196, 195}[i%3],
				cat: ties, content: &content, modified: tie, createdBy: seedUsers()[0]})
		}
	}
	// Plain bulk blocks.
	bulkStart := o.Start.Add(20 * 24 * time.Hour)
	for i := range o.ExtraBlocks {
		content := fmt.Sprintf("<p>Bulk block %07d</p>", i)
		mod := bulkStart.Add(time.Duration(i)*time.Second + time.Duration(seedFracs[i%len(seedFracs)])*time.Millisecond)
		sd.add(seedAsset{name: fmt.Sprintf("Bulk %07d", i), key: fmt.Sprintf("bulk-%s-%07d", ms, i), typ: 197, cat: bulk,
			content: &content, modified: mod, createdBy: seedUsers()[1]})
	}
	sd.account(o.Assets)
}

// AddBlocks adds n plain blocks of typeID (0 = 197) to the root folder of
// mid, stamped with the clock like CreateAsset (use an injected clock for
// deterministic dates), and returns their ids.
func (s *Server) AddBlocks(mid int64, n int, typeID int) []int64 {
	if typeID == 0 {
		typeID = 197
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.store(mid)
	if st == nil || n <= 0 {
		return nil
	}
	now := s.stamp()
	ids := make([]int64, 0, n)
	for range n {
		id := s.nextAssetID + 1
		in := assetInput{hasName: true, name: fmt.Sprintf("Plain block %d", id), hasType: true, typeID: typeID,
			hasKey: true, key: fmt.Sprintf("blk-%d", id)}
		in.raw[fContent] = appendString(nil, fmt.Sprintf("<p>Plain block %d</p>", id))
		a, errs := s.createAsset(st, in, now, appUser(), false)
		if len(errs) > 0 {
			panic("sfmctest: add block: " + strings.Join(errs, "; "))
		}
		ids = append(ids, a.id)
	}
	return ids
}

// largeContent returns about size bytes of HTML: a 1,000-line chunk repeated.
func largeContent(size int) string {
	var b strings.Builder
	for line := range 1000 {
		b.WriteString("<p>Line ")
		b.WriteString(strconv.Itoa(line))
		b.WriteString(" of a large block: lorem ipsum dolor sit amet, ünï 😀 &amp; %%=v(@x)=%% \"q\"</p>\n")
	}
	chunk := b.String()
	return strings.Repeat(chunk, size/len(chunk)+1)
}
