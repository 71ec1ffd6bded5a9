package sfmctest

import "strings"

// assetTypeInfo is one row of the Content Builder asset type table (§12 of the
// API reference).
type assetTypeInfo struct {
	ID          int
	Name        string
	DisplayName string
	Base        int // the type it inherits from; 0 for the root "asset"
}

// assetTypeTable returns the asset types the emulator knows, keyed by ID.
// It is built per server so that no package-level mutable state exists.
func assetTypeTable() map[int]assetTypeInfo {
	m := make(map[int]assetTypeInfo, 260)
	bases := []string{"asset", "file", "block", "template", "message", "custom", "default",
		"image", "rawimage", "video", "document", "audio", "archive", "code", "textfile"}
	baseParent := []int{0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2}
	for i, n := range bases {
		m[i+1] = assetTypeInfo{ID: i + 1, Name: n, DisplayName: titleWord(n), Base: baseParent[i]}
	}
	fileGroups := []struct {
		base  int
		first int
		names string
	}{
		{8, 16, "ai psd pdd eps gif jpe jpeg jpg jp2 jpx pict pct png tif tiff tga bmp wmf vsd pnm pgm pbm ppm svg"},
		{9, 40, "3fr ari arw bay cap crw cr2 dcr dcs dng drf eip erf fff iiq k25 kdc mef mos mrw nef nrw orf pef ptx pxn raf raw rw2 rwl rwz srf sr2 srw x3f"},
		{10, 75, "3gp 3gpp 3g2 3gp2 asf avi m2ts mts dif dv mkv mpg f4v flv mjpg mjpeg mxf mpeg mp4 m4v mp4v mov swf wmv rm ogv"},
		{11, 101, "indd indt incx wwcx doc docx dot dotx mdb mpp ics xls xlsx xlk xlsm xlt xltm csv tsv tab pps ppsx ppt pptx pot thmx pdf ps qxd rtf sxc sxi sxw odt ods ots odp otp epub dvi key keynote pez"},
		{12, 144, "aac m4a au aif aiff aifc mp3 wav wma midi oga ogg ra vox voc"},
		{13, 159, "7z arj bz2 cab gz gzip iso lha sit tgz jar rar tar zip gpg"},
		{14, 174, "htm html xhtml xht css less sass js json atom rss xml xsl xslt md markdown as fla eml"},
		{15, 193, "text txt"},
	}
	for _, g := range fileGroups {
		display := titleWord(bases[g.base-1])
		for i, n := range strings.Fields(g.names) {
			id := g.first + i
			m[id] = assetTypeInfo{ID: id, Name: n, DisplayName: display, Base: g.base}
		}
	}
	named := []assetTypeInfo{
		{195, "freeformblock", "Free Form Block", 3},
		{196, "textblock", "Text Block", 3},
		{197, "htmlblock", "HTML Block", 3},
		{198, "textplusimageblock", "Text Plus Image Block", 3},
		{199, "imageblock", "Image Block", 3},
		{200, "abtestblock", "A/B Test Block", 3},
		{201, "dynamicblock", "Dynamic Content Block", 3},
		{202, "stylingblock", "Styling Block", 3},
		{203, "einsteincontentblock", "Einstein Content Block", 3},
		{205, "webpage", "Web Page", 1},
		{206, "webtemplate", "Web Template", 1},
		{207, "templatebasedemail", "Template-Based Email", 5},
		{208, "htmlemail", "HTML Email", 5},
		{209, "textonlyemail", "Text Only Email", 5},
		{210, "socialshareblock", "Social Share Block", 3},
		{211, "socialfollowblock", "Social Follow Block", 3},
		{212, "buttonblock", "Button Block", 3},
		{213, "layoutblock", "Layout Block", 3},
		{214, "defaulttemplate", "Default Template", 4},
		{215, "smartcaptureblock", "Smart Capture Block", 1},
		{216, "smartcaptureformfieldblock", "Smart Capture Form Field Block", 1},
		{217, "smartcapturesubmitoptionsblock", "Smart Capture Submit Options Block", 1},
		{218, "slotpropertiesblock", "Slot Properties Block", 1},
		{219, "externalcontentblock", "External Content Block", 1},
		{220, "codesnippetblock", "Code Snippet Block", 1},
		{221, "rssfeedblock", "RSS Feed Block", 1},
		{222, "formstylingblock", "Form Styling Block", 1},
		{223, "referenceblock", "Reference Block", 1},
		{224, "imagecarouselblock", "Image Carousel Block", 1},
		{225, "customblock", "Custom Block", 1},
		{226, "liveimageblock", "Live Image Block", 1},
		{227, "livesettingblock", "Live Setting Block", 1},
		{228, "contentmap", "Content Map", 1},
		{230, "jsonmessage", "JSON Message", 1},
		{232, "icemailformblock", "Interactive Email Form Block", 1},
		{239, "coderesource", "Code Resource", 1},
		{240, "jscoderesource", "Javascript Code Resource", 1},
		{241, "csscoderesource", "CSS Code Resource", 1},
		{242, "jsoncoderesource", "JSON Code Resource", 1},
		{243, "rsscoderesource", "RSS Code Resource", 1},
		{244, "textcoderesource", "Text Code Resource", 1},
		{245, "xmlcoderesource", "XML Code Resource", 1},
		{246, "cloudpages", "CloudPages", 1},
		{247, "landingpage", "Landing Page", 1},
		{248, "microsite", "Microsite", 1},
		{249, "interactivecontent", "Interactive Email Page", 1},
	}
	for _, t := range named {
		m[t.ID] = t
	}
	return m
}

// inherits reports whether type id is base or derives from it.
func inherits(types map[int]assetTypeInfo, id, base int) bool {
	for range 8 {
		if id == base {
			return true
		}
		t, ok := types[id]
		if !ok || t.Base == 0 {
			return false
		}
		id = t.Base
	}
	return false
}

// isFileType reports whether assets of this type carry a binary file.
func isFileType(types map[int]assetTypeInfo, id int) bool {
	return id != 2 && inherits(types, id, 2)
}

func titleWord(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// isBlockType reports whether id is a content-block type (base type 3, or one
// of the block types that SFMC files elsewhere).
func isBlockType(types map[int]assetTypeInfo, id int) bool {
	return inherits(types, id, 3) || (id >= 215 && id <= 228) || id == 232
}
