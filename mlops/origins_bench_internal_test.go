package mlops

import (
	"fmt"
	"testing"

	"github.com/tideline-ml/tideline/residency"
)

// manyOrigins returns n origins of distinct datasets, alternately
// restricted and confidential, as n inputs of a job record them.
func manyOrigins(n int) origins {
	rules := residency.DefaultRules()
	restricted, _ := rules.For(residency.Restricted)
	confidential, _ := rules.For(residency.Confidential)
	os := make(origins, n)
	for i := range os {
		r, class := restricted, residency.Restricted
		if i%2 == 1 {
			r, class = confidential, residency.Confidential
		}
		os[i] = Origin{Artifact: fmt.Sprintf("dataset azure/features-%04d@1", i), Classification: class, Rule: "inherited", Constraint: r.Constraint}
	}
	return os
}

// gatherAndEncode adds the origins one at a time, as inheritAll does for
// each input, and encodes the set, as putOrigins does.
func gatherAndEncode(os origins) string {
	var s originSet
	for _, o := range os {
		s.add(o, o) // each twice: the second is a duplicate to find
	}
	return encodeOrigins(s.list)
}

// BenchmarkOriginsGatherEncode gathers 10, 100 and 1,000 origins one at a
// time into one set and encodes it. ns/origin is flat when both are linear.
func BenchmarkOriginsGatherEncode(b *testing.B) {
	for _, n := range []int{10, 100, 1_000} {
		os := manyOrigins(n)
		b.Run(fmt.Sprintf("origins=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				gatherAndEncode(os)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/origin")
		})
	}
}

// Gathering origins one at a time costs the same per origin at 1,000 as at
// 100: the set is kept, never rebuilt for each addition.
func TestOriginsGatherWorkPerOriginDoesNotGrow(t *testing.T) {
	per := func(n int) float64 {
		os := manyOrigins(n)
		return testing.AllocsPerRun(5, func() {
			var s originSet
			for _, o := range os {
				s.add(o)
			}
		}) / float64(n)
	}
	hundred, thousand := per(100), per(1_000)
	t.Logf("allocations per origin: %.2f at 100, %.2f at 1,000", hundred, thousand)
	if thousand > hundred*1.5+0.1 {
		t.Errorf("gathering 1,000 origins made %.2f allocations per origin against %.2f for 100", thousand, hundred)
	}
	got := gatherAndEncode(manyOrigins(3))
	if want := encodeOrigins(manyOrigins(3)); got != want {
		t.Errorf("duplicates changed the encoding: %s, want %s", got, want)
	}
}
