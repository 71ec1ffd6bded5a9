package cmd

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"slices"
	"testing"

	"github.com/backup-creator/backup-creator/pkg/backup/repo"

	gcsapi "cloud.google.com/go/storage"
	azsdk "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/backup-creator/backup-creator/pkg/backup"
	"github.com/backup-creator/backup-creator/pkg/config"
	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
	"github.com/backup-creator/backup-creator/pkg/storage"
	"github.com/backup-creator/backup-creator/pkg/storage/storagetest"
)

func uniqueName(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// cloudDests returns, per backend whose test server is running, a function
// that makes a fresh bucket/container and returns the --dest URL for it. The
// environment the backend needs (credential chain) is set on t.
func cloudDest(t *testing.T, backend string) string {
	t.Helper()
	switch backend {
	case "s3":
		v := storagetest.Env(t, "S3_TEST_ENDPOINT", "S3_TEST_REGION", "S3_TEST_ACCESS_KEY", "S3_TEST_SECRET_KEY")
		t.Setenv("AWS_ACCESS_KEY_ID", v[2])
		t.Setenv("AWS_SECRET_ACCESS_KEY", v[3])
		t.Setenv("AWS_REGION", v[1])
		cl := awss3.New(awss3.Options{Region: v[1], BaseEndpoint: aws.String(v[0]), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(v[2], v[3], "")})
		name := uniqueName("bc-e2e-")
		if _, err := cl.CreateBucket(t.Context(), &awss3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
			t.Fatalf("create bucket: %v", err)
		}
		return fmt.Sprintf("s3://%s/sfmc/prod?endpoint=%s&path_style=true", name, url.QueryEscape(v[0]))
	case "gcs":
		storagetest.Env(t, "STORAGE_EMULATOR_HOST")
		cl, err := gcsapi.NewClient(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cl.Close() })
		name := uniqueName("bc-e2e-")
		if err := cl.Bucket(name).Create(t.Context(), "test-project", nil); err != nil {
			t.Fatalf("create bucket: %v", err)
		}
		return "gs://" + name + "/sfmc/prod"
	case "azblob":
		v := storagetest.Env(t, "AZURE_STORAGE_CONNECTION_STRING")
		cl, err := azsdk.NewClientFromConnectionString(v[0], nil)
		if err != nil {
			t.Fatal(err)
		}
		name := uniqueName("bc-e2e-")
		if _, err := cl.CreateContainer(t.Context(), name, nil); err != nil {
			t.Fatalf("create container: %v", err)
		}
		return "azblob://" + name + "/sfmc/prod"
	}
	t.Fatalf("unknown backend %s", backend)
	return ""
}

// objects reads every object of one backup folder through the store.
func objects(t *testing.T, st storage.Store, folder string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := st.List(t.Context(), folder+"/", func(o storage.ObjectInfo) error {
		rc, _, err := st.Get(t.Context(), o.Key)
		if err != nil {
			return err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		out[o.Key[len(folder)+1:]] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func openDest(t *testing.T, dest string) storage.Store {
	t.Helper()
	v := config.NewViper()
	cfg, err := config.Load(v)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Dest = dest
	st, err := openStore(t.Context(), cfg)
	if err != nil {
		t.Fatalf("open %s: %v", dest, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestCloudEndToEnd runs the same backups into local disk and into each cloud
// backend: a first run, a change, a second run with only the change; every
// stored block file is byte-equal to the local run's, and the manifests list
// the same blocks.
func TestCloudEndToEnd(t *testing.T) {
	for _, backend := range []string{"s3", "gcs", "azblob"} {
		t.Run(backend, func(t *testing.T) {
			h := newHarness(t, sfmctest.Options{})
			dest := cloudDest(t, backend)
			h.emu.Seed(sfmctest.SeedOptions{ExtraBlocks: 300})
			local := h.dest
			compare := func(wantBlocks int) {
				t.Helper()
				h.dest = local
				code, ls, errOut := h.runJSON()
				if code != ExitOK {
					t.Fatalf("local run exit %d: %s", code, errOut)
				}
				code, cs, errOut := h.run("run", "--dest", dest, "--json", "--log-format", "json")
				if code != ExitOK {
					t.Fatalf("%s run exit %d: %s", backend, code, errOut)
				}
				var cloud backup.Summary
				if err := jsonUnmarshal(cs, &cloud); err != nil {
					t.Fatal(err)
				}
				if wantBlocks >= 0 && (ls.Blocks != wantBlocks || cloud.Blocks != wantBlocks) {
					t.Fatalf("blocks: local %d, %s %d, want %d", ls.Blocks, backend, cloud.Blocks, wantBlocks)
				}
				lo := objects(t, openDest(t, local), ls.Backup)
				co := objects(t, openDest(t, dest), cloud.Backup)
				if len(lo) != len(co) {
					t.Fatalf("local backup has %d objects, %s %d", len(lo), backend, len(co))
				}
				for k, b := range lo {
					if k == repo.ManifestName {
						continue
					}
					if !bytes.Equal(co[k], b) {
						t.Errorf("%s: %s differs from the local run", backend, k)
					}
				}
				lm, cm := h.manifest(ls.Backup), parseManifest(t, co[repo.ManifestName])
				// Entries are in the order blocks were stored, which a
				// partitioned listing does not fix: compare them by version.
				byVersion := func(x, y repo.ManifestBlock) int {
					if c := cmp.Compare(x.ID, y.ID); c != 0 {
						return c
					}
					return x.Modified.Compare(y.Modified)
				}
				slices.SortFunc(lm.Blocks, byVersion)
				slices.SortFunc(cm.Blocks, byVersion)
				if fmt.Sprint(lm.Blocks) != fmt.Sprint(cm.Blocks) {
					t.Errorf("%s manifest blocks differ from the local run's", backend)
				}
				if _, err := openDest(t, dest).Stat(t.Context(), repo.StateKey); err != nil {
					t.Errorf("%s: no state file: %v", backend, err)
				}
			}
			compare(-1)
			ids := sortedIDs(contentBlockIDs(t, h.emu))
			for _, id := range ids[:3] {
				if err := h.emu.UpdateAsset(h.emu.DefaultMID(), id, func(a *sfmctest.AssetSpec) { a.Content += " v2" }); err != nil {
					t.Fatal(err)
				}
			}
			compare(3)
		})
	}
}

func parseManifest(t *testing.T, b []byte) *repo.Manifest {
	t.Helper()
	var m repo.Manifest
	if err := jsonUnmarshal(string(b), &m); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	return &m
}
