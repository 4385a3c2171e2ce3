package residency_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tideline-ml/tideline/residency"
)

func TestParseConstraint(t *testing.T) {
	tests := []struct {
		in, encoded, human string
	}{
		{"anywhere", "anywhere", "anywhere"},
		{"nowhere", "nowhere", "nowhere"},
		{"EU", "EU", "EU"},
		{"eu", "EU", "EU"},
		{"EEA", "EEA", "EU/EEA"},
		{"EU,EEA", "EEA", "EU/EEA"},
		{"EEA,GB,CH", "EEA,GB,CH", "EU/EEA, UK, CH"},
		{"ch , uk ,eea", "EEA,GB,CH", "EU/EEA, UK, CH"},
		{"EU,EFTA", "EEA,CH", "EU/EEA, CH"},
		{"EFTA", "EFTA", "EFTA"},
		{"IS,LI,NO,CH", "EFTA", "EFTA"},
		{"IS,LI,NO", "IS,LI,NO", "IS, LI, NO"},
		{"US,JP,DE,GB", "GB,US,DE,JP", "UK, US, DE, JP"},
		{"EUDB", "EUDB", "EUDB"},
		{"EUDB&EEA", "EUDB&EEA", "EUDB in EU/EEA"},
		{"EEA&EUDB", "EUDB&EEA", "EUDB in EU/EEA"},
		{"EUDB&EU", "EUDB&EU", "EUDB in EU"},
		{"EUDB&EFTA", "EUDB&EFTA", "EUDB in EFTA"},
		{"EUDB&DE", "EUDB&DE", "EUDB in DE"},
		{"EUDB&CH,EUDB&NO", "EUDB&CH,EUDB&NO", "EUDB in CH, EUDB in NO"},
		{"EUDB,DE", "DE,EUDB", "DE, EUDB"},
		{"EEA,EUDB&CH", "EEA,EUDB", "EU/EEA, EUDB"},
		{"EUDB&GB", "nowhere", "nowhere"},
		{"EU&US", "nowhere", "nowhere"},
		{"EEA&EFTA", "IS,LI,NO", "IS, LI, NO"},
		{"azure/westeurope", "azure/westeurope", "azure/westeurope"},
		{"Azure/West Europe", "azure/westeurope", "azure/westeurope"},
		{"coreweave/eu-south-03b", "coreweave/EU-SOUTH-03", "coreweave/EU-SOUTH-03"},
		{"EU,azure/westeurope", "EU", "EU"},
		{"EU,azure/uksouth", "EU,azure/uksouth", "EU, azure/uksouth"},
		{"azure/uksouth,coreweave/EU-WEST-01,azure/eastus", "azure/eastus,azure/uksouth,coreweave/EU-WEST-01", "azure/eastus, azure/uksouth, coreweave/EU-WEST-01"},
		{"EU&coreweave/EU-SOUTH-03", "coreweave/EU-SOUTH-03", "coreweave/EU-SOUTH-03"},
		{"EUDB&coreweave/EU-SOUTH-03", "nowhere", "nowhere"},
		{"EUDB&azure/westeurope", "azure/westeurope", "azure/westeurope"},
		{"EU,anywhere", "anywhere", "anywhere"},
		{"nowhere,DE", "DE", "DE"},
		{"anywhere&DE", "DE", "DE"},
		{"nowhere&DE", "nowhere", "nowhere"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			c, err := residency.ParseConstraint(tt.in)
			if err != nil {
				t.Fatalf("ParseConstraint: %v", err)
			}
			if got := c.Encode(); got != tt.encoded {
				t.Errorf("Encode = %q, want %q", got, tt.encoded)
			}
			if got := c.String(); got != tt.human {
				t.Errorf("String = %q, want %q", got, tt.human)
			}
			again, err := residency.ParseConstraint(c.Encode())
			if err != nil || !again.Equal(c) {
				t.Errorf("ParseConstraint(Encode) = %v, %v; want %v", again, err, c)
			}
		})
	}
}

func TestParseConstraintErrors(t *testing.T) {
	tests := []struct {
		in      string
		unknown bool   // also ErrUnknownRegion
		want    string // in the message
	}{
		{"", false, "empty"},
		{"   ", false, "empty"},
		{"EU,,US", false, "empty place"},
		{"EU,", false, "empty place"},
		{"EU&", false, "empty place"},
		{"XX", false, "not an assigned ISO 3166-1"},
		{"EL", false, "Greece is GR"},
		{"Europe", false, "unknown place"},
		{"EU;US", false, "unknown place"},
		{"EU US", false, "unknown place"},
		{"DEU", false, "unknown place"},
		{"azure/", false, "provider and a name"},
		{"/westeurope", false, "provider and a name"},
		{"azure/westeurpe", true, `"westeurpe"`},
		{"gcp/europe-west1", true, `"gcp"`},
		{"onprem/rack-7", true, "Catalog.ParseConstraint"},
		{strings.Repeat("EU,", 10000), false, "more than"},
	}
	for _, tt := range tests {
		name := tt.in
		if len(name) > 20 {
			name = name[:20]
		}
		t.Run(name, func(t *testing.T) {
			c, err := residency.ParseConstraint(tt.in)
			if !errors.Is(err, residency.ErrInvalid) {
				t.Fatalf("ParseConstraint = %v, %v; want ErrInvalid", c, err)
			}
			if got := errors.Is(err, residency.ErrUnknownRegion); got != tt.unknown {
				t.Errorf("errors.Is(err, ErrUnknownRegion) = %v, want %v", got, tt.unknown)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("message %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestConstraintSetOperations(t *testing.T) {
	tests := []struct {
		a, b               string
		intersect, union   string
		aWithinB, bWithinA bool
	}{
		{"EU", "EEA", "EU", "EEA", true, false},
		{"EEA", "EFTA", "IS,LI,NO", "EEA,CH", false, false},
		{"EU", "US", "nowhere", "EU,US", false, false},
		{"EU", "coreweave/EU-SOUTH-03", "coreweave/EU-SOUTH-03", "EU", false, true},
		{"EU", "coreweave/EU-WEST-01", "nowhere", "EU,coreweave/EU-WEST-01", false, false},
		{"EEA,GB,CH", "coreweave/EU-WEST-01", "coreweave/EU-WEST-01", "EEA,GB,CH", false, true},
		{"EUDB", "EEA", "EUDB&EEA", "EEA,EUDB", false, false},
		{"EUDB", "coreweave/EU-SOUTH-03", "nowhere", "EUDB,coreweave/EU-SOUTH-03", false, false},
		{"EUDB", "azure/westeurope", "azure/westeurope", "EUDB", false, true},
		{"EUDB", "EU", "EUDB&EU", "EU,EUDB", false, false},
		{"EUDB&EEA", "EUDB&EFTA", "EUDB&IS,EUDB&LI,EUDB&NO", "EUDB", false, false},
		{"EUDB&DE", "DE", "EUDB&DE", "DE", true, false},
		{"anywhere", "EU", "EU", "anywhere", false, true},
		{"anywhere", "nowhere", "nowhere", "anywhere", false, true},
		{"nowhere", "nowhere", "nowhere", "nowhere", true, true},
		{"EEA", "EEA,GB,CH", "EEA", "EEA,GB,CH", true, false},
		{"azure/westeurope,azure/eastus", "EU", "azure/westeurope", "EU,azure/eastus", false, false},
		{"azure/westeurope,azure/eastus", "azure/eastus,coreweave/US-EAST-04", "azure/eastus", "azure/eastus,azure/westeurope,coreweave/US-EAST-04", false, false},
		{"US,JP", "GB,JP", "JP", "GB,US,JP", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.a+" vs "+tt.b, func(t *testing.T) {
			a, b := residency.MustParseConstraint(tt.a), residency.MustParseConstraint(tt.b)
			if got := a.Intersect(b).Encode(); got != tt.intersect {
				t.Errorf("%s ∩ %s = %s, want %s", tt.a, tt.b, got, tt.intersect)
			}
			if got := b.Intersect(a).Encode(); got != tt.intersect {
				t.Errorf("%s ∩ %s = %s, want %s", tt.b, tt.a, got, tt.intersect)
			}
			if got := a.Union(b).Encode(); got != tt.union {
				t.Errorf("%s ∪ %s = %s, want %s", tt.a, tt.b, got, tt.union)
			}
			if got := a.Within(b); got != tt.aWithinB {
				t.Errorf("%s within %s = %v, want %v", tt.a, tt.b, got, tt.aWithinB)
			}
			if got := b.Within(a); got != tt.bWithinA {
				t.Errorf("%s within %s = %v, want %v", tt.b, tt.a, got, tt.bWithinA)
			}
		})
	}
}

func TestConstraintAllows(t *testing.T) {
	cat := residency.DefaultCatalog()
	tests := []struct {
		constraint string
		allowed    []string // provider/name
		denied     []string
	}{
		{"EEA", []string{"azure/westeurope", "azure/norwayeast", "coreweave/EU-SOUTH-03", "coreweave/EU-NORTH-02"},
			[]string{"azure/uksouth", "azure/switzerlandnorth", "azure/eastus", "coreweave/EU-WEST-01", "coreweave/US-EAST-04"}},
		{"EEA,GB,CH", []string{"azure/uksouth", "azure/switzerlandwest", "coreweave/EU-WEST-02", "azure/francecentral"},
			[]string{"azure/eastus", "azure/japaneast", "coreweave/CA-EAST-01"}},
		{"EUDB", []string{"azure/westeurope", "azure/switzerlandnorth", "azure/norwaywest"},
			[]string{"coreweave/EU-SOUTH-03", "coreweave/EU-NORTH-02", "azure/uksouth"}},
		{"EU", []string{"azure/northeurope", "coreweave/EU-NORTH-05"},
			[]string{"azure/norwayeast", "coreweave/EU-NORTH-02", "coreweave/EU-WEST-01"}},
		{"coreweave/EU-SOUTH-03", []string{"coreweave/EU-SOUTH-03", "coreweave/eu-south-03b"},
			[]string{"coreweave/EU-SOUTH-04", "azure/spaincentral"}},
		{"anywhere", []string{"azure/eastus", "coreweave/LAS1"}, nil},
		{"nowhere", nil, []string{"azure/westeurope", "coreweave/EU-SOUTH-03"}},
	}
	lookup := func(s string) residency.Region {
		t.Helper()
		p, n, _ := strings.Cut(s, "/")
		r, err := cat.Lookup(p, n)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, tt := range tests {
		c := residency.MustParseConstraint(tt.constraint)
		for _, s := range tt.allowed {
			if r := lookup(s); !c.Allows(r) || c.Check(r) != nil {
				t.Errorf("%s does not allow %s: %v", tt.constraint, s, c.Check(r))
			}
		}
		for _, s := range tt.denied {
			r := lookup(s)
			if c.Allows(r) {
				t.Errorf("%s allows %s", tt.constraint, s)
			}
			var v *residency.Violation
			if err := c.Check(r); !errors.As(err, &v) || !errors.Is(err, residency.ErrNotAllowed) || v.Region.Name != r.Name {
				t.Errorf("%s.Check(%s) = %v, want a *Violation", tt.constraint, s, err)
			}
		}
	}
}

func TestIncompleteRegionIsNeverAllowed(t *testing.T) {
	for _, r := range []residency.Region{
		{},
		{Provider: "azure", Name: "westeurope"},
		{Provider: "azure", Country: "NL"},
		{Name: "westeurope", Country: "NL"},
		{Provider: "azure", Name: "westeurope", Country: "UK"},
		{Provider: "azure", Name: "westeurope", Country: "Netherlands"},
	} {
		if residency.Anywhere().Allows(r) {
			t.Errorf("Anywhere allows %+v", r)
		}
		err := residency.Anywhere().Check(r)
		if !errors.Is(err, residency.ErrNotAllowed) || !strings.Contains(err.Error(), "Catalog") {
			t.Errorf("Check(%+v) = %v; want a violation pointing at the Catalog", r, err)
		}
	}
	// EUDataBoundary claimed outside the EU/EFTA does not help a region.
	if residency.MustParseConstraint("EUDB").Allows(residency.Region{Provider: "x", Name: "y", Country: "US", EUDataBoundary: true}) {
		t.Error("EUDB allows a region in the US")
	}
}

func TestCheckMessages(t *testing.T) {
	cat := residency.DefaultCatalog()
	eastus, _ := cat.Lookup("azure", "eastus")
	us4, _ := cat.Lookup("coreweave", "US-EAST-04A")
	crawley, _ := cat.Lookup("coreweave", "EU-WEST-01")
	japan, _ := cat.Lookup("azure", "japaneast")
	tests := []struct {
		constraint string
		region     residency.Region
		want       []string
	}{
		{"EEA", eastus, []string{"azure/eastus (East US)", "is in US (jurisdictions: US)", "outside EU/EEA", "choose a region in EU/EEA"}},
		{"EEA", us4, []string{"coreweave/US-EAST-04 (zone US-EAST-04A)", "is in US"}},
		{"EU", crawley, []string{"coreweave/EU-WEST-01", "is in GB (jurisdictions: UK)", "outside EU"}},
		{"EEA,GB,CH", japan, []string{"is in JP (no listed jurisdiction)", "outside EU/EEA, UK, CH"}},
		{"EU&US", eastus, []string{"allows nowhere", "no place in common"}},
	}
	for _, tt := range tests {
		err := residency.MustParseConstraint(tt.constraint).Check(tt.region)
		if err == nil {
			t.Fatalf("%s allows %s", tt.constraint, tt.region)
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("message %q does not contain %q", err, w)
			}
		}
	}
}

func TestZeroConstraintIsNowhere(t *testing.T) {
	var c residency.Constraint
	if !c.IsNowhere() || c.IsAnywhere() || !c.Equal(residency.Nowhere()) || c.Encode() != "nowhere" || c.String() != "nowhere" {
		t.Errorf("zero Constraint = %q (%s), want nowhere", c.Encode(), c)
	}
	r, _ := residency.DefaultCatalog().Lookup("azure", "westeurope")
	if c.Allows(r) {
		t.Error("the zero Constraint allows a region")
	}
	if !residency.Anywhere().IsAnywhere() || residency.Anywhere().IsNowhere() {
		t.Error("Anywhere is not anywhere")
	}
}

func TestEveryCountryIsAnywhere(t *testing.T) {
	var all []string
	for _, j := range []residency.Jurisdiction{residency.EUDB, residency.UK, residency.US} {
		all = append(all, j.Countries()...)
	}
	// Allowing every assigned country is allowing anywhere; one short is not.
	const rest = "AD AE AF AG AI AL AM AO AQ AR AS AU AW AX AZ BA BB BD BF BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ " +
		"CA CC CD CF CG CI CK CL CM CN CO CR CU CV CW CX DJ DM DO DZ EC EG EH ER ET FJ FK FM FO " +
		"GA GD GE GF GG GH GI GL GM GN GP GQ GS GT GU GW GY HK HM HN HT ID IL IM IN IO IQ IR JE JM JO JP " +
		"KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LK LR LS LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MU MV MW MX MY MZ " +
		"NA NC NE NF NG NI NP NR NU NZ OM PA PE PF PG PH PK PM PN PR PS PW PY QA RE RS RU RW SA SB SC SD SG SH SJ SL SM SN SO SR SS ST SV SX SY SZ " +
		"TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW"
	all = append(all, strings.Fields(rest)...)
	slices.Sort(all)
	if all = slices.Compact(all); len(all) != 249 {
		t.Fatalf("test list has %d countries, want 249", len(all))
	}
	c := residency.MustParseConstraint(strings.Join(all, ","))
	if !c.IsAnywhere() {
		t.Errorf("every country = %q, want anywhere", c.Encode())
	}
	short := residency.MustParseConstraint(strings.Join(all[1:], ","))
	if short.IsAnywhere() || residency.Anywhere().Within(short) {
		t.Errorf("every country but %s is anywhere", all[0])
	}
}

func TestTighten(t *testing.T) {
	tests := []struct {
		current, proposed string
		outside           []string // nil: allowed
	}{
		{"EEA", "EU", nil},
		{"EEA", "DE,azure/westeurope", nil},
		{"EEA", "nowhere", nil},
		{"anywhere", "EEA,GB,CH", nil},
		{"EEA,GB,CH", "EEA,GB,CH", nil},
		{"EU", "EEA", []string{"EU/EEA"}},
		{"EU", "EEA,US", []string{"EU/EEA", "US"}},
		{"EEA", "anywhere", []string{"anywhere"}},
		{"EEA", "EUDB", []string{"EUDB"}},
		{"EUDB", "EEA", []string{"EU/EEA"}},
		{"EU", "DE,coreweave/EU-WEST-01", []string{"coreweave/EU-WEST-01"}},
		{"nowhere", "DE", []string{"DE"}},
	}
	for _, tt := range tests {
		t.Run(tt.current+" to "+tt.proposed, func(t *testing.T) {
			cur, prop := residency.MustParseConstraint(tt.current), residency.MustParseConstraint(tt.proposed)
			got, err := cur.Tighten(prop)
			if tt.outside == nil {
				if err != nil || !got.Equal(prop) {
					t.Fatalf("Tighten = %v, %v; want %v", got, err, prop)
				}
				return
			}
			var le *residency.LooseningError
			if !errors.As(err, &le) || !errors.Is(err, residency.ErrLoosened) {
				t.Fatalf("Tighten = %v, %v; want a *LooseningError", got, err)
			}
			if !got.Equal(cur) {
				t.Errorf("Tighten returned %v on error, want the current %v", got, cur)
			}
			if !slices.Equal(le.Outside, tt.outside) {
				t.Errorf("Outside = %q, want %q", le.Outside, tt.outside)
			}
			for _, w := range append([]string{"would loosen", "only be tightened"}, tt.outside...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestConstraintJSON(t *testing.T) {
	type artifact struct {
		Residency residency.Constraint `json:"residency"`
	}
	in := artifact{Residency: residency.MustParseConstraint("ch,uk,EEA,azure/eastus")}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"residency":"EEA,GB,CH,azure/eastus"}`; got != want {
		t.Errorf("json = %s, want %s", got, want)
	}
	var out artifact
	if err := json.Unmarshal(b, &out); err != nil || !out.Residency.Equal(in.Residency) {
		t.Errorf("round trip = %v, %v", out.Residency, err)
	}
	keep := out.Residency
	if err := out.Residency.UnmarshalText([]byte("EU;US")); !errors.Is(err, residency.ErrInvalid) || !out.Residency.Equal(keep) {
		t.Errorf("UnmarshalText of bad text = %v and changed the value to %v", err, out.Residency)
	}
}

func TestCatalogParseConstraintCustomRegion(t *testing.T) {
	cat := residency.DefaultCatalog()
	if err := cat.Add(residency.Region{Provider: "onprem", Name: "fra-1", Country: "DE"}); err != nil {
		t.Fatal(err)
	}
	c, err := cat.ParseConstraint("onprem/FRA-1,US")
	if err != nil {
		t.Fatalf("Catalog.ParseConstraint: %v", err)
	}
	if c.Encode() != "US,onprem/fra-1" {
		t.Errorf("Encode = %q", c.Encode())
	}
	if got := c.Intersect(residency.MustParseConstraint("EU")).Encode(); got != "onprem/fra-1" {
		t.Errorf("∩ EU = %q, want onprem/fra-1 (Frankfurt is in the EU)", got)
	}
	if _, err := residency.ParseConstraint(c.Encode()); !errors.Is(err, residency.ErrUnknownRegion) {
		t.Errorf("package ParseConstraint of a custom region = %v, want ErrUnknownRegion", err)
	}
	again, err := cat.ParseConstraint(c.Encode())
	if err != nil || !again.Equal(c) {
		t.Errorf("round trip through the catalog = %v, %v", again, err)
	}
}

func TestMustParseConstraintPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustParseConstraint did not panic on bad text")
		}
	}()
	residency.MustParseConstraint("Europe")
}

// probes are regions that exercise every distinction a constraint can make:
// every built-in region, plus, for every two-letter code, a region of a
// provider no constraint names, with and without an EU Data Boundary
// commitment. (Regions with unassigned codes are allowed nowhere, which the
// probes check too.)
func probes(t testing.TB) []residency.Region {
	t.Helper()
	out := residency.DefaultCatalog().Regions()
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			c := string([]rune{a, b})
			out = append(out,
				residency.Region{Provider: "probe", Name: "plain-" + c, Country: c},
				residency.Region{Provider: "probe", Name: "eudb-" + c, Country: c, EUDataBoundary: true})
		}
	}
	return out
}

var sampleConstraints = []string{
	"anywhere", "nowhere", "EU", "EEA", "EFTA", "EUDB", "GB", "CH", "US", "DE", "JP", "NO",
	"EEA,GB,CH", "EU,EFTA", "IS,LI,NO", "EUDB&EEA", "EUDB&EU", "EUDB&DE", "EUDB&CH,NO", "DE,EUDB",
	"azure/westeurope", "azure/eastus", "coreweave/EU-SOUTH-03", "coreweave/EU-WEST-01", "coreweave/EU-NORTH-02",
	"EU,azure/eastus", "EUDB,coreweave/EU-NORTH-02", "US,azure/uksouth,coreweave/EU-SOUTH-04", "GB,JP,azure/switzerlandnorth",
}

// TestAlgebraAgainstProbes checks the set operations against what they mean:
// which regions each side allows.
func TestAlgebraAgainstProbes(t *testing.T) {
	ps := probes(t)
	cs := make([]residency.Constraint, len(sampleConstraints))
	for i, s := range sampleConstraints {
		cs[i] = residency.MustParseConstraint(s)
	}
	for i, a := range cs {
		for j, b := range cs {
			checkAlgebra(t, sampleConstraints[i], sampleConstraints[j], a, b, ps)
		}
	}
}

func checkAlgebra(t *testing.T, as, bs string, a, b residency.Constraint, ps []residency.Region) {
	t.Helper()
	inter, union := a.Intersect(b), a.Union(b)
	within, same := true, true
	for _, r := range ps {
		ina, inb := a.Allows(r), b.Allows(r)
		if got := inter.Allows(r); got != (ina && inb) {
			t.Errorf("(%s ∩ %s = %s).Allows(%s) = %v, want %v", as, bs, inter.Encode(), r, got, ina && inb)
		}
		if got := union.Allows(r); got != (ina || inb) {
			t.Errorf("(%s ∪ %s = %s).Allows(%s) = %v, want %v", as, bs, union.Encode(), r, got, ina || inb)
		}
		if ina && !inb {
			within = false
		}
		if ina != inb {
			same = false
		}
	}
	if got := a.Within(b); got != within {
		t.Errorf("%s within %s = %v, but the probes say %v", as, bs, got, within)
	}
	if got := a.Equal(b); got != same {
		t.Errorf("%s equal %s = %v, but the probes say %v", as, bs, got, same)
	}
	if same != (a.Encode() == b.Encode()) {
		t.Errorf("%s and %s: same regions = %v but encodings %q, %q", as, bs, same, a.Encode(), b.Encode())
	}
	if !inter.Within(a) || !inter.Within(b) || !a.Within(union) || !b.Within(union) {
		t.Errorf("%s, %s: intersection %s or union %s is not where it belongs", as, bs, inter.Encode(), union.Encode())
	}
}
