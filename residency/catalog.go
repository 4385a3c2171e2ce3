package residency

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Catalog resolves a provider's spelling of a region to the Region and its
// facts. The zero Catalog is empty and ready to use; DefaultCatalog returns
// one that knows every Azure public region and CoreWeave region.
//
// A Catalog is safe for concurrent use. Reads (Lookup, Regions,
// ParseConstraint) never lock: Add builds a new index and publishes it
// atomically (copy-on-write), so a read concurrent with Add sees the catalog
// wholly before or wholly after it. Adds are serialised with each other.
type Catalog struct {
	mu  sync.Mutex // serialises writers
	idx atomic.Pointer[catalogIndex]
}

// catalogIndex is immutable once published.
type catalogIndex struct {
	regions []Region        // sorted by provider, then name
	keys    map[string]slot // "provider/normalised spelling" → region
}

type slot struct {
	region int32
	zone   int32 // index into Zones, or -1 when the spelling named the region
}

// Limits on spellings. Names longer than these cannot be indexed, so Add
// refuses them and Lookup reports them unknown.
const (
	maxProviderLen = 32
	maxNameLen     = 63 // a Kubernetes label value's limit
	keyCap         = maxProviderLen + 1 + 2*maxNameLen
)

// DefaultCatalog returns a new catalog holding the built-in regions: the 58
// Azure public-cloud regions and the CoreWeave regions with their zones. Each
// call returns an independent copy, so adding to one affects no other.
func DefaultCatalog() *Catalog {
	c, err := NewCatalog(builtinRegions()...)
	if err != nil {
		// The built-in table is checked by the package's tests.
		panic(err)
	}
	return c
}

// NewCatalog returns a catalog holding exactly regions, checked as Add checks
// them, and none of the built-in ones. To start from the built-in regions
// and add one's own, use DefaultCatalog and Add.
func NewCatalog(regions ...Region) (*Catalog, error) {
	idx, err := buildIndex(regions)
	if err != nil {
		return nil, err
	}
	c := &Catalog{}
	c.idx.Store(idx)
	return c, nil
}

// Add adds r to the catalog, or replaces the region of the same provider and
// name (compared as Lookup compares spellings). It checks that:
//
//   - Provider is 1–32 characters of lower-case letters, digits and '-'
//     (upper case is folded);
//   - Name and each zone are 1–63 characters of letters, digits, '.', '_'
//     and '-', starting with a letter or digit;
//   - Country is an ISO 3166-1 alpha-2 code (GB, not UK);
//   - EUDataBoundary is set only for a country in the EU or EFTA;
//   - no spelling of r (name, display name, zone) already names another
//     region of the same provider.
//
// The catalog keeps its own copy of r.Zones.
func (c *Catalog) Add(r Region) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var regions []Region
	if old := c.idx.Load(); old != nil {
		regions = make([]Region, 0, len(old.regions)+1)
		var buf [keyCap]byte
		n, _ := regionKey(&buf, r.Provider, r.Name)
		for _, o := range old.regions {
			var obuf [keyCap]byte
			on, _ := regionKey(&obuf, o.Provider, o.Name)
			if n > 0 && string(buf[:n]) == string(obuf[:on]) {
				continue // replaced
			}
			regions = append(regions, o)
		}
	}
	regions = append(regions, r)
	idx, err := buildIndex(regions)
	if err != nil {
		return err
	}
	c.idx.Store(idx)
	return nil
}

// Lookup resolves a provider's spelling of one of its regions. provider is
// matched without regard to case. name may be:
//
//   - the canonical name or the display name: "westeurope", "West Europe",
//     "WestEurope", "west-europe", "EU-SOUTH-03", "eu-south-03";
//   - a zone: "EU-SOUTH-03B" or "eu-south-03b" resolves to EU-SOUTH-03 with
//     Zone set to "EU-SOUTH-03B";
//   - an ARM regional display name, whose parenthesised prefix is ignored:
//     "(Europe) West Europe".
//
// Case is ignored, and so is every ASCII character other than a letter or a
// digit (spaces, '-', '_', '.'). A spelling the catalog does not know
// returns an error for which errors.Is(err, ErrUnknownRegion) is true.
//
// Lookup does not allocate when it finds the region.
func (c *Catalog) Lookup(provider, name string) (Region, error) {
	var idx *catalogIndex
	if c != nil {
		idx = c.idx.Load()
	}
	return idx.lookup(provider, name)
}

// lookup is Lookup on one version of the index; idx may be nil (empty).
func (idx *catalogIndex) lookup(provider, name string) (Region, error) {
	var buf [keyCap]byte
	if n, ok := regionKey(&buf, provider, name); ok && idx != nil {
		if s, found := idx.keys[string(buf[:n])]; found {
			r := idx.regions[s.region]
			if s.zone >= 0 {
				r.Zone = r.Zones[s.zone]
			}
			return r, nil
		}
	}
	return Region{}, idx.unknown(provider, name)
}

// Regions returns a copy of every region in the catalog, sorted by provider
// and then name.
func (c *Catalog) Regions() []Region {
	if c == nil {
		return nil
	}
	idx := c.idx.Load()
	if idx == nil {
		return nil
	}
	out := slices.Clone(idx.regions)
	for i := range out {
		out[i].Zones = slices.Clone(out[i].Zones)
	}
	return out
}

// ParseConstraint parses a constraint's text form, resolving the regions it
// names through c. See the package-level ParseConstraint for the syntax.
func (c *Catalog) ParseConstraint(s string) (Constraint, error) {
	return parseConstraint(s, c.Lookup)
}

func (idx *catalogIndex) unknown(provider, name string) error {
	msg := fmt.Sprintf("residency: unknown region %q for provider %q: ", name, provider)
	var providers []string
	if idx != nil {
		for _, r := range idx.regions {
			if len(providers) == 0 || providers[len(providers)-1] != r.Provider {
				providers = append(providers, r.Provider)
			}
		}
	}
	p := strings.ToLower(provider)
	switch {
	case !slices.Contains(providers, p):
		known := "none"
		if len(providers) > 0 {
			known = strings.Join(providers, ", ")
		}
		msg += fmt.Sprintf("the catalog has no regions of that provider (it has: %s); pass the provider kind whose names the region uses, or add the provider's regions with Catalog.Add", known)
	case p == Azure:
		msg += "not an Azure public region name or display name the catalog knows; use a name from `az account list-locations` (e.g. westeurope), or add the region with Catalog.Add"
	case p == CoreWeave:
		msg += "not a CoreWeave region or zone the catalog knows; use a region code or zone such as EU-SOUTH-03 or EU-SOUTH-03B, or add the region with Catalog.Add"
	default:
		msg += "not a region, display name or zone the catalog knows; add the region with Catalog.Add"
	}
	return &taggedError{msg: msg, kind: ErrUnknownRegion}
}

// buildIndex checks and copies regions and indexes every spelling of each.
func buildIndex(in []Region) (*catalogIndex, error) {
	regions := make([]Region, len(in))
	for i, r := range in {
		r, err := canonicalRegion(r)
		if err != nil {
			return nil, err
		}
		regions[i] = r
	}
	slices.SortStableFunc(regions, func(a, b Region) int {
		return cmp.Or(cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Name, b.Name))
	})
	idx := &catalogIndex{regions: regions, keys: make(map[string]slot, 2*len(regions))}
	put := func(i int, spelling, what string, zone int) error {
		r := regions[i]
		var buf [keyCap]byte
		n, ok := regionKey(&buf, r.Provider, spelling)
		if !ok {
			if what == "display name" {
				return nil // not usable as a spelling; still shown in messages
			}
			return invalidf("region %s: %s %q cannot be looked up (empty or longer than %d characters once case, spaces and punctuation are dropped)", r, what, spelling, maxNameLen)
		}
		key := string(buf[:n])
		if prev, dup := idx.keys[key]; dup {
			if int(prev.region) == i && what == "display name" {
				return nil // "West US 2" and "westus2" are one spelling
			}
			return invalidf("region %s: %s %q is already a spelling of %s; each name, display name and zone of a provider must resolve to one region", r, what, spelling, regions[prev.region])
		}
		idx.keys[key] = slot{region: int32(i), zone: int32(zone)}
		return nil
	}
	// Names first, then zones, then display names, so that a clash is
	// reported against the spelling that was there by right.
	for i, r := range regions {
		if err := put(i, r.Name, "name", -1); err != nil {
			return nil, err
		}
	}
	for i, r := range regions {
		for z, zone := range r.Zones {
			if err := put(i, zone, "zone", z); err != nil {
				return nil, err
			}
		}
	}
	for i, r := range regions {
		if r.DisplayName != "" {
			if err := put(i, r.DisplayName, "display name", -1); err != nil {
				return nil, err
			}
		}
	}
	return idx, nil
}

// canonicalRegion checks r and returns the form the catalog stores.
func canonicalRegion(r Region) (Region, error) {
	r.Provider = strings.ToLower(r.Provider)
	if !validProvider(r.Provider) {
		return r, invalidf("region %q: provider %q must be 1–%d lower-case letters, digits or '-'", r.Name, r.Provider, maxProviderLen)
	}
	if !validName(r.Name) {
		return r, invalidf("region %q of provider %s: the name must be 1–%d letters, digits, '.', '_' or '-', starting with a letter or digit", r.Name, r.Provider, maxNameLen)
	}
	country := strings.ToUpper(r.Country)
	ci, ok := countryIndex(country)
	if !ok {
		hint := ""
		if country == "UK" {
			hint = "; the United Kingdom is GB"
		}
		return r, invalidf("region %s: country %q is not an ISO 3166-1 alpha-2 code%s", r, r.Country, hint)
	}
	r.Country = country
	if r.EUDataBoundary && !tables.eudb.has(ci) {
		return r, invalidf("region %s: EUDataBoundary is set but %s is outside the EU and EFTA, where Microsoft's EU Data Boundary lies", r, country)
	}
	r.Zone = ""
	r.Zones = slices.Clone(r.Zones)
	for _, z := range r.Zones {
		if !validName(z) {
			return r, invalidf("region %s: zone %q must be 1–%d letters, digits, '.', '_' or '-', starting with a letter or digit", r, z, maxNameLen)
		}
	}
	return r, nil
}

func validProvider(p string) bool {
	if p == "" || len(p) > maxProviderLen {
		return false
	}
	for i := 0; i < len(p); i++ {
		b := p[i]
		if !('a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '-' && i > 0) {
			return false
		}
	}
	return true
}

func validName(n string) bool {
	if n == "" || len(n) > maxNameLen {
		return false
	}
	for i := 0; i < len(n); i++ {
		b := n[i]
		alnum := 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
		if !alnum && (i == 0 || b != '.' && b != '_' && b != '-') {
			return false
		}
	}
	return true
}

// regionKey writes the index key of (provider, spelling) into buf: the
// provider in lower case, '/', then the spelling's letters and digits in
// lower case (other ASCII bytes dropped, bytes of other scripts kept), after
// any leading "(…)" group. It reports false when the key would be empty or
// does not fit. Working in a caller's fixed buffer keeps Lookup free of
// allocations: the map index on string(buf[:n]) does not copy.
func regionKey(buf *[keyCap]byte, provider, spelling string) (int, bool) {
	if provider == "" || len(provider) > maxProviderLen {
		return 0, false
	}
	n := 0
	for i := 0; i < len(provider); i++ {
		b := provider[i]
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		buf[n] = b
		n++
	}
	buf[n] = '/'
	n++
	start := n
	s := strings.TrimLeft(spelling, " ")
	if strings.HasPrefix(s, "(") {
		if end := strings.IndexByte(s, ')'); end > 0 {
			s = s[end+1:]
		}
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case 'A' <= b && b <= 'Z':
			b += 'a' - 'A'
		case 'a' <= b && b <= 'z', '0' <= b && b <= '9', b >= 0x80:
		default:
			continue
		}
		if n == len(buf) {
			return 0, false
		}
		buf[n] = b
		n++
	}
	return n, n > start
}
