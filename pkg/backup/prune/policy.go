package prune

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Policy says which complete backups to keep. Its semantics are restic's
// `forget`: a backup kept by any rule is kept; each count rule keeps the
// newest backup of each of its last N calendar buckets (UTC; ISO weeks for
// Weekly); a count of -1 means every bucket; Within keeps every backup
// started within that span before the newest backup. The newest backup is
// always kept. The zero Policy is empty, and Run refuses an empty policy.
type Policy struct {
	Last    int      `json:"keepLast,omitempty"`
	Hourly  int      `json:"keepHourly,omitempty"`
	Daily   int      `json:"keepDaily,omitempty"`
	Weekly  int      `json:"keepWeekly,omitempty"`
	Monthly int      `json:"keepMonthly,omitempty"`
	Yearly  int      `json:"keepYearly,omitempty"`
	Within  Duration `json:"keepWithin,omitzero"`
}

// Empty reports whether no rule is set.
func (p Policy) Empty() bool {
	return p.Last == 0 && p.Hourly == 0 && p.Daily == 0 && p.Weekly == 0 && p.Monthly == 0 && p.Yearly == 0 && p.Within.Zero()
}

// Validate refuses negative counts other than -1 (keep all).
func (p Policy) Validate() error {
	for _, c := range []struct {
		name string
		n    int
	}{{"keep-last", p.Last}, {"keep-hourly", p.Hourly}, {"keep-daily", p.Daily}, {"keep-weekly", p.Weekly}, {"keep-monthly", p.Monthly}, {"keep-yearly", p.Yearly}} {
		if c.n < -1 {
			return fmt.Errorf("--%s %d: give a number of backups to keep, or -1 for all", c.name, c.n)
		}
	}
	return nil
}

// String describes the policy for logs and the dry-run header.
func (p Policy) String() string {
	var parts []string
	switch {
	case p.Last > 0:
		parts = append(parts, fmt.Sprintf("the last %d", p.Last))
	case p.Last == -1:
		parts = append(parts, "all")
	}
	for _, c := range []struct {
		n    int
		name string
	}{{p.Hourly, "hourly"}, {p.Daily, "daily"}, {p.Weekly, "weekly"}, {p.Monthly, "monthly"}, {p.Yearly, "yearly"}} {
		switch {
		case c.n > 0:
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.name))
		case c.n == -1:
			parts = append(parts, "all "+c.name)
		}
	}
	if !p.Within.Zero() {
		parts = append(parts, "all within "+p.Within.String()+" of the newest")
	}
	if len(parts) == 0 {
		return "keep nothing (empty policy)"
	}
	return "keep " + strings.Join(parts, ", ")
}

// Duration is a calendar span: years, months, days and hours, as restic's
// --keep-within takes it ("1y6m", "14d", "36h", "2y3m4d5h").
type Duration struct {
	Years, Months, Days, Hours int
}

// Zero reports whether the span is empty.
func (d Duration) Zero() bool { return d == Duration{} }

func (d Duration) String() string {
	var b strings.Builder
	for _, c := range []struct {
		n int
		u string
	}{{d.Years, "y"}, {d.Months, "m"}, {d.Days, "d"}, {d.Hours, "h"}} {
		if c.n != 0 {
			b.WriteString(strconv.Itoa(c.n) + c.u)
		}
	}
	if b.Len() == 0 {
		return "0h"
	}
	return b.String()
}

// MarshalText writes the span as ParseDuration reads it.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// before returns t minus the span.
func (d Duration) before(t time.Time) time.Time {
	return t.AddDate(-d.Years, -d.Months, -d.Days).Add(-time.Duration(d.Hours) * time.Hour)
}

var durationRE = regexp.MustCompile(`^(?:(\d+)y)?(?:(\d+)m)?(?:(\d+)d)?(?:(\d+)h)?$`)

// ParseDuration reads a span such as "7d", "1y6m" or "36h" (units y, m
// for months, d and h, in that order). An empty string is the zero span.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Duration{}, nil
	}
	m := durationRE.FindStringSubmatch(s)
	if m == nil || s == "" {
		return Duration{}, fmt.Errorf("%q: use a span such as 7d, 36h, 6m (months) or 1y2m3d4h", s)
	}
	var n [4]int
	for i := range n {
		if m[i+1] != "" {
			v, err := strconv.Atoi(m[i+1])
			if err != nil || v > 100000 {
				return Duration{}, fmt.Errorf("%q: number out of range", s)
			}
			n[i] = v
		}
	}
	return Duration{Years: n[0], Months: n[1], Days: n[2], Hours: n[3]}, nil
}

// Backup is what the policy sees of a complete backup.
type Backup struct {
	Name string
	// Time is when the backup's run started.
	Time time.Time
}

// Reasons why a backup is kept.
const (
	ReasonNewest = "newest"
	ReasonLast   = "last"
	ReasonHourly = "hourly"
	ReasonDaily  = "daily"
	ReasonWeekly = "weekly"
	ReasonMonth  = "monthly"
	ReasonYearly = "yearly"
	ReasonWithin = "within"
	oldestPrefix = "oldest "
)

// ApplyPolicy splits backups into those the policy keeps (newest first, with
// the rules that kept each, in the same order as keep) and those it removes
// (newest first). It is a pure function: the order of list does not matter,
// times are taken in UTC, and ties in time are broken by name.
func ApplyPolicy(list []Backup, p Policy) (keep, remove []Backup, reasons [][]string) {
	sorted := append([]Backup(nil), list...)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i].Time, sorted[j].Time
		if !a.Equal(b) {
			return a.After(b)
		}
		return sorted[i].Name > sorted[j].Name
	})
	if len(sorted) == 0 {
		return nil, nil, nil
	}
	type bucket struct {
		count  int
		key    func(t time.Time, nr int) int
		last   int
		reason string
	}
	buckets := []*bucket{
		{p.Last, func(_ time.Time, nr int) int { return nr }, -1, ReasonLast},
		{p.Hourly, func(t time.Time, _ int) int { return t.Year()*1000000 + int(t.Month())*10000 + t.Day()*100 + t.Hour() }, -1, ReasonHourly},
		{p.Daily, func(t time.Time, _ int) int { return t.Year()*10000 + int(t.Month())*100 + t.Day() }, -1, ReasonDaily},
		{p.Weekly, func(t time.Time, _ int) int { y, w := t.ISOWeek(); return y*100 + w }, -1, ReasonWeekly},
		{p.Monthly, func(t time.Time, _ int) int { return t.Year()*100 + int(t.Month()) }, -1, ReasonMonth},
		{p.Yearly, func(t time.Time, _ int) int { return t.Year() }, -1, ReasonYearly},
	}
	newest := sorted[0].Time.UTC()
	var within time.Time
	if !p.Within.Zero() {
		within = p.Within.before(newest)
	}
	for nr, b := range sorted {
		t := b.Time.UTC()
		var why []string
		if nr == 0 {
			why = append(why, ReasonNewest)
		}
		if !p.Within.Zero() && t.After(within) {
			why = append(why, ReasonWithin+" "+p.Within.String())
		}
		oldest := nr == len(sorted)-1
		for _, bk := range buckets {
			if bk.count == 0 {
				continue
			}
			v := bk.key(t, nr)
			// A new bucket is kept; so is the oldest backup while the rule
			// still has count left, which keeps the longest history.
			if v != bk.last || oldest {
				r := bk.reason
				if v == bk.last {
					r = oldestPrefix + r
				}
				why = append(why, r)
				bk.last = v
				if bk.count > 0 {
					bk.count--
				}
			}
		}
		if len(why) > 0 {
			keep = append(keep, b)
			reasons = append(reasons, why)
		} else {
			remove = append(remove, b)
		}
	}
	return keep, remove, reasons
}
