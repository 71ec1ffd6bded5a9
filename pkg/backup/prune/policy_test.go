package prune

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func bk(ts string) Backup {
	t, err := time.Parse("2006-01-02 15:04", ts)
	if err != nil {
		panic(err)
	}
	return Backup{Name: "b " + ts, Time: t}
}

// restic's documentation example: weekdays for two weeks, an extra backup on
// Fridays, Wednesday 2025-04-30 missed.
var docList = []Backup{
	bk("2025-04-21 11:00"), bk("2025-04-22 11:00"), bk("2025-04-23 11:00"), bk("2025-04-24 11:00"),
	bk("2025-04-25 11:00"), bk("2025-04-25 23:00"), bk("2025-04-28 11:00"), bk("2025-04-29 11:00"),
	bk("2025-05-01 11:00"), bk("2025-05-02 11:00"), bk("2025-05-02 23:00"),
}

func names(l []Backup) string {
	var s []string
	for _, b := range l {
		s = append(s, strings.TrimPrefix(b.Name, "b "))
	}
	return strings.Join(s, ", ")
}

func TestApplyPolicy(t *testing.T) {
	tests := []struct {
		name    string
		list    []Backup
		policy  Policy
		keep    string
		reasons string // reasons of the kept backups, "|" between backups
	}{
		{
			name: "restic doc: keep-daily 5 skips the missed day and keeps the last backup of each day",
			list: docList, policy: Policy{Daily: 5},
			keep:    "2025-05-02 23:00, 2025-05-01 11:00, 2025-04-29 11:00, 2025-04-28 11:00, 2025-04-25 23:00",
			reasons: "newest daily|daily|daily|daily|daily",
		},
		{
			name: "keep-last 3", list: docList, policy: Policy{Last: 3},
			keep: "2025-05-02 23:00, 2025-05-02 11:00, 2025-05-01 11:00",
		},
		{
			name: "keep-weekly 2: the last backup of each ISO week", list: docList, policy: Policy{Weekly: 2},
			keep: "2025-05-02 23:00, 2025-04-25 23:00",
		},
		{
			name: "rules are ORed", list: docList, policy: Policy{Last: 2, Weekly: 2},
			keep:    "2025-05-02 23:00, 2025-05-02 11:00, 2025-04-25 23:00",
			reasons: "newest last weekly|last|weekly",
		},
		{
			name: "a rule with count left keeps the oldest backup too",
			list: []Backup{bk("2026-11-02 23:00"), bk("2026-11-01 23:00"), bk("2026-11-01 11:00")}, policy: Policy{Daily: 10},
			keep:    "2026-11-02 23:00, 2026-11-01 23:00, 2026-11-01 11:00",
			reasons: "newest daily|daily|oldest daily",
		},
		{
			name: "a rule whose count is used up does not keep the oldest",
			list: []Backup{bk("2026-11-02 23:00"), bk("2026-11-01 23:00"), bk("2026-11-01 11:00")}, policy: Policy{Daily: 2},
			keep: "2026-11-02 23:00, 2026-11-01 23:00",
		},
		{
			name: "ISO weeks across the new year: Sun 2027-01-03 is in week 53 of 2026",
			list: []Backup{bk("2027-01-04 02:00"), bk("2027-01-03 02:00"), bk("2026-12-28 02:00")}, policy: Policy{Weekly: 2},
			keep: "2027-01-04 02:00, 2027-01-03 02:00",
		},
		{
			name:   "keep-within is measured from the newest backup, not from now",
			list:   []Backup{bk("2020-03-10 02:00"), bk("2020-03-09 02:00"), bk("2020-03-08 03:00"), bk("2020-03-08 01:00"), bk("2020-03-01 02:00")},
			policy: Policy{Within: Duration{Days: 2}},
			keep:   "2020-03-10 02:00, 2020-03-09 02:00, 2020-03-08 03:00",
		},
		{
			name: "keep-within in months and hours",
			list: []Backup{bk("2026-05-20 12:00"), bk("2026-04-20 11:30"), bk("2026-04-20 11:00")}, policy: Policy{Within: Duration{Months: 1, Hours: 1}},
			keep: "2026-05-20 12:00, 2026-04-20 11:30",
		},
		{
			name: "-1 keeps every bucket", list: docList, policy: Policy{Daily: -1},
			keep: "2025-05-02 23:00, 2025-05-01 11:00, 2025-04-29 11:00, 2025-04-28 11:00, 2025-04-25 23:00, 2025-04-24 11:00, 2025-04-23 11:00, 2025-04-22 11:00, 2025-04-21 11:00",
		},
		{
			name: "monthly and yearly", policy: Policy{Monthly: 2, Yearly: 2},
			list: []Backup{bk("2026-03-31 02:00"), bk("2026-03-01 02:00"), bk("2026-02-28 02:00"), bk("2025-12-31 02:00"), bk("2025-06-01 02:00")},
			keep: "2026-03-31 02:00, 2026-02-28 02:00, 2025-12-31 02:00",
		},
		{
			name: "hourly", policy: Policy{Hourly: 2},
			list: []Backup{bk("2026-03-01 02:50"), bk("2026-03-01 02:10"), bk("2026-03-01 01:59"), bk("2026-03-01 00:30")},
			keep: "2026-03-01 02:50, 2026-03-01 01:59",
		},
		{
			name: "the newest backup is kept even when no count rule takes it",
			list: []Backup{bk("2026-03-02 02:00"), bk("2026-03-01 02:00")}, policy: Policy{Within: Duration{Hours: 1}},
			keep: "2026-03-02 02:00", reasons: "newest within 1h",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The input order must not matter.
			shuffled := append([]Backup(nil), tc.list...)
			rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			keep, remove, reasons := ApplyPolicy(shuffled, tc.policy)
			if got := names(keep); got != tc.keep {
				t.Errorf("keep\n got %s\nwant %s", got, tc.keep)
			}
			if len(keep)+len(remove) != len(tc.list) || len(reasons) != len(keep) {
				t.Errorf("%d kept + %d removed of %d, %d reasons", len(keep), len(remove), len(tc.list), len(reasons))
			}
			for _, r := range remove {
				if strings.Contains(", "+tc.keep+", ", ", "+strings.TrimPrefix(r.Name, "b ")+", ") {
					t.Errorf("%s both kept and removed", r.Name)
				}
			}
			if tc.reasons != "" {
				var rs []string
				for _, r := range reasons {
					rs = append(rs, strings.Join(r, " "))
				}
				if got := strings.Join(rs, "|"); got != tc.reasons {
					t.Errorf("reasons\n got %s\nwant %s", got, tc.reasons)
				}
			}
		})
	}
}

func TestApplyPolicyUsesUTCCalendar(t *testing.T) {
	cst := time.FixedZone("CST", -6*3600)
	// 23:30 on Nov 1 in CST is 05:30 on Nov 2 in UTC: the same UTC day as the
	// 20:00 UTC backup, so keep-daily 1 keeps only the later one.
	list := []Backup{
		{Name: "a", Time: time.Date(2026, 11, 1, 23, 30, 0, 0, cst)},
		{Name: "b", Time: time.Date(2026, 11, 2, 20, 0, 0, 0, time.UTC)},
		{Name: "c", Time: time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)},
	}
	keep, _, _ := ApplyPolicy(list, Policy{Daily: 2})
	if got := fmt.Sprint(keep[0].Name, keep[1].Name, len(keep)); got != "bc2" {
		t.Errorf("kept %v", keep)
	}
}

func TestApplyPolicyEmptyList(t *testing.T) {
	keep, remove, reasons := ApplyPolicy(nil, Policy{Last: 1})
	if keep != nil || remove != nil || reasons != nil {
		t.Error("an empty list gives nothing")
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]Duration{
		"7d": {Days: 7}, "36h": {Hours: 36}, "1y2m3d4h": {1, 2, 3, 4}, "6m": {Months: 6}, "": {},
	} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %+v, %v", in, got, err)
		}
		if in != "" && got.String() != in {
			t.Errorf("String() = %q, want %q", got.String(), in)
		}
	}
	for _, bad := range []string{"1w", "7", "d7", "-1d", "1h2d", "1.5d"} {
		if _, err := ParseDuration(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("ParseDuration(%q) error %v, want one naming it", bad, err)
		}
	}
}

func TestPolicyEmptyAndValidate(t *testing.T) {
	if !(Policy{}).Empty() || (Policy{Within: Duration{Hours: 1}}).Empty() || (Policy{Yearly: -1}).Empty() {
		t.Error("Empty")
	}
	if err := (Policy{Daily: -2}).Validate(); err == nil || !strings.Contains(err.Error(), "keep-daily") {
		t.Errorf("Validate(-2) = %v", err)
	}
}
