package mlops

import (
	"context"
	"testing"

	"github.com/tideline-ml/tideline/residency"
)

// BenchmarkDecide measures one whole policy decision as a Client makes it
// before a job submission: the region looked up in the residency catalog,
// the input datasets' constraints checked, and four policy rules asked.
func BenchmarkDecide(b *testing.B) {
	cat := residency.DefaultCatalog()
	rules := residency.DefaultRules()
	restricted, _ := rules.For(residency.Restricted)
	confidential, _ := rules.For(residency.Confidential)
	pol := NewPolicy(
		AllowProviders("azure", "coreweave"),
		AllowImages(true, "registry.example/ml/"),
		RequireApprovedModels(),
		SeparateDuties(),
	)
	spec := &TrainJobSpec{Image: "registry.example/ml/train@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
	req := &Request{Action: ActionJobSubmit, Principal: Principal{ID: "alice"},
		Location: Location{Provider: "coreweave", Region: "EU-SOUTH-03"}, Cloud: "coreweave", Job: spec,
		Origins: []Origin{
			{Artifact: "dataset azure/claims@1", Classification: residency.Restricted, Rule: restricted.Name, Constraint: restricted.Constraint},
			{Artifact: "dataset azure/policies@4", Classification: residency.Confidential, Rule: confidential.Name, Constraint: confidential.Constraint},
		}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		req.Region, req.RegionErr = cat.Lookup(req.Cloud, req.Location.Region)
		if d := pol.decide(ctx, req, residencyReasons(req, nil)); !d.Allowed {
			b.Fatal(d.Reasons)
		}
	}
}

// An allowed decision — catalog lookup, residency, the default rules and
// an image allowlist — allocates nothing.
func TestDecideDoesNotAllocate(t *testing.T) {
	cat := residency.DefaultCatalog()
	restricted, _ := residency.DefaultRules().For(residency.Restricted)
	pol := NewPolicy(append(DefaultPolicyRules(), AllowProviders("azure", "coreweave"), AllowImages(true, "registry.example/ml/"))...)
	req := &Request{Action: ActionJobSubmit, Principal: Principal{ID: "alice"},
		Location: Location{Provider: "coreweave", Region: "EU-SOUTH-03"}, Cloud: "coreweave",
		Job:     &TrainJobSpec{Image: "registry.example/ml/train@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		Origins: []Origin{{Artifact: "dataset azure/claims@1", Classification: residency.Restricted, Rule: restricted.Name, Constraint: restricted.Constraint}}}
	ctx := context.Background()
	allocs := testing.AllocsPerRun(200, func() {
		req.Region, req.RegionErr = cat.Lookup(req.Cloud, req.Location.Region)
		if d := pol.decide(ctx, req, residencyReasons(req, nil)); !d.Allowed {
			t.Fatal(d.Reasons)
		}
	})
	if allocs != 0 {
		t.Fatalf("an allowed decision allocates %.1f times; it should allocate nothing", allocs)
	}
}
