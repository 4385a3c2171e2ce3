package residency_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tideline-ml/tideline/residency"
)

func TestLookupAzureSpellings(t *testing.T) {
	cat := residency.DefaultCatalog()
	tests := []struct {
		provider, spelling string
		name, country      string
	}{
		{"azure", "westeurope", "westeurope", "NL"},
		{"azure", "West Europe", "westeurope", "NL"},
		{"azure", "WestEurope", "westeurope", "NL"},
		{"azure", "west-europe", "westeurope", "NL"},
		{"azure", "west_europe", "westeurope", "NL"},
		{"azure", "WESTEUROPE", "westeurope", "NL"},
		{"azure", "  West Europe  ", "westeurope", "NL"},
		{"azure", "(Europe) West Europe", "westeurope", "NL"},
		{"Azure", "westeurope", "westeurope", "NL"},
		{"AZURE", "West Europe", "westeurope", "NL"},
		{"azure", "westus2", "westus2", "US"},
		{"azure", "West US 2", "westus2", "US"},
		{"azure", "uksouth", "uksouth", "GB"},
		{"azure", "(Europe) UK South", "uksouth", "GB"},
		{"azure", "northeurope", "northeurope", "IE"},
		{"azure", "Switzerland North", "switzerlandnorth", "CH"},
		{"azure", "swedensouth", "swedensouth", "SE"},
		{"azure", "eastasia", "eastasia", "HK"},
	}
	for _, tt := range tests {
		t.Run(tt.provider+"/"+tt.spelling, func(t *testing.T) {
			r, err := cat.Lookup(tt.provider, tt.spelling)
			if err != nil {
				t.Fatalf("Lookup: %v", err)
			}
			if r.Provider != residency.Azure || r.Name != tt.name || r.Country != tt.country || r.Zone != "" {
				t.Errorf("Lookup = %s in %s (zone %q), want azure/%s in %s", r, r.Country, r.Zone, tt.name, tt.country)
			}
		})
	}
}

func TestLookupCoreWeaveSpellings(t *testing.T) {
	cat := residency.DefaultCatalog()
	tests := []struct {
		spelling      string
		name, zone    string
		country, supr string
	}{
		{"EU-SOUTH-03", "EU-SOUTH-03", "", "ES", "EU-SOUTH"},
		{"eu-south-03", "EU-SOUTH-03", "", "ES", "EU-SOUTH"},
		{"EU SOUTH 03", "EU-SOUTH-03", "", "ES", "EU-SOUTH"},
		{"EU-SOUTH-03B", "EU-SOUTH-03", "EU-SOUTH-03B", "ES", "EU-SOUTH"},
		{"eu-south-03b", "EU-SOUTH-03", "EU-SOUTH-03B", "ES", "EU-SOUTH"},
		{"US-EAST-04", "US-EAST-04", "", "US", "US-EAST"},
		{"us-east-04a", "US-EAST-04", "US-EAST-04A", "US", "US-EAST"},
		{"US-EAST-04B", "US-EAST-04", "US-EAST-04B", "US", "US-EAST"},
		{"US-WEST-09B", "US-WEST-09", "US-WEST-09B", "US", "US-WEST"},
		{"RNO2", "RNO2", "", "US", "US-WEST"},
		{"rno2a", "RNO2", "RNO2A", "US", "US-WEST"},
		{"EU-WEST-01", "EU-WEST-01", "", "GB", "EU-WEST"},
		{"EU-NORTH-02A", "EU-NORTH-02", "EU-NORTH-02A", "NO", "EU-NORTH"},
		{"CA-EAST-01", "CA-EAST-01", "", "CA", "CA-EAST"},
		{"lga1", "LGA1", "", "US", "US East (legacy)"},
	}
	for _, tt := range tests {
		t.Run(tt.spelling, func(t *testing.T) {
			for _, provider := range []string{"coreweave", "CoreWeave"} {
				r, err := cat.Lookup(provider, tt.spelling)
				if err != nil {
					t.Fatalf("Lookup(%q): %v", provider, err)
				}
				if r.Provider != residency.CoreWeave || r.Name != tt.name || r.Zone != tt.zone || r.Country != tt.country || r.SuperRegion != tt.supr {
					t.Errorf("Lookup(%q) = %s zone %q in %s (%s), want %s zone %q in %s (%s)",
						provider, r, r.Zone, r.Country, r.SuperRegion, tt.name, tt.zone, tt.country, tt.supr)
				}
				if r.EUDataBoundary {
					t.Errorf("%s has EUDataBoundary; CoreWeave makes no EU Data Boundary commitment", r)
				}
			}
		})
	}
}

func TestLookupUnknown(t *testing.T) {
	cat := residency.DefaultCatalog()
	tests := []struct {
		provider, spelling string
		hint               string
	}{
		{"azure", "westeurpe", "az account list-locations"},
		{"azure", "", "az account list-locations"},
		{"azure", "-", "az account list-locations"},
		{"azure", "EU-SOUTH-03", "az account list-locations"},
		{"azure", "jioindiawest", "az account list-locations"},
		{"azure", "eastus2euap", "az account list-locations"},
		{"azure", strings.Repeat("westeurope", 40), "az account list-locations"},
		{"coreweave", "westeurope", "EU-SOUTH-03B"},
		{"coreweave", "EU-SOUTH-03C", "EU-SOUTH-03B"},
		{"coreweave", "EWR1", "EU-SOUTH-03B"},
		{"gcp", "europe-west1", "it has: azure, coreweave"},
		{"", "westeurope", "it has: azure, coreweave"},
		{"memory", "westeurope", "it has: azure, coreweave"},
	}
	for _, tt := range tests {
		t.Run(tt.provider+"/"+tt.spelling, func(t *testing.T) {
			r, err := cat.Lookup(tt.provider, tt.spelling)
			if !errors.Is(err, residency.ErrUnknownRegion) {
				t.Fatalf("Lookup = %v, %v; want ErrUnknownRegion", r, err)
			}
			msg := err.Error()
			for _, want := range []string{fmt.Sprintf("%q", tt.provider), fmt.Sprintf("%q", tt.spelling), "Catalog.Add", tt.hint} {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not contain %q", msg, want)
				}
			}
		})
	}
}

func TestCatalogAdd(t *testing.T) {
	cat := residency.DefaultCatalog()
	before := len(cat.Regions())
	zones := []string{"rack-7a", "rack-7b"}
	err := cat.Add(residency.Region{Provider: "OnPrem", Name: "fra-rack-7", DisplayName: "Frankfurt rack 7", Country: "de", Zones: zones})
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	zones[0] = "changed" // the catalog keeps its own copy
	for _, spelling := range []string{"fra-rack-7", "Frankfurt Rack 7", "RACK-7A", "rack-7b"} {
		r, err := cat.Lookup("onprem", spelling)
		if err != nil {
			t.Fatalf("Lookup(onprem, %q): %v", spelling, err)
		}
		if r.Provider != "onprem" || r.Name != "fra-rack-7" || r.Country != "DE" || r.Zones[0] != "rack-7a" {
			t.Errorf("Lookup(onprem, %q) = %+v", spelling, r)
		}
		if !residency.MustParseConstraint("EU").Allows(r) {
			t.Errorf("EU does not allow %s in DE", r)
		}
	}
	if got := len(cat.Regions()); got != before+1 {
		t.Errorf("Regions has %d entries after Add, want %d", got, before+1)
	}

	// Replacing an entry: same provider and name, in any spelling. The old
	// entry's spellings go with it.
	err = cat.Add(residency.Region{Provider: "coreweave", Name: "eu-south-03", Location: "Barcelona, Spain", Country: "ES", Zones: []string{"EU-SOUTH-03C"}})
	if err != nil {
		t.Fatalf("Add replacing EU-SOUTH-03: %v", err)
	}
	if got := len(cat.Regions()); got != before+1 {
		t.Errorf("Regions has %d entries after replacing one, want %d", got, before+1)
	}
	if r, err := cat.Lookup("coreweave", "EU-SOUTH-03B"); !errors.Is(err, residency.ErrUnknownRegion) {
		t.Errorf("the replaced entry's zone still resolves: %v, %v", r, err)
	}
	r, err := cat.Lookup("coreweave", "EU-SOUTH-03C")
	if err != nil || r.Name != "eu-south-03" || r.Zone != "EU-SOUTH-03C" {
		t.Errorf("Lookup of the new zone = %+v, %v", r, err)
	}
	if _, err := residency.DefaultCatalog().Lookup("coreweave", "EU-SOUTH-03B"); err != nil {
		t.Errorf("a change to one catalog leaked into a new default catalog: %v", err)
	}
}

func TestCatalogAddRefuses(t *testing.T) {
	tests := []struct {
		name string
		r    residency.Region
		want string
	}{
		{"no provider", residency.Region{Name: "x", Country: "DE"}, "provider"},
		{"provider with slash", residency.Region{Provider: "on/prem", Name: "x", Country: "DE"}, "provider"},
		{"provider too long", residency.Region{Provider: strings.Repeat("p", 33), Name: "x", Country: "DE"}, "provider"},
		{"no name", residency.Region{Provider: "onprem", Country: "DE"}, "name"},
		{"name with space", residency.Region{Provider: "onprem", Name: "rack 7", Country: "DE"}, "name"},
		{"name with comma", residency.Region{Provider: "onprem", Name: "a,b", Country: "DE"}, "name"},
		{"name too long", residency.Region{Provider: "onprem", Name: strings.Repeat("n", 64), Country: "DE"}, "name"},
		{"no country", residency.Region{Provider: "onprem", Name: "x"}, "country"},
		{"UK is not a code", residency.Region{Provider: "onprem", Name: "x", Country: "UK"}, "GB"},
		{"unassigned country", residency.Region{Provider: "onprem", Name: "x", Country: "XX"}, "ISO 3166-1"},
		{"three letters", residency.Region{Provider: "onprem", Name: "x", Country: "DEU"}, "ISO 3166-1"},
		{"EUDB outside EU/EFTA", residency.Region{Provider: "azure", Name: "uknorth", Country: "GB", EUDataBoundary: true}, "EU Data Boundary"},
		{"bad zone", residency.Region{Provider: "onprem", Name: "x", Country: "DE", Zones: []string{"a b"}}, "zone"},
		{"zone of another region", residency.Region{Provider: "coreweave", Name: "EU-SOUTH-09", Country: "ES", Zones: []string{"EU-SOUTH-03B"}}, "already a spelling of coreweave/EU-SOUTH-03"},
		{"display name of another region", residency.Region{Provider: "azure", Name: "westeurope2", DisplayName: "West Europe", Country: "NL"}, "already a spelling of azure/westeurope"},
		{"name equal to another's zone", residency.Region{Provider: "coreweave", Name: "eu-south-03b", Country: "ES"}, "already a spelling"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cat := residency.DefaultCatalog()
			before := cat.Regions()
			err := cat.Add(tt.r)
			if !errors.Is(err, residency.ErrInvalid) {
				t.Fatalf("Add(%+v) = %v, want ErrInvalid", tt.r, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("message %q does not mention %q", err, tt.want)
			}
			if after := cat.Regions(); !slices.EqualFunc(before, after, regionsEqual) {
				t.Errorf("a refused Add changed the catalog")
			}
		})
	}
}

func regionsEqual(a, b residency.Region) bool {
	return a.Provider == b.Provider && a.Name == b.Name && a.DisplayName == b.DisplayName &&
		a.Country == b.Country && slices.Equal(a.Zones, b.Zones) && a.EUDataBoundary == b.EUDataBoundary
}

func TestNewCatalog(t *testing.T) {
	cat, err := residency.NewCatalog(
		residency.Region{Provider: "onprem", Name: "zrh-1", Country: "CH"},
		residency.Region{Provider: "onprem", Name: "ams-1", Country: "NL"},
	)
	if err != nil {
		t.Fatalf("NewCatalog: %v", err)
	}
	got := cat.Regions()
	if len(got) != 2 || got[0].Name != "ams-1" || got[1].Name != "zrh-1" {
		t.Errorf("Regions = %v, want ams-1, zrh-1 in order", got)
	}
	if _, err := cat.Lookup("azure", "westeurope"); !errors.Is(err, residency.ErrUnknownRegion) {
		t.Errorf("NewCatalog knows built-in regions: %v", err)
	}
	if _, err := residency.NewCatalog(residency.Region{Provider: "onprem", Name: "a", Country: "DE"}, residency.Region{Provider: "onprem", Name: "A", Country: "FR"}); !errors.Is(err, residency.ErrInvalid) {
		t.Errorf("NewCatalog with two spellings of one name = %v, want ErrInvalid", err)
	}
}

func TestZeroAndNilCatalog(t *testing.T) {
	var cat residency.Catalog
	if _, err := cat.Lookup("azure", "westeurope"); !errors.Is(err, residency.ErrUnknownRegion) || !strings.Contains(err.Error(), "it has: none") {
		t.Errorf("zero Catalog Lookup = %v", err)
	}
	if err := cat.Add(residency.Region{Provider: "onprem", Name: "x", Country: "DE"}); err != nil {
		t.Fatalf("Add to zero Catalog: %v", err)
	}
	if _, err := cat.Lookup("onprem", "x"); err != nil {
		t.Errorf("Lookup after Add: %v", err)
	}
	var nilCat *residency.Catalog
	if _, err := nilCat.Lookup("azure", "westeurope"); !errors.Is(err, residency.ErrUnknownRegion) {
		t.Errorf("nil Catalog Lookup = %v", err)
	}
	if got := nilCat.Regions(); got != nil {
		t.Errorf("nil Catalog Regions = %v", got)
	}
}

func TestRegionsReturnsCopies(t *testing.T) {
	cat := residency.DefaultCatalog()
	rs := cat.Regions()
	for i := range rs {
		rs[i].Country = "US"
		for j := range rs[i].Zones {
			rs[i].Zones[j] = "X"
		}
	}
	r, err := cat.Lookup("coreweave", "EU-SOUTH-03B")
	if err != nil || r.Country != "ES" || r.Zones[0] != "EU-SOUTH-03B" {
		t.Errorf("changing Regions' result changed the catalog: %+v, %v", r, err)
	}
}

func TestBuiltinCatalogShape(t *testing.T) {
	count := map[string]int{}
	zones := 0
	for _, r := range residency.DefaultCatalog().Regions() {
		count[r.Provider]++
		zones += len(r.Zones)
		if r.Provider == residency.CoreWeave && r.EUDataBoundary {
			t.Errorf("%s: CoreWeave region with EUDataBoundary", r)
		}
		if r.Provider == residency.Azure && r.Name != strings.ToLower(r.Name) {
			t.Errorf("%s: Azure names are lower case", r)
		}
		if r.Provider == residency.CoreWeave && r.Name != strings.ToUpper(r.Name) {
			t.Errorf("%s: CoreWeave names are upper case", r)
		}
	}
	if count[residency.Azure] != 58 || count[residency.CoreWeave] != 48 || len(count) != 2 {
		t.Errorf("built-in regions per provider = %v, want 58 azure and 48 coreweave", count)
	}
	if zones != 48 {
		t.Errorf("built-in CoreWeave zones = %d, want 48", zones)
	}
}

func TestRegionJurisdictions(t *testing.T) {
	cat := residency.DefaultCatalog()
	tests := []struct {
		provider, name string
		want           []residency.Jurisdiction
	}{
		{"azure", "westeurope", []residency.Jurisdiction{residency.EU, residency.EEA, residency.EUDB}},
		{"azure", "norwayeast", []residency.Jurisdiction{residency.EEA, residency.EFTA, residency.EUDB}},
		{"azure", "switzerlandnorth", []residency.Jurisdiction{residency.EFTA, residency.EUDB, residency.CH}},
		{"azure", "uksouth", []residency.Jurisdiction{residency.UK}},
		{"azure", "eastus", []residency.Jurisdiction{residency.US}},
		{"azure", "japaneast", nil},
		{"coreweave", "EU-SOUTH-03", []residency.Jurisdiction{residency.EU, residency.EEA}},
		{"coreweave", "EU-NORTH-02", []residency.Jurisdiction{residency.EEA, residency.EFTA}},
		{"coreweave", "EU-WEST-01", []residency.Jurisdiction{residency.UK}},
		{"coreweave", "US-EAST-04", []residency.Jurisdiction{residency.US}},
		{"coreweave", "CA-EAST-01", nil},
	}
	for _, tt := range tests {
		r, err := cat.Lookup(tt.provider, tt.name)
		if err != nil {
			t.Fatalf("Lookup(%s, %s): %v", tt.provider, tt.name, err)
		}
		if got := r.Jurisdictions(); !slices.Equal(got, tt.want) {
			t.Errorf("%s.Jurisdictions() = %v, want %v", r, got, tt.want)
		}
	}
}

func TestJurisdictionCountries(t *testing.T) {
	tests := []struct {
		j        residency.Jurisdiction
		n        int
		has, not []string
	}{
		{residency.EU, 27, []string{"DE", "GR", "IE", "ES", "SE"}, []string{"GB", "CH", "NO", "EL"}},
		{residency.EEA, 30, []string{"DE", "IS", "LI", "NO"}, []string{"CH", "GB"}},
		{residency.EFTA, 4, []string{"IS", "LI", "NO", "CH"}, []string{"DE", "GB"}},
		{residency.EUDB, 31, []string{"DE", "CH", "NO"}, []string{"GB", "US"}},
		{residency.UK, 1, []string{"GB"}, nil},
		{residency.CH, 1, []string{"CH"}, nil},
		{residency.US, 1, []string{"US"}, nil},
		{"Europe", 0, nil, nil},
	}
	for _, tt := range tests {
		got := tt.j.Countries()
		if len(got) != tt.n || !slices.IsSorted(got) {
			t.Errorf("%s.Countries() = %v (%d), want %d sorted codes", tt.j, got, len(got), tt.n)
		}
		for _, c := range tt.has {
			if !slices.Contains(got, c) {
				t.Errorf("%s.Countries() lacks %s", tt.j, c)
			}
		}
		for _, c := range tt.not {
			if slices.Contains(got, c) {
				t.Errorf("%s.Countries() has %s", tt.j, c)
			}
		}
	}
}

// TestCatalogConcurrentAddAndLookup is meant for -race: lookups proceed
// while regions are added and replaced.
func TestCatalogConcurrentAddAndLookup(t *testing.T) {
	cat := residency.DefaultCatalog()
	eea := residency.MustParseConstraint("EEA")
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				r, err := cat.Lookup("azure", "West Europe")
				if err != nil || !eea.Allows(r) {
					t.Errorf("reader %d, round %d: %v, %v", g, i, r, err)
					return
				}
				if _, err := cat.Lookup("onprem", fmt.Sprintf("site-%d", i)); err != nil && !errors.Is(err, residency.ErrUnknownRegion) {
					t.Errorf("reader %d: %v", g, err)
					return
				}
			}
		})
	}
	for w := range 2 {
		wg.Go(func() {
			for i := range 50 {
				if err := cat.Add(residency.Region{Provider: "onprem", Name: fmt.Sprintf("site-%d", i), Country: "DE"}); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	for i := range 50 {
		if _, err := cat.Lookup("onprem", fmt.Sprintf("site-%d", i)); err != nil {
			t.Errorf("after the adds: %v", err)
		}
	}
}
