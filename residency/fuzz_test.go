package residency_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tideline-ml/tideline/residency"
)

func FuzzConstraintAlgebra(f *testing.F) {
	for i, a := range sampleConstraints {
		f.Add(a, sampleConstraints[(i*7+3)%len(sampleConstraints)])
	}
	cat := residency.DefaultCatalog()
	ps := probes(f)
	f.Fuzz(func(t *testing.T, as, bs string) {
		a, err := cat.ParseConstraint(as)
		if err != nil {
			return
		}
		b, err := cat.ParseConstraint(bs)
		if err != nil {
			return
		}
		checkAlgebra(t, as, bs, a, b, ps)
		if t.Failed() {
			t.FailNow()
		}
	})
}

func FuzzParseClassification(f *testing.F) {
	for _, s := range []string{"public", "Internal", " CONFIDENTIAL ", "restricted", "", "unclassified", "secret", "classification(5)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := residency.ParseClassification(s)
		if err != nil {
			if c != 0 || !errors.Is(err, residency.ErrInvalid) {
				t.Fatalf("ParseClassification(%q) = %v, %v", s, c, err)
			}
			return
		}
		if !c.Valid() || !strings.EqualFold(strings.TrimSpace(s), c.String()) {
			t.Fatalf("ParseClassification(%q) = %v", s, c)
		}
		text, err := c.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back residency.Classification
		if err := back.UnmarshalText(text); err != nil || back != c {
			t.Fatalf("round trip of %v: %v, %v", c, back, err)
		}
	})
}

func FuzzLookup(f *testing.F) {
	for _, s := range [][2]string{
		{"azure", "westeurope"}, {"Azure", "West Europe"}, {"azure", "(Europe) UK South"}, {"azure", "west-us-2"},
		{"coreweave", "EU-SOUTH-03"}, {"coreweave", "eu-south-03b"}, {"CoreWeave", "RNO2A"}, {"gcp", "x"}, {"", ""},
		{"azure", "("}, {"azure", "()"}, {"azure", "\xff\xfe"},
	} {
		f.Add(s[0], s[1])
	}
	cat := residency.DefaultCatalog()
	f.Fuzz(func(t *testing.T, provider, name string) {
		r, err := cat.Lookup(provider, name)
		if err != nil {
			if !errors.Is(err, residency.ErrUnknownRegion) {
				t.Fatalf("Lookup(%q, %q) = %v, not ErrUnknownRegion", provider, name, err)
			}
			return
		}
		if !strings.EqualFold(r.Provider, provider) {
			t.Fatalf("Lookup(%q, %q) = %s, another provider", provider, name, r)
		}
		byName, err := cat.Lookup(r.Provider, r.Name)
		if err != nil || byName.Name != r.Name || byName.Zone != "" {
			t.Fatalf("Lookup of the canonical name %s = %v, %v", r, byName, err)
		}
		if r.Zone != "" {
			byZone, err := cat.Lookup(provider, r.Zone)
			if err != nil || byZone.Name != r.Name || byZone.Zone != r.Zone {
				t.Fatalf("Lookup of zone %s = %v, %v", r.Zone, byZone, err)
			}
		}
		if !residency.Anywhere().Allows(r) {
			t.Fatalf("Anywhere does not allow %s", r)
		}
	})
}
