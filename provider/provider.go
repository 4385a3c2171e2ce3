package provider

import "context"

// Provider is what every driver implements. The capabilities a provider
// offers are found by type assertion: a provider that stores data implements
// DataStore, one that trains implements Trainer, and so on. A provider need
// not offer every capability; the mlops package answers Unimplemented for a
// capability that no provider in a Client offers.
type Provider interface {
	// Kind names the kind of backend ("azure", "coreweave", "memory"). It
	// appears in errors, audit records and lineage.
	Kind() string

	// Regions lists the regions the provider can act in. Region.Cloud and
	// Region.Name are how residency rules look the region up, so a provider
	// that emulates another cloud (the in-memory one) reports that cloud's
	// names. The slice is never nil for a usable provider and is not modified
	// by the caller.
	Regions() []Region
}

// Region is a place a provider can act in.
type Region struct {
	// Name is the provider's spelling of the region, as used in requests
	// ("westeurope", "EU-SOUTH-03").
	Name string
	// Cloud is the region catalog the name belongs to ("azure" or
	// "coreweave"; a private cloud may register its own).
	Cloud string
}

// Capability names the capabilities in messages and recorded calls.
type Capability string

// The capabilities.
const (
	CapDataStore Capability = "datastore"
	CapTrainer   Capability = "trainer"
	CapRegistry  Capability = "registry"
	CapServing   Capability = "serving"
	CapJobWatch  Capability = "job-watch"
	CapJobLogs   Capability = "job-logs"
	CapGrants    Capability = "grants"
	// CapLatestDataset is LatestDatasetReader; CapLatestModel is
	// LatestModelVersionReader.
	CapLatestDataset Capability = "latest-dataset"
	CapLatestModel   Capability = "latest-model-version"
)

// Capabilities reports which capabilities p offers, in the order of the
// constants above.
func Capabilities(p Provider) []Capability {
	var caps []Capability
	if _, ok := p.(DataStore); ok {
		caps = append(caps, CapDataStore)
	}
	if _, ok := p.(Trainer); ok {
		caps = append(caps, CapTrainer)
	}
	if _, ok := p.(Registry); ok {
		caps = append(caps, CapRegistry)
	}
	if _, ok := p.(Serving); ok {
		caps = append(caps, CapServing)
	}
	if _, ok := p.(JobWatcher); ok {
		caps = append(caps, CapJobWatch)
	}
	if _, ok := p.(JobLogger); ok {
		caps = append(caps, CapJobLogs)
	}
	if _, ok := p.(Granter); ok {
		caps = append(caps, CapGrants)
	}
	if _, ok := p.(LatestDatasetReader); ok {
		caps = append(caps, CapLatestDataset)
	}
	if _, ok := p.(LatestModelVersionReader); ok {
		caps = append(caps, CapLatestModel)
	}
	return caps
}

// HasRegion reports whether p acts in the named region.
func HasRegion(p Provider, name string) (Region, bool) {
	for _, r := range p.Regions() {
		if r.Name == name {
			return r, true
		}
	}
	return Region{}, false
}

// CheckContext returns ctx.Err() unwrapped, so that CodeOf maps it to
// Canceled or DeadlineExceeded. Drivers call it before doing work.
func CheckContext(ctx context.Context) error { return ctx.Err() }
