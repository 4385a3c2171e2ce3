package azure_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	azlog "github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/appendblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

	"github.com/tideline-ml/tideline/audit"
	"github.com/tideline-ml/tideline/mlops"
	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/azure"
	"github.com/tideline-ml/tideline/provider/azure/azaudit"
)

// logCapture collects every line the Azure SDK logs, at every level.
type logCapture struct {
	mu    sync.Mutex
	lines []string
}

func captureLogs(t *testing.T) *logCapture {
	c := &logCapture{}
	azlog.SetEvents() // no filter: every event
	azlog.SetListener(func(ev azlog.Event, msg string) {
		c.mu.Lock()
		c.lines = append(c.lines, string(ev)+": "+msg)
		c.mu.Unlock()
	})
	t.Cleanup(func() { azlog.SetListener(nil) })
	return c
}

func (c *logCapture) text() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.lines, "\n")
}

// forms returns a secret value as it may appear in text: plain, query-
// escaped and path-escaped.
func forms(v string) []string {
	return []string{v, url.QueryEscape(v), url.PathEscape(v)}
}

// TestAzuriteNoSecretInLogsErrorsOrAudit drives the provider, the audit
// sink on a SAS URL and the principal's token request with recognisable
// secrets — the account key, a client secret (right and wrong), the access
// token, the sink's SAS signature and a read grant's — while the SDK logs
// every event, and checks that none of them appears in a log line, in an
// error returned, or in the audit records.
func TestAzuriteNoSecretInLogsErrorsOrAudit(t *testing.T) {
	accountURL := azurite(t)
	ctx := context.Background()
	logs := captureLogs(t)
	var errs []error
	keep := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	// The principal, from a ClientSecretCredential's token.
	ts := tokenServer(t)
	cred, err := ts.Credential(testClientID, testSecret, nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := azure.Principal(ctx, cred, storageScope)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{storageScope}})
	if err != nil {
		t.Fatal(err)
	}
	const wrongSecret = "wrong-client-secret-Hv4~p"
	wrong, err := ts.Credential(testClientID, wrongSecret, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = azure.Principal(ctx, wrong, storageScope)
	if provider.CodeOf(err) != provider.PermissionDenied {
		t.Fatalf("a wrong secret: %v", err)
	}
	keep(err)

	// The audit log in an append blob, reached through a SAS URL.
	ctn := newContainer(t, accountURL)
	sasValues := sas.BlobSignatureValues{
		Protocol: sas.ProtocolHTTPSandHTTP, ExpiryTime: time.Now().Add(time.Hour).UTC(), ContainerName: ctn,
		Permissions: (&sas.ContainerPermissions{Read: true, Add: true, Create: true, Write: true}).String(),
	}
	qp, err := sasValues.SignWithSharedKey(sharedKey(t))
	if err != nil {
		t.Fatal(err)
	}
	sinkSig := qp.Signature()
	ab, err := appendblob.NewClientWithNoCredential(accountURL+"/"+ctn+"/audit.jsonl?"+qp.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	sink, err := azaudit.New(ctx, ab, nil)
	if err != nil {
		t.Fatal(err)
	}
	alog, err := audit.New(ctx, sink, nil)
	if err != nil {
		t.Fatal(err)
	}
	hook, err := mlops.NewAuditHook(alog, nil)
	if err != nil {
		t.Fatal(err)
	}

	// The provider with the account key, driven through mlops.
	p := newProvider(t, accountURL, ctn, nil)
	c, err := mlops.NewClient(mlops.Providers{"azure": p}, &mlops.ClientOptions{
		Principal: mlops.Principal{ID: id}, Policy: mlops.Permissive(), Hooks: []mlops.Hook{hook},
	})
	if err != nil {
		t.Fatal(err)
	}
	eu := &mlops.CreateDatasetOptions{Location: mlops.Location{Provider: "azure", Region: "westeurope"}}
	if _, err := c.CreateDataset(ctx, "claims", "1", strings.NewReader("id,amount\n1,120\n"), eu); err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateDataset(ctx, "claims", "1", strings.NewReader("again"), eu)
	if !errors.Is(err, mlops.ErrAlreadyExists) && provider.CodeOf(err) != provider.AlreadyExists {
		t.Fatalf("creating a version twice: %v", err)
	}
	keep(err)
	g, err := p.GrantRead(ctx, "claims", "1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	gu, err := url.Parse(g.URL.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	grantSig := gu.Query().Get("sig")
	if b, err := sasRequest(ctx, g, "GET", accountURL+"/"+ctn+"/datasets/claims/1", nil, nil); err != nil || string(b) != "id,amount\n1,120\n" {
		t.Fatalf("reading through the grant: %q, %v", b, err)
	}
	_, err = p.GrantRead(ctx, "claims", "9", time.Hour)
	keep(err)
	_, err = p.OpenDataset(ctx, "claims", "9")
	keep(err)
	// A provider whose key is wrong: the service refuses, and says so
	// without the key.
	badKey := newProvider(t, accountURL, ctn, func(cfg *azure.Config) {
		k, _ := container.NewSharedKeyCredential(devAccount, "AAAAwrongKeyAAAArecognisableAAAAAAAAAAAAAAA=")
		cfg.SharedKey = k
	})
	_, err = badKey.GetDataset(ctx, "claims", "1")
	if provider.CodeOf(err) != provider.PermissionDenied {
		t.Fatalf("a wrong account key: %v", err)
	}
	keep(err)
	if err := alog.Close(); err != nil {
		t.Fatal(err)
	}

	// What the audit blob holds, read with the account key.
	rs, err := azaudit.New(ctx, appendClient(t, accountURL+"/"+ctn+"/audit.jsonl"), nil)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rs.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	records, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(records), `"principal":"`+id+`"`) {
		t.Errorf("the audit records do not name the principal %s:\n%s", id, records)
	}

	secrets := map[string]string{
		"the account key":           devKey,
		"the wrong account key":     "AAAAwrongKeyAAAArecognisable",
		"the client secret":         testSecret,
		"the wrong client secret":   wrongSecret,
		"the access token":          tok.Token,
		"the access token's claims": strings.Split(tok.Token, ".")[1],
		"the sink's SAS signature":  sinkSig,
		"the grant's SAS signature": grantSig,
	}
	var errText []string
	for _, e := range errs {
		errText = append(errText, e.Error(), fmt.Sprintf("%+v", e))
	}
	logText := logs.text()
	// The requests that carried the secrets were logged, redacted.
	for _, seen := range []string{"OUTGOING REQUEST", "audit.jsonl?", "sig=REDACTED", "Authorization: REDACTED"} {
		if !strings.Contains(logText, seen) {
			t.Fatalf("the SDK's log has no %q; the listener did not see the requests:\n%.2000s", seen, logText)
		}
	}
	for what, v := range secrets {
		if v == "" {
			t.Fatalf("%s is empty", what)
		}
		for _, f := range forms(v) {
			for where, text := range map[string]string{"the SDK's log": logText, "an error": strings.Join(errText, "\n"), "the audit records": string(records)} {
				if i := strings.Index(text, f); i >= 0 {
					t.Errorf("%s holds %s: …%s…", where, what, text[max(0, i-80):min(len(text), i+len(f)+20)])
				}
			}
		}
	}
}

func appendClient(t *testing.T, blobURL string) *appendblob.Client {
	t.Helper()
	k, err := container.NewSharedKeyCredential(devAccount, devKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := appendblob.NewClientWithSharedKeyCredential(blobURL, k, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
