package mlops

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tideline-ml/tideline/residency"
)

// allActions are the governed actions, and one no call makes: a policy
// decided directly may be asked about anything.
var allActions = []Action{
	ActionDatasetCreate, ActionDatasetDelete, ActionDatasetTighten, ActionJobSubmit, ActionJobCancel,
	ActionModelRegister, ActionModelApprove, ActionModelReject, ActionModelAlias,
	ActionEndpointCreate, ActionEndpointDelete, ActionDeploymentCreate, ActionDeploymentDelete,
	ActionTrafficSet, Action("custom.check"),
}

// probeRule is a rule of the shape a user writes: it lists its actions
// through Actions, counts how often it is asked, and when told to objects to
// every request of its actions (of any action when it lists none).
type probeRule struct {
	name    string
	actions []Action
	object  bool
	asked   *atomic.Int64
}

func (r probeRule) Name() string      { return r.name }
func (r probeRule) Actions() []Action { return r.actions }
func (r probeRule) Evaluate(_ context.Context, req *Request) []Reason {
	r.asked.Add(1)
	if !r.object || len(r.actions) > 0 && !slices.Contains(r.actions, req.Action) {
		return nil
	}
	return []Reason{{r.name, r.name + " objects to " + string(req.Action)}}
}

// askEveryRule is what a policy decided before rules were indexed: every
// rule asked, in order.
func askEveryRule(p *Policy, req *Request) []Reason {
	var out []Reason
	for _, r := range p.Rules() {
		out = append(out, r.Evaluate(context.Background(), req)...)
	}
	return out
}

// objectingRequest is a request that gives every built-in rule something
// to object to where it applies.
func objectingRequest(action Action, providerName, region, image string) *Request {
	restricted, _ := residency.DefaultRules().For(residency.Restricted)
	mv := &ModelVersion{Model: "churn", Version: "3", RegisteredBy: "alice", TrainedBy: "alice", SourceJob: "train-1",
		Approval: Approval{State: ApprovalPending}}
	return &Request{
		Action: action, Principal: Principal{ID: "alice", Team: "risk"}, Target: "thing x",
		Location: Location{Provider: providerName, Region: region},
		Origins:  []Origin{{Artifact: "dataset azure/claims@1", Classification: residency.Restricted, Rule: restricted.Name, Constraint: restricted.Constraint}},
		Usage:    &GPUUsage{Principal: 6, Team: 30},
		Dataset:  &Dataset{Name: "claims", Version: "2", class: residency.Restricted},
		Job:      &TrainJobSpec{Image: image, GPU: GPURequest{Count: 4}},
		Model:    mv,
		Traffic: &TrafficChange{Endpoint: "churn", Before: map[string]int{"blue": 100}, After: map[string]int{"blue": 40, "green": 60},
			Models: map[string]*ModelVersion{"blue": mv, "green": mv}},
	}
}

// Asking only the indexed rules gives, for every action, provider and
// region, the same reasons in the same order as asking every rule: the
// index never leaves out a rule that objects. The policy has more than 64
// rules, so its bit sets span words.
func TestIndexedDecisionMatchesAskingEveryRule(t *testing.T) {
	var asked atomic.Int64
	set := []Rule{
		AllowProviders("azure", "coreweave"),
		AllowProviders(),
		AllowRegions("westeurope", "EU-SOUTH-03"),
		AllowImages(true, "registry.example/ml/"),
		AllowImages(false),
		AllowImages(false, "docker.io/library", "not a prefix"),
		RequireApprovedModels(),
		SeparateDuties(),
		MaxTrafficStep(25),
		GPUQuota(4, 32),
		HoldClassifications("coreweave", residency.Confidential),
		HoldClassifications("aws", residency.Internal),
		HoldClassifications("", residency.Public),
		RuleFunc("every-action", func(_ context.Context, req *Request) []Reason {
			return []Reason{{"every-action", "asked about " + string(req.Action)}}
		}),
		probeRule{name: "job-and-dataset", actions: []Action{ActionJobSubmit, ActionDatasetCreate}, object: true, asked: &asked},
		probeRule{name: "no-actions", object: true, asked: &asked},
		probeRule{name: "misspelt", actions: []Action{"job.sumbit"}, object: true, asked: &asked},
	}
	var rules []Rule
	for len(rules) < 150 {
		rules = append(rules, set...)
	}
	for _, p := range []*Policy{NewPolicy(rules...), NewPolicy(set...), NewPolicy(rules...).WithMode(AuditOnly)} {
		for _, action := range allActions {
			for _, prov := range []string{"", "azure", "coreweave", "aws"} {
				for _, region := range []string{"", "westeurope", "EU-SOUTH-03", "us-east-1"} {
					for _, image := range []string{"registry.example/ml/train@sha256:" + hex64, "python:3.12", "python@sha256:" + hex64, "Not An Image"} {
						req := objectingRequest(action, prov, region, image)
						want := askEveryRule(p, req)
						got := p.Decide(context.Background(), req).Reasons
						if !reflect.DeepEqual(got, want) {
							t.Fatalf("%s at %q/%q with image %q:\n got %d reasons %v\nwant %d reasons %v", action, prov, region, image, len(got), got, len(want), want)
						}
					}
				}
			}
		}
	}
}

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// Reasons come out in the order the rules were given, residency's first,
// with scoped and unscoped rules interleaved across more than one 64-rule
// word.
func TestDecideReasonsInRuleOrder(t *testing.T) {
	var asked atomic.Int64
	var rules []Rule
	var want []string
	for i := range 140 {
		var actions []Action
		switch i % 3 {
		case 1:
			actions = []Action{ActionJobSubmit}
		case 2:
			actions = []Action{ActionTrafficSet} // never applies below
		}
		name := fmt.Sprintf("rule-%03d", i)
		rules = append(rules, probeRule{name: name, actions: actions, object: true, asked: &asked})
		if i%3 != 2 {
			want = append(want, name)
		}
	}
	pol := NewPolicy(rules...)
	req := &Request{Action: ActionJobSubmit}
	d := pol.decide(context.Background(), req, []Reason{{"residency", "first"}})
	var got []string
	for _, r := range d.Reasons {
		got = append(got, r.Rule)
	}
	want = append([]string{"residency"}, want...)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("reasons in the order %v; want %v", got, want)
	}
}

// A decision asks only the rules that apply to it: as a policy grows by
// rules for other actions, the rules a job submission asks stay the same.
// The rules count their evaluations, so the test does not depend on
// timing.
func TestRuleEvaluationsGrowSubLinearly(t *testing.T) {
	others := make([]Action, 0, len(allActions))
	for _, a := range allActions {
		if a != ActionJobSubmit {
			others = append(others, a)
		}
	}
	// evaluations builds a policy of n rules — two that apply to a job
	// submission (one scoped to it, one unscoped) and n-2 scoped to other
	// actions — and counts the evaluations of one job submission.
	evaluations := func(n int) int64 {
		var asked atomic.Int64
		rules := []Rule{
			probeRule{name: "submit", actions: []Action{ActionJobSubmit}, asked: &asked},
			probeRule{name: "any", asked: &asked},
		}
		for i := 0; len(rules) < n; i++ {
			rules = append(rules, probeRule{name: fmt.Sprintf("other-%d", i), actions: []Action{others[i%len(others)]}, asked: &asked})
		}
		pol := NewPolicy(rules...)
		if d := pol.Decide(context.Background(), &Request{Action: ActionJobSubmit}); !d.Allowed {
			t.Fatal(d.Reasons)
		}
		return asked.Load()
	}
	small, large := evaluations(10), evaluations(100)
	t.Logf("evaluations for one job submission: %d with 10 rules, %d with 100", small, large)
	if small != 2 || large != 2 {
		t.Fatalf("a job submission asked %d of 10 rules and %d of 100; two apply to it at either size", small, large)
	}

	// With rules spread over every action, a decision asks the rules of
	// its own action only: a fourteenth of them, not all.
	spread := func(n int) (asked int64, apply int) {
		var count atomic.Int64
		var rules []Rule
		for i := range n {
			a := allActions[i%len(allActions)]
			if a == ActionJobSubmit {
				apply++
			}
			rules = append(rules, probeRule{name: fmt.Sprintf("r-%d", i), actions: []Action{a}, asked: &count})
		}
		NewPolicy(rules...).Decide(context.Background(), &Request{Action: ActionJobSubmit})
		return count.Load(), apply
	}
	for _, n := range []int{10, 100} {
		if got, apply := spread(n); got != int64(apply) {
			t.Errorf("with %d rules spread over %d actions a job submission asked %d rules; %d apply to it", n, len(allActions), got, apply)
		}
	}
}

// A decision on a Docker Hub image with an implicit "library/" repository
// allocated the repository's name once per AllowImages rule; it allocates
// nothing now.
func TestDecideOnDockerHubImageDoesNotAllocate(t *testing.T) {
	pol := NewPolicy(AllowImages(true, "docker.io/library/"), AllowImages(false, "docker.io/library/python"))
	req := &Request{Action: ActionJobSubmit, Location: Location{Provider: "azure", Region: "westeurope"},
		Job: &TrainJobSpec{Image: "python@sha256:" + hex64}}
	ctx := context.Background()
	allocs := testing.AllocsPerRun(200, func() {
		if d := pol.decide(ctx, req, nil); !d.Allowed {
			t.Fatal(d.Reasons)
		}
	})
	if allocs != 0 {
		t.Fatalf("an allowed decision on a Docker Hub library image allocates %.1f times; it should allocate nothing", allocs)
	}
}

// The benchmark's 100-rule policies decide a job submission without
// allocating, whether every rule applies or few do.
func TestDecideScaleDoesNotAllocate(t *testing.T) {
	ctx := context.Background()
	cat := residency.DefaultCatalog()
	for name, rules := range map[string][]Rule{"cycling": decideScaleRules(100), "realistic": realisticRules(100)} {
		pol := NewPolicy(rules...)
		req := decideScaleRequest(2)
		allocs := testing.AllocsPerRun(100, func() {
			req.Region, req.RegionErr = cat.Lookup(req.Cloud, req.Location.Region)
			if d := pol.decide(ctx, req, residencyReasons(req, nil)); !d.Allowed {
				t.Fatal(d.Reasons)
			}
		})
		if allocs != 0 {
			t.Errorf("%s, 100 rules: an allowed decision allocates %.1f times; it should allocate nothing", name, allocs)
		}
	}
}

// applicable names the rules of p that its index asks about req.
func applicable(p *Policy, req *Request) []string {
	x := p.index
	actions, providers, regions := x.actions.get(string(req.Action)), x.providers.get(req.Location.Provider), x.regions.get(req.Location.Region)
	var out []string
	for i, r := range x.rules {
		if actions[i/64]&providers[i/64]&regions[i/64]&(1<<(i%64)) != 0 {
			out = append(out, r.rule.Name())
		}
	}
	return out
}

// The benchmark's policies ask what their doc comments say: half of the
// cycling rules (the image allowlists and the classification limits; the
// provider and region allowlists allow the place) and ten of the realistic
// ones.
func TestDecideScaleAsksApplicableRules(t *testing.T) {
	req := decideScaleRequest(2)
	got := applicable(NewPolicy(decideScaleRules(100)...), req)
	if len(got) != 50 || slices.ContainsFunc(got, func(n string) bool { return n != "image-allowlist" && n != "provider-classification" }) {
		t.Errorf("the cycling policy of 100 rules asks %d rules %v; want the 25 image allowlists and 25 classification limits", len(got), got)
	}
	got = applicable(NewPolicy(realisticRules(100)...), req)
	want := []string{"image-allowlist", "gpu-quota", "provider-classification", "house-003", "house-017", "house-031", "house-045", "house-059", "house-073", "house-087"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the realistic policy of 100 rules asks %v; want %v", got, want)
	}
}

// repoHasPrefix, which compares a joined prefix once, agrees with comparing
// the repository and the prefix component by component, the implicit
// "library/" of Docker Hub included.
func TestRepoHasPrefixMatchesWholeComponents(t *testing.T) {
	byComponents := func(repo, prefix string) bool {
		if prefix == "" {
			return true
		}
		r, p := strings.Split(repo, "/"), strings.Split(prefix, "/")
		return len(p) <= len(r) && slices.Equal(r[:len(p)], p)
	}
	paths := []string{"python", "ml", "ml/train", "mlx/train", "ml-evil/x", "library/python", "library", "librarian/x", "a/b/c"}
	prefixes := []string{"", "ml", "ml/train", "ml/tr", "m", "library", "library/python", "library/py", "librar", "python", "a/b", "a/b/c/d"}
	for _, path := range paths {
		for _, lib := range []bool{false, true} {
			if lib && strings.Contains(path, "/") {
				continue // a Docker Hub path with a '/' has no implicit library/
			}
			repo := path
			if lib {
				repo = "library/" + path
			}
			for _, prefix := range prefixes {
				if got, want := repoHasPrefix(path, lib, prefix), byComponents(repo, prefix); got != want {
					t.Errorf("repoHasPrefix(%q, lib=%v, %q) = %v; repository %q by components: %v", path, lib, prefix, got, repo, want)
				}
			}
		}
	}
}
