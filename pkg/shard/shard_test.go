package shard_test

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/backup-creator/backup-creator/pkg/shard"
)

// The documented assignment: FNV-1a-64 of the decimal MID, mod N. The
// hashes were computed independently of hash/fnv (a few lines of Python over
// the offset basis 0xcbf29ce484222325 and prime 0x100000001b3); changing
// the function would move every unit between shards, so this table must
// never change.
func TestAssignmentTable(t *testing.T) {
	table := []struct {
		mid  string
		hash uint64
		of   map[int]int // N → shard
	}{
		{"100001", 0x31755e1a8ea14957, map[int]int{1: 0, 2: 1, 3: 2, 4: 3, 8: 7}},
		{"100002", 0x31755f1a8ea14b0a, map[int]int{1: 0, 2: 0, 3: 0, 4: 2, 8: 2}},
		{"100003", 0x3175601a8ea14cbd, map[int]int{1: 0, 2: 1, 3: 1, 4: 1, 8: 5}},
		{"100004", 0x3175591a8ea140d8, map[int]int{1: 0, 2: 0, 3: 0, 4: 0, 8: 0}},
		{"100005", 0x31755a1a8ea1428b, map[int]int{1: 0, 2: 1, 3: 1, 4: 3, 8: 3}},
		{"100006", 0x31755b1a8ea1443e, map[int]int{1: 0, 2: 0, 3: 2, 4: 2, 8: 6}},
		{"100007", 0x31755c1a8ea145f1, map[int]int{1: 0, 2: 1, 3: 0, 4: 1, 8: 1}},
		{"100008", 0x3175551a8ea13a0c, map[int]int{1: 0, 2: 0, 3: 2, 4: 0, 8: 4}},
		{"510000123", 0x8a8578f5edbe362d, map[int]int{1: 0, 2: 1, 3: 1, 4: 1, 8: 5}},
		{"7281698", 0xaa278816450a6c92, map[int]int{1: 0, 2: 0, 3: 1, 4: 2, 8: 2}},
	}
	for _, tc := range table {
		for n, want := range tc.of {
			got, err := shard.Of(tc.mid, n)
			if err != nil || got != want {
				t.Errorf("Of(%s, %d) = %d, %v; want %d", tc.mid, n, got, err, want)
			}
			if uint64(want) != tc.hash%uint64(n) {
				t.Fatalf("table row %s is inconsistent for N=%d", tc.mid, n)
			}
		}
	}
	// The decimal value counts, not its spelling.
	for _, spelled := range []string{"0100001", " 100001 "} {
		if got, _ := shard.Of(spelled, 8); got != 7 {
			t.Errorf("Of(%q, 8) = %d, want 7 like 100001", spelled, got)
		}
	}
	if _, err := shard.Of("12a", 2); !errors.Is(err, shard.ErrNotMID) {
		t.Errorf("Of(12a) = %v", err)
	}
}

// Every unit lands in exactly one shard, whatever N.
func TestSelectPartitions(t *testing.T) {
	var mids []string
	for i := range 200 {
		mids = append(mids, strconv.Itoa(100000+i*37))
	}
	for _, n := range []int{1, 2, 3, 7, 16} {
		seen := map[string]int{}
		for i := range n {
			sel, err := shard.Shard{Index: i, Count: n}.Select(mids)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range sel {
				seen[m]++
			}
		}
		for _, m := range mids {
			if seen[m] != 1 {
				t.Errorf("N=%d: %s selected %d times", n, m, seen[m])
			}
		}
	}
	sel, _ := shard.Shard{Index: 2, Count: 3}.Select([]string{"100006", "100001", "100002"})
	if !slices.Equal(sel, []string{"100006", "100001"}) {
		t.Errorf("Select keeps the order of account_ids: %v", sel)
	}
}

func TestParse(t *testing.T) {
	for in, want := range map[string]shard.Shard{"0/1": {0, 1}, "3/4": {3, 4}, " 2 / 10 ": {2, 10}} {
		got, err := shard.Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, err, want)
		}
		if err == nil && got.String() != strings.ReplaceAll(strings.TrimSpace(in), " ", "") {
			t.Errorf("String() = %q", got.String())
		}
	}
	for in, msg := range map[string]string{
		"":        "use I/N",
		"3":       "use I/N",
		"4/4":     "out of range",
		"-1/4":    "out of range",
		"1/0":     "out of range",
		"a/4":     "whole numbers",
		"1/4/5":   "whole numbers",
		"0/20000": "out of range",
	} {
		if _, err := shard.Parse(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("Parse(%q) = %v, want an error with %q", in, err, msg)
		}
	}
}
