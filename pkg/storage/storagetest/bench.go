package storagetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/backup-creator/backup-creator/pkg/storage"
)

// BenchmarkCopy measures storage.Copy on st for objects of 4 KiB and 1 MiB,
// once with the store's own Copier ("native", skipped when it has none) and
// once through the Get+Put fallback ("fallback"). Each iteration copies one object to a
// new key; the sources (up to 1000) are written before the timer starts.
// Everything it wrote is deleted at the end. Run it with a fixed count,
// e.g. -benchtime 1000x for 1,000 objects.
func BenchmarkCopy(b *testing.B, st storage.Store) {
	b.Cleanup(func() { _ = st.Close() })
	for _, size := range []int64{4 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) { benchmarkCopy(b, st, size) })
	}
}

func benchmarkCopy(b *testing.B, st storage.Store, size int64) {
	run := func(b *testing.B, name string, target storage.Store) {
		b.Helper()
		n := min(b.N, 1000)
		data := bytes.Repeat([]byte("x"), int(size))
		written := make([]string, 0, n+b.N)
		for i := range n {
			k := fmt.Sprintf("bench-%s-%d/src/%05d", name, b.N, i)
			if _, err := st.Put(b.Context(), k, bytes.NewReader(data), size, storage.PutOptions{}); err != nil {
				b.Fatal(err)
			}
			written = append(written, k)
		}
		b.SetBytes(size)
		b.ResetTimer()
		for i := range b.N {
			dst := fmt.Sprintf("bench-%s-%d/dst/%06d", name, b.N, i)
			if _, err := storage.Copy(b.Context(), target, written[i%n], dst); err != nil {
				b.Fatal(err)
			}
			written = append(written, dst)
		}
		b.StopTimer()
		if err := storage.DeleteKeys(b.Context(), st, written); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("native", func(b *testing.B) {
		if _, ok := st.(storage.Copier); !ok {
			b.Skipf("%s has no Copier", st)
		}
		run(b, "native", st)
	})
	b.Run("fallback", func(b *testing.B) { run(b, "fallback", Plain(st)) })
}

// BenchmarkDeleteKeys measures storage.DeleteKeys on st per key: b.N small
// objects are written before the timer starts and deleted in one call,
// once with the store's own BatchDeleter ("native", skipped when it has
// none) and once through the fallback loop over Delete ("fallback").
func BenchmarkDeleteKeys(b *testing.B, st storage.Store) {
	b.Cleanup(func() { _ = st.Close() })
	run := func(b *testing.B, name string, target storage.Store) {
		b.Helper()
		ks := make([]string, b.N)
		for i := range b.N {
			ks[i] = fmt.Sprintf("bench-del-%s-%d/%06d", name, b.N, i)
			if _, err := st.Put(b.Context(), ks[i], bytes.NewReader([]byte("x")), 1, storage.PutOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		b.ResetTimer()
		if err := storage.DeleteKeys(b.Context(), target, ks); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("native", func(b *testing.B) {
		if _, ok := st.(storage.BatchDeleter); !ok {
			b.Skipf("%s has no BatchDeleter", st)
		}
		run(b, "native", st)
	})
	b.Run("fallback", func(b *testing.B) { run(b, "fallback", Plain(st)) })
}

// BenchmarkPut measures Put of small objects (1 KiB and 16 KiB, the size of
// typical content blocks), one object per iteration, written by 8
// goroutines at once as a backup run writes them (--concurrency 8). Every
// object goes to a new key, and they are left in place (deleting blobs one
// by one is slow on some test servers): give it a scratch bucket. Run it
// with a fixed count, e.g. -benchtime 2000x.
//
// Besides ns/op (wall time per object, with 8 in flight) it reports
// client-cpu-ns/op: the CPU time this process spent per object, user and
// system, GC included. A test server runs in its own process, so this is
// the client's share of the cost (not reported where the OS does not say).
func BenchmarkPut(b *testing.B, st storage.Store) {
	b.Cleanup(func() { _ = st.Close() })
	for _, size := range []int64{1 << 10, 16 << 10} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) { benchmarkPut(b, st, size) })
	}
}

func benchmarkPut(b *testing.B, st storage.Store, size int64) {
	const writers = 8
	data := bytes.Repeat([]byte("x"), int(size))
	ks := make([]string, b.N)
	for i := range ks {
		ks[i] = fmt.Sprintf("bench-put-%d-%d/%06d", size, b.N, i)
	}
	next := make(chan string)
	errs := make(chan error, writers)
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, cpuKnown := processCPU()
	for range writers {
		go func() {
			var err error
			for k := range next {
				if err == nil {
					_, err = st.Put(b.Context(), k, bytes.NewReader(data), size, storage.PutOptions{})
				}
			}
			errs <- err
		}()
	}
	for _, k := range ks {
		next <- k
	}
	close(next)
	var err error
	for range writers {
		err = errors.Join(err, <-errs)
	}
	cpu1, _ := processCPU()
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if cpuKnown {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "client-cpu-ns/op")
	}
}
