package local

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/storage"
)

// BenchmarkPutBlockFiles writes what one backup run writes into its new
// folder: blockFiles files of about 2.2 KB (the average block file of a
// 100,000-asset account) from 8 writers (the default concurrency), then
// the one Sync the engine makes before the manifest, once as a temporary
// file renamed into place ("temp-rename") and once with PutOptions.Fresh
// ("fresh"). One op is one folder; files/s and ns/file are per file,
// sync-ms/op is the Sync's share. Run it on the disk the backups go to
// (TMPDIR), with a fixed count:
//
//	go test -run '^$' -bench PutBlockFiles -benchtime 5x -count 3 ./pkg/storage/local
func BenchmarkPutBlockFiles(b *testing.B) {
	const (
		blockFiles = 20_000
		workers    = 8
	)
	for _, mode := range []struct {
		name string
		opts storage.PutOptions
	}{
		{"temp-rename", storage.PutOptions{NoSync: true}},
		{"fresh", storage.PutOptions{Fresh: true, NoSync: true}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			root := b.TempDir()
			st := newStore(b, root)
			defer func() { _ = st.Close() }()
			json := bytes.Repeat([]byte("j"), 1900)
			html := bytes.Repeat([]byte("h"), 2500)
			var syncTime time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for it := range b.N {
				folder := fmt.Sprintf("backup_20261201T0000%02dZ", it)
				var next atomic.Int64
				var wg sync.WaitGroup
				for range workers {
					wg.Go(func() {
						for {
							i := next.Add(1) - 1
							if i >= blockFiles {
								return
							}
							name, data := fmt.Sprintf("%d_Block_%d.json", 100000+i/2, i/2), json
							if i%2 == 1 {
								name, data = fmt.Sprintf("%d_Block_%d.html", 100000+i/2, i/2), html
							}
							key := folder + "/blocks/" + name
							if _, err := st.Put(b.Context(), key, bytes.NewReader(data), int64(len(data)), mode.opts); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				t0 := time.Now()
				if err := st.Sync(b.Context()); err != nil {
					b.Fatal(err)
				}
				syncTime += time.Since(t0)
				b.StopTimer()
				if err := os.RemoveAll(filepath.Join(root, folder)); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			files := float64(b.N) * blockFiles
			b.ReportMetric(files/b.Elapsed().Seconds(), "files/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/files, "ns/file")
			b.ReportMetric(float64(syncTime.Milliseconds())/float64(b.N), "sync-ms/op")
		})
	}
}
