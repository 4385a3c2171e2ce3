package azure

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/azure/azuretest"
)

// openConfig is a Config for OpenWorkspace against srv, without regions.
func openConfig(t *testing.T, srv *azuretest.Server, accountURL string) Config {
	t.Helper()
	k, err := container.NewSharedKeyCredential(accountName(accountURL), testKey)
	if err != nil {
		t.Fatal(err)
	}
	o := srv.Options()
	return Config{
		AccountURL: accountURL, Container: "data",
		SharedKey: k, Credential: srv.Credential(),
		SubscriptionID: o.SubscriptionID, ResourceGroup: o.ResourceGroup, Workspace: o.Workspace,
		ARMEndpoint: srv.URL, ClientOptions: srv.ClientOptions(), Compute: "cpu-cluster",
	}
}

// TestOpenWorkspaceReadsRegions shows that the regions come from the
// workspace's and the storage account's locations, in two calls, and that
// each capability acts only in its own resource's region.
func TestOpenWorkspaceReadsRegions(t *testing.T) {
	srv := azuretest.NewServer(azuretest.Options{Location: "Sweden Central", StorageAccount: "acct", StorageLocation: "westeurope"})
	t.Cleanup(srv.Close)
	ctx := context.Background()
	w, err := OpenWorkspace(ctx, openConfig(t, srv, "https://acct.blob.core.windows.net"))
	if err != nil {
		t.Fatal(err)
	}
	want := []provider.Region{{Name: "westeurope", Cloud: Kind}, {Name: "swedencentral", Cloud: Kind}}
	if got := w.Regions(); !slices.Equal(got, want) {
		t.Fatalf("Regions() = %v, want %v", got, want)
	}
	if n := len(srv.Requests()); n != 2 {
		t.Errorf("OpenWorkspace made %d calls, want 2 (the workspace, the storage account)", n)
	}

	_, err = w.SubmitJob(ctx, &provider.JobSpec{Name: "job-one", Region: "westeurope", Image: "python:3.12", Command: []string{"true"}, Nodes: 1})
	if provider.CodeOf(err) != provider.InvalidArgument || !strings.Contains(err.Error(), "swedencentral") {
		t.Errorf("a job in the storage account's region: %v, want InvalidArgument naming the workspace's region", err)
	}
	_, err = w.PutDataset(ctx, &provider.PutDatasetRequest{Name: "data-one", Version: "1", Region: "swedencentral", Content: provider.NewContent(strings.NewReader("x"), nil)})
	if provider.CodeOf(err) != provider.InvalidArgument || !strings.Contains(err.Error(), "westeurope") {
		t.Errorf("a dataset in the workspace's region: %v, want InvalidArgument naming the storage account's region", err)
	}
	_, err = w.CreateModelVersion(ctx, &provider.ModelVersionSpec{Model: "model-one", Version: "1", Region: "westeurope", ArtifactURI: "https://acct.blob.core.windows.net/data/m"})
	if provider.CodeOf(err) != provider.InvalidArgument || !strings.Contains(err.Error(), "swedencentral") {
		t.Errorf("a model in the storage account's region: %v, want InvalidArgument naming the workspace's region", err)
	}
	if n := len(srv.Requests()); n != 2 {
		t.Errorf("the refused calls reached the service: %d requests in all, want 2", n)
	}
}

// TestOpenWorkspaceOneRegion shows a workspace and account in one region
// reporting it once.
func TestOpenWorkspaceOneRegion(t *testing.T) {
	srv := azuretest.NewServer(azuretest.Options{Location: "northeurope"})
	t.Cleanup(srv.Close)
	w, err := OpenWorkspace(context.Background(), openConfig(t, srv, "http://127.0.0.1:10000/devstoreaccount1"))
	if err != nil {
		t.Fatal(err)
	}
	if got := w.Regions(); !slices.Equal(got, []provider.Region{{Name: "northeurope", Cloud: Kind}}) {
		t.Fatalf("Regions() = %v, want northeurope alone", got)
	}
}

// TestOpenWorkspaceRefuses shows the configurations that contradict the
// resources refused with a message saying what to change.
func TestOpenWorkspaceRefuses(t *testing.T) {
	srv := azuretest.NewServer(azuretest.Options{Location: "swedencentral", StorageAccount: "acct", StorageLocation: "westeurope"})
	t.Cleanup(srv.Close)
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		edit  func(*Config)
		code  provider.Code
		words []string
	}{
		{"storage region", func(c *Config) { c.Region = "northeurope" }, provider.InvalidArgument, []string{"Config.Region says northeurope", "westeurope"}},
		{"workspace region", func(c *Config) { c.WorkspaceRegion = "westeurope" }, provider.InvalidArgument, []string{"Config.WorkspaceRegion", "swedencentral"}},
		{"another account", func(c *Config) { c.AccountURL = "https://other.blob.core.windows.net" }, provider.InvalidArgument, []string{"Config.StorageAccountID", "other"}},
		{"ID of another account", func(c *Config) {
			c.StorageAccountID = strings.Replace(srv.StorageAccountID(), "/acct", "/other", 1)
		}, provider.InvalidArgument, []string{"other", "acct"}},
		{"unknown account", func(c *Config) {
			c.AccountURL = "https://other.blob.core.windows.net"
			c.StorageAccountID = strings.Replace(srv.StorageAccountID(), "/acct", "/other", 1)
		}, provider.NotFound, []string{"storage account other"}},
		{"another workspace", func(c *Config) { c.Workspace = "nope" }, provider.FailedPrecondition, []string{"workspace nope"}},
		{"default credential with a credential", nil, provider.InvalidArgument, []string{"Config.Credential is set"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := openConfig(t, srv, "https://acct.blob.core.windows.net")
			var err error
			if tc.edit == nil {
				_, err = OpenWorkspaceWithDefaultCredential(ctx, cfg)
			} else {
				tc.edit(&cfg)
				_, err = OpenWorkspace(ctx, cfg)
			}
			if got := provider.CodeOf(err); got != tc.code {
				t.Fatalf("code %v (%v), want %v", got, err, tc.code)
			}
			for _, w := range tc.words {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestAccountName(t *testing.T) {
	for in, want := range map[string]string{
		"https://acct.blob.core.windows.net":             "acct",
		"https://acct.blob.core.windows.net/":            "acct",
		"http://127.0.0.1:10000/devstoreaccount1":        "devstoreaccount1",
		"http://localhost:10000/devstoreaccount1/":       "devstoreaccount1",
		"https://acct.privatelink.blob.core.windows.net": "acct",
	} {
		if got := accountName(in); got != want {
			t.Errorf("accountName(%q) = %q, want %q", in, got, want)
		}
	}
}
