package memprovider

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/secret"
)

// Options configures a Provider. The zero value, and a nil *Options, give a
// provider named "mem" in DefaultRegions on the real clock, whose jobs wait
// for the test to drive them and whose deployments are ready at once.
type Options struct {
	// Name appears in URIs, as in "mem://NAME/datasets/claims/1", and in
	// error messages. Empty means "mem". Give two providers in one test
	// different names so that their URIs differ.
	Name string

	// Regions are the regions the provider acts in. nil means
	// DefaultRegions(); an empty, non-nil slice gives a provider that accepts
	// no region at all. A name listed twice is kept once.
	Regions []provider.Region

	// Clock supplies Created, Started and Finished times and drives
	// JobDuration and MaxDuration. nil means the real clock; a *FakeClock
	// makes tests deterministic.
	Clock Clock

	// Serving states what endpoints can do. nil means no limit on
	// deployments and mirroring supported; {MaxDeployments: 2, Mirror: false}
	// behaves like KServe's two-revision canary.
	Serving *provider.ServingCapabilities

	// JobDuration, when positive, makes jobs run by themselves: a job is
	// Running (attempt 1) as soon as it is submitted and Succeeded once the
	// clock shows JobDuration elapsed since its current attempt started. A
	// retry after FailJob starts at once. Zero leaves every job Queued until
	// the test drives it with StartJob, CompleteJob and FailJob; a negative
	// value counts as zero.
	JobDuration time.Duration

	// ManualDeployments keeps new deployments Creating until the test calls
	// SetDeploymentState; otherwise they are Ready at once.
	ManualDeployments bool

	// AccountKey signs read grants (GrantRead), as a storage account key
	// signs a SAS. Empty means a fixed development key. Grants are checked
	// by ReadWithGrant.
	AccountKey secret.Secret
}

// DefaultRegions returns the regions a provider acts in when Options.Regions
// is nil: Azure regions in and outside the EU, and CoreWeave regions in the EU
// and the US, spelled as those clouds spell them so that residency rules
// resolve them. The caller owns the returned slice.
func DefaultRegions() []provider.Region {
	return []provider.Region{
		{Name: "westeurope", Cloud: "azure"},
		{Name: "northeurope", Cloud: "azure"},
		{Name: "swedencentral", Cloud: "azure"},
		{Name: "germanywestcentral", Cloud: "azure"},
		{Name: "uksouth", Cloud: "azure"},
		{Name: "eastus", Cloud: "azure"},
		{Name: "westus2", Cloud: "azure"},
		{Name: "EU-SOUTH-03", Cloud: "coreweave"},
		{Name: "EU-NORTH-01", Cloud: "coreweave"},
		{Name: "US-EAST-04", Cloud: "coreweave"},
		{Name: "US-WEST-01", Cloud: "coreweave"},
	}
}

// Provider is an in-memory provider. It implements provider.Provider,
// DataStore, Trainer, JobWatcher, JobLogger, Registry and Serving, and is
// safe for concurrent use. Make one with New.
type Provider struct {
	name              string
	regions           []provider.Region
	clock             Clock
	serving           provider.ServingCapabilities
	jobDuration       time.Duration
	manualDeployments bool
	accountKey        secret.Secret
	grants            []secret.Secret // issued by GrantRead; guarded by mu
	revoked           map[string]bool // signatures of revoked grants; guarded by mu

	// fmu guards faults and calls. It is separate from mu so that recording
	// a call never waits for a long state operation, and is never held
	// while mu is.
	fmu    sync.Mutex
	faults []*faultEntry
	calls  []Call

	mu sync.Mutex
	// seq numbers creations, ETags and revisions. One counter for all keeps
	// them unique across kinds and deterministic for a given call sequence.
	seq uint64
	// changed is closed and replaced whenever a job changes, waking every
	// WatchJob at once.
	changed  chan struct{}
	datasets map[string]map[string]*dataset // name → version → dataset
	// latest is each dataset's latest version (LatestDataset), kept as
	// versions are stored and deleted.
	latest map[string]*dataset
	// sorted is every dataset version in ListDatasets's order; nil once a
	// version is stored or deleted, until the next list sorts again.
	sorted    []*dataset
	jobs      map[string]*job
	models    map[string]*model
	endpoints map[string]*endpoint
}

// Compile-time checks that Provider offers every capability.
var (
	_ provider.Provider   = (*Provider)(nil)
	_ provider.DataStore  = (*Provider)(nil)
	_ provider.Trainer    = (*Provider)(nil)
	_ provider.JobWatcher = (*Provider)(nil)
	_ provider.JobLogger  = (*Provider)(nil)
	_ provider.Registry   = (*Provider)(nil)
	_ provider.Serving    = (*Provider)(nil)

	_ provider.LatestDatasetReader      = (*Provider)(nil)
	_ provider.LatestModelVersionReader = (*Provider)(nil)
)

// New returns an empty provider. A nil opts means the defaults described on
// Options. New never fails.
func New(opts *Options) *Provider {
	var o Options
	if opts != nil {
		o = *opts
	}
	p := &Provider{
		name:              o.Name,
		clock:             o.Clock,
		serving:           provider.ServingCapabilities{Mirror: true},
		jobDuration:       o.JobDuration,
		manualDeployments: o.ManualDeployments,
		changed:           make(chan struct{}),
		datasets:          make(map[string]map[string]*dataset),
		latest:            make(map[string]*dataset),
		jobs:              make(map[string]*job),
		models:            make(map[string]*model),
		endpoints:         make(map[string]*endpoint),
	}
	if p.name == "" {
		p.name = "mem"
	}
	p.accountKey = o.AccountKey
	if p.accountKey.IsZero() {
		p.accountKey = secret.NewSecret("memprovider-development-account-key")
	}
	if p.clock == nil {
		p.clock = realClock{}
	}
	if o.Serving != nil {
		p.serving = *o.Serving
	}
	if p.jobDuration < 0 {
		p.jobDuration = 0
	}
	if o.Regions == nil {
		p.regions = DefaultRegions()
	} else {
		p.regions = make([]provider.Region, 0, len(o.Regions))
		for _, r := range o.Regions {
			if !slices.ContainsFunc(p.regions, func(q provider.Region) bool { return q.Name == r.Name }) {
				p.regions = append(p.regions, r)
			}
		}
	}
	return p
}

// Kind returns "memory".
func (p *Provider) Kind() string { return "memory" }

// Regions returns a copy of the provider's regions.
func (p *Provider) Regions() []provider.Region { return slices.Clone(p.regions) }

// Counts is how many things a provider holds, so that a test can assert that
// a failed call left nothing behind.
type Counts struct {
	// Datasets counts dataset versions, across every dataset name.
	Datasets int
	Jobs     int
	// ModelVersions and Aliases count across every model.
	ModelVersions int
	Aliases       int
	Endpoints     int
	// Deployments counts across every endpoint.
	Deployments int
}

// Counts returns how many things p holds now.
func (p *Provider) Counts() Counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	var c Counts
	for _, versions := range p.datasets {
		c.Datasets += len(versions)
	}
	c.Jobs = len(p.jobs)
	for _, m := range p.models {
		c.ModelVersions += len(m.versions)
		c.Aliases += len(m.aliases)
	}
	c.Endpoints = len(p.endpoints)
	for _, ep := range p.endpoints {
		c.Deployments += len(ep.deployments)
	}
	return c
}

// now reads the clock without its monotonic reading, so that the times a
// caller gets back compare equal to themselves after any copy or encoding.
func (p *Provider) now() time.Time { return p.clock.Now().Round(0) }

// nextLocked returns the next value of the provider's counter. p.mu is held.
func (p *Provider) nextLocked() uint64 {
	p.seq++
	return p.seq
}

// tagLocked returns a fresh ETag or revision. p.mu is held.
func (p *Provider) tagLocked() string { return strconv.FormatUint(p.nextLocked(), 10) }

// checkRegion reports InvalidArgument, naming the region and listing the
// provider's own, unless region is one of them.
func (p *Provider) checkRegion(field, region string) error {
	names := make([]string, len(p.regions))
	for i, r := range p.regions {
		if r.Name == region {
			return nil
		}
		names[i] = r.Name
	}
	list := strings.Join(names, ", ")
	if list == "" {
		list = "none"
	}
	return provider.Errorf(provider.InvalidArgument,
		"%s %q is not a region of this provider, whose regions are: %s; use one of them or list it in memprovider.Options.Regions",
		field, region, list)
}

func (p *Provider) uri(parts ...string) string {
	return fmt.Sprintf("mem://%s/%s", p.name, strings.Join(parts, "/"))
}

// cloneStrings returns a copy of m; nil stays nil.
func cloneStrings(m map[string]string) map[string]string {
	return maps.Clone(m) // copies the table whole: cheaper than inserting each key
}

func cloneInts(m map[string]int) map[string]int {
	if m == nil {
		return nil
	}
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func cloneFloats(m map[string]float64) map[string]float64 {
	if m == nil {
		return nil
	}
	out := make(map[string]float64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// merged returns base with upd applied, where an empty value deletes a key.
// base is not modified, so that the result can be validated before it
// replaces base.
func merged(base, upd map[string]string) map[string]string {
	if len(upd) == 0 {
		return cloneStrings(base)
	}
	out := make(map[string]string, len(base)+len(upd))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range upd {
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}
