package sfmc

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// DefaultBlockTypes is the default set of content-block asset type ids
// (shared/sfmc-api.md §12.3): every standalone Content Builder block type.
var DefaultBlockTypes = []int{3, 195, 196, 197, 198, 199, 200, 201, 202, 203, 210, 211, 212, 213, 219, 220, 221, 223, 224, 225, 226}

// ExtraBlockTypes are block-like types that are not backed up by default
// (CloudPages/interactive-email form parts and internal blocks). The word
// "extra-blocks" in --types adds them.
var ExtraBlockTypes = []int{215, 216, 217, 218, 222, 227, 228, 232}

// typeNames maps the asset type ids backup-creator knows by name.
var typeNames = map[int]string{
	3: "block", 5: "message", 20: "gif", 22: "jpeg", 23: "jpg", 28: "png", 39: "svg", 127: "pdf",
	195: "freeformblock", 196: "textblock", 197: "htmlblock", 198: "textplusimageblock", 199: "imageblock",
	200: "abtestblock", 201: "dynamicblock", 202: "stylingblock", 203: "einsteincontentblock", 205: "webpage",
	206: "webtemplate", 207: "templatebasedemail", 208: "htmlemail", 209: "textonlyemail", 210: "socialshareblock",
	211: "socialfollowblock", 212: "buttonblock", 213: "layoutblock", 214: "defaulttemplate", 215: "smartcaptureblock",
	216: "smartcaptureformfieldblock", 217: "smartcapturesubmitoptionsblock", 218: "slotpropertiesblock",
	219: "externalcontentblock", 220: "codesnippetblock", 221: "rssfeedblock", 222: "formstylingblock",
	223: "referenceblock", 224: "imagecarouselblock", 225: "customblock", 226: "liveimageblock",
	227: "livesettingblock", 228: "contentmap", 230: "jsonmessage", 232: "icemailformblock",
}

// TypeName returns the known name of an asset type id, or "" if unknown.
func TypeName(id int) string { return typeNames[id] }

// ParseTypes turns the --types list (names, ids, or the words "default" and
// "extra-blocks") into a sorted, de-duplicated list of asset type ids. An empty
// list means the default set. An unknown name is an error naming it.
func ParseTypes(list []string) ([]int, error) {
	var ids []int
	for _, item := range list {
		for _, tok := range strings.Split(item, ",") {
			tok = strings.ToLower(strings.TrimSpace(tok))
			switch tok {
			case "":
				continue
			case "default", "blocks":
				ids = append(ids, DefaultBlockTypes...)
				continue
			case "extra-blocks":
				ids = append(ids, ExtraBlockTypes...)
				continue
			}
			if n, err := strconv.Atoi(tok); err == nil {
				if n <= 0 {
					return nil, fmt.Errorf("asset type %q: ids are positive numbers", tok)
				}
				ids = append(ids, n)
				continue
			}
			found := false
			for id, name := range typeNames {
				if name == tok {
					ids = append(ids, id)
					found = true
					break
				}
			}
			if !found {
				return nil, fmt.Errorf("unknown asset type %q: use a type id (e.g. 197) or a name such as htmlblock, codesnippetblock, default", tok)
			}
		}
	}
	if len(ids) == 0 {
		ids = append(ids, DefaultBlockTypes...)
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// IsFileType reports whether assets of this type carry a binary file
// (image, document, ... types 16–194 in §12.2).
func IsFileType(id int) bool { return id >= 16 && id <= 194 }
