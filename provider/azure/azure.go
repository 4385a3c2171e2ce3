package azure

import (
	"maps"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/residency"
)

// Kind is what Provider.Kind returns.
const Kind = "azure"

// Defaults of Config.
const (
	DefaultBlockSize   = 8 << 20
	DefaultConcurrency = 4
	DefaultMaxGrantTTL = 7 * 24 * time.Hour

	// maxBlockSize and maxBlocks are the service's limits on a block blob:
	// a staged block holds at most 4000 MiB and a blob at most 50,000
	// committed blocks.
	maxBlockSize = 4000 << 20
	maxBlocks    = 50000
)

// Config says which storage account and container hold the datasets and
// how to reach them.
type Config struct {
	// AccountURL is the storage account's blob endpoint:
	// "https://<account>.blob.core.windows.net", or an emulator's
	// "http://127.0.0.1:<port>/<account>".
	AccountURL string
	// Container holds the datasets, one blob per version under
	// "datasets/<name>/<version>". It must exist; the driver does not
	// create it.
	Container string
	// Region is the account's location, in any spelling the residency
	// catalog knows ("westeurope", "West Europe"). Regions() reports its
	// canonical name; a region the catalog does not know is refused.
	// OpenWorkspace reads it from the account instead, and refuses a
	// Region that says otherwise.
	Region string

	// For New, exactly one of Credential and SharedKey is set. With
	// Credential (Microsoft Entra ID) read grants are user-delegation SAS,
	// which the credential's identity needs the right to request; with
	// SharedKey they are service SAS signed with the account key.
	// NewWorkspace needs Credential, for Azure Resource Manager, and uses
	// SharedKey for the storage account when it is set too.
	Credential azcore.TokenCredential
	SharedKey  *container.SharedKeyCredential

	// ClientOptions are passed to the SDK's clients: the transport, the
	// retry policy, telemetry and logging. The SDK retries 429 and 5xx
	// answers and broken connections, waiting as Retry-After says; a
	// Retry-After longer than Retry.MaxRetryDelay (60 s by default) ends
	// the retries. What still fails is Unavailable.
	ClientOptions azcore.ClientOptions

	// BlockSize is the size of one staged block; zero means
	// DefaultBlockSize. A version holds at most 50,000 blocks, so the
	// largest dataset is 50,000 × BlockSize.
	BlockSize int
	// Concurrency is the number of blocks staged at once, and the number of
	// block buffers one upload holds; zero means DefaultConcurrency.
	Concurrency int
	// MaxGrantTTL bounds the lifetime of a read grant; zero means
	// DefaultMaxGrantTTL, which is also the longest a user-delegation key
	// may live.
	MaxGrantTTL time.Duration

	// The Azure Machine Learning workspace, for NewWorkspace. New refuses
	// a Config that sets any of the fields from here on, so that a
	// storage-only Provider never looks as if it trained.
	SubscriptionID string
	ResourceGroup  string
	Workspace      string
	// WorkspaceRegion is the workspace's location, where its jobs run and
	// its models and endpoints live; empty means Region. OpenWorkspace
	// reads it from the workspace instead, and refuses a WorkspaceRegion
	// that says otherwise.
	WorkspaceRegion string
	// StorageAccountID is the storage account's Azure Resource Manager ID
	// ("/subscriptions/…/providers/Microsoft.Storage/storageAccounts/…"),
	// for OpenWorkspace to read its location; empty means the workspace's
	// own storage account, which must then be the account AccountURL
	// names.
	StorageAccountID string
	// ARMEndpoint is Azure Resource Manager's endpoint; empty means
	// DefaultARMEndpoint. The token audience stays Resource Manager's
	// (ClientOptions.Cloud overrides it for a sovereign cloud).
	ARMEndpoint string
	// APIVersion is the Azure Machine Learning REST API version; empty
	// means DefaultAPIVersion, the version the driver is written against.
	APIVersion string
	// PollInterval is the pause between polls of a long-running operation
	// (a cancellation, a deletion) when the service sends no Retry-After,
	// and the shortest pause whatever Retry-After says; zero means
	// DefaultPollInterval. No pause is longer than MaxPollInterval.
	PollInterval time.Duration

	// Compute is the workspace's compute target (a cluster's name) that
	// jobs run on. GPUComputes, when not empty, maps a JobSpec.GPUType
	// ("H100") to the cluster that has it; a GPU type it does not name is
	// InvalidArgument, and a job that names none runs on Compute.
	Compute     string
	GPUComputes map[string]string
	// KeyVaultURL is the workspace's key vault,
	// "https://<vault>.vault.azure.net": a job's secret environment and
	// its inputs' grants are written there as secrets, and the job
	// definition refers to them. Needed for jobs with secrets alone.
	KeyVaultURL string
}

// Provider stores datasets in one container of an Azure storage account.
// It implements provider.DataStore and provider.Granter. It is safe for
// concurrent use.
type Provider struct {
	region     provider.Region
	container  string
	containerC *container.Client
	serviceC   *service.Client // set with a token credential, for user-delegation keys
	sharedKey  *container.SharedKeyCredential
	httpsOnly  bool // grants say https only unless the endpoint is plain http

	blockSize   int
	concurrency int
	maxGrantTTL time.Duration
	buffers     sync.Pool // of *[]byte, blockSize long
}

var (
	_ provider.DataStore = (*Provider)(nil)
	_ provider.Granter   = (*Provider)(nil)
)

// New returns a Provider for cfg. It makes no call to the service. Errors:
// InvalidArgument when cfg is incomplete or inconsistent, naming the field.
func New(cfg Config) (*Provider, error) {
	if set := cfg.workspaceFields(); len(set) > 0 {
		return nil, provider.Errorf(provider.InvalidArgument, "azure: Config sets %s, which belong to an Azure Machine Learning workspace; use NewWorkspace for one, or clear them for storage alone", strings.Join(set, ", "))
	}
	return newStorage(cfg, false)
}

// workspaceFields names the workspace settings cfg sets.
func (cfg *Config) workspaceFields() []string {
	var set []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"SubscriptionID", cfg.SubscriptionID != ""}, {"ResourceGroup", cfg.ResourceGroup != ""}, {"Workspace", cfg.Workspace != ""},
		{"WorkspaceRegion", cfg.WorkspaceRegion != ""}, {"StorageAccountID", cfg.StorageAccountID != ""},
		{"ARMEndpoint", cfg.ARMEndpoint != ""}, {"APIVersion", cfg.APIVersion != ""}, {"PollInterval", cfg.PollInterval != 0},
		{"Compute", cfg.Compute != ""}, {"GPUComputes", len(cfg.GPUComputes) > 0}, {"KeyVaultURL", cfg.KeyVaultURL != ""},
	} {
		if f.set {
			set = append(set, "Config."+f.name)
		}
	}
	return set
}

// newStorage builds the storage part. With workspace set a Config may
// hold both a shared key (for storage) and a token credential (for ARM).
func newStorage(cfg Config, workspace bool) (*Provider, error) {
	bad := func(format string, args ...any) (*Provider, error) {
		return nil, provider.Errorf(provider.InvalidArgument, "azure: "+format, args...)
	}
	u, err := url.Parse(cfg.AccountURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.User != nil {
		return bad("Config.AccountURL %q is not a storage account's blob endpoint such as https://<account>.blob.core.windows.net (no query, no credentials in it)", redactURL(cfg.AccountURL))
	}
	if !validContainer(cfg.Container) {
		return bad("Config.Container %q is not a valid container name: 3 to 63 characters, lower-case letters, digits and single hyphens, starting and ending with a letter or digit", cfg.Container)
	}
	if cfg.Region == "" {
		return bad("Config.Region is empty; set it to the storage account's location, such as \"westeurope\"")
	}
	r, err := residency.DefaultCatalog().Lookup(Kind, cfg.Region)
	if err != nil {
		return nil, provider.Errorf(provider.InvalidArgument, "azure: Config.Region %q is not an Azure region the residency catalog knows; use the account's location as Azure spells it, such as \"westeurope\": %w", cfg.Region, err)
	}
	switch {
	case workspace && cfg.Credential == nil:
		return bad("Config.Credential is nil; Azure Resource Manager needs a Microsoft Entra ID credential (Config.SharedKey serves the storage account alone)")
	case !workspace && (cfg.Credential == nil) == (cfg.SharedKey == nil):
		return bad("set exactly one of Config.Credential (Microsoft Entra ID) and Config.SharedKey")
	}
	if cfg.BlockSize < 0 || cfg.BlockSize > maxBlockSize {
		return bad("Config.BlockSize %d is out of range: 1 byte to %d (4000 MiB), or 0 for the default", cfg.BlockSize, maxBlockSize)
	}
	if cfg.Concurrency < 0 {
		return bad("Config.Concurrency %d is negative; use 0 for the default", cfg.Concurrency)
	}
	if cfg.MaxGrantTTL < 0 {
		return bad("Config.MaxGrantTTL %v is negative; use 0 for the default", cfg.MaxGrantTTL)
	}
	p := &Provider{
		region:      provider.Region{Name: r.Name, Cloud: Kind},
		container:   cfg.Container,
		sharedKey:   cfg.SharedKey,
		httpsOnly:   u.Scheme == "https",
		blockSize:   cmpOr(cfg.BlockSize, DefaultBlockSize),
		concurrency: cmpOr(cfg.Concurrency, DefaultConcurrency),
		maxGrantTTL: cmpOr(cfg.MaxGrantTTL, DefaultMaxGrantTTL),
	}
	p.buffers.New = func() any { b := make([]byte, p.blockSize); return &b }
	accountURL := strings.TrimRight(cfg.AccountURL, "/")
	containerURL := accountURL + "/" + cfg.Container
	copts := &container.ClientOptions{ClientOptions: cfg.ClientOptions}
	if cfg.SharedKey != nil {
		p.containerC, err = container.NewClientWithSharedKeyCredential(containerURL, cfg.SharedKey, copts)
	} else {
		p.containerC, err = container.NewClient(containerURL, cfg.Credential, copts)
		if err == nil {
			p.serviceC, err = service.NewClient(accountURL+"/", cfg.Credential, &service.ClientOptions{ClientOptions: cfg.ClientOptions})
		}
	}
	if err != nil {
		return nil, provider.Errorf(provider.InvalidArgument, "azure: making the storage clients: %v", err)
	}
	return p, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// redactURL drops what may be a credential from a URL for a message.
func redactURL(s string) string {
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i] + "?[REDACTED]"
	}
	if u, err := url.Parse(s); err == nil && u.User != nil {
		u.User = nil
		return u.String()
	}
	return s
}

func validContainer(s string) bool {
	if len(s) < 3 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case c == '-' && s[i-1] != '-':
		default:
			return false
		}
	}
	return true
}

// Kind returns "azure".
func (p *Provider) Kind() string { return Kind }

// Regions returns the storage account's region.
func (p *Provider) Regions() []provider.Region { return []provider.Region{p.region} }

// Workspace is the Azure provider with an Azure Machine Learning workspace:
// the storage of Provider (provider.DataStore, provider.Granter) and
// training through Azure Resource Manager (provider.Trainer). It is safe
// for concurrent use.
type Workspace struct {
	*Provider
	// location is the workspace's region: where jobs run and models and
	// endpoints live. The embedded Provider's region is the storage
	// account's.
	location provider.Region
	arm      *armClient
	// vault is nil without Config.KeyVaultURL.
	vault *vaultClient

	compute     string
	gpuComputes map[string]string
	// envs holds the images whose environment version this value wrote.
	envs sync.Map
	// unsettled holds, by job name, the submissions of this value whose
	// SubmitJob ended without knowing whether the job was made
	// (*unsettledSubmission): their claims may be taken over at once.
	unsettled sync.Map
}

// NewWorkspace returns a Workspace for cfg: the storage settings as New
// takes them, and the workspace's SubscriptionID, ResourceGroup and
// Workspace, with a Credential for Azure Resource Manager. It makes no call
// to either service, so it takes the regions from Config.Region and
// Config.WorkspaceRegion as given; OpenWorkspace reads them from the
// resources instead. Errors: InvalidArgument when cfg is incomplete or
// inconsistent, naming the field.
func NewWorkspace(cfg Config) (*Workspace, error) {
	bad := func(format string, args ...any) (*Workspace, error) {
		return nil, provider.Errorf(provider.InvalidArgument, "azure: "+format, args...)
	}
	for _, f := range []struct{ name, v, example string }{
		{"SubscriptionID", cfg.SubscriptionID, "00000000-1111-2222-3333-444444444444"},
		{"ResourceGroup", cfg.ResourceGroup, "ml-rg"},
		{"Workspace", cfg.Workspace, "my-workspace"},
	} {
		if f.v == "" || strings.ContainsAny(f.v, "/?#%") || strings.TrimSpace(f.v) != f.v {
			return bad("Config.%s %q is not a name such as %q; NewWorkspace needs the workspace's subscription, resource group and name", f.name, f.v, f.example)
		}
	}
	if cfg.Compute != "" && strings.ContainsAny(cfg.Compute, "/?#%") {
		return bad("Config.Compute %q is not a compute's name in the workspace", cfg.Compute)
	}
	for gpu, c := range cfg.GPUComputes {
		if gpu == "" || c == "" || strings.ContainsAny(c, "/?#%") {
			return bad("Config.GPUComputes maps %q to %q; it maps a GPU type to a compute's name in the workspace", gpu, c)
		}
	}
	if cfg.PollInterval < 0 {
		return bad("Config.PollInterval %v is negative; use 0 for the default", cfg.PollInterval)
	}
	st, err := newStorage(cfg, true)
	if err != nil {
		return nil, err
	}
	location := st.region
	if cfg.WorkspaceRegion != "" {
		r, err := residency.DefaultCatalog().Lookup(Kind, cfg.WorkspaceRegion)
		if err != nil {
			return nil, provider.Errorf(provider.InvalidArgument, "azure: Config.WorkspaceRegion %q is not an Azure region the residency catalog knows; use the workspace's location as Azure spells it, such as \"westeurope\": %w", cfg.WorkspaceRegion, err)
		}
		location = provider.Region{Name: r.Name, Cloud: Kind}
	}
	arm, err := newARMClient(armSettings{
		subscription: cfg.SubscriptionID, resourceGroup: cfg.ResourceGroup, workspace: cfg.Workspace,
		endpoint:   cmpOr(cfg.ARMEndpoint, DefaultARMEndpoint),
		apiVersion: cmpOr(cfg.APIVersion, DefaultAPIVersion),
		pollEvery:  cmpOr(cfg.PollInterval, DefaultPollInterval),
		cred:       cfg.Credential,
		opts:       cfg.ClientOptions,
	})
	if err != nil {
		return nil, err
	}
	w := &Workspace{Provider: st, location: location, arm: arm, compute: cfg.Compute, gpuComputes: maps.Clone(cfg.GPUComputes)}
	if cfg.KeyVaultURL != "" {
		if w.vault, err = newVaultClient(cfg.KeyVaultURL, cfg.Credential, cfg.ClientOptions); err != nil {
			return nil, err
		}
	}
	return w, nil
}
