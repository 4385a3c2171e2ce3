package mlops

import (
	"context"
	"fmt"
	"testing"

	"github.com/tideline-ml/tideline/residency"
)

// decideScaleRules returns n rules, cycling through four that a job
// submission makes work: a provider allowlist, a region allowlist, an image
// allowlist with digest pinning and a classification limit that reads every
// origin.
func decideScaleRules(n int) []Rule {
	rules := make([]Rule, n)
	for i := range rules {
		switch i % 4 {
		case 0:
			rules[i] = AllowProviders("azure", "coreweave")
		case 1:
			rules[i] = AllowRegions("westeurope", "northeurope", "EU-SOUTH-03")
		case 2:
			rules[i] = AllowImages(true, "registry.example/ml/")
		case 3:
			rules[i] = HoldClassifications("coreweave", residency.Restricted)
		}
	}
	return rules
}

// realisticRules returns the first n rules of a policy shaped like one a
// platform team keeps over several clouds: the default rules, a traffic
// step, a GPU quota, provider and region allowlists, a classification limit
// per provider, and then rules of its own, each written for one action
// (naming, labels, change windows...) and spread over all of them. Of 100
// such rules, ten apply to decideScaleRequest's job submission: the image
// allowlist, the quota, coreweave's classification limit and seven of the
// team's own. The allowlists cannot object to an allowed place, so the
// policy does not ask them either.
func realisticRules(n int) []Rule {
	rules := []Rule{
		RequireApprovedModels(),
		SeparateDuties(),
		AllowImages(true, "registry.example/ml/"),
		MaxTrafficStep(25),
		GPUQuota(16, 64),
		AllowProviders("azure", "coreweave", "aws", "gcp", "lambda", "onprem"),
		AllowRegions("westeurope", "northeurope", "EU-SOUTH-03", "eu-central-1", "europe-west4"),
		HoldClassifications("coreweave", residency.Restricted),
		HoldClassifications("aws", residency.Confidential),
		HoldClassifications("gcp", residency.Confidential),
		HoldClassifications("lambda", residency.Internal),
		HoldClassifications("onprem", residency.Restricted),
	}
	actions := []Action{ActionDatasetCreate, ActionDatasetDelete, ActionDatasetTighten, ActionJobSubmit, ActionJobCancel,
		ActionModelRegister, ActionModelApprove, ActionModelReject, ActionModelAlias, ActionEndpointCreate,
		ActionEndpointDelete, ActionDeploymentCreate, ActionDeploymentDelete, ActionTrafficSet}
	for i := 0; len(rules) < n; i++ {
		name := fmt.Sprintf("house-%03d", i)
		rules = append(rules, RuleFor(name, []Action{actions[i%len(actions)]}, func(_ context.Context, req *Request) []Reason {
			if req.Principal.ID == "" || req.Target == name {
				return []Reason{{name, "the call names no principal"}}
			}
			return nil
		}))
	}
	return rules[:n]
}

// unindexed hides a rule's scope (its Actions and, for a built-in rule, its
// providers and regions, and AllowImages' shared parse): a policy asks it
// about every request.
type unindexed struct{ Rule }

// decideScaleRequest is a job submission to coreweave EU-SOUTH-03 reading
// n datasets, alternately restricted and confidential.
func decideScaleRequest(n int) *Request {
	rules := residency.DefaultRules()
	restricted, _ := rules.For(residency.Restricted)
	confidential, _ := rules.For(residency.Confidential)
	os := make([]Origin, n)
	for i := range os {
		r, class := restricted, residency.Restricted
		if i%2 == 1 {
			r, class = confidential, residency.Confidential
		}
		os[i] = Origin{Artifact: fmt.Sprintf("dataset azure/features-%03d@1", i), Classification: class, Rule: r.Name, Constraint: r.Constraint}
	}
	spec := &TrainJobSpec{Image: "registry.example/ml/train@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
	return &Request{Action: ActionJobSubmit, Principal: Principal{ID: "alice"},
		Location: Location{Provider: "coreweave", Region: "EU-SOUTH-03"}, Cloud: "coreweave", Job: spec, Origins: os}
}

// BenchmarkDecideScale is BenchmarkDecide's whole decision (region lookup,
// every origin's constraint checked, every applicable rule asked) with 1,
// 10 and 100 rules over two origins, and with 1, 10 and 100 origins under
// four rules. rules=N cycles through decideScaleRules, of which the image
// allowlists and classification limits apply to the submission (half of
// them); unindexed/rules=N is the same rules with their scopes hidden, so
// that every one is asked, as before policies were indexed, the baseline
// for rules=N; realistic/rules=N is realisticRules. ns/rule and ns/origin
// are ns/op over the count; flat means linear.
func BenchmarkDecideScale(b *testing.B) {
	cat := residency.DefaultCatalog()
	ctx := context.Background()
	run := func(b *testing.B, pol *Policy, req *Request) {
		b.ReportAllocs()
		for b.Loop() {
			req.Region, req.RegionErr = cat.Lookup(req.Cloud, req.Location.Region)
			if d := pol.decide(ctx, req, residencyReasons(req, nil)); !d.Allowed {
				b.Fatal(d.Reasons)
			}
		}
	}
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			run(b, NewPolicy(decideScaleRules(n)...), decideScaleRequest(2))
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/rule")
		})
	}
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("unindexed/rules=%d", n), func(b *testing.B) {
			rules := decideScaleRules(n)
			for i, r := range rules {
				rules[i] = unindexed{r}
			}
			run(b, NewPolicy(rules...), decideScaleRequest(2))
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/rule")
		})
	}
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("realistic/rules=%d", n), func(b *testing.B) {
			run(b, NewPolicy(realisticRules(n)...), decideScaleRequest(2))
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/rule")
		})
	}
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("origins=%d", n), func(b *testing.B) {
			run(b, NewPolicy(decideScaleRules(4)...), decideScaleRequest(n))
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/origin")
		})
	}
}
