package mlops

import (
	"strings"
	"testing"

	"github.com/tideline-ml/tideline/provider/memprovider"
	"github.com/tideline-ml/tideline/residency"
)

func fuzzClient(tb testing.TB) *Client {
	c, err := NewClient(Providers{"mem": memprovider.New(nil)}, &ClientOptions{Principal: Principal{ID: "fuzz"}})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// Residency metadata is read from providers that anyone with write access
// to the account can edit: decoding must never panic, and whatever decodes
// must encode to something that decodes to the same constraints.
func FuzzDecodeOrigins(f *testing.F) {
	c := fuzzClient(f)
	rule, _ := residency.DefaultRules().For(residency.Restricted)
	f.Add(encodeOrigins(origins{{Artifact: "dataset azure/claims@1", Classification: residency.Restricted, Rule: rule.Name, Constraint: rule.Constraint}}))
	f.Add(`[{"a":"x","c":"public","r":"r","k":"anywhere"}]`)
	f.Add(`[{"a":"x","c":"secret","r":"r","k":"EEA"}]`)
	f.Add(`[{"a":"x","c":"internal","r":"r","k":"EEA&EUDB,coreweave/EU-SOUTH-03"}]`)
	f.Add(`{}`)
	f.Fuzz(func(t *testing.T, s string) {
		os, err := c.decodeOrigins(s)
		if err != nil {
			return
		}
		again, err := c.decodeOrigins(encodeOrigins(os))
		if err != nil {
			t.Fatalf("re-encoded origins do not decode: %v", err)
		}
		if !origins(again).constraint().Equal(origins(os).constraint()) {
			t.Fatalf("constraint changed across a round trip: %s vs %s", origins(os).constraint(), origins(again).constraint())
		}
		if origins(again).classification() != origins(os).classification() {
			t.Fatal("classification changed across a round trip")
		}
	})
}

// Many origins are merged into one conservative entry: never looser.
func TestEncodeOriginsBoundedNeverLooser(t *testing.T) {
	c := fuzzClient(t)
	var os origins
	countries := []string{"DE", "FR", "NL", "ES", "IT", "SE", "IE", "AT", "BE", "PL"}
	for i := 0; i < 60; i++ {
		k := residency.MustParseConstraint("EEA")
		if i%7 == 0 {
			k = residency.MustParseConstraint(countries[i%len(countries)] + "," + countries[(i+3)%len(countries)])
		}
		os = append(os, Origin{Artifact: "dataset azure/a-long-dataset-name-number@" + strings.Repeat("9", 5) + string(rune('a'+i%26)), Classification: residency.Confidential, Rule: "confidential→EU/EEA, UK, CH", Constraint: k})
	}
	enc := encodeOrigins(os)
	if len(enc) > 2048 {
		t.Fatalf("encoded origins take %d bytes", len(enc))
	}
	back, err := c.decodeOrigins(enc)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) >= len(os) {
		t.Fatalf("expected a merged tail, got %d entries", len(back))
	}
	if !origins(back).constraint().Equal(os.constraint()) {
		t.Fatalf("merging changed the constraint: %s, want %s", origins(back).constraint(), os.constraint())
	}
	if !strings.Contains(back[len(back)-1].Artifact, "more upstream artifacts") {
		t.Fatalf("last entry %q is not the merged tail", back[len(back)-1].Artifact)
	}
}

func FuzzSplitRefs(f *testing.F) {
	f.Add("azure/claims@1,azure/policies@3")
	f.Add("")
	f.Add("a/b@c/d@e,,@")
	f.Fuzz(func(t *testing.T, s string) {
		refs := splitRefs(s)
		for _, r := range refs {
			if strings.Contains(r.Provider, "/") && r.Name == "" {
				t.Fatalf("provider %q swallowed the name", r.Provider)
			}
		}
		if s != "" && joinRefs(refs) == "" && len(refs) > 0 {
			t.Fatal("refs vanished")
		}
	})
}

// The rollout record lives in endpoint metadata and is read back by any
// process: a damaged one is DataLoss, never a panic or a wrong rollback.
func FuzzRolloutRecord(f *testing.F) {
	f.Add(`{"deployment":"green","previous":{"blue":100}}`)
	f.Add(`{"deployment":"","previous":{}}`)
	f.Add(`{"deployment":"green","previous":{"blue":60,"red":30}}`)
	f.Add(`not json`)
	f.Fuzz(func(t *testing.T, s string) {
		e := &Endpoint{Name: "ep", meta: map[string]string{metaRollout: s}}
		rec, err := e.rolloutRecord()
		if err != nil {
			if Code(err) != DataLoss {
				t.Fatalf("a bad record gave code %v", Code(err))
			}
			return
		}
		if rec == nil {
			if s != "" {
				t.Fatal("a non-empty record read as none")
			}
			return
		}
		sum := 0
		for _, v := range rec.Previous {
			sum += v
		}
		if sum != 100 || rec.Deployment == "" {
			t.Fatalf("accepted a record that cannot be rolled back to: %+v", rec)
		}
	})
}

// scale keeps the sum and never gives a share to a deployment that had
// none.
func FuzzScale(f *testing.F) {
	f.Add(60, 30, 10, 90)
	f.Add(1, 1, 98, 33)
	f.Add(100, 0, 0, 0)
	f.Fuzz(func(t *testing.T, a, b, c, to int) {
		if a < 0 || b < 0 || c < 0 || a+b+c == 0 || a+b+c > 1000 || to < 0 || to > 100 {
			return
		}
		in := map[string]int{"a": a, "b": b, "c": c}
		out := scale(in, a+b+c, to)
		sum := 0
		for k, v := range out {
			if v < 0 || (in[k] == 0 && v > 0) {
				t.Fatalf("scale(%v, %d) = %v", in, to, out)
			}
			sum += v
		}
		if sum != to {
			t.Fatalf("scale(%v) to %d sums to %d: %v", in, to, sum, out)
		}
	})
}
