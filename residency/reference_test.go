package residency_test

import (
	"encoding/json"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/tideline-ml/tideline/internal/fixtures"
	"github.com/tideline-ml/tideline/residency"
)

// referenceEntry is one row of the region facts in internal/fixtures.
type referenceEntry struct {
	Provider          string          `json:"provider"`
	Region            string          `json:"region"`
	DisplayName       *string         `json:"displayName"`
	Geography         string          `json:"geography"`
	Country           string          `json:"country"`
	EUDataBoundary    bool            `json:"euDataBoundary"`
	SuperRegion       string          `json:"superRegion"`
	AvailabilityZones json.RawMessage `json:"availabilityZones"` // bool for Azure, list for CoreWeave
}

// inEUorEFTA is written out here, apart from the package's own tables, so
// that the test checks them rather than repeats them.
var inEUorEFTA = strings.Fields("AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE IS LI NO CH")

func TestReferenceRegionsResolve(t *testing.T) {
	raw, err := fs.ReadFile(fixtures.Regions(), fixtures.RegionsFile)
	if err != nil {
		t.Fatal(err)
	}
	var entries []referenceEntry
	if err := json.Unmarshal(raw, &entries); err != nil {
		t.Fatalf("regions.json: %v", err)
	}
	cat := residency.DefaultCatalog()
	perProvider := map[string]int{}
	for _, e := range entries {
		perProvider[e.Provider]++
		t.Run(e.Provider+"/"+e.Region, func(t *testing.T) {
			r, err := cat.Lookup(e.Provider, e.Region)
			if err != nil {
				t.Fatalf("Lookup: %v", err)
			}
			if r.Provider != e.Provider || r.Name != e.Region || r.Zone != "" {
				t.Errorf("Lookup = %s (zone %q), want %s/%s", r, r.Zone, e.Provider, e.Region)
			}
			if r.Country != e.Country {
				t.Errorf("country %s, reference says %s", r.Country, e.Country)
			}
			if r.Geography != e.Geography {
				t.Errorf("geography %q, reference says %q", r.Geography, e.Geography)
			}
			checkJurisdictions(t, r, e)
			switch e.Provider {
			case residency.Azure:
				if e.DisplayName == nil || r.DisplayName != *e.DisplayName {
					t.Errorf("display name %q, reference says %v", r.DisplayName, e.DisplayName)
				}
				byDisplay, err := cat.Lookup("azure", *e.DisplayName)
				if err != nil || byDisplay.Name != e.Region {
					t.Errorf("Lookup by display name %q = %v, %v", *e.DisplayName, byDisplay, err)
				}
				if r.EUDataBoundary != e.EUDataBoundary {
					t.Errorf("EUDataBoundary %v, reference says %v", r.EUDataBoundary, e.EUDataBoundary)
				}
			case residency.CoreWeave:
				if r.SuperRegion != e.SuperRegion {
					t.Errorf("super region %q, reference says %q", r.SuperRegion, e.SuperRegion)
				}
				if e.DisplayName != nil && r.Location != *e.DisplayName {
					t.Errorf("location %q, reference says %q", r.Location, *e.DisplayName)
				}
				var zones []string
				if err := json.Unmarshal(e.AvailabilityZones, &zones); err != nil {
					t.Fatalf("availabilityZones: %v", err)
				}
				if !slices.Equal(r.Zones, zones) {
					t.Errorf("zones %v, reference says %v", r.Zones, zones)
				}
				for _, z := range zones {
					for _, spelling := range []string{z, strings.ToLower(z)} {
						zr, err := cat.Lookup("coreweave", spelling)
						if err != nil || zr.Name != e.Region || zr.Zone != z {
							t.Errorf("Lookup of zone %q = %s zone %q, %v; want %s zone %s", spelling, zr, zr.Zone, err, e.Region, z)
						}
					}
				}
				if r.EUDataBoundary {
					t.Errorf("EUDataBoundary set; the reference's flag for CoreWeave is a location, not an EUDB commitment")
				}
			}
		})
	}
	if perProvider[residency.Azure] != 58 || perProvider[residency.CoreWeave] != 48 {
		t.Errorf("reference has %v; this test expects 58 azure and 48 coreweave entries", perProvider)
	}
	got := map[string]int{}
	for _, r := range cat.Regions() {
		got[r.Provider]++
	}
	for p, n := range perProvider {
		if got[p] != n {
			t.Errorf("the catalog has %d %s regions, the reference %d", got[p], p, n)
		}
	}
}

// checkJurisdictions compares r's jurisdictions with what its country and the
// reference's EU/EFTA flag imply.
func checkJurisdictions(t *testing.T, r residency.Region, e referenceEntry) {
	t.Helper()
	js := r.Jurisdictions()
	has := func(j residency.Jurisdiction) bool { return slices.Contains(js, j) }
	europe := slices.Contains(inEUorEFTA, e.Country)
	if europe != e.EUDataBoundary {
		t.Errorf("reference flags euDataBoundary=%v for %s; this test's EU/EFTA list disagrees", e.EUDataBoundary, e.Country)
	}
	if got := has(residency.EU) || has(residency.EFTA); got != europe {
		t.Errorf("jurisdictions %v for %s: in EU or EFTA = %v, want %v", js, e.Country, got, europe)
	}
	if got, want := has(residency.EUDB), europe && e.Provider == residency.Azure; got != want {
		t.Errorf("jurisdictions %v: EUDB = %v, want %v (Azure regions in the EU and EFTA only)", js, got, want)
	}
	if has(residency.EU) && !has(residency.EEA) {
		t.Errorf("jurisdictions %v: in the EU but not the EEA", js)
	}
	for country, j := range map[string]residency.Jurisdiction{"GB": residency.UK, "CH": residency.CH, "US": residency.US} {
		if has(j) != (e.Country == country) {
			t.Errorf("jurisdictions %v for %s: %s = %v", js, e.Country, j, has(j))
		}
	}
	// The country is a place of its own: a constraint naming it allows r.
	c, err := residency.ParseConstraint(e.Country)
	if err != nil || !c.Allows(r) {
		t.Errorf("constraint %q does not allow %s: %v", e.Country, r, err)
	}
}
