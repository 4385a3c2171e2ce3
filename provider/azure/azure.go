package azure

import (
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
	Region string

	// Exactly one of Credential and SharedKey is set. With Credential
	// (Microsoft Entra ID) read grants are user-delegation SAS, which the
	// credential's identity needs the right to request; with SharedKey they
	// are service SAS signed with the account key.
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
	if (cfg.Credential == nil) == (cfg.SharedKey == nil) {
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
