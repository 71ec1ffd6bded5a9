// Package shard splits the business units of one account between several
// processes (hosts, or the pods of a Kubernetes Indexed Job) without any
// coordination between them: every process computes the same assignment.
//
// A unit belongs to shard I of N when
//
//	FNV-1a-64(decimal MID without leading zeros) mod N == I
//
// (hash/fnv New64a over the ASCII digits, the result taken as an unsigned
// 64-bit integer). The assignment depends only on the MID and N: the order
// of account_ids, the host and the run do not change it, so every unit is
// backed up by exactly one shard. Changing N moves units between shards;
// each unit keeps its own destination, lock and watermark, so a moved unit
// simply continues incrementally on its new shard.
package shard

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// MaxCount bounds N (Kubernetes allows up to 100,000 completions; backing
// up more than this many shards of business units makes no sense).
const MaxCount = 10000

// Shard is shard Index of Count (0 ≤ Index < Count).
type Shard struct {
	Index, Count int
}

// String returns "I/N".
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// Parse parses "I/N" (0 ≤ I < N ≤ MaxCount).
func Parse(s string) (Shard, error) {
	is, ns, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Shard{}, fmt.Errorf("shard %q: use I/N, e.g. 0/4 for the first of four shards", s)
	}
	i, err1 := strconv.Atoi(strings.TrimSpace(is))
	n, err2 := strconv.Atoi(strings.TrimSpace(ns))
	if err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("shard %q: I and N must be whole numbers (I/N, e.g. 0/4)", s)
	}
	return New(i, n)
}

// New checks 0 ≤ index < count ≤ MaxCount.
func New(index, count int) (Shard, error) {
	if count < 1 || count > MaxCount {
		return Shard{}, fmt.Errorf("shard count %d is out of range (1-%d)", count, MaxCount)
	}
	if index < 0 || index >= count {
		return Shard{}, fmt.Errorf("shard index %d is out of range for %d shards (0-%d)", index, count, count-1)
	}
	return Shard{Index: index, Count: count}, nil
}

// ErrNotMID is returned for a MID that is not a decimal number.
var ErrNotMID = errors.New("not a MID (a decimal number)")

// Of returns the shard of mid among count shards.
func Of(mid string, count int) (int, error) {
	v, err := strconv.ParseUint(strings.TrimSpace(mid), 10, 64)
	if err != nil || count < 1 {
		return 0, fmt.Errorf("shard of %q: %w", mid, ErrNotMID)
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(strconv.FormatUint(v, 10)))
	return int(h.Sum64() % uint64(count)), nil
}

// Select returns the MIDs of mids that belong to s, in their order.
func (s Shard) Select(mids []string) ([]string, error) {
	var out []string
	for _, m := range mids {
		i, err := Of(m, s.Count)
		if err != nil {
			return nil, err
		}
		if i == s.Index {
			out = append(out, m)
		}
	}
	return out, nil
}
