package azure_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/azure"
	"github.com/tideline-ml/tideline/provider/azure/azuretest"
)

var _ azuretest.TokenVerifier = (*azuretest.TokenServer)(nil)

// TestEntraTokensEndToEnd runs azidentity's ClientSecretCredential against
// the local token endpoint and the contract server checking its tokens:
// OpenWorkspace and a job submit get through with the real credential, the
// principal is the application's from the token's claims, and a credential
// with a wrong secret is refused without the secret or a token in the
// error.
func TestEntraTokensEndToEnd(t *testing.T) {
	ctx := context.Background()
	ts := tokenServer(t)
	ts.SetAudiences(azuretest.ARMAudience, azuretest.VaultAudience)
	srv := azuretest.NewServer(azuretest.Options{Verifier: ts, StorageAccount: devAccount})
	t.Cleanup(srv.Close)
	accountURL := azurite(t) // the workspace's storage account: SubmitJob claims the job's name there
	containerName := newContainer(t, accountURL)

	config := func(secret string) azure.Config {
		cred, err := ts.Credential(testClientID, secret, nil)
		if err != nil {
			t.Fatal(err)
		}
		o := srv.Options()
		return azure.Config{
			AccountURL: accountURL, Container: containerName, SharedKey: sharedKey(t), Credential: cred,
			SubscriptionID: o.SubscriptionID, ResourceGroup: o.ResourceGroup, Workspace: o.Workspace,
			ARMEndpoint: srv.URL, ClientOptions: srv.ClientOptions(), Compute: "cpu-cluster",
		}
	}

	w, err := azure.OpenWorkspace(ctx, config(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.SubmitJob(ctx, &provider.JobSpec{Name: "entra-job", Region: "westeurope", Image: "python:3.12", Command: []string{"true"}, Nodes: 1}); err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.JobStatus("entra-job"); !ok {
		t.Fatal("the job is not on the server")
	}
	if ts.Issued() == 0 {
		t.Fatal("the token server issued no token")
	}
	cfg := config(testSecret)
	id, err := azure.Principal(ctx, cfg.Credential, azuretest.ARMAudience+"/.default")
	if err != nil {
		t.Fatal(err)
	}
	if want := "app:" + strings.ToLower(testClientID) + ";oid=" + testAppOID; id != want {
		t.Errorf("Principal = %q, want %q", id, want)
	}

	_, err = azure.OpenWorkspace(ctx, config("not-the-secret-4f1c"))
	if err == nil {
		t.Fatal("a credential with a wrong secret opened the workspace")
	}
	if c := provider.CodeOf(err); c != provider.PermissionDenied {
		t.Errorf("wrong secret: code %v (%v), want PermissionDenied", c, err)
	}
	if strings.Contains(err.Error(), "not-the-secret-4f1c") || strings.Contains(err.Error(), testSecret) {
		t.Errorf("the error holds a client secret: %v", err)
	}

	// A token this tenant issued, but for storage, is refused by the
	// contract server itself.
	other := config(testSecret)
	other.Credential = staticToken(ts.UserToken("alice@contoso.com", testAppOID, testClientID, "https://storage.azure.com"))
	_, err = azure.OpenWorkspace(ctx, other)
	if provider.CodeOf(err) != provider.PermissionDenied {
		t.Errorf("a token for another audience: %v, want PermissionDenied", err)
	}
}
