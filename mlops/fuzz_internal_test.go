package mlops

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tideline-ml/tideline/provider"

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
	f.Add(`[{"a":["x"],"c":"public","r":"r","k":"anywhere"}]`)
	f.Add(`[{"a":["x"],"c":"secret","r":"r","k":"EEA"}]`)
	f.Add(`[{"a":["x","y"],"c":"internal","r":"r","k":"EEA&EUDB,coreweave/EU-SOUTH-03"}]`)
	f.Add(`[{"a":[],"c":"internal","r":"r","k":"EEA"}]`)
	f.Add(`null`)
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
		if len(again) != len(os) {
			t.Fatalf("%d origins became %d across a round trip", len(os), len(again))
		}
	})
}

// Origins up to the budget are stored whole, split over metadata values,
// and read back exactly; one byte more is refused, never cut or merged.
func TestOriginsEncodingBoundary(t *testing.T) {
	c := fuzzClient(t)
	k := residency.MustParseConstraint("EEA")
	mk := func(pad int) origins {
		// One group: `[{"c":"restricted","r":"r","k":"EEA","a":["` + name + `"]}]`
		base := len(encodeOrigins(origins{{Artifact: "", Classification: residency.Restricted, Rule: "r", Constraint: k}}))
		return origins{{Artifact: strings.Repeat("a", pad-base), Classification: residency.Restricted, Rule: "r", Constraint: k}}
	}
	for _, size := range []int{provider.MaxMetaValueLen, provider.MaxMetaValueLen + 1, 2*provider.MaxMetaValueLen + 7, maxOriginsLen} {
		os := mk(size)
		require.Len(t, encodeOrigins(os), size)
		md := map[string]string{}
		require.NoError(t, putOrigins(md, "test", os), "size %d", size)
		for key, v := range md {
			require.LessOrEqual(t, len(v), provider.MaxMetaValueLen, "%s", key)
		}
		stripEmpty(md)
		require.NoError(t, provider.ValidateMetadata("md", md))
		back, err := c.readOrigins("x", md, "")
		require.NoError(t, err, "size %d", size)
		require.Equal(t, os[0].Artifact, back[0].Artifact)
	}
	md := map[string]string{}
	err := putOrigins(md, "dataset claims@1", mk(maxOriginsLen+1))
	require.Equal(t, InvalidArgument, Code(err), "%v", err)
	require.Contains(t, err.Error(), "nothing was created")
	require.Empty(t, md)

	// A missing part fails closed.
	md = map[string]string{}
	require.NoError(t, putOrigins(md, "test", mk(2*provider.MaxMetaValueLen+7)))
	delete(md, metaOrigins+"_1")
	_, err = c.readOrigins("x", md, "")
	require.Equal(t, DataLoss, Code(err), "%v", err)
}

// Many origins under few rules cost a name each, and encode in linear time.
func TestEncodeOriginsGroupsByConstraint(t *testing.T) {
	c := fuzzClient(t)
	var os origins
	for i := 0; i < 100; i++ {
		os = append(os, Origin{Artifact: fmt.Sprintf("dataset azure/shard-%03d@1", i), Classification: residency.Restricted, Rule: "inherited", Constraint: residency.MustParseConstraint("EEA")})
	}
	enc := encodeOrigins(os)
	require.Less(t, len(enc), 3000, "100 inputs under one rule: %d bytes", len(enc))
	back, err := c.decodeOrigins(enc)
	require.NoError(t, err)
	require.Equal(t, os, back)
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
