package mlops

import "testing"

// A rollout step gives the deployment its share and never raises another
// deployment's, step after step: the invariant that keeps a step from
// handing traffic to a deployment nobody chose.
func FuzzSplitForNeverRaisesOthers(f *testing.F) {
	f.Add(40, 33, 27, 0, 10)
	f.Add(95, 0, 0, 5, 100)
	f.Add(1, 1, 1, 97, 98)
	f.Fuzz(func(t *testing.T, a, b, c, d, pct int) {
		if a < 0 || b < 0 || c < 0 || d < 0 || a+b+c+d != 100 || a+b+c == 0 || pct <= d || pct > 100 {
			return
		}
		current := nonZero(map[string]int{"a": a, "b": b, "c": c, "dep": d})
		for _, p := range []int{pct, (pct + 100) / 2, 100} {
			if p <= current["dep"] {
				continue
			}
			next := splitFor(current, "dep", p)
			sum := 0
			for k, v := range next {
				if k != "dep" && v > current[k] {
					t.Fatalf("splitFor(%v, dep, %d) = %v raises %s", current, p, next, k)
				}
				sum += v
			}
			if sum != 100 || next["dep"] != p {
				t.Fatalf("splitFor(%v, dep, %d) = %v", current, p, next)
			}
			current = next
		}
	})
}
