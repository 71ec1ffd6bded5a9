package azblob

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/backup-creator/backup-creator/pkg/storage"
	"github.com/backup-creator/backup-creator/pkg/storage/storagetest"
)

// azurite returns the connection string of the Azurite instance that
// AZURE_STORAGE_CONNECTION_STRING names (scripts/test-servers.sh).
func azurite(t testing.TB) string {
	t.Helper()
	return storagetest.Env(t, ConnectionStringEnv)[0]
}

var containerSeq atomic.Int64

// createContainer makes a uniquely named container and deletes it, with
// its blobs, when t ends.
func createContainer(t testing.TB, conn string) string {
	t.Helper()
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name := "bc-test-" + hex.EncodeToString(rnd[:]) + "-" + strconv.FormatInt(containerSeq.Add(1), 10)
	cl, err := container.NewClientFromConnectionString(conn, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Create(t.Context(), nil); err != nil {
		t.Fatalf("create container %s: %v", name, err)
	}
	t.Cleanup(func() {
		if _, err := cl.Delete(context.WithoutCancel(t.Context()), nil); err != nil {
			t.Errorf("cleanup delete container %s: %v", name, err)
		}
	})
	return name
}

func TestConformance(t *testing.T) {
	conn := azurite(t)
	for _, prefix := range []string{"", "backups/sfmc"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			storagetest.RunWithOptions(t, func(t *testing.T) storage.Store {
				st, err := New(t.Context(), Config{Container: createContainer(t, conn), Prefix: prefix, listPageSize: 7})
				if err != nil {
					t.Fatal(err)
				}
				return st
			}, storagetest.Options{ListKeys: 25}) // 12 MiB: staged 8 MiB blocks
		})
	}
}

func TestPrefixPlacementAndTier(t *testing.T) {
	conn := azurite(t)
	name := createContainer(t, conn)
	st, err := New(t.Context(), Config{Container: name, Prefix: "/a//b/", AccessTier: "cool"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := st.String(), "azblob://"+name+"/a/b"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if _, err := st.Put(t.Context(), "k/v.json", strings.NewReader("{}"), 2, storage.PutOptions{ContentType: "application/json"}); err != nil {
		t.Fatal(err)
	}
	admin, err := container.NewClientFromConnectionString(conn, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	props, err := admin.NewBlobClient("a/b/k/v.json").GetProperties(t.Context(), nil)
	if err != nil {
		t.Fatalf("blob not at a/b/k/v.json: %v", err)
	}
	if ct := props.ContentType; ct == nil || *ct != "application/json" {
		t.Errorf("content type = %v", ct)
	}
	if tier := props.AccessTier; tier == nil || *tier != "Cool" {
		t.Errorf("access tier = %v, want Cool", tier)
	}
	if _, err := admin.NewBlockBlobClient("a/bc").UploadBuffer(t.Context(), []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := st.List(t.Context(), "", func(oi storage.ObjectInfo) error { got = append(got, oi.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "k/v.json" {
		t.Errorf("list = %q, want [k/v.json]", got)
	}
}

var accountKey = regexp.MustCompile(`AccountKey=[^;]*`)

func TestNewFailsFast(t *testing.T) {
	conn := azurite(t)
	name := createContainer(t, conn)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	_ = l.Close()
	wrongKey := base64.StdEncoding.EncodeToString([]byte("definitely not the azurite key, 64 bytes long, padded.........."))
	endpoint := regexp.MustCompile(`BlobEndpoint=http://[^/]*/`)
	tests := []struct {
		name     string
		conn     string
		cfg      Config
		wantText string
	}{
		{"missing container", conn, Config{Container: "bc-test-does-not-exist", Prefix: "p"}, "container does not exist"},
		{"wrong key", accountKey.ReplaceAllString(conn, "AccountKey="+wrongKey), Config{Container: name}, "access denied"},
		{"unreachable endpoint", endpoint.ReplaceAllString(conn, "BlobEndpoint=http://"+closed+"/"), Config{Container: name}, "endpoint unreachable"},
		{"bad connection string", "nonsense", Config{Container: name}, "not a valid connection string"},
		{"no container", conn, Config{}, "not set or invalid"},
		{"bad tier", conn, Config{Container: name, AccessTier: "Lukewarm"}, "unknown access tier"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(ConnectionStringEnv, tc.conn)
			st, err := New(t.Context(), tc.cfg)
			if err == nil {
				_ = st.Close()
				t.Fatal("New succeeded")
			}
			msg := err.Error()
			if !strings.Contains(msg, "azblob://"+tc.cfg.Container) || !strings.Contains(msg, tc.wantText) {
				t.Errorf("error %q should name azblob://%s and say %q", msg, tc.cfg.Container, tc.wantText)
			}
			if key := accountKey.FindString(conn); strings.Contains(msg, strings.TrimPrefix(key, "AccountKey=")) || strings.Contains(msg, wrongKey) {
				t.Errorf("error %q contains the account key", msg)
			}
		})
	}
}

func TestParseURL(t *testing.T) {
	base := Config{AccountName: "acct"}
	tests := []struct {
		in      string
		want    Config
		wantErr string
	}{
		{in: "azblob://backups", want: Config{Container: "backups", AccountName: "acct"}},
		{in: "azblob://backups/sfmc/prod/", want: Config{Container: "backups", Prefix: "sfmc/prod", AccountName: "acct"}},
		{
			in:   "azblob://c/p?account_name=other&service_url=https://other.blob.core.windows.net/&access_tier=Cool",
			want: Config{Container: "c", Prefix: "p", AccountName: "other", ServiceURL: "https://other.blob.core.windows.net/", AccessTier: "Cool"},
		},
		{in: "azblob://c?sas=xyz", wantErr: "unknown query parameter"},
		{in: "azblob:///p", wantErr: "container missing"},
		{in: "s3://c", wantErr: "not azblob"},
		{in: "azblob://acct:key@c", wantErr: "credentials in the URL"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			u, err := url.Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseURL(u, base)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseURL = %+v, %v; want error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("ParseURL = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestNewNeedsAnAccount(t *testing.T) {
	t.Setenv(ConnectionStringEnv, "")
	_, err := New(t.Context(), Config{Container: "c"})
	if err == nil || !strings.Contains(err.Error(), "set account_name or service_url") {
		t.Fatalf("New = %v, want a hint to set the account", err)
	}
	_, err = New(t.Context(), Config{Container: "c", ServiceURL: "https://x.example/?sig=secret"})
	if err == nil || !strings.Contains(err.Error(), "invalid service_url") || strings.Contains(err.Error(), "secret") {
		t.Fatalf("New = %v, want the service URL refused without echoing it", err)
	}
}

func TestBlockSize(t *testing.T) {
	tests := []struct{ size, want int64 }{
		{0, 1 << 20},
		{4 << 10, 1 << 20},
		{1 << 20, 1<<20 + 1},
		{8<<20 - 1, 8 << 20},
		{8 << 20, 8 << 20},
		{1 << 30, 8 << 20},
	}
	for _, tc := range tests {
		if got := blockSize(tc.size); got != tc.want {
			t.Errorf("blockSize(%d) = %d, want %d", tc.size, got, tc.want)
		}
	}
}

// BenchmarkCopy compares the server-side Copy Blob with the Get+Put
// fallback (see storagetest.BenchmarkCopy):
//
//	go test ./pkg/storage/azblob -run '^$' -bench Copy -benchtime 1000x
func BenchmarkCopy(b *testing.B) {
	st, err := New(b.Context(), Config{Container: createContainer(b, azurite(b))})
	if err != nil {
		b.Fatal(err)
	}
	storagetest.BenchmarkCopy(b, st)
}

// BenchmarkPut measures small Puts, 8 at a time, as a backup run writes
// content blocks (see storagetest.BenchmarkPut):
//
//	go test ./pkg/storage/azblob -run '^$' -bench Put -benchtime 2000x
func BenchmarkPut(b *testing.B) {
	st, err := New(b.Context(), Config{Container: createContainer(b, azurite(b))})
	if err != nil {
		b.Fatal(err)
	}
	storagetest.BenchmarkPut(b, st)
}
