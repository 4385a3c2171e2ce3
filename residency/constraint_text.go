package residency

import (
	"strconv"
	"strings"
	"sync"
)

// maxConstraintText bounds the text ParseConstraint accepts; a constraint
// naming every built-in region individually is about 2 KiB.
const maxConstraintText = 16 << 10

// place is one element of a constraint's normal form, with its text code,
// its label in explanations, and the constraint of that place alone.
type place struct {
	code, label string
	c           Constraint
}

// places lists c's normal form in a fixed order: EU/EEA or EU, EFTA, the
// countries UK, CH and US, other countries alphabetically, then EUDB places,
// then named regions. Because the normal form is unique, equal constraints
// give equal lists.
func (c Constraint) places() []place {
	if c.anywhere {
		return []place{{code: "anywhere", label: "anywhere", c: Anywhere()}}
	}
	var out []place

	rem := c.countries
	take := func(j Jurisdiction, label string, s countrySet) {
		out = append(out, place{code: string(j), label: label, c: countriesConstraint(s)})
		rem = rem.minus(s)
	}
	switch {
	case tables.eea.subsetOf(rem):
		take(EEA, "EU/EEA", tables.eea)
	case tables.eu.subsetOf(rem):
		take(EU, "EU", tables.eu)
	}
	// Once the EEA is taken, EFTA adds only Switzerland, written as CH.
	if tables.efta.subsetOf(rem) {
		take(EFTA, "EFTA", tables.efta)
	}
	for _, i := range countryOrder(rem) {
		var s countrySet
		s.add(i)
		out = append(out, place{code: countryCode(i), label: countryLabel(i), c: countriesConstraint(s)})
	}

	if !c.eudb.isEmpty() {
		// Where EUDB regions may be, counting countries allowed outright:
		// "DE,EUDB" reads better than thirty "EUDB&xx" places.
		t := c.eudb.or(c.countries.and(tables.eudb))
		rem := c.eudb
		takeEUDB := func(code, label string, s countrySet) {
			out = append(out, place{code: code, label: label, c: eudbConstraint(s)})
			rem = rem.minus(s)
		}
		if t == tables.eudb {
			takeEUDB("EUDB", "EUDB", tables.eudb)
		}
		switch {
		case tables.eea.subsetOf(t) && !tables.eea.and(rem).isEmpty():
			takeEUDB("EUDB&EEA", "EUDB in EU/EEA", tables.eea)
		case tables.eu.subsetOf(t) && !tables.eu.and(rem).isEmpty():
			takeEUDB("EUDB&EU", "EUDB in EU", tables.eu)
		}
		if tables.efta.subsetOf(t) && tables.efta.and(rem).len() >= 2 {
			takeEUDB("EUDB&EFTA", "EUDB in EFTA", tables.efta)
		}
		for _, i := range countryOrder(rem) {
			var s countrySet
			s.add(i)
			takeEUDB("EUDB&"+countryCode(i), "EUDB in "+countryLabel(i), s)
		}
	}

	for _, r := range c.regions {
		out = append(out, place{code: r.String(), label: r.String(), c: Constraint{regions: []regionRef{r}}})
	}
	return out
}

// countryOrder lists s with GB, CH and US first, the single-country places
// policies name most, then the rest alphabetically.
func countryOrder(s countrySet) []int {
	first := [...]int{tables.gb, tables.ch, tables.us}
	var out []int
	for _, i := range first {
		if s.has(i) {
			out = append(out, i)
		}
	}
	for i := range gridSize {
		if s.has(i) && i != first[0] && i != first[1] && i != first[2] {
			out = append(out, i)
		}
	}
	return out
}

// String explains c for people: "EU/EEA", "EU/EEA, UK, CH", "DE,
// azure/westeurope", "anywhere", "nowhere". "EU/EEA" is the European
// Economic Area, which includes the EU.
func (c Constraint) String() string {
	ps := c.places()
	if len(ps) == 0 {
		return "nowhere"
	}
	labels := make([]string, len(ps))
	for i, p := range ps {
		labels[i] = p.label
	}
	return strings.Join(labels, ", ")
}

// Encode returns c's text form, the one to store with an artifact (blob
// metadata, Kubernetes annotations, Azure ML tags): printable ASCII without
// spaces, such as "EEA,GB,CH" or "EUDB&EEA,azure/westeurope". Equal
// constraints encode identically, and ParseConstraint of the text gives back
// an Equal constraint. It is what MarshalText returns.
func (c Constraint) Encode() string {
	ps := c.places()
	if len(ps) == 0 {
		return "nowhere"
	}
	codes := make([]string, len(ps))
	for i, p := range ps {
		codes[i] = p.code
	}
	return strings.Join(codes, ",")
}

// MarshalText implements encoding.TextMarshaler with Encode; it never fails.
func (c Constraint) MarshalText() ([]byte, error) { return []byte(c.Encode()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseConstraint,
// so the regions it names must be built-in ones. On error c is unchanged.
func (c *Constraint) UnmarshalText(text []byte) error {
	v, err := ParseConstraint(string(text))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// ParseConstraint parses a constraint's text form. The text is a
// comma-separated list of places, any of which allows a region; a place is
// one or more atoms joined by '&', all of which must allow it. An atom is:
//
//   - anywhere or nowhere;
//   - a jurisdiction: EU, EEA, EFTA or EUDB;
//   - an ISO 3166-1 alpha-2 country code (DE, GB, CH, US), or UK for GB;
//   - a region as provider/name (azure/westeurope, coreweave/EU-SOUTH-03),
//     in any spelling Catalog.Lookup accepts; a zone names its region.
//
// Case and spaces around atoms are ignored. Encode gives the canonical form.
// Regions are resolved through the built-in catalog; to parse constraints
// that name regions added to a catalog, use Catalog.ParseConstraint.
// Errors match ErrInvalid, and also ErrUnknownRegion for an unknown region.
func ParseConstraint(s string) (Constraint, error) {
	return parseConstraint(s, func(provider, name string) (Region, error) {
		r, err := builtinIndex().lookup(provider, name)
		if err != nil {
			err = &taggedError{
				msg:   err.Error() + " (ParseConstraint knows the built-in regions only; parse constraints that name added regions with Catalog.ParseConstraint)",
				kind:  ErrUnknownRegion,
				cause: err,
			}
		}
		return r, err
	})
}

// builtinIndex is the index of the built-in regions that ParseConstraint
// resolves names with, built on first use and never modified. No Region
// from it reaches a caller (constraints keep names and facts, not Regions),
// so nothing outside the package can change it.
var builtinIndex = sync.OnceValue(func() *catalogIndex {
	idx, err := buildIndex(builtinRegions())
	if err != nil {
		panic(err) // the built-in table is checked by the package's tests
	}
	return idx
})

// MustParseConstraint is ParseConstraint for constants in programs: it
// panics when s does not parse.
func MustParseConstraint(s string) Constraint {
	c, err := ParseConstraint(s)
	if err != nil {
		panic(err)
	}
	return c
}

func parseConstraint(s string, lookup func(provider, name string) (Region, error)) (Constraint, error) {
	if len(s) > maxConstraintText {
		return Constraint{}, invalidf("constraint text is %d bytes, more than the %d allowed; name jurisdictions or countries instead of listing regions", len(s), maxConstraintText)
	}
	if strings.TrimSpace(s) == "" {
		return Constraint{}, invalidf("constraint text is empty; write \"anywhere\", \"nowhere\" or a list of places such as \"EEA,GB,CH\"")
	}
	out := Nowhere()
	for item := range strings.SplitSeq(s, ",") {
		cur := Anywhere()
		for atom := range strings.SplitSeq(item, "&") {
			a, err := parseAtom(strings.TrimSpace(atom), s, lookup)
			if err != nil {
				return Constraint{}, err
			}
			cur = cur.Intersect(a)
		}
		out = out.Union(cur)
	}
	return out, nil
}

const syntaxHelp = "write jurisdictions (EU, EEA, EFTA, EUDB), ISO 3166-1 alpha-2 countries (DE, GB or UK, CH, US), regions as provider/name (azure/westeurope, coreweave/EU-SOUTH-03), anywhere or nowhere, separated by ',' (any of) or '&' (all of)"

func parseAtom(a, text string, lookup func(provider, name string) (Region, error)) (Constraint, error) {
	if a == "" {
		return Constraint{}, invalidf("constraint %s has an empty place; %s", quoteShort(text), syntaxHelp)
	}
	if provider, name, ok := strings.Cut(a, "/"); ok {
		provider, name = strings.TrimSpace(provider), strings.TrimSpace(name)
		if provider == "" || name == "" {
			return Constraint{}, invalidf("constraint %s: region %s needs both a provider and a name, as in azure/westeurope", quoteShort(text), quoteShort(a))
		}
		r, err := lookup(provider, name)
		if err != nil {
			return Constraint{}, &taggedError{msg: "residency: constraint " + quoteShort(text) + ": " + strings.TrimPrefix(err.Error(), "residency: "), kind: ErrInvalid, cause: err}
		}
		c, ok := regionConstraint(r)
		if !ok {
			return Constraint{}, invalidf("constraint %s: region %s has no valid country in the catalog", quoteShort(text), r)
		}
		return c, nil
	}
	switch {
	case strings.EqualFold(a, "anywhere"):
		return Anywhere(), nil
	case strings.EqualFold(a, "nowhere"):
		return Nowhere(), nil
	case strings.EqualFold(a, string(EUDB)):
		return eudbConstraint(tables.eudb), nil
	}
	for _, j := range [...]Jurisdiction{EU, EEA, EFTA, UK} {
		if strings.EqualFold(a, string(j)) {
			s, _ := jurisdictionSet(j)
			return countriesConstraint(s), nil
		}
	}
	if i, ok := countryIndex(a); ok {
		var s countrySet
		s.add(i)
		return countriesConstraint(s), nil
	}
	if _, ok := gridIndex(a); ok {
		return Constraint{}, invalidf("constraint %s: %s is not an assigned ISO 3166-1 alpha-2 country code (Greece is GR, the United Kingdom GB or UK)", quoteShort(text), quoteShort(a))
	}
	return Constraint{}, invalidf("constraint %s: unknown place %s; %s", quoteShort(text), quoteShort(a), syntaxHelp)
}

// quoteShort quotes s for a message, cut to a length a message can carry.
func quoteShort(s string) string {
	const limit = 64
	if len(s) > limit {
		return strconv.Quote(s[:limit]) + "…"
	}
	return strconv.Quote(s)
}
