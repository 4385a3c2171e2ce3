package residency

import "strings"

// The providers whose regions DefaultCatalog knows.
const (
	Azure     = "azure"
	CoreWeave = "coreweave"
)

// Region is a place where a provider stores or processes data, with the
// facts residency decisions need. Regions come from a Catalog; a Region
// built by hand is only as good as its Country.
type Region struct {
	// Provider is the lower-case provider kind: "azure", "coreweave", or a
	// kind of one's own ("onprem").
	Provider string
	// Name is the canonical name: Azure's programmatic name ("westeurope"),
	// CoreWeave's upper-case region code ("EU-SOUTH-03").
	Name string
	// DisplayName is the provider's human name ("West Europe"). CoreWeave
	// names regions by their code, so for CoreWeave it equals Name.
	DisplayName string
	// Location is the physical location as the provider documents it
	// ("Netherlands", "Barcelona, Spain"); empty when undocumented. It is
	// for people: decisions use Country.
	Location string
	// Country is the ISO 3166-1 alpha-2 code of the country the region is
	// in ("NL", "GB" for the United Kingdom).
	Country string
	// Geography is the provider's grouping: Azure's geography ("Europe",
	// "United States"), CoreWeave's geo ("EU", "US"). A geography is not a
	// jurisdiction: CoreWeave's "EU" geo includes the United Kingdom.
	Geography string
	// SuperRegion is CoreWeave's super region ("EU-SOUTH"); empty for Azure.
	SuperRegion string
	// Zones are the availability zones that Lookup resolves to this region
	// ("EU-SOUTH-03B"). A Region returned by a Catalog shares this slice
	// with the catalog: do not modify it.
	Zones []string
	// Zone is set by Lookup to the zone the caller named, when the name
	// was a zone rather than the region.
	Zone string
	// EUDataBoundary reports that the provider commits to keep the data in
	// Microsoft's EU Data Boundary in this region. Only Azure makes that
	// commitment; a Catalog refuses it for a region outside the EU and EFTA.
	EUDataBoundary bool
}

// String returns "provider/name", the form constraints use to name a region.
func (r Region) String() string { return r.Provider + "/" + r.Name }

// Jurisdictions returns the jurisdictions r is in, in the order EU, EEA,
// EFTA, EUDB, UK, CH, US. A region in a country outside all of them (Japan,
// say) is in none; its country is still a place a constraint can name.
func (r Region) Jurisdictions() []Jurisdiction {
	var out []Jurisdiction
	for _, j := range jurisdictionOrder {
		if r.in(j) {
			out = append(out, j)
		}
	}
	return out
}

func (r Region) in(j Jurisdiction) bool {
	ci, ok := countryIndex(r.Country)
	if !ok {
		return false
	}
	if j == EUDB {
		return r.EUDataBoundary && tables.eudb.has(ci)
	}
	s, ok := jurisdictionSet(j)
	return ok && s.has(ci)
}

// describe is r as messages name it: "azure/eastus (East US)" or, for a
// zone, "coreweave/EU-SOUTH-03 (zone EU-SOUTH-03B)".
func (r Region) describe() string {
	s := r.String()
	switch {
	case r.Zone != "":
		s += " (zone " + r.Zone + ")"
	case r.DisplayName != "" && r.DisplayName != r.Name:
		s += " (" + r.DisplayName + ")"
	}
	return s
}

// whereabouts says where r is for messages: "US (jurisdictions: US)",
// "JP (no listed jurisdiction)".
func (r Region) whereabouts() string {
	js := r.Jurisdictions()
	if len(js) == 0 {
		return r.Country + " (no listed jurisdiction)"
	}
	names := make([]string, len(js))
	for i, j := range js {
		names[i] = string(j)
	}
	return r.Country + " (jurisdictions: " + strings.Join(names, ", ") + ")"
}
