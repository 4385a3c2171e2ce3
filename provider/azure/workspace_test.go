package azure

import (
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/tideline-ml/tideline/provider"
)

func workspaceConfig() Config {
	k, _ := container.NewSharedKeyCredential("acct", testKey)
	return Config{
		AccountURL: "https://acct.blob.core.windows.net", Container: "data", Region: "westeurope",
		SharedKey: k, Credential: &fakeToken{},
		SubscriptionID: "00000000-1111-2222-3333-444444444444", ResourceGroup: "rg", Workspace: "ws",
	}
}

func TestNewRefusesWorkspaceSettings(t *testing.T) {
	k, _ := container.NewSharedKeyCredential("acct", testKey)
	for _, tc := range []struct {
		field string
		edit  func(*Config)
	}{
		{"SubscriptionID", func(c *Config) { c.SubscriptionID = "s" }},
		{"Workspace", func(c *Config) { c.Workspace = "w" }},
		{"ARMEndpoint", func(c *Config) { c.ARMEndpoint = DefaultARMEndpoint }},
		{"Compute", func(c *Config) { c.Compute = "gpu" }},
		{"KeyVaultURL", func(c *Config) { c.KeyVaultURL = "https://v.vault.azure.net" }},
		{"PollInterval", func(c *Config) { c.PollInterval = time.Second }},
	} {
		cfg := Config{AccountURL: "https://acct.blob.core.windows.net", Container: "data", Region: "westeurope", SharedKey: k}
		tc.edit(&cfg)
		_, err := New(cfg)
		if provider.CodeOf(err) != provider.InvalidArgument || !strings.Contains(err.Error(), "NewWorkspace") || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: %v, want InvalidArgument naming the field and pointing to NewWorkspace", tc.field, err)
		}
	}
}

func TestStorageProviderDoesNotTrain(t *testing.T) {
	k, _ := container.NewSharedKeyCredential("acct", testKey)
	p, err := New(Config{AccountURL: "https://acct.blob.core.windows.net", Container: "data", Region: "westeurope", SharedKey: k})
	if err != nil {
		t.Fatal(err)
	}
	var pp provider.Provider = p
	if _, ok := pp.(provider.Trainer); ok {
		t.Error("a storage-only Provider implements provider.Trainer")
	}
}

func TestNewWorkspaceRejects(t *testing.T) {
	for _, tc := range []struct {
		name, field string
		edit        func(*Config)
	}{
		{"NoSubscription", "SubscriptionID", func(c *Config) { c.SubscriptionID = "" }},
		{"NoResourceGroup", "ResourceGroup", func(c *Config) { c.ResourceGroup = "" }},
		{"WorkspaceWithSlash", "Workspace", func(c *Config) { c.Workspace = "a/b" }},
		{"NoCredential", "Credential", func(c *Config) { c.Credential = nil }},
		{"PlainHTTPEndpoint", "ARMEndpoint", func(c *Config) { c.ARMEndpoint = "http://127.0.0.1:1" }},
		{"EndpointWithPath", "ARMEndpoint", func(c *Config) { c.ARMEndpoint = "https://management.azure.com/x?sig=" + testToken }},
		{"KeyVaultURL", "KeyVaultURL", func(c *Config) { c.KeyVaultURL = "https://vault/secrets?sig=" + testToken }},
		{"PollInterval", "PollInterval", func(c *Config) { c.PollInterval = -1 }},
		{"GPUComputes", "GPUComputes", func(c *Config) { c.GPUComputes = map[string]string{"H100": ""} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := workspaceConfig()
			tc.edit(&cfg)
			_, err := NewWorkspace(cfg)
			if provider.CodeOf(err) != provider.InvalidArgument || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("%v, want InvalidArgument naming %s", err, tc.field)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("the error %q holds a credential", err)
			}
		})
	}
	if _, err := NewWorkspace(workspaceConfig()); err != nil {
		t.Fatalf("a complete config: %v", err)
	}
}
