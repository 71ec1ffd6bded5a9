package cmd

import (
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/backup-creator/backup-creator/pkg/config"
	"github.com/backup-creator/backup-creator/pkg/shard"
)

// jobIndexEnv is set by Kubernetes in every pod of an Indexed Job.
const jobIndexEnv = "JOB_COMPLETION_INDEX"

// resolveShard returns the shard this run is (nil: all units): --shard /
// BACKUP_CREATOR_SHARD, else JOB_COMPLETION_INDEX of shard_count. Bad or
// incomplete settings are usage errors (exit 2).
func resolveShard(cfg *config.Config) (*shard.Shard, error) {
	var s shard.Shard
	idx, inJob := os.LookupEnv(jobIndexEnv)
	idx = strings.TrimSpace(idx)
	switch {
	case cfg.Shard != "":
		v, err := shard.Parse(cfg.Shard)
		if err != nil {
			return nil, usageErrorf("%v (--shard, BACKUP_CREATOR_SHARD)", err)
		}
		s = v
	case inJob && idx != "":
		if cfg.ShardCount == 0 {
			return nil, configErrorf("%s=%s is set (a Kubernetes Indexed Job) but shard_count is not: set BACKUP_CREATOR_SHARD_COUNT to the Job's completions", jobIndexEnv, idx)
		}
		i, err := strconv.Atoi(idx)
		if err != nil {
			return nil, configErrorf("%s %q is not a number", jobIndexEnv, idx)
		}
		v, err := shard.New(i, cfg.ShardCount)
		if err != nil {
			return nil, configErrorf("%s=%s with shard_count %d: %v", jobIndexEnv, idx, cfg.ShardCount, err)
		}
		s = v
	case cfg.ShardCount != 0:
		return nil, configErrorf("shard_count is %d but this is not a shard: set --shard I/N (BACKUP_CREATOR_SHARD) or run in a Kubernetes Indexed Job (%s)", cfg.ShardCount, jobIndexEnv)
	default:
		return nil, nil
	}
	if len(cfg.AccountIDs) == 0 {
		return nil, configErrorf("shard %s: sharding splits the business units of account_ids, and none is set (BACKUP_CREATOR_ACCOUNT_IDS)", s)
	}
	return &s, nil
}

// unitsToRun returns the MIDs this run backs up, in the order of account_ids,
// duplicates dropped: all of them, or the shard's.
func unitsToRun(cfg *config.Config, s *shard.Shard) ([]string, error) {
	var mids []string
	seen := map[string]bool{}
	for _, m := range cfg.AccountIDs {
		key := strings.TrimLeft(m, "0")
		if seen[key] {
			continue
		}
		seen[key] = true
		mids = append(mids, m)
	}
	if s == nil {
		return mids, nil
	}
	sel, err := s.Select(mids)
	if err != nil {
		return nil, configErrorf("account_ids: %w", err)
	}
	return slices.Clip(sel), nil
}
