package sfmc

import (
	"fmt"
	"strings"
	"time"
)

// sfmcZone is the zone SFMC servers run in: US Central Standard Time without
// daylight saving, UTC−06:00 all year.
var sfmcZone = time.FixedZone("UTC-06:00", -6*60*60)

// Layouts accepted by ParseTime. A fraction of any length (including none) is
// accepted by the ".999999999" element.
const (
	layoutOffset   = "2006-01-02T15:04:05.999999999Z07:00"
	layoutNoOffset = "2006-01-02T15:04:05.999999999"
	layoutDate     = "2006-01-02"
	layoutFormat   = "2006-01-02T15:04:05.000-07:00"
)

// ParseTime parses an SFMC timestamp such as "2024-07-15T10:02:11.6-06:00"
// (0–9 fraction digits, any explicit offset or Z honoured). A value without an
// offset ("2020-10-20T10:37:59.827", as deletedAssets sends) or a bare date is
// read as SFMC server time, UTC−06:00, never as UTC or local time.
func ParseTime(s string) (time.Time, error) {
	v := strings.TrimSpace(s)
	if v == "" {
		return time.Time{}, fmt.Errorf("sfmc: empty timestamp")
	}
	if t, err := time.Parse(layoutOffset, v); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(layoutNoOffset, v, sfmcZone); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(layoutDate, v, sfmcZone); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("sfmc: timestamp %q is not ISO 8601", s)
}

// FormatTime renders t the way SFMC does, for query filters: in UTC−06:00
// with an explicit offset and millisecond precision, e.g.
// "2024-07-15T10:02:11.600-06:00". Sub-millisecond parts are truncated, so
// the rendered instant is never later than t.
func FormatTime(t time.Time) string {
	return t.Truncate(time.Millisecond).In(sfmcZone).Format(layoutFormat)
}
