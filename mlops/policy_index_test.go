package mlops_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/tideline-ml/tideline/mlops"
	"github.com/tideline-ml/tideline/residency"
)

var governedActions = []mlops.Action{
	mlops.ActionDatasetCreate, mlops.ActionDatasetDelete, mlops.ActionDatasetTighten, mlops.ActionJobSubmit,
	mlops.ActionJobCancel, mlops.ActionModelRegister, mlops.ActionModelApprove, mlops.ActionModelReject,
	mlops.ActionModelAlias, mlops.ActionEndpointCreate, mlops.ActionEndpointDelete, mlops.ActionDeploymentCreate,
	mlops.ActionDeploymentDelete, mlops.ActionTrafficSet,
}

// askedAbout decides one request of every governed action, and one of an
// action no call makes, and returns the actions rule's function was called
// about.
func askedAbout(t *testing.T, build func(f func(context.Context, *mlops.Request) []mlops.Reason) mlops.Rule) []mlops.Action {
	t.Helper()
	var asked []mlops.Action
	rule := build(func(_ context.Context, req *mlops.Request) []mlops.Reason {
		asked = append(asked, req.Action)
		return nil
	})
	pol := mlops.NewPolicy(rule)
	for _, a := range append(slices.Clone(governedActions), "custom.check") {
		pol.Decide(context.Background(), &mlops.Request{Action: a})
	}
	return asked
}

func TestRuleForAsksOnlyItsActions(t *testing.T) {
	scoped := []mlops.Action{mlops.ActionJobSubmit, mlops.ActionJobCancel}
	got := askedAbout(t, func(f func(context.Context, *mlops.Request) []mlops.Reason) mlops.Rule {
		return mlops.RuleFor("jobs", scoped, f)
	})
	if !reflect.DeepEqual(got, scoped) {
		t.Errorf("RuleFor(jobs: submit, cancel) was asked about %v; want %v", got, scoped)
	}

	// Without actions it is asked about everything, as RuleFunc is.
	all := append(slices.Clone(governedActions), "custom.check")
	for name, build := range map[string]func(f func(context.Context, *mlops.Request) []mlops.Reason) mlops.Rule{
		"RuleFor(nil)": func(f func(context.Context, *mlops.Request) []mlops.Reason) mlops.Rule {
			return mlops.RuleFor("x", nil, f)
		},
		"RuleFunc": func(f func(context.Context, *mlops.Request) []mlops.Reason) mlops.Rule { return mlops.RuleFunc("x", f) },
	} {
		if got := askedAbout(t, build); !reflect.DeepEqual(got, all) {
			t.Errorf("%s was asked about %v; want every action %v", name, got, all)
		}
	}
}

// A scoped RuleFor keeps its promise outside a Policy too: called directly
// about another action, it objects to nothing and does not run its function.
func TestRuleForEvaluateOutsideItsActions(t *testing.T) {
	called := false
	rule := mlops.RuleFor("freeze", []mlops.Action{mlops.ActionTrafficSet}, func(context.Context, *mlops.Request) []mlops.Reason {
		called = true
		return []mlops.Reason{{Rule: "freeze", Message: "traffic is frozen"}}
	})
	if got := rule.Evaluate(context.Background(), &mlops.Request{Action: mlops.ActionJobSubmit}); got != nil || called {
		t.Errorf("Evaluate about a job submission = %v (function called: %v); want nil, not called", got, called)
	}
	if got := rule.Evaluate(context.Background(), &mlops.Request{Action: mlops.ActionTrafficSet}); len(got) != 1 {
		t.Errorf("Evaluate about a traffic change = %v; want the freeze objection", got)
	}
}

// RuleFor copies its actions: changing the caller's slice later changes
// nothing, and neither does changing what Actions returns.
func TestRuleForCopiesActions(t *testing.T) {
	actions := []mlops.Action{mlops.ActionJobSubmit}
	rule := mlops.RuleFor("jobs", actions, func(context.Context, *mlops.Request) []mlops.Reason {
		return []mlops.Reason{{Rule: "jobs", Message: "no"}}
	})
	actions[0] = mlops.ActionTrafficSet
	rule.(mlops.ScopedRule).Actions()[0] = mlops.ActionTrafficSet
	pol := mlops.NewPolicy(rule)
	if d := pol.Decide(context.Background(), &mlops.Request{Action: mlops.ActionJobSubmit}); d.Allowed {
		t.Error("the rule no longer applies to job submissions after its caller's slice changed")
	}
	if d := pol.Decide(context.Background(), &mlops.Request{Action: mlops.ActionTrafficSet}); !d.Allowed {
		t.Errorf("the rule applies to traffic changes after its caller's slice changed: %v", d.Reasons)
	}
}

// userRule is a rule of the caller's own that lists no actions.
type userRule struct{ asked *int }

func (userRule) Name() string            { return "mine" }
func (userRule) Actions() []mlops.Action { return nil }
func (r userRule) Evaluate(context.Context, *mlops.Request) []mlops.Reason {
	*r.asked++
	return nil
}

func TestScopedRuleWithNoActionsAppliesToEveryAction(t *testing.T) {
	var asked int
	pol := mlops.NewPolicy(userRule{&asked})
	for _, a := range governedActions {
		pol.Decide(context.Background(), &mlops.Request{Action: a})
	}
	if asked != len(governedActions) {
		t.Errorf("a rule whose Actions is empty was asked %d times over %d actions; want every one", asked, len(governedActions))
	}
}

// The built-in rules declare the actions their doc comments name.
func TestBuiltinRulesDeclareTheirActions(t *testing.T) {
	for _, tt := range []struct {
		rule mlops.Rule
		want []mlops.Action // nil: every action
	}{
		{mlops.AllowImages(true), []mlops.Action{mlops.ActionJobSubmit}},
		{mlops.GPUQuota(8, 0), []mlops.Action{mlops.ActionJobSubmit}},
		{mlops.RequireApprovedModels(), []mlops.Action{mlops.ActionTrafficSet}},
		{mlops.MaxTrafficStep(25), []mlops.Action{mlops.ActionTrafficSet}},
		{mlops.SeparateDuties(), []mlops.Action{mlops.ActionModelApprove}},
		{mlops.AllowProviders("azure"), nil},
		{mlops.AllowRegions("westeurope"), nil},
		{mlops.HoldClassifications("coreweave", residency.Confidential), nil},
	} {
		s, ok := tt.rule.(mlops.ScopedRule)
		if !ok {
			t.Errorf("%s does not implement ScopedRule", tt.rule.Name())
			continue
		}
		if got := s.Actions(); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s applies to %v; want %v", tt.rule.Name(), got, tt.want)
		}
	}
}

// A rule of one's own, scoped to the action it is about: a change freeze on
// traffic. The policy does not ask it about anything else.
func ExampleRuleFor() {
	freeze := mlops.RuleFor("change-freeze", []mlops.Action{mlops.ActionTrafficSet},
		func(_ context.Context, req *mlops.Request) []mlops.Reason {
			return []mlops.Reason{{Rule: "change-freeze", Message: "traffic changes wait until the freeze ends on 5 January"}}
		})
	pol := mlops.NewPolicy(append(mlops.DefaultPolicyRules(), freeze)...)
	ctx := context.Background()

	d := pol.Decide(ctx, &mlops.Request{Action: mlops.ActionTrafficSet, Traffic: &mlops.TrafficChange{Endpoint: "churn"}})
	fmt.Println(d.Allowed, d.Reasons)
	d = pol.Decide(ctx, &mlops.Request{Action: mlops.ActionEndpointCreate, Target: "endpoint churn"})
	fmt.Println(d.Allowed, d.Reasons)
	// Output:
	// false [traffic changes wait until the freeze ends on 5 January (rule change-freeze)]
	// true []
}
