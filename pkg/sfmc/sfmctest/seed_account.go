package sfmctest

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	mrand "math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Shape of the realistic account (SeedOptions.Assets), modelled on a large
// production Content Builder: 100,000 assets of which 69,552 were content
// blocks, about 2.2 KB per backed-up file (the block's JSON and its content).
const (
	// accountBlockShare is the share of content blocks among the assets.
	accountBlockShare = 0.6955
	// accountYears is how far back the account's history reaches from
	// SeedOptions.Start; it ends accountTailDays after Start.
	accountYears    = 3
	accountTailDays = 30
	// accountBigTie is the size of the largest group of blocks sharing one
	// modifiedDate (more than a 500-item page).
	accountBigTie = 550
)

// Names of the realistic account's top-level folders.
const (
	SeedFolderAccountBlocks    = "Content Blocks"
	SeedFolderAccountCampaigns = "Campaigns"
	SeedFolderAccountBrands    = "Brands"
	SeedFolderAccountEmails    = "Email Library"
	SeedFolderAccountImages    = "Image Library"
	SeedFolderAccountDocuments = "Document Library"
)

// weighted is one entry of a weighted choice.
type weighted struct {
	typ    int
	weight float64
}

// accountBlockTypes is the block type mix (all in DefaultBlockTypes).
func accountBlockTypes() []weighted {
	return []weighted{
		{197, 40}, {195, 14}, {196, 9}, {199, 9}, {220, 6}, {212, 5}, {198, 4}, {213, 3}, {201, 2},
		{223, 1.5}, {219, 1}, {202, 1}, {211, 1}, {210, 0.6}, {224, 0.6}, {200, 0.5}, {221, 0.4},
		{225, 0.4}, {226, 0.3}, {203, 0.2}, {3, 0.1},
	}
}

// accountOtherTypes is the mix of the assets the block query does not
// return: emails, templates, pages, images and documents.
func accountOtherTypes() []weighted {
	return []weighted{
		{207, 16}, {208, 8}, {209, 1}, {214, 3}, {205, 1}, {28, 30}, {23, 22}, {20, 4}, {127, 8}, {106, 3}, {118, 2}, {240, 1}, {241, 1},
	}
}

func pick(rnd *mrand.Rand, ws []weighted) int {
	total := 0.0
	for _, w := range ws {
		total += w.weight
	}
	x := rnd.Float64() * total
	for _, w := range ws {
		if x -= w.weight; x < 0 {
			return w.typ
		}
	}
	return ws[len(ws)-1].typ
}

// accountUsers are the marketers of the realistic account.
func accountUsers() []user {
	names := []string{"Jane Doe", "Max Mustermann", "Ana Souza", "Kenji Sato", "Priya Nair", "Tom Brown", "Lena Fischer", "Omar Haddad"}
	us := make([]user, len(names))
	for i, n := range names {
		email := strings.ToLower(strings.ReplaceAll(n, " ", ".")) + "@example.com"
		us[i] = user{ID: 700301950 + int64(i), Email: email, Name: n}
	}
	return us
}

// massUpdate is a burst of automated edits (a script, a brand refresh).
type massUpdate struct {
	at    time.Time
	count int
}

// accountSeeder builds the realistic account; the caller holds the write lock.
type accountSeeder struct {
	sd       *seeder
	rnd      *mrand.Rand
	from, to time.Time
	users    []user
	root     int64
	tops     map[string]int64
	folders  map[string]int64 // by path below the root
	images   map[int][][]byte // prebuilt files by type
	brands   []string
	themes   []string
}

// account seeds n assets into sd's store: content blocks of the default types
// (about 70 %) and other assets, in a folder tree of campaigns, brands and
// libraries, ids increasing with creation over accountYears years, with
// bursts of creation and of automated edits, and ties on modifiedDate
// (small groups and one of accountBigTie blocks). The same n (and MID and
// Start) always gives the same account.
func (sd *seeder) account(n int) {
	if n <= 0 {
		return
	}
	as := &accountSeeder{
		sd:      sd,
		rnd:     mrand.New(mrand.NewPCG(uint64(sd.st.mid), 0x5eedacc7)),
		from:    sd.start.AddDate(-accountYears, 0, 0),
		to:      sd.start.Add(accountTailDays * 24 * time.Hour),
		users:   accountUsers(),
		root:    sd.st.rootID,
		tops:    map[string]int64{},
		folders: map[string]int64{},
		brands:  []string{"Northwind", "Contoso", "Fabrikam", "Tailspin", "Litware"},
		themes: []string{"Spring Sale", "Summer Launch", "Back to School", "Black Friday", "Holiday", "New Year",
			"Loyalty", "Welcome Journey", "Win-back", "Product Update", "Webinar", "Survey", "Event Invite", "Flash Sale"},
	}
	for _, name := range []string{SeedFolderAccountBlocks, SeedFolderAccountCampaigns, SeedFolderAccountBrands,
		SeedFolderAccountEmails, SeedFolderAccountImages, SeedFolderAccountDocuments} {
		as.tops[name] = sd.folder(name, as.root)
	}
	as.tops["Shared"] = sd.folder("Shared Library", sd.st.sharedID)
	as.buildFiles()

	created := as.creationTimes(n)
	types := make([]int, n)
	for i := range types {
		if as.rnd.Float64() < accountBlockShare {
			types[i] = pick(as.rnd, accountBlockTypes())
		} else {
			types[i] = pick(as.rnd, accountOtherTypes())
		}
	}
	modified := as.modifiedTimes(created)
	as.ties(types, modified)
	for i := range n {
		as.add(i, types[i], created[i], modified[i])
	}
}

// creationTimes returns n ascending creation times: a growing steady rate on
// working days plus bursts (a campaign built in an afternoon, an import).
func (as *accountSeeder) creationTimes(n int) []time.Time {
	span := as.to.Sub(as.from)
	bursts := make([]time.Time, 12+n/4000)
	for i := range bursts {
		bursts[i] = as.from.Add(time.Duration(as.rnd.Float64() * float64(span)))
	}
	out := make([]time.Time, n)
	for i := range out {
		var t time.Time
		if as.rnd.Float64() < 0.3 {
			c := bursts[as.rnd.IntN(len(bursts))]
			t = c.Add(time.Duration(math.Abs(as.rnd.NormFloat64()) * float64(2*time.Hour)))
		} else {
			// sqrt: the rate grows over the years; weekends are quiet.
			day := as.from.Add(time.Duration(math.Sqrt(as.rnd.Float64()) * float64(span))).Truncate(24 * time.Hour)
			if wd := day.In(cst()).Weekday(); (wd == time.Saturday || wd == time.Sunday) && as.rnd.IntN(10) < 8 {
				day = day.Add(48 * time.Hour)
			}
			hour := 14 + 3*as.rnd.NormFloat64() // 8:00 CST ≈ 14:00 UTC
			t = day.Add(time.Duration(hour * float64(time.Hour)))
		}
		out[i] = roundTick(as.clamp(t))
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

// modifiedTimes returns each asset's modifiedDate (never before its creation).
func (as *accountSeeder) modifiedTimes(created []time.Time) []time.Time {
	span := as.to.Sub(as.from)
	mass := make([]massUpdate, 6+len(created)/20000)
	for i := range mass {
		mass[i].at = roundTick(as.from.Add(span/3 + time.Duration(as.rnd.Float64()*float64(span*2/3))))
	}
	slices.SortFunc(mass, func(a, b massUpdate) int { return a.at.Compare(b.at) })
	out := make([]time.Time, len(created))
	for i, c := range created {
		r := as.rnd.Float64()
		var m time.Time
		switch {
		case r < 0.40: // built and saved in one session
			m = c.Add(time.Duration(5+as.rnd.IntN(40*60)) * time.Second)
		case r < 0.85: // edited again later
			m = c.Add(time.Duration(as.rnd.ExpFloat64() * float64(45*24*time.Hour)))
		default: // touched by the next automated mass update, if any
			j, _ := slices.BinarySearchFunc(mass, c.Add(time.Hour), func(u massUpdate, t time.Time) int { return u.at.Compare(t) })
			if j < len(mass) {
				j += as.rnd.IntN(len(mass) - j)
				m = mass[j].at.Add(time.Duration(mass[j].count) * 137 * time.Millisecond)
				mass[j].count++
			} else {
				m = c.Add(time.Duration(as.rnd.ExpFloat64() * float64(20*24*time.Hour)))
			}
		}
		out[i] = roundTick(as.clamp(m))
		if out[i].Before(c) {
			out[i] = c
		}
	}
	return out
}

// ties makes blocks share modifiedDates: small groups (a bulk save) and one
// group of accountBigTie (a migration job), each at the latest date of its members.
func (as *accountSeeder) ties(types []int, modified []time.Time) {
	var blocks []int
	for i, t := range types {
		if isBlockType(as.sd.s.types, t) {
			blocks = append(blocks, i)
		}
	}
	if len(blocks) < 4 {
		return
	}
	group := func(members []int) {
		var t time.Time
		for _, i := range members {
			if modified[i].After(t) {
				t = modified[i]
			}
		}
		for _, i := range members {
			modified[i] = t
		}
	}
	for range len(blocks) / 500 {
		k := 2 + as.rnd.IntN(11)
		j := as.rnd.IntN(len(blocks) - k)
		group(blocks[j : j+k])
	}
	if len(blocks) >= 4*accountBigTie {
		members := make([]int, 0, accountBigTie)
		taken := map[int]bool{}
		for len(members) < accountBigTie {
			if i := blocks[as.rnd.IntN(len(blocks))]; !taken[i] {
				taken[i] = true
				members = append(members, i)
			}
		}
		group(members)
	}
}

func (as *accountSeeder) clamp(t time.Time) time.Time {
	if t.After(as.to) {
		return as.to.Add(-time.Duration(as.rnd.IntN(3600)) * time.Second)
	}
	if t.Before(as.from) {
		return as.from
	}
	return t
}

// folder returns the folder at path (below top), creating it and its parents.
func (as *accountSeeder) folder(top string, path ...string) int64 {
	id := as.tops[top]
	key := top
	for _, p := range path {
		key += "/" + p
		if c, ok := as.folders[key]; ok {
			id = c
			continue
		}
		id = as.sd.folder(p, id)
		as.folders[key] = id
	}
	return id
}

// campaign returns a campaign folder of t's quarter: Campaigns/2023/Q2/Spring Sale.
func (as *accountSeeder) campaign(t time.Time) (int64, string) {
	ct := t.In(cst())
	q := "Q" + strconv.Itoa(int(ct.Month()-1)/3+1)
	theme := as.themes[as.rnd.IntN(len(as.themes))]
	return as.folder(SeedFolderAccountCampaigns, strconv.Itoa(ct.Year()), q, theme), theme
}

// placeBlock chooses a block's folder and a name stem.
func (as *accountSeeder) placeBlock(typ int, t time.Time) (int64, string) {
	module := []string{"Header", "Hero", "Footer", "Banner", "CTA", "Product Grid", "Legal", "Intro", "Offer", "Signature"}[as.rnd.IntN(10)]
	switch r := as.rnd.IntN(100); {
	case r < 50:
		cat, theme := as.campaign(t)
		return cat, theme + " " + module
	case r < 85:
		brand := as.brands[as.rnd.IntN(len(as.brands))]
		sub := []string{"Headers", "Footers", "Modules", "Legal", "Buttons"}[as.rnd.IntN(5)]
		return as.folder(SeedFolderAccountBrands, brand, sub), brand + " " + module
	case r < 97:
		sub := []string{"Snippets", "AMPscript", "Personalisation", "Layouts", "Archive"}[as.rnd.IntN(5)]
		return as.folder(SeedFolderAccountBlocks, sub), module
	}
	return as.tops["Shared"], "Shared " + module
}

// buildFiles makes the small image and document binaries the file assets share.
func (as *accountSeeder) buildFiles() {
	as.images = map[int][][]byte{}
	for i := range 6 {
		w, h := 24+8*i, 16+4*i
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		for y := range h {
			for x := range w {
				img.Set(x, y, color.RGBA{uint8(x * 9), uint8(y * 13), uint8(as.rnd.IntN(256)), 255})
			}
		}
		var p, j, g bytes.Buffer
		if err := png.Encode(&p, img); err != nil {
			panic("sfmctest: encode png: " + err.Error())
		}
		if err := jpeg.Encode(&j, img, &jpeg.Options{Quality: 70}); err != nil {
			panic("sfmctest: encode jpeg: " + err.Error())
		}
		if err := gif.Encode(&g, img, &gif.Options{NumColors: 16}); err != nil {
			panic("sfmctest: encode gif: " + err.Error())
		}
		as.images[28] = append(as.images[28], p.Bytes())
		as.images[23] = append(as.images[23], j.Bytes())
		as.images[20] = append(as.images[20], g.Bytes())
	}
	as.images[127] = [][]byte{[]byte("%PDF-1.4\n% emulator account\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")}
	as.images[106] = [][]byte{append([]byte("PK\x03\x04\x14\x00\x06\x00"), bytes.Repeat([]byte{0x5a}, 600)...)}
	as.images[118] = [][]byte{[]byte("email,first_name,segment\njane@example.com,Jane,A\nmax@example.com,Max,B\n")}
}

var accountWords = strings.Fields(`our new collection is here discover the latest styles and save up to
	percent on selected items free shipping on orders over your exclusive offer ends soon shop now members get early
	access to the sale thank you for being a valued customer we have updated our privacy policy learn more about how we
	use your data unsubscribe manage preferences view in browser questions contact our team grüße café naïve über`)

// text appends about size bytes of prose.
func (as *accountSeeder) text(b *strings.Builder, size int) {
	for start := b.Len(); b.Len()-start < size; {
		b.WriteString(accountWords[as.rnd.IntN(len(accountWords))])
		if as.rnd.IntN(14) == 0 {
			b.WriteString(". ")
		} else {
			b.WriteByte(' ')
		}
	}
}

// contentSize draws a content length: log-normal around 1 KB with a long tail.
func (as *accountSeeder) contentSize() int {
	n := int(math.Exp(7.10 + 0.85*as.rnd.NormFloat64()))
	if as.rnd.IntN(500) == 0 {
		n = 20_000 + as.rnd.IntN(100_000)
	}
	return min(max(n, 40), 160_000)
}

// blockBody returns a block's content and extra fields for its type.
func (as *accountSeeder) blockBody(typ int, name string, id int) (string, map[int]string) {
	_, extra := blockContent(typ, name)
	var b strings.Builder
	size := as.contentSize()
	switch typ {
	case 196: // textblock
		as.text(&b, size/2)
	case 220: // codesnippetblock
		b.WriteString("%%[\n  SET @sub = AttributeValue(\"SubscriberKey\")\n  SET @rows = LookupRows(\"Offers_DE\", \"Segment\", AttributeValue(\"Segment\"))\n")
		for b.Len() < size {
			b.WriteString("  IF RowCount(@rows) > 0 THEN SET @offer = Field(Row(@rows, 1), \"Code\") ENDIF /* ")
			as.text(&b, 40)
			b.WriteString("*/\n")
		}
		b.WriteString("]%%\n<p>%%=v(@offer)=%%</p>")
	case 199, 226: // image blocks
		fmt.Fprintf(&b, `<table width="100%%" cellspacing="0" cellpadding="0" role="presentation"><tr><td align="center"><a href="https://example.com/c/%d?utm_source=sfmc&amp;utm_medium=email"><img data-assetid="%d" src="https://image.s7.sfmc-content.com/lib/fe3a11717564047b771c78/m/1/%x.png" alt="`, id, 2_000_000+id, id)
		as.text(&b, 30)
		b.WriteString(`" width="600" style="display: block; padding: 0px; text-align: center; height: auto; width: 100%; border: 0px;"></a></td></tr></table>`)
	case 212: // button
		fmt.Fprintf(&b, `<table role="presentation" cellpadding="0" cellspacing="0"><tr><td style="background-color:#0070d2;border-radius:4px;padding:10px 20px"><a href="https://example.com/offer/%d?a=1&b=2" style="color:#ffffff;text-decoration:none">`, id)
		as.text(&b, 20)
		b.WriteString(`</a></td></tr></table>`)
	case 223: // reference
		fmt.Fprintf(&b, `%%%%=ContentBlockByKey("brand-footer-%04d")=%%%%`, id%97)
	default:
		b.WriteString(`<table cellpadding="0" cellspacing="0" width="100%" role="presentation" style="min-width: 100%; " class="stylingblock-content-wrapper"><tr><td class="stylingblock-content-wrapper camarker-inner">`)
		for b.Len() < size {
			if as.rnd.IntN(8) == 0 {
				b.WriteString(`<h2 style="font-family:Arial,sans-serif;font-size:22px;color:#333333">`)
				as.text(&b, 30)
				b.WriteString("</h2>\n")
			}
			b.WriteString(`<p style="font-family:Arial,sans-serif;font-size:14px;line-height:20px;color:#555555">`)
			as.text(&b, 120+as.rnd.IntN(300))
			if as.rnd.IntN(6) == 0 {
				fmt.Fprintf(&b, `<a href="https://example.com/p/%d?utm_campaign=%%%%=v(@campaign)=%%%%" style="color:#0070d2">`, as.rnd.IntN(99999))
				as.text(&b, 15)
				b.WriteString("</a>")
			}
			if as.rnd.IntN(10) == 0 {
				b.WriteString(` Hello %%=ProperCase(AttributeValue("FirstName"))=%% 🎉`)
			}
			b.WriteString("</p>\n")
		}
		b.WriteString(`</td></tr></table>`)
	}
	if extra == nil {
		extra = map[int]string{}
	}
	if typ == 195 || typ == 198 || typ == 212 { // the editor keeps a design copy
		extra[fDesign] = strconv.Quote(`<p style="text-align:center">` + name + `</p>`)
	}
	if as.rnd.IntN(4) == 0 {
		extra[fTags] = `["` + []string{"promo", "legal", "newsletter", "transactional", "de", "en"}[as.rnd.IntN(6)] + `"]`
	}
	if as.rnd.IntN(5) == 0 {
		extra[fDescription] = strconv.Quote("Used in " + name)
	}
	return b.String(), extra
}

// otherBody returns the extra fields, content and file of a non-block asset.
func (as *accountSeeder) otherBody(typ int, name string) (*string, map[int]string, []byte) {
	switch typ {
	case 207:
		var html strings.Builder
		as.text(&html, 300+as.rnd.IntN(1500))
		views := `{"html":{"content":"<html><body><div data-type=\"slot\" data-key=\"main\"></div></body></html>","slots":{"main":{"content":"<div data-type=\"block\" data-key=\"b1\"></div>","blocks":{"b1":{"assetType":{"id":197,"name":"htmlblock"},"content":` +
			strconv.Quote("<p>"+html.String()+"</p>") + `}}}}},"subjectline":{"content":` + strconv.Quote(name) + `},"preheader":{"content":"Don't miss out"}}`
		return nil, map[int]string{
			fContentType: `"application/vnd.etmc.email.Message; kind=template"`, fViews: views,
			fData:     `{"email":{"options":{"characterEncoding":"utf-8"},"attributes":[]}}`,
			fChannels: `{"email":true,"web":false}`,
		}, nil
	case 208, 209:
		var body strings.Builder
		as.text(&body, 500+as.rnd.IntN(3000))
		views := `{"html":{"content":` + strconv.Quote("<html><body><p>"+body.String()+"</p></body></html>") + `},"text":{"content":""},"subjectline":{"content":` + strconv.Quote(name) + `}}`
		return nil, map[int]string{fContentType: `"application/vnd.etmc.email.Message; kind=paste"`, fViews: views,
			fData: `{"email":{"options":{"characterEncoding":"utf-8"}}}`}, nil
	case 214, 205:
		c := `<html><head><style>body{font-family:Arial}</style></head><body><div data-type="slot" data-key="header"></div><div data-type="slot" data-key="main"></div><div data-type="slot" data-key="footer"></div></body></html>`
		return &c, nil, nil
	case 240, 241:
		c := "/* " + name + " */\n.button{color:#fff;background:#0070d2}\n"
		return &c, map[int]string{fContentType: `"text/plain"`}, nil
	}
	files := as.images[typ]
	return nil, map[int]string{fFileProperties: `{"fileName":` + strconv.Quote(name) + `}`}, files[as.rnd.IntN(len(files))]
}

// add creates the i-th account asset.
func (as *accountSeeder) add(i, typ int, created, modified time.Time) {
	s, st := as.sd.s, as.sd.st
	in := assetInput{hasName: true, hasType: true, typeID: typ, hasCat: true}
	var content *string
	var extra map[int]string
	var file []byte
	if isBlockType(s.types, typ) {
		cat, stem := as.placeBlock(typ, created)
		in.catID, in.name = cat, fmt.Sprintf("%s %06d", stem, i)
		c, x := as.blockBody(typ, in.name, i)
		content, extra = &c, x
	} else {
		ext := s.types[typ].Name
		switch {
		case typ >= 205 && typ <= 214:
			cat, theme := as.campaign(created)
			if as.rnd.IntN(4) == 0 {
				cat = as.folder(SeedFolderAccountEmails, []string{"Newsletters", "Transactional", "Templates", "Tests"}[as.rnd.IntN(4)])
			}
			in.catID, in.name = cat, fmt.Sprintf("%s %s %06d", theme, s.types[typ].DisplayName, i)
		case typ == 240 || typ == 241:
			in.catID, in.name = as.folder(SeedFolderAccountBlocks, "Code"), fmt.Sprintf("styles-%06d.%s", i, strings.TrimSuffix(ext, "coderesource"))
		case typ == 127 || typ == 106 || typ == 118:
			in.catID = as.folder(SeedFolderAccountDocuments, []string{"Legal", "Price Lists", "Imports"}[as.rnd.IntN(3)])
			in.name = fmt.Sprintf("document-%06d.%s", i, ext)
		default:
			ct := created.In(cst())
			in.catID = as.folder(SeedFolderAccountImages, strconv.Itoa(ct.Year()), fmt.Sprintf("%02d", int(ct.Month())))
			in.name = fmt.Sprintf("%s-%06d.%s", strings.ToLower(strings.ReplaceAll(as.themes[as.rnd.IntN(len(as.themes))], " ", "-")), i, ext)
		}
		content, extra, file = as.otherBody(typ, in.name)
	}
	if as.rnd.IntN(10) < 4 {
		in.hasKey, in.key = true, fmt.Sprintf("acct-%d-%06d", st.mid, i)
	}
	if content != nil {
		in.raw[fContent] = appendString(nil, *content)
	}
	for f, v := range extra {
		in.raw[f] = compactRaw([]byte(v))
	}
	if file != nil {
		in.hasFile, in.file = true, file
	}
	by := as.users[as.rnd.IntN(len(as.users))]
	a, errs := s.createAsset(st, in, created, by, false)
	if len(errs) > 0 {
		panic(fmt.Sprintf("sfmctest: seed account asset %q: %s (Seed called twice for one MID?)", in.name, strings.Join(errs, "; ")))
	}
	a.indexed = time.Time{}
	a.modified = modified
	if !modified.Equal(created) {
		switch r := as.rnd.IntN(10); {
		case r < 2:
			a.modifiedBy = appUser()
		case r < 5:
			a.modifiedBy = as.users[as.rnd.IntN(len(as.users))]
		}
	}
	s.rerender(st, a)
}
