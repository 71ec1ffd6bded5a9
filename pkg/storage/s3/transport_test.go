package s3

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/backup-creator/backup-creator/pkg/storage"
)

// proxy is a reverse proxy in front of an S3 server that counts the
// connections clients open to it and the PUT requests.
type proxy struct {
	*httptest.Server
	conns, puts atomic.Int64
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u) // keeps Host, which is signed
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 64}
	p := &proxy{}
	p.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			p.puts.Add(1)
		}
		rp.ServeHTTP(w, r)
	}))
	p.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			p.conns.Add(1)
		}
	}
	p.Start()
	t.Cleanup(p.Close)
	return p
}

// TestConnectionReuse checks that Puts reuse connections: rounds of 32
// parallel Puts (more than the SDK's default of 10 idle connections per
// host) open no more connections than there are Puts in flight.
func TestConnectionReuse(t *testing.T) {
	srv := plainServer(t)
	setCredentials(t, srv.access, srv.secret)
	p := newProxy(t, srv.endpoint)
	st, err := New(t.Context(), Config{Bucket: createBucket(t, adminClient(t, srv)), Endpoint: p.URL, Region: srv.region, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	const writers, rounds = 32, 4
	data := bytes.Repeat([]byte("c"), 1024)
	for r := range rounds {
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			wg.Go(func() {
				if _, err := st.Put(t.Context(), fmt.Sprintf("r%d/w%02d", r, w), bytes.NewReader(data), int64(len(data)), storage.PutOptions{}); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	if got := p.puts.Load(); got != writers*rounds {
		t.Fatalf("%d PUT requests, want %d", got, writers*rounds)
	}
	// At most one connection per Put in flight (the HeadBucket's is reused).
	if got := p.conns.Load(); got > writers {
		t.Errorf("%d Puts in rounds of %d opened %d connections, want at most %d", writers*rounds, writers, got, writers)
	}
}
