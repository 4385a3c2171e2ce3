package residency_test

import (
	"testing"

	"github.com/tideline-ml/tideline/residency"
)

// lookupAndCheck is the hot path a governed call takes: resolve the
// provider's spelling, then check it against the data's constraint.
func lookupAndCheck(cat *residency.Catalog, c residency.Constraint, provider, name string) bool {
	r, err := cat.Lookup(provider, name)
	if err != nil {
		return false
	}
	return c.Check(r) == nil
}

var hotPaths = []struct {
	name, provider, spelling string
	constraint               string
	allowed                  bool
}{
	{"azure-canonical", "azure", "westeurope", "EEA", true},
	{"azure-display", "Azure", "West Europe", "EEA,GB,CH", true},
	{"coreweave-zone", "coreweave", "eu-south-03b", "EEA", true},
	{"coreweave-denied", "coreweave", "US-EAST-04", "EEA", false},
	{"named-regions", "azure", "uksouth", "EU,azure/uksouth,coreweave/EU-WEST-01", true},
}

func TestLookupAndCheckDoesNotAllocate(t *testing.T) {
	cat := residency.DefaultCatalog()
	for _, hp := range hotPaths {
		c := residency.MustParseConstraint(hp.constraint)
		if hp.allowed {
			if got := lookupAndCheck(cat, c, hp.provider, hp.spelling); !got {
				t.Fatalf("%s: not allowed", hp.name)
			}
			allocs := testing.AllocsPerRun(100, func() { lookupAndCheck(cat, c, hp.provider, hp.spelling) })
			if allocs != 0 {
				t.Errorf("%s: Lookup + Check allocates %.1f times", hp.name, allocs)
			}
			continue
		}
		// A denial builds its explanation, so the allocation-free form of
		// the check is Allows.
		allocs := testing.AllocsPerRun(100, func() {
			r, _ := cat.Lookup(hp.provider, hp.spelling)
			if c.Allows(r) {
				t.Fatalf("%s: allowed", hp.name)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: Lookup + Allows allocates %.1f times", hp.name, allocs)
		}
	}
}

// BenchmarkLookupAndCheck measures a lookup by a provider's spelling plus a
// constraint check; the target is under 1µs with no allocations.
func BenchmarkLookupAndCheck(b *testing.B) {
	cat := residency.DefaultCatalog()
	for _, hp := range hotPaths {
		c := residency.MustParseConstraint(hp.constraint)
		b.Run(hp.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r, err := cat.Lookup(hp.provider, hp.spelling)
				if err != nil {
					b.Fatal(err)
				}
				if c.Allows(r) != hp.allowed {
					b.Fatal("wrong decision")
				}
			}
		})
	}
}

func BenchmarkCheckParallel(b *testing.B) {
	cat := residency.DefaultCatalog()
	c := residency.MustParseConstraint("EEA,GB,CH")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !lookupAndCheck(cat, c, "coreweave", "EU-SOUTH-03B") {
				b.Fatal("denied")
			}
		}
	})
}

func BenchmarkIntersect(b *testing.B) {
	pairs := []struct{ name, a, b string }{
		{"jurisdictions", "EEA,GB,CH", "EU"},
		{"eudb", "EUDB", "EEA,GB,CH"},
		{"regions", "EEA,azure/uksouth,coreweave/EU-WEST-01", "GB,coreweave/US-EAST-04"},
	}
	for _, p := range pairs {
		x, y := residency.MustParseConstraint(p.a), residency.MustParseConstraint(p.b)
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = x.Intersect(y)
			}
		})
	}
}

func BenchmarkParseConstraint(b *testing.B) {
	cat := residency.DefaultCatalog()
	for _, s := range []string{"EEA,GB,CH", "EUDB&EEA,azure/uksouth"} {
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := cat.ParseConstraint(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDefaultCatalog(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = residency.DefaultCatalog()
	}
}
