package mlops

import (
	"testing"

	"github.com/tideline-ml/tideline/residency"
)

// sameDecoding fails the test unless the scanner of the stored form and
// encoding/json read s alike: what the scanner takes, encoding/json reads
// without error to the same origins.
func sameDecoding(t *testing.T, c *Client, s string) {
	t.Helper()
	fast, ok := c.decodeCanonical(s)
	if !ok {
		return
	}
	slow, err := c.decodeOriginsJSON(s)
	if err != nil {
		t.Fatalf("%q: the scanner takes it, encoding/json says %v", s, err)
	}
	if len(fast) != len(slow) {
		t.Fatalf("%q: the scanner reads %d origins, encoding/json %d", s, len(fast), len(slow))
	}
	for i := range fast {
		f, g := fast[i], slow[i]
		if f.Artifact != g.Artifact || f.Classification != g.Classification || f.Rule != g.Rule || !f.Constraint.Equal(g.Constraint) {
			t.Fatalf("%q: origin %d is %v by the scanner and %v by encoding/json", s, i, f, g)
		}
	}
}

// canonicalSamples are origins as encodeOrigins stores them: one group,
// several groups, a rule with non-ASCII text (escaped), a tightening.
func canonicalSamples() []string {
	rules := residency.DefaultRules()
	restricted, _ := rules.For(residency.Restricted)
	confidential, _ := rules.For(residency.Confidential)
	eea, _ := residency.DefaultCatalog().ParseConstraint("EEA")
	return []string{
		encodeOrigins(origins{{Artifact: "dataset azure/claims@1", Classification: residency.Restricted, Rule: restricted.Name, Constraint: restricted.Constraint}}),
		encodeOrigins(origins{
			{Artifact: "dataset azure/claims@1", Classification: residency.Restricted, Rule: "tightened", Constraint: eea},
			{Artifact: "dataset azure/a@1", Classification: residency.Confidential, Rule: "inherited", Constraint: confidential.Constraint},
			{Artifact: "dataset azure/b@2", Classification: residency.Confidential, Rule: "inherited", Constraint: confidential.Constraint},
			{Artifact: "artifact https://models.example/m.onnx", Classification: residency.Restricted, Rule: restricted.Name, Constraint: restricted.Constraint},
		}),
		`[]`,
	}
}

// The stored form is read by a scanner of its own (decodeCanonical), which
// must read every text it takes exactly as encoding/json does — the
// samples, and every text one byte away from them (deleted, doubled, or
// replaced by a byte of JSON's syntax) — so that fail-closed reading does
// not depend on which of the two reads a value.
func TestCanonicalDecodingAgreesWithJSON(t *testing.T) {
	c := fuzzClient(t)
	taken := 0
	for _, s := range canonicalSamples() {
		if _, ok := c.decodeCanonical(s); !ok {
			t.Fatalf("the scanner does not take the stored form %q", s)
		}
		sameDecoding(t, c, s)
		for i := 0; i < len(s); i++ {
			variants := []string{s[:i] + s[i+1:], s[:i] + s[i:i+1] + s[i:]}
			for _, b := range []byte(`[]{}",:\ ax`) {
				variants = append(variants, s[:i]+string(b)+s[i+1:])
			}
			for _, v := range variants {
				if _, ok := c.decodeCanonical(v); ok {
					taken++
				}
				sameDecoding(t, c, v)
			}
		}
	}
	t.Logf("the scanner took %d of the variants", taken)
}

// FuzzCanonicalDecoding checks the same for any text.
func FuzzCanonicalDecoding(f *testing.F) {
	c := fuzzClient(f)
	for _, s := range canonicalSamples() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { sameDecoding(t, c, s) })
}
