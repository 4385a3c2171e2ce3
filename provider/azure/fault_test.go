package azure_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/azure"
)

// resetTransport sends requests with http.DefaultClient, and breaks the
// connection of a block upload once `after` bytes of block bodies have gone
// out in all, `times` times (negative: every time from then on).
type resetTransport struct {
	mu     sync.Mutex
	sent   int64
	after  int64
	times  int
	resets int
}

func (t *resetTransport) Do(req *http.Request) (*http.Response, error) {
	if req.URL.Query().Get("comp") == "block" && req.Body != nil {
		req.Body = &resettingBody{rc: req.Body, t: t}
	}
	return http.DefaultClient.Do(req)
}

type resettingBody struct {
	rc io.ReadCloser
	t  *resetTransport
}

func (b *resettingBody) Read(p []byte) (int, error) {
	t := b.t
	t.mu.Lock()
	if t.sent >= t.after && (t.times < 0 || t.resets < t.times) {
		t.resets++
		t.mu.Unlock()
		return 0, syscall.ECONNRESET
	}
	if room := t.after - t.sent; room > 0 && int64(len(p)) > room {
		p = p[:room]
	}
	t.mu.Unlock()
	n, err := b.rc.Read(p)
	t.mu.Lock()
	t.sent += int64(n)
	t.mu.Unlock()
	return n, err
}

func (b *resettingBody) Close() error { return b.rc.Close() }

func faultyProvider(t *testing.T, accountURL, ctn string, tr *resetTransport) *azure.Provider {
	return newProvider(t, accountURL, ctn, func(c *azure.Config) {
		c.ClientOptions = azcore.ClientOptions{
			Transport: tr,
			Retry:     policy.RetryOptions{MaxRetries: 2, RetryDelay: 10 * time.Millisecond, MaxRetryDelay: 50 * time.Millisecond},
		}
	})
}

// TestAzuriteConnectionResetLeavesNoVersion: connections that keep breaking
// mid-upload fail the put with Unavailable after the SDK's retries, and no
// version is visible; the same put then succeeds over a sound connection.
func TestAzuriteConnectionResetLeavesNoVersion(t *testing.T) {
	accountURL := azurite(t)
	ctn := newContainer(t, accountURL)
	data := bytes.Repeat([]byte("0123456789abcdef"), 40<<10) // 640 KiB: ten 64 KiB blocks
	tr := &resetTransport{after: 300 << 10, times: -1}
	p := faultyProvider(t, accountURL, ctn, tr)
	ctx := context.Background()
	_, err := p.PutDataset(ctx, &provider.PutDatasetRequest{Name: "claims", Version: "v1", Region: "westeurope",
		Content: provider.NewContent(bytes.NewReader(data), nil)})
	if provider.CodeOf(err) != provider.Unavailable {
		t.Fatalf("a put whose connections break: %v, want Unavailable", err)
	}
	if tr.resets == 0 {
		t.Fatal("the transport never broke a connection; the test tests nothing")
	}
	sound := newProvider(t, accountURL, ctn, nil)
	if _, err := sound.GetDataset(ctx, "claims", "v1"); provider.CodeOf(err) != provider.NotFound {
		t.Errorf("GetDataset after the failed put: %v, want NotFound", err)
	}
	if list, err := sound.ListDatasets(ctx, "claims"); err != nil || len(list) != 0 {
		t.Errorf("ListDatasets after the failed put: %d versions, %v; want none", len(list), err)
	}
	info, err := sound.PutDataset(ctx, &provider.PutDatasetRequest{Name: "claims", Version: "v1", Region: "westeurope",
		Content: provider.NewContent(bytes.NewReader(data), nil)})
	if err != nil {
		t.Fatalf("the put over a sound connection: %v", err)
	}
	sum := sha256.Sum256(data)
	if info.Digest != provider.DigestString(sum[:]) || info.Size != int64(len(data)) {
		t.Errorf("digest %s size %d", info.Digest, info.Size)
	}
}

// TestAzuriteConnectionResetIsRetried: one broken connection is retried by
// the SDK (the block body is re-sent from its start) and the version holds
// exactly the bytes given.
func TestAzuriteConnectionResetIsRetried(t *testing.T) {
	accountURL := azurite(t)
	ctn := newContainer(t, accountURL)
	data := bytes.Repeat([]byte("fedcba9876543210"), 40<<10)
	tr := &resetTransport{after: 200<<10 + 123, times: 1}
	p := faultyProvider(t, accountURL, ctn, tr)
	ctx := context.Background()
	if _, err := p.PutDataset(ctx, &provider.PutDatasetRequest{Name: "claims", Version: "v1", Region: "westeurope",
		Content: provider.NewContent(bytes.NewReader(data), nil)}); err != nil {
		t.Fatalf("a put with one broken connection: %v", err)
	}
	if tr.resets != 1 {
		t.Fatalf("%d resets, want 1", tr.resets)
	}
	rc, err := p.OpenDataset(ctx, "claims", "v1")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("read back %d bytes (%v), want the %d put", len(got), err, len(data))
	}
}

// TestAzuriteMetadataLimits stores the contract's largest metadata and
// metadata that needs encoding (C# keywords as keys, non-ASCII, spaces)
// on the emulator and reads them back; metadata over Azure's 8 KiB once
// encoded is InvalidArgument and leaves nothing.
func TestAzuriteMetadataLimits(t *testing.T) {
	accountURL := azurite(t)
	p := newProvider(t, accountURL, newContainer(t, accountURL), nil)
	ctx := context.Background()
	put := func(version string, md map[string]string) (*provider.DatasetInfo, error) {
		return p.PutDataset(ctx, &provider.PutDatasetRequest{Name: "claims", Version: version, Region: "westeurope",
			Metadata: md, Content: provider.NewContent(strings.NewReader("rows"), nil)})
	}
	full := map[string]string{}
	total := 0
	for i := 0; total < provider.MaxMetaTotalLen; i++ {
		k := "k" + string(rune('a'+i))
		n := min(provider.MaxMetaValueLen, provider.MaxMetaTotalLen-total-len(k))
		full[k] = strings.Repeat(string(rune('A'+i)), n)
		total += len(k) + n
	}
	odd := map[string]string{"class": "keyword key", "owner": "Zoë Ångström", "note": "  padded  ", "constraint": "eu,eea"}
	for _, c := range []struct {
		version string
		md      map[string]string
	}{{"full", full}, {"odd", odd}} {
		if _, err := put(c.version, c.md); err != nil {
			t.Fatalf("%s: %v", c.version, err)
		}
		for _, read := range []func() (*provider.DatasetInfo, error){
			func() (*provider.DatasetInfo, error) { return p.GetDataset(ctx, "claims", c.version) },
			func() (*provider.DatasetInfo, error) {
				list, err := p.ListDatasets(ctx, "claims")
				for _, d := range list {
					if d.Version == c.version {
						return d, err
					}
				}
				return nil, err
			},
		} {
			got, err := read()
			if err != nil || got == nil {
				t.Fatalf("%s: reading back: %v", c.version, err)
			}
			if len(got.Metadata) != len(c.md) {
				t.Errorf("%s: %d keys back, want %d", c.version, len(got.Metadata), len(c.md))
			}
			for k, v := range c.md {
				if got.Metadata[k] != v {
					t.Errorf("%s: %s = %q, want %q", c.version, k, got.Metadata[k], v)
				}
			}
		}
	}
	// Updating odd keeps every entry and its encoding.
	upd, err := p.UpdateDatasetMetadata(ctx, "claims", "odd", map[string]string{"owner": "", "stage": "clean"}, "")
	if err != nil || upd.Metadata["class"] != "keyword key" || upd.Metadata["note"] != "  padded  " || upd.Metadata["owner"] != "" || upd.Metadata["stage"] != "clean" {
		t.Errorf("update: %v, %v", upd, err)
	}
	over := map[string]string{"ka": strings.Repeat("é", 1000), "kb": strings.Repeat("é", 1000), "kc": strings.Repeat("é", 1000), "kd": strings.Repeat("é", 995)}
	if _, err := put("over", over); provider.CodeOf(err) != provider.InvalidArgument {
		t.Errorf("metadata over 8 KiB once encoded: %v, want InvalidArgument", err)
	}
	if _, err := p.GetDataset(ctx, "claims", "over"); provider.CodeOf(err) != provider.NotFound {
		t.Errorf("after the refused put: %v, want NotFound", err)
	}
}
