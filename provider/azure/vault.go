package azure

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/tideline-ml/tideline/provider"
)

const (
	vaultScope      = "https://vault.azure.net/.default"
	vaultAPIVersion = "7.4"
)

// vaultClient writes secrets to the workspace's key vault, where a job
// finds them by the URIs in its SecretsEnvVar.
type vaultClient struct {
	pl   runtime.Pipeline
	base string // https://<vault>.vault.azure.net, no trailing slash
}

func newVaultClient(vaultURL string, cred azcore.TokenCredential, opts azcore.ClientOptions) (*vaultClient, error) {
	u, err := url.Parse(vaultURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.User != nil {
		return nil, provider.Errorf(provider.InvalidArgument, "azure: Config.KeyVaultURL %q is not a key vault's endpoint such as https://<vault>.vault.azure.net", redactURL(vaultURL))
	}
	bearer := runtime.NewBearerTokenPolicy(cred, []string{vaultScope}, nil)
	pl := runtime.NewPipeline(telemetryModule, telemetryVersion, runtime.PipelineOptions{
		PerRetry:               []policy.Policy{bearer},
		AllowedQueryParameters: []string{"api-version"},
	}, &opts)
	return &vaultClient{pl: pl, base: u.Scheme + "://" + u.Host}, nil
}

// secretURI is the versionless URI of the named secret.
func (v *vaultClient) secretURI(name string) string {
	return v.base + "/secrets/" + url.PathEscape(name)
}

// setSecret stores value under name, replacing the value a retry may have
// stored already; a non-zero expires makes the key vault refuse the
// secret after it. The value appears in no error.
func (v *vaultClient) setSecret(ctx context.Context, name, value string, tags map[string]string, expires time.Time) error {
	req, err := runtime.NewRequest(ctx, http.MethodPut, v.secretURI(name)+"?api-version="+vaultAPIVersion)
	if err != nil {
		return provider.Errorf(provider.Internal, "azure: building a key vault request: %v", err)
	}
	type attributes struct {
		Expires int64 `json:"exp,omitempty"`
	}
	body := struct {
		Value      string            `json:"value"`
		Tags       map[string]string `json:"tags,omitempty"`
		Attributes *attributes       `json:"attributes,omitempty"`
	}{Value: value, Tags: tags}
	if !expires.IsZero() {
		body.Attributes = &attributes{Expires: expires.Unix()}
	}
	if err := runtime.MarshalAsJSON(req, body); err != nil {
		return provider.Errorf(provider.Internal, "azure: encoding a key vault request")
	}
	resp, err := v.pl.Do(req)
	if err != nil {
		return serviceCallError("Key Vault", op{what: "storing secret " + name + " in the key vault"}, err)
	}
	defer resp.Body.Close()
	if !runtime.HasStatusCode(resp, http.StatusOK, http.StatusCreated) {
		return serviceCallError("Key Vault", op{what: "storing secret " + name + " in the key vault"}, runtime.NewResponseError(resp))
	}
	return nil
}

// deleteSecret removes the named secret; a missing one is not an error.
func (v *vaultClient) deleteSecret(ctx context.Context, name string) error {
	req, err := runtime.NewRequest(ctx, http.MethodDelete, v.secretURI(name)+"?api-version="+vaultAPIVersion)
	if err != nil {
		return provider.Errorf(provider.Internal, "azure: building a key vault request: %v", err)
	}
	resp, err := v.pl.Do(req)
	if err != nil {
		return serviceCallError("Key Vault", op{what: "deleting secret " + name + " from the key vault"}, err)
	}
	defer resp.Body.Close()
	if !runtime.HasStatusCode(resp, http.StatusOK, http.StatusNotFound) {
		return serviceCallError("Key Vault", op{what: "deleting secret " + name + " from the key vault"}, runtime.NewResponseError(resp))
	}
	return nil
}
