package azure

import (
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/tideline-ml/tideline/provider"
)

func TestNewResolvesRegion(t *testing.T) {
	k, _ := container.NewSharedKeyCredential("acct", testKey)
	for _, spelling := range []string{"westeurope", "West Europe", "(Europe) West Europe"} {
		p, err := New(Config{AccountURL: "https://acct.blob.core.windows.net", Container: "data", Region: spelling, SharedKey: k})
		if err != nil {
			t.Fatalf("%q: %v", spelling, err)
		}
		if got := p.Regions(); len(got) != 1 || got[0] != (provider.Region{Name: "westeurope", Cloud: "azure"}) {
			t.Errorf("%q: Regions() = %v, want [westeurope azure]", spelling, got)
		}
	}
}

func TestNewRejects(t *testing.T) {
	k, _ := container.NewSharedKeyCredential("acct", testKey)
	good := Config{AccountURL: "https://acct.blob.core.windows.net", Container: "data", Region: "westeurope", SharedKey: k}
	for _, tc := range []struct {
		name, field string
		edit        func(*Config)
	}{
		{"UnknownRegion", "Region", func(c *Config) { c.Region = "westeurope9" }},
		{"NonAzureRegion", "Region", func(c *Config) { c.Region = "EU-SOUTH-03" }},
		{"NoRegion", "Region", func(c *Config) { c.Region = "" }},
		{"NoCredential", "Credential", func(c *Config) { c.SharedKey = nil }},
		{"TwoCredentials", "Credential", func(c *Config) { c.Credential = &fakeToken{} }},
		{"URLWithSAS", "AccountURL", func(c *Config) { c.AccountURL += "/?sv=2025&sig=" + testToken }},
		{"URLScheme", "AccountURL", func(c *Config) { c.AccountURL = "ftp://acct" }},
		{"Container", "Container", func(c *Config) { c.Container = "Data_Sets" }},
		{"BlockSize", "BlockSize", func(c *Config) { c.BlockSize = -1 }},
		{"Concurrency", "Concurrency", func(c *Config) { c.Concurrency = -1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.edit(&cfg)
			_, err := New(cfg)
			if provider.CodeOf(err) != provider.InvalidArgument || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("%v, want InvalidArgument naming %s", err, tc.field)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("the error %q holds the URL's credential", err)
			}
		})
	}
}
