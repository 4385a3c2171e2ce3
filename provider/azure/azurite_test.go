package azure_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/tideline-ml/tideline/internal/azuritetest"
	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/azure"
	"github.com/tideline-ml/tideline/provider/providertest"
)

// The emulator's account and key, and where its endpoint is found.
const (
	devAccount = azuritetest.Account
	devKey     = azuritetest.Key
	azuriteEnv = azuritetest.Env
)

func azurite(tb testing.TB) string { tb.Helper(); return azuritetest.URL(tb) }

func sharedKey(tb testing.TB) *container.SharedKeyCredential {
	tb.Helper()
	return azuritetest.SharedKey(tb)
}

func newContainer(tb testing.TB, accountURL string) string {
	tb.Helper()
	return azuritetest.NewContainer(tb, accountURL)
}

func newProvider(tb testing.TB, accountURL, containerName string, edit func(*azure.Config)) *azure.Provider {
	tb.Helper()
	cfg := azure.Config{
		AccountURL: accountURL, Container: containerName, Region: "westeurope",
		SharedKey:   sharedKey(tb),
		BlockSize:   64 << 10,
		Concurrency: 4,
	}
	if edit != nil {
		edit(&cfg)
	}
	p, err := azure.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// azuriteHarness runs the conformance suite's DataStore and Grants groups
// on Azurite. All subtests of one run share a container; the suite names
// everything it makes uniquely.
type azuriteHarness struct {
	accountURL, container string
}

func (h *azuriteHarness) Capabilities() []provider.Capability {
	return []provider.Capability{provider.CapDataStore, provider.CapGrants}
}

func (h *azuriteHarness) config() azure.Config {
	k, _ := container.NewSharedKeyCredential(devAccount, devKey)
	return azure.Config{AccountURL: h.accountURL, Container: h.container, Region: "westeurope", SharedKey: k, BlockSize: 256 << 10}
}

func (h *azuriteHarness) MakeProvider(context.Context) (provider.Provider, error) {
	return azure.New(h.config())
}

// Reopen makes a second provider over the same container: the driver keeps
// no state of its own.
func (h *azuriteHarness) Reopen(context.Context, provider.Provider) (provider.Provider, error) {
	return azure.New(h.config())
}

func (h *azuriteHarness) StartJob(context.Context, provider.Provider, string) error {
	return fmt.Errorf("no trainer")
}
func (h *azuriteHarness) CompleteJob(context.Context, provider.Provider, string, string) error {
	return fmt.Errorf("no trainer")
}
func (h *azuriteHarness) FailJob(context.Context, provider.Provider, string, string) error {
	return fmt.Errorf("no trainer")
}
func (h *azuriteHarness) SetDeploymentReady(context.Context, provider.Provider, string, string) error {
	return fmt.Errorf("no serving")
}

// Settle has nothing to finish: a blob delete is done when it returns.
func (h *azuriteHarness) Settle(context.Context, provider.Provider) error { return nil }
func (h *azuriteHarness) Close()                                          {}

// UseGrant applies the grant's SAS to the blob of name@version with a plain
// HTTP client, as a job elsewhere holding only the URL would.
func (h *azuriteHarness) UseGrant(ctx context.Context, _ provider.Provider, g provider.Grant, op providertest.GrantOp, name, version string, data []byte) ([]byte, error) {
	target := h.accountURL + "/" + h.container + "/datasets/" + name + "/" + version
	switch op {
	case providertest.GrantOpRead:
		return sasRequest(ctx, g, http.MethodGet, target, nil, nil)
	case providertest.GrantOpWrite:
		return sasRequest(ctx, g, http.MethodPut, target, nil, data)
	case providertest.GrantOpDelete:
		return sasRequest(ctx, g, http.MethodDelete, target, nil, nil)
	}
	return nil, fmt.Errorf("unknown grant operation %q", op)
}

// sasRequest sends method to target (a URL without a query) with the
// grant's SAS query and extra query parameters. A refusal is
// PermissionDenied; the error never holds the SAS.
func sasRequest(ctx context.Context, g provider.Grant, method, target string, extra url.Values, body []byte) ([]byte, error) {
	u, err := url.Parse(g.URL.Reveal())
	if err != nil {
		return nil, fmt.Errorf("the grant's URL does not parse")
	}
	q := u.Query()
	for k, vs := range extra {
		q[k] = vs
	}
	req, err := http.NewRequestWithContext(ctx, method, target+"?"+q.Encode(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("building the %s request", method)
	}
	if method == http.MethodPut {
		req.Header.Set("x-ms-blob-type", "BlockBlob")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, provider.Errorf(provider.Unavailable, "%s %s through a grant: the request failed", method, strings.TrimPrefix(target, "http://"))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	switch {
	case resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized:
		return nil, provider.Errorf(provider.PermissionDenied, "%s %s through a grant: refused with %d (%s)", method, u.Path, resp.StatusCode, resp.Header.Get("x-ms-error-code"))
	case resp.StatusCode/100 != 2:
		return nil, provider.Errorf(provider.Unknown, "%s %s through a grant: answered %d (%s)", method, u.Path, resp.StatusCode, resp.Header.Get("x-ms-error-code"))
	}
	return b, err
}

func TestAzuriteConformance(t *testing.T) {
	accountURL := azurite(t)
	h := &azuriteHarness{accountURL: accountURL, container: newContainer(t, accountURL)}
	providertest.RunConformanceTests(t, func(context.Context, testing.TB) (providertest.Harness, error) {
		return h, nil
	}, &providertest.Options{Parallel: true})
}

// TestAzuriteGrantScope checks what the storage itself does with a grant's
// SAS, beyond the suite: it reads its version, and is refused for another
// blob, for listing the container (its own prefix or another), for writing,
// for deleting, and once it expired.
func TestAzuriteGrantScope(t *testing.T) {
	accountURL := azurite(t)
	ctn := newContainer(t, accountURL)
	p := newProvider(t, accountURL, ctn, nil)
	ctx := context.Background()
	put := func(name, version, data string) {
		t.Helper()
		_, err := p.PutDataset(ctx, &provider.PutDatasetRequest{Name: name, Version: version, Region: "westeurope",
			Content: provider.NewContent(strings.NewReader(data), nil)})
		if err != nil {
			t.Fatal(err)
		}
	}
	put("claims", "1", "version one")
	put("claims", "2", "version two")
	put("other", "1", "other data")
	g, err := p.GrantRead(ctx, "claims", "1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	base := accountURL + "/" + ctn
	if b, err := sasRequest(ctx, g, http.MethodGet, base+"/datasets/claims/1", nil, nil); err != nil || string(b) != "version one" {
		t.Fatalf("reading the granted version: %q, %v", b, err)
	}
	for _, c := range []struct {
		what, method, target string
		extra                url.Values
	}{
		{"reading another version", http.MethodGet, base + "/datasets/claims/2", nil},
		{"reading another dataset", http.MethodGet, base + "/datasets/other/1", nil},
		{"listing another prefix", http.MethodGet, base, url.Values{"restype": {"container"}, "comp": {"list"}, "prefix": {"datasets/other/"}}},
		{"listing its own prefix", http.MethodGet, base, url.Values{"restype": {"container"}, "comp": {"list"}, "prefix": {"datasets/claims/"}}},
		{"overwriting the version", http.MethodPut, base + "/datasets/claims/1", nil},
		{"writing a new blob", http.MethodPut, base + "/datasets/claims/9", nil},
		{"deleting the version", http.MethodDelete, base + "/datasets/claims/1", nil},
	} {
		b, err := sasRequest(ctx, g, c.method, c.target, c.extra, []byte("x"))
		if provider.CodeOf(err) != provider.PermissionDenied {
			t.Errorf("%s through the grant: %d bytes, error %v; want PermissionDenied", c.what, len(b), err)
		}
	}
	if b, err := sasRequest(ctx, g, http.MethodGet, base+"/datasets/claims/1", nil, nil); err != nil || string(b) != "version one" {
		t.Fatalf("the granted version after the refused writes: %q, %v", b, err)
	}
	// A grant is refused once it expired.
	short, err := p.GrantRead(ctx, "claims", "1", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := sasRequest(ctx, short, http.MethodGet, base+"/datasets/claims/1", nil, nil); err != nil || string(b) != "version one" {
		t.Fatalf("reading through a short grant before it expires: %q, %v", b, err)
	}
	time.Sleep(time.Until(short.Expires) + 1500*time.Millisecond)
	if b, err := sasRequest(ctx, short, http.MethodGet, base+"/datasets/claims/1", nil, nil); provider.CodeOf(err) != provider.PermissionDenied {
		t.Errorf("reading through a grant that expired at %v: %d bytes, error %v; want PermissionDenied", short.Expires, len(b), err)
	}
}
