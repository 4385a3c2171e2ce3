package azure

import (
	"context"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/residency"
)

// StorageAPIVersion is the api-version of Microsoft.Storage with which
// OpenWorkspace reads the storage account's location.
const StorageAPIVersion = "2024-01-01"

// OpenWorkspace returns a Workspace whose regions come from the resources
// themselves: it reads the workspace's location and its storage account
// from Azure Resource Manager, then the location of the storage account
// that holds the datasets (Config.StorageAccountID, or the workspace's own
// account when AccountURL names it), and resolves both through the
// residency catalog. Config.Region and Config.WorkspaceRegion may be left
// empty; when set, they must name the locations read, so that a
// configuration that no longer matches the resources fails here rather
// than placing data somewhere it was not meant to be. Two calls to Azure
// Resource Manager.
//
// Errors: InvalidArgument when cfg is incomplete, or when a configured
// region or AccountURL contradicts what the resources say; the mapped
// Resource Manager error (NotFound, PermissionDenied, …) when a resource
// cannot be read.
func OpenWorkspace(ctx context.Context, cfg Config) (*Workspace, error) {
	probe := cfg
	// The probe only reaches Resource Manager; its regions are placeholders
	// until the resources say where they are.
	probe.Region, probe.WorkspaceRegion = "westeurope", ""
	w, err := NewWorkspace(probe)
	if err != nil {
		return nil, err
	}
	var ws struct {
		Location   string `json:"location"`
		Properties struct {
			StorageAccount string `json:"storageAccount"`
		} `json:"properties"`
	}
	if err := w.arm.getJSON(ctx, w.arm.workspace, &ws); err != nil {
		return nil, armError(op{what: "reading the workspace " + cfg.Workspace}, err)
	}
	account := accountName(cfg.AccountURL)
	id := cfg.StorageAccountID
	if id == "" {
		if !strings.EqualFold(lastSegment(ws.Properties.StorageAccount), account) {
			return nil, provider.Errorf(provider.InvalidArgument, "azure: Config.AccountURL names the storage account %q, which is not the workspace's own (%q); set Config.StorageAccountID to the account's resource ID so that its location can be read", account, lastSegment(ws.Properties.StorageAccount))
		}
		id = ws.Properties.StorageAccount
	} else if !strings.EqualFold(lastSegment(id), account) {
		return nil, provider.Errorf(provider.InvalidArgument, "azure: Config.StorageAccountID names the storage account %q, but Config.AccountURL names %q; they must be the same account", lastSegment(id), account)
	}
	if !strings.HasPrefix(id, "/subscriptions/") || !strings.Contains(strings.ToLower(id), "/providers/microsoft.storage/storageaccounts/") {
		return nil, provider.Errorf(provider.InvalidArgument, "azure: the storage account ID %q is not a Microsoft.Storage/storageAccounts resource ID", id)
	}
	var sa struct {
		Location string `json:"location"`
	}
	if err := w.arm.getJSON(ctx, id+"?api-version="+StorageAPIVersion, &sa); err != nil {
		return nil, armError(op{what: "reading the storage account " + account}, err)
	}
	storage, err := readRegion("the storage account "+account, sa.Location, "Config.Region", cfg.Region)
	if err != nil {
		return nil, err
	}
	workspace, err := readRegion("the workspace "+cfg.Workspace, ws.Location, "Config.WorkspaceRegion", cfg.WorkspaceRegion)
	if err != nil {
		return nil, err
	}
	cfg.Region, cfg.WorkspaceRegion = storage, workspace
	return NewWorkspace(cfg)
}

// OpenWorkspaceWithDefaultCredential is OpenWorkspace with the credential
// azidentity's DefaultAzureCredential finds (environment, workload
// identity, managed identity, Azure CLI, …), made with cfg.ClientOptions.
// Config.Credential must be nil.
func OpenWorkspaceWithDefaultCredential(ctx context.Context, cfg Config) (*Workspace, error) {
	if cfg.Credential != nil {
		return nil, provider.Errorf(provider.InvalidArgument, "azure: Config.Credential is set; call OpenWorkspace to use it, or clear it to use the default credential")
	}
	cred, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{ClientOptions: cfg.ClientOptions})
	if err != nil {
		return nil, provider.Errorf(provider.FailedPrecondition, "azure: no default Azure credential could be set up; sign in (az login), or set the environment of a service principal or managed identity: %v", err)
	}
	cfg.Credential = cred
	return OpenWorkspace(ctx, cfg)
}

// readRegion resolves the location a resource reported and checks it
// against the configured field.
func readRegion(what, location, field, configured string) (string, error) {
	r, err := residency.DefaultCatalog().Lookup(Kind, location)
	if err != nil {
		return "", provider.Errorf(provider.FailedPrecondition, "azure: %s is in %q, which the residency catalog does not know; add the region to the catalog before using it: %w", what, location, err)
	}
	if configured != "" {
		c, err := residency.DefaultCatalog().Lookup(Kind, configured)
		if err != nil {
			return "", provider.Errorf(provider.InvalidArgument, "azure: %s %q is not an Azure region the residency catalog knows: %w", field, configured, err)
		}
		if c.Name != r.Name {
			return "", provider.Errorf(provider.InvalidArgument, "azure: %s says %s, but %s is in %s; correct the configuration or leave %s empty", field, c.Name, what, r.Name, field)
		}
	}
	return r.Name, nil
}

// accountName is the storage account an AccountURL names: the first label
// of the host ("acct.blob.core.windows.net"), or, for an emulator's
// address by IP or localhost, the first path segment
// ("http://127.0.0.1:10000/devstoreaccount1").
func accountName(accountURL string) string {
	u, err := url.Parse(accountURL)
	if err != nil {
		return ""
	}
	host := u.Hostname()
	if host == "localhost" || strings.Count(host, ".") == 3 && strings.Trim(host, "0123456789.") == "" {
		first, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
		return first
	}
	first, _, _ := strings.Cut(host, ".")
	return first
}

func lastSegment(id string) string { return id[strings.LastIndex(id, "/")+1:] }

// Regions returns the storage account's region and, when it is another,
// the workspace's. Datasets and grants act in the first; jobs, models and
// endpoints in the workspace's.
func (w *Workspace) Regions() []provider.Region {
	if w.location == w.Provider.region {
		return []provider.Region{w.location}
	}
	return []provider.Region{w.Provider.region, w.location}
}
