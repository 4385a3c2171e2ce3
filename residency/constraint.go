package residency

import (
	"cmp"
	"slices"
	"strings"
)

// Constraint is a set of places where data may be stored and processed.
// Places are jurisdictions (EU, EEA, EFTA, EUDB), countries (DE, GB, CH, US),
// and specific regions (azure/westeurope). A constraint allows a region when
// the region is in any of its places.
//
// Constraints form an algebra: Intersect allows exactly the regions both
// constraints allow, Union those either allows, and Within tests inclusion.
// These are exact for every region any catalog could hold, because a
// constraint is kept in a normal form: the countries it allows outright, the
// countries where it allows EU Data Boundary regions only, and the regions
// it names that those do not already cover. Mixing place types therefore
// works as one expects:
//
//	EU ∩ EEA                        = EU
//	EEA ∩ EFTA                      = IS, LI, NO
//	EU ∩ US                         = nowhere
//	EU ∩ coreweave/EU-SOUTH-03      = coreweave/EU-SOUTH-03   (Spain is in the EU)
//	EU ∩ coreweave/EU-WEST-01       = nowhere                 (Crawley is in the UK)
//	EUDB ∩ EEA                      = EUDB in EU/EEA          (Azure's EEA regions)
//	EUDB ∩ coreweave/EU-SOUTH-03    = nowhere                 (CoreWeave makes no EUDB commitment)
//
// The zero Constraint allows nowhere, so a constraint that was never set
// denies rather than permits. Constraints are immutable values, safe to copy
// and to share between goroutines; compare them with Equal, not ==.
type Constraint struct {
	anywhere  bool
	countries countrySet  // countries where every region is allowed
	eudb      countrySet  // countries where only EUDB regions are allowed; ⊆ EU ∪ EFTA, disjoint from countries
	regions   []regionRef // regions allowed by name and not by the sets above; sorted; never modified once set
}

// regionRef is a region named by a constraint, with the facts that decide
// how it intersects with places: its country and EUDB commitment.
type regionRef struct {
	provider, name string
	country        int
	eudb           bool
}

func (r regionRef) String() string { return r.provider + "/" + r.name }

func compareRefs(a, b regionRef) int {
	return cmp.Or(
		cmp.Compare(a.provider, b.provider),
		cmp.Compare(a.name, b.name),
		cmp.Compare(a.country, b.country),
		cmp.Compare(b2i(a.eudb), b2i(b.eudb)),
	)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Anywhere returns the constraint that allows every region a catalog knows.
// Unknown regions are still refused: they cannot be looked up.
func Anywhere() Constraint { return Constraint{anywhere: true} }

// Nowhere returns the constraint that allows no region, the same as the zero
// Constraint. It is what intersecting constraints with no place in common
// gives.
func Nowhere() Constraint { return Constraint{} }

// IsAnywhere reports whether c allows every region.
func (c Constraint) IsAnywhere() bool { return c.anywhere }

// IsNowhere reports whether c allows no region at all.
func (c Constraint) IsNowhere() bool {
	return !c.anywhere && c.countries.isEmpty() && c.eudb.isEmpty() && len(c.regions) == 0
}

func countriesConstraint(s countrySet) Constraint {
	c := Constraint{countries: s}
	c.normalize()
	return c
}

func eudbConstraint(s countrySet) Constraint {
	c := Constraint{eudb: s}
	c.normalize()
	return c
}

func regionConstraint(r Region) (Constraint, bool) {
	ci, ok := regionCountry(r)
	if !ok {
		return Constraint{}, false
	}
	ref := regionRef{provider: r.Provider, name: r.Name, country: ci, eudb: r.EUDataBoundary && tables.eudb.has(ci)}
	return Constraint{regions: []regionRef{ref}}, true
}

// regionCountry returns the grid index of r's country when r is complete
// enough to be judged: a region without provider, name or a valid country is
// allowed nowhere.
func regionCountry(r Region) (int, bool) {
	if r.Provider == "" || r.Name == "" {
		return 0, false
	}
	return countryIndex(r.Country)
}

// Allows reports whether c allows data to be stored and processed in r. A
// region without a provider, a name or a valid country is never allowed.
// Allows does not allocate.
func (c Constraint) Allows(r Region) bool {
	ci, ok := regionCountry(r)
	if !ok {
		return false
	}
	if c.anywhere || c.countries.has(ci) || r.EUDataBoundary && c.eudb.has(ci) {
		return true
	}
	for _, ref := range c.regions {
		if strings.EqualFold(ref.provider, r.Provider) && strings.EqualFold(ref.name, r.Name) {
			return true
		}
	}
	return false
}

// Check returns nil when c allows r, and otherwise a *Violation saying where
// r is and which places c allows. It allocates only when it fails.
func (c Constraint) Check(r Region) error {
	if c.Allows(r) {
		return nil
	}
	return &Violation{Region: r, Constraint: c}
}

// allowsRef reports whether c allows the region ref stands for.
func (c Constraint) allowsRef(ref regionRef) bool {
	return c.coversRef(ref) || slices.ContainsFunc(c.regions, func(o regionRef) bool { return o == ref })
}

// coversRef reports whether c's places other than named regions allow ref.
func (c Constraint) coversRef(ref regionRef) bool {
	return c.anywhere || c.countries.has(ref.country) || ref.eudb && c.eudb.has(ref.country)
}

// Intersect returns the constraint that allows exactly the regions both c and
// o allow. The result may allow nowhere (EU ∩ US); IsNowhere tells, and Check
// explains it as such.
func (c Constraint) Intersect(o Constraint) Constraint {
	if c.anywhere {
		return o
	}
	if o.anywhere {
		return c
	}
	out := Constraint{countries: c.countries.and(o.countries)}
	// EUDB regions are allowed where both allow them, whether outright or as
	// EUDB regions.
	out.eudb = c.countries.or(c.eudb).and(o.countries.or(o.eudb))
	for _, r := range c.regions {
		if o.allowsRef(r) {
			out.regions = append(out.regions, r)
		}
	}
	for _, r := range o.regions {
		if c.allowsRef(r) {
			out.regions = append(out.regions, r)
		}
	}
	out.normalize()
	return out
}

// Union returns the constraint that allows the regions c or o allows.
func (c Constraint) Union(o Constraint) Constraint {
	if c.anywhere || o.anywhere {
		return Anywhere()
	}
	out := Constraint{
		countries: c.countries.or(o.countries),
		eudb:      c.eudb.or(o.eudb),
		regions:   append(slices.Clip(c.regions), o.regions...),
	}
	out.normalize()
	return out
}

// Within reports whether every region c allows is also allowed by o: a
// dataset whose constraint is c may move to o only if o is not looser,
// that is, if o.Within(c).
func (c Constraint) Within(o Constraint) bool {
	if o.anywhere {
		return true
	}
	if c.anywhere {
		return false
	}
	if !c.countries.subsetOf(o.countries) || !c.eudb.subsetOf(o.countries.or(o.eudb)) {
		return false
	}
	for _, r := range c.regions {
		if !o.allowsRef(r) {
			return false
		}
	}
	return true
}

// Equal reports whether c and o allow the same regions. Equal constraints
// also have the same text form.
func (c Constraint) Equal(o Constraint) bool {
	return c.anywhere == o.anywhere && c.countries == o.countries && c.eudb == o.eudb &&
		slices.Equal(c.regions, o.regions)
}

// Tighten returns proposed when it is within c. Otherwise it returns c
// unchanged and a *LooseningError naming the places of proposed that c does
// not allow. It is the check for replacing a dataset's constraint: a
// constraint may be tightened, never loosened.
func (c Constraint) Tighten(proposed Constraint) (Constraint, error) {
	if proposed.Within(c) {
		return proposed, nil
	}
	e := &LooseningError{Current: c, Proposed: proposed}
	for _, p := range proposed.places() {
		if !p.c.Within(c) {
			e.Outside = append(e.Outside, p.label)
		}
	}
	return c, e
}

// normalize restores the normal form after an operation: EUDB countries
// inside the EUDB and not already allowed outright, no named region that
// the sets allow, named regions sorted and unique, and every assigned
// country allowed meaning anywhere.
func (c *Constraint) normalize() {
	if c.anywhere || tables.assigned.subsetOf(c.countries) {
		*c = Anywhere()
		return
	}
	c.eudb = c.eudb.and(tables.eudb).minus(c.countries)
	var refs []regionRef
	for _, r := range c.regions {
		if !c.coversRef(r) {
			refs = append(refs, r)
		}
	}
	slices.SortFunc(refs, compareRefs)
	c.regions = slices.Clip(slices.Compact(refs))
}
