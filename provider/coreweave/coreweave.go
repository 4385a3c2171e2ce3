package coreweave

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/residency"
)

// Kind is what Provider.Kind returns.
const Kind = "coreweave"

// Config says which cluster and namespace the provider works in. Exactly one
// of Kubeconfig, RESTConfig and Clientset (with Dynamic) says how to reach
// the cluster.
type Config struct {
	// Kubeconfig is the path of a kubeconfig file, as CoreWeave's console
	// hands it out; Context picks one of its contexts (empty: the current
	// one).
	Kubeconfig string
	Context    string

	// RESTConfig is a ready client configuration.
	RESTConfig *rest.Config

	// Clientset and Dynamic are ready clients (client-go's fake clientsets
	// in unit tests). Both are needed when either is set.
	Clientset kubernetes.Interface
	Dynamic   dynamic.Interface

	// Namespace holds everything the provider creates. It must exist.
	Namespace string

	// Region is the cluster's region or zone in any spelling the residency
	// catalog knows ("EU-SOUTH-03", "US-EAST-04A"). Regions() reports the
	// region's canonical name. It is configured rather than read from the
	// nodes' topology labels: nodes are cluster-scoped, and the provider's
	// Role (RoleYAML) is namespaced on purpose.
	Region string

	// GPUs lists the portable GPU names (see the GPUs table) the cluster
	// offers; a job asking for another is InvalidArgument naming these.
	// Empty means DefaultOffers(LegacyGPUClass).
	GPUs []string
	// LegacyGPUClass places GPU jobs with the legacy node label
	// gpu.nvidia.com/class instead of node.kubernetes.io/instance-type.
	LegacyGPUClass bool

	// MultiNode picks the kind of a job with more than one node:
	// MultiNodePyTorchJob, MultiNodeTrainJob, or empty for the first of
	// the two whose resource the cluster serves (found by discovery).
	MultiNode string
	// TrainingRuntime names the ClusterTrainingRuntime of TrainJobs; empty
	// means "torch-distributed".
	TrainingRuntime string

	// OutputBase is where a job writes when its spec names no OutputURI:
	// OutputBase + "/" + the job's name (an object storage URL, say).
	// Empty means "coreweave://<namespace>/jobs", which names the place
	// without being an address a job can write to.
	OutputBase string

	// Serving says how endpoints are built; see ServingConfig.
	Serving ServingConfig
}

// The kinds of a multi-node job, for Config.MultiNode.
const (
	MultiNodePyTorchJob = "PyTorchJob"
	MultiNodeTrainJob   = "TrainJob"
)

// Provider runs training jobs and serves models in one namespace of a
// CoreWeave Kubernetes cluster. It is safe for concurrent use.
type Provider struct {
	kube      kubernetes.Interface
	dyn       dynamic.Interface
	namespace string
	region    provider.Region
	zone      string // the zone named by Config.Region, or empty
	now       func() time.Time

	offers        []string // portable GPU names the cluster offers
	legacyClass   bool
	multiNode     string
	runtime       string
	outputBase    string
	jurisdictions string // of the region, comma-separated, for the residency annotation

	mu     sync.Mutex
	served servedKinds // multi-node resources found by discovery

	serving ServingConfig
}

// New returns a Provider for cfg. It makes no call to the cluster. Errors:
// InvalidArgument when cfg is incomplete or inconsistent, naming the field.
func New(cfg Config) (*Provider, error) {
	bad := func(format string, args ...any) (*Provider, error) {
		return nil, provider.Errorf(provider.InvalidArgument, "coreweave: "+format, args...)
	}
	ways := 0
	for _, set := range []bool{cfg.Kubeconfig != "", cfg.RESTConfig != nil, cfg.Clientset != nil || cfg.Dynamic != nil} {
		if set {
			ways++
		}
	}
	if ways != 1 {
		return bad("set exactly one of Config.Kubeconfig, Config.RESTConfig and Config.Clientset with Config.Dynamic")
	}
	if cfg.Context != "" && cfg.Kubeconfig == "" {
		return bad("Config.Context %q is set without Config.Kubeconfig", cfg.Context)
	}
	if (cfg.Clientset == nil) != (cfg.Dynamic == nil) {
		return bad("Config.Clientset and Config.Dynamic go together; set both")
	}
	if errs := validNamespace(cfg.Namespace); errs != "" {
		return bad("Config.Namespace %q: %s", cfg.Namespace, errs)
	}
	switch cfg.MultiNode {
	case "", MultiNodePyTorchJob, MultiNodeTrainJob:
	default:
		return bad("Config.MultiNode %q is not %q, %q or empty", cfg.MultiNode, MultiNodePyTorchJob, MultiNodeTrainJob)
	}
	offers := cfg.GPUs
	if len(offers) == 0 {
		offers = DefaultOffers(cfg.LegacyGPUClass)
	}
	var canon []string
	for _, name := range offers {
		g, ok := lookupGPU(name)
		switch {
		case !ok:
			return bad("Config.GPUs names %q, which is not in the GPU table; use one of %s", name, strings.Join(DefaultOffers(false), ", ")+", "+strings.Join(DefaultOffers(true), ", "))
		case cfg.LegacyGPUClass && len(g.Classes) == 0:
			return bad("Config.GPUs names %s, which has no legacy gpu.nvidia.com/class value; drop it or unset Config.LegacyGPUClass", g.Name)
		case !cfg.LegacyGPUClass && len(g.InstanceTypes) == 0:
			return bad("Config.GPUs names %s, which no CKS instance type carries; set Config.LegacyGPUClass to place it by gpu.nvidia.com/class", g.Name)
		}
		if !slices.Contains(canon, g.Name) {
			canon = append(canon, g.Name)
		}
	}
	if cfg.Region == "" {
		return bad("Config.Region is empty; set it to the cluster's region or zone, such as \"EU-SOUTH-03\" or \"US-EAST-04A\"")
	}
	r, err := residency.DefaultCatalog().Lookup(Kind, cfg.Region)
	if err != nil {
		return nil, provider.Errorf(provider.InvalidArgument, "coreweave: Config.Region %q is not a CoreWeave region or zone the residency catalog knows: %w", cfg.Region, err)
	}
	if err := cfg.Serving.check(); err != nil {
		return nil, err
	}
	p := &Provider{
		serving:   cfg.Serving,
		kube:      cfg.Clientset,
		dyn:       cfg.Dynamic,
		namespace: cfg.Namespace,
		region:    provider.Region{Name: r.Name, Cloud: Kind},
		now:       time.Now,

		offers:        canon,
		legacyClass:   cfg.LegacyGPUClass,
		multiNode:     cfg.MultiNode,
		runtime:       cmp.Or(cfg.TrainingRuntime, "torch-distributed"),
		outputBase:    strings.TrimSuffix(cmp.Or(cfg.OutputBase, "coreweave://"+cfg.Namespace+"/jobs"), "/"),
		jurisdictions: jurisdictionsOf(r),
	}
	if r.Name != cfg.Region {
		p.zone = cfg.Region
	}
	rc := cfg.RESTConfig
	if cfg.Kubeconfig != "" {
		rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: cfg.Kubeconfig}
		overrides := &clientcmd.ConfigOverrides{CurrentContext: cfg.Context}
		rc, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
		if err != nil {
			return nil, provider.Errorf(provider.InvalidArgument, "coreweave: loading Config.Kubeconfig %q (context %q): %v", cfg.Kubeconfig, cfg.Context, err)
		}
	}
	if rc != nil {
		if p.kube, err = kubernetes.NewForConfig(rc); err != nil {
			return nil, provider.Errorf(provider.InvalidArgument, "coreweave: making the Kubernetes client: %v", err)
		}
		if p.dyn, err = dynamic.NewForConfig(rc); err != nil {
			return nil, provider.Errorf(provider.InvalidArgument, "coreweave: making the dynamic client: %v", err)
		}
	}
	return p, nil
}

// validNamespace returns why s is not a Kubernetes namespace name (an RFC
// 1123 label), or "".
func validNamespace(s string) string {
	if s == "" {
		return "empty; name the namespace the provider works in"
	}
	if len(s) > 63 {
		return fmt.Sprintf("%d characters, more than 63", len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' && i > 0 && i < len(s)-1) {
			return "not a DNS label: lower-case letters, digits and '-', starting and ending with a letter or digit"
		}
	}
	return ""
}

// Kind returns "coreweave".
func (p *Provider) Kind() string { return Kind }

// Regions returns the cluster's region.
func (p *Provider) Regions() []provider.Region { return []provider.Region{p.region} }

// checkRegion returns InvalidArgument unless region is the cluster's region
// (in any spelling the catalog resolves to it) or empty.
func (p *Provider) checkRegion(what, region string) error {
	if region == "" || region == p.region.Name {
		return nil
	}
	if r, err := residency.DefaultCatalog().Lookup(Kind, region); err == nil && r.Name == p.region.Name {
		return nil
	}
	return provider.Errorf(provider.InvalidArgument, "coreweave: %s asks for region %q, but this cluster is in %s; use that region or a provider for the other one", what, region, p.region.Name)
}
