// Package history answers "what changed, when, and what did it say before?"
// over the backups of a destination: History follows blocks through every
// complete backup, Diff compares the restorable states at two backups, and
// Show returns one block's stored bytes as of a backup.
//
// All three fold the backups into a repo.Chain, the one model of which
// version of a block a backup holds and whether it is deleted, so they agree
// with restore (and with prune, which rewrites what the chain reads).
// Manifests are streamed; memory grows with the number of block ids, and
// block files are read one at a time.
//
//	rep, err := history.History(ctx, st, history.Selector{IDs: []int64{1295064}})
//	d, err := history.Diff(ctx, st, history.DiffOptions{From: "backup_20261101"})
//	for _, c := range d.Changed {
//		text, err := history.ContentDiff(ctx, st, c)
//		...
//	}
package history
