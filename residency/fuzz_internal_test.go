package residency

import (
	"fmt"
	"strings"
	"testing"
)

var fuzzSeeds = []string{
	"anywhere", "nowhere", "EU", "eea", "EEA,GB,CH", "EU,EFTA", "EUDB&EEA", "EUDB,DE", "EU&US",
	"uk, ch", "azure/westeurope", "Azure/West Europe,EU", "coreweave/eu-south-03b&EU", "EUDB&coreweave/EU-SOUTH-03",
	"EEA&EFTA", "XX", "EU,,US", "azure/", "/x", "a/b/c", "EUDB&CH,EUDB&NO", "EEA,EUDB&CH", "&", ",", " ", "EL", "anywhere&nowhere",
}

// checkNormal reports how c breaks the normal form, which the set operations
// and the uniqueness of the text form rely on.
func (c Constraint) checkNormal() error {
	if c.anywhere {
		if !c.countries.isEmpty() || !c.eudb.isEmpty() || c.regions != nil {
			return fmt.Errorf("anywhere with places besides")
		}
		return nil
	}
	switch {
	case !c.countries.subsetOf(tables.assigned):
		return fmt.Errorf("unassigned country in %v", c.countries.codes())
	case tables.assigned.subsetOf(c.countries):
		return fmt.Errorf("every country but not anywhere")
	case !c.eudb.subsetOf(tables.eudb):
		return fmt.Errorf("EUDB countries %v outside the EU and EFTA", c.eudb.codes())
	case !c.eudb.and(c.countries).isEmpty():
		return fmt.Errorf("EUDB countries %v also allowed outright", c.eudb.and(c.countries).codes())
	}
	for i, r := range c.regions {
		if c.coversRef(r) {
			return fmt.Errorf("region %s is covered by the constraint's other places", r)
		}
		if i > 0 && compareRefs(c.regions[i-1], r) >= 0 {
			return fmt.Errorf("regions out of order or repeated at %s", r)
		}
	}
	return nil
}

func FuzzParseConstraint(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	cat := DefaultCatalog()
	f.Fuzz(func(t *testing.T, s string) {
		c, err := cat.ParseConstraint(s)
		// The package-level parser resolves through its own copy of the
		// built-in regions and must agree.
		if pc, perr := ParseConstraint(s); (perr == nil) != (err == nil) || !pc.Equal(c) {
			t.Fatalf("ParseConstraint(%q) = %q, %v; Catalog.ParseConstraint = %q, %v", s, pc.Encode(), perr, c.Encode(), err)
		}
		if err != nil {
			if c.anywhere || !c.IsNowhere() {
				t.Fatalf("failed parse returned %q", c.Encode())
			}
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if err := c.checkNormal(); err != nil {
			t.Fatalf("ParseConstraint(%q) is not in normal form: %v", s, err)
		}
		enc := c.Encode()
		for i := 0; i < len(enc); i++ {
			if enc[i] <= ' ' || enc[i] > '~' {
				t.Fatalf("Encode = %q has a byte that is not printable ASCII without spaces", enc)
			}
		}
		again, err := cat.ParseConstraint(enc)
		if err != nil {
			t.Fatalf("ParseConstraint(Encode = %q): %v", enc, err)
		}
		if !again.Equal(c) || again.Encode() != enc {
			t.Fatalf("round trip of %q: %q then %q", s, enc, again.Encode())
		}
		if !c.Intersect(c).Equal(c) || !c.Union(c).Equal(c) || !c.Within(c) || !c.Within(Anywhere()) || !Nowhere().Within(c) {
			t.Fatalf("%q: a basic identity fails", enc)
		}
		if c.String() == "" || strings.Contains(c.String(), ",,") {
			t.Fatalf("String = %q", c.String())
		}
	})
}
