package mlops

import (
	"context"
	"fmt"
	"strings"

	"github.com/tideline-ml/tideline/residency"
)

// Action names a governed operation in policy requests, errors and audit
// records.
type Action string

// The governed actions. Every call that changes anything in a provider is one
// of these and passes the Policy first.
const (
	ActionDatasetCreate    Action = "dataset.create"
	ActionDatasetDelete    Action = "dataset.delete"
	ActionDatasetTighten   Action = "dataset.tighten"
	ActionJobSubmit        Action = "job.submit"
	ActionJobCancel        Action = "job.cancel"
	ActionModelRegister    Action = "model.register"
	ActionModelApprove     Action = "model.approve"
	ActionModelReject      Action = "model.reject"
	ActionModelAlias       Action = "model.alias"
	ActionEndpointCreate   Action = "endpoint.create"
	ActionEndpointDelete   Action = "endpoint.delete"
	ActionDeploymentCreate Action = "deployment.create"
	ActionDeploymentDelete Action = "deployment.delete"
	ActionTrafficSet       Action = "traffic.set"
)

// Request is what a policy decides on: who wants to do what, where, with
// which artifacts. Fields that do not apply to the action are nil or empty.
type Request struct {
	Action    Action
	Principal Principal
	// Target names the thing acted on ("dataset claims@3").
	Target string
	// Location is where the action takes effect; Cloud is the region
	// catalog of the region ("azure", "coreweave").
	Location Location
	Cloud    string
	// Region is Location's region as the residency catalog knows it, with
	// its country and jurisdictions; RegionErr is set instead when the
	// catalog does not know it.
	Region    residency.Region
	RegionErr error
	// Origins are the residency constraints that bind the action: a new
	// dataset's own and its parents', a job's inputs', those a model or a
	// deployment inherits, and for a traffic change those of every
	// deployment whose share rises. Residency denies a region outside any
	// of them.
	Origins []Origin
	// Usage is the GPUs already held by running and queued jobs, filled in
	// for job submissions when a rule asks for it (GPUQuota).
	Usage *GPUUsage

	// Dataset is the dataset being created or deleted.
	Dataset *Dataset
	// Job is the training job being submitted or cancelled; Inputs are its
	// resolved input datasets.
	Job    *TrainJobSpec
	Inputs []*Dataset
	// Model is the model version being registered, reviewed or aliased.
	Model *ModelVersion
	// Traffic is the traffic change on an endpoint.
	Traffic *TrafficChange
}

// TrafficChange describes a change of an endpoint's split.
type TrafficChange struct {
	Endpoint      string
	Before, After map[string]int
	// Models maps each deployment named in After to its model version.
	Models map[string]*ModelVersion
	// Rollback is set only when After is exactly the split recorded before
	// a rollout began (the rollback of Endpoint.Rollout, AbortRollout).
	Rollback bool
}

// Reason is one objection of one rule.
type Reason struct {
	Rule    string
	Message string
}

func (r Reason) String() string { return r.Message + " (rule " + r.Rule + ")" }

// Rule is one policy rule. Evaluate returns its objections to req, or nil
// when it has none. Rules must be safe for concurrent use and must not call
// the Client.
type Rule interface {
	Name() string
	Evaluate(ctx context.Context, req *Request) []Reason
}

// RuleFunc adapts a function to Rule.
func RuleFunc(name string, f func(ctx context.Context, req *Request) []Reason) Rule {
	return ruleFunc{name, f}
}

type ruleFunc struct {
	name string
	f    func(context.Context, *Request) []Reason
}

func (r ruleFunc) Name() string { return r.name }
func (r ruleFunc) Evaluate(ctx context.Context, req *Request) []Reason {
	return r.f(ctx, req)
}

// Decision is a policy's answer.
type Decision struct {
	Allowed bool
	// Reasons lists every objection, residency's first. Empty when the call
	// is allowed outright; in AuditOnly mode a call with objections is
	// allowed and WouldDeny is set.
	Reasons   []Reason
	WouldDeny bool
}

// Policy is the gate every mutating call passes, after the residency rules
// that every Client applies. It holds rules and asks each of them, so a
// denial lists every reason. The zero Policy and a nil *Policy add no rules
// and enforce.
//
// A Policy is immutable once built and safe for concurrent use.
type Policy struct {
	rules []Rule
	mode  Mode
}

// NewPolicy returns a policy of the given rules, asked in order.
func NewPolicy(rules ...Rule) *Policy {
	return &Policy{rules: append([]Rule(nil), rules...)}
}

// Rules returns the policy's rules.
func (p *Policy) Rules() []Rule {
	if p == nil {
		return nil
	}
	return append([]Rule(nil), p.rules...)
}

// WithMode returns a copy of p in the given mode.
func (p *Policy) WithMode(m Mode) *Policy {
	q := &Policy{mode: m}
	if p != nil {
		q.rules = p.rules
	}
	return q
}

// Mode returns the policy's mode.
func (p *Policy) Mode() Mode {
	if p == nil {
		return Enforce
	}
	return p.mode
}

// Decide asks every rule about req. It does not apply the residency rules;
// the Client does that before it asks the policy.
func (p *Policy) Decide(ctx context.Context, req *Request) Decision {
	return p.decide(ctx, req, nil)
}

// decide adds the rules' objections to reasons and applies the mode.
func (p *Policy) decide(ctx context.Context, req *Request, reasons []Reason) Decision {
	if p != nil {
		for _, r := range p.rules {
			reasons = append(reasons, r.Evaluate(ctx, req)...)
		}
	}
	if len(reasons) == 0 {
		return Decision{Allowed: true}
	}
	if p.Mode() == AuditOnly {
		return Decision{Allowed: true, Reasons: reasons, WouldDeny: true}
	}
	return Decision{Reasons: reasons}
}

// AllowProviders allows actions only on the named providers (the names given
// to NewClient).
func AllowProviders(names ...string) Rule {
	set := toSet(names)
	return RuleFunc("provider-allowlist", func(_ context.Context, req *Request) []Reason {
		if req.Location.Provider == "" || set[req.Location.Provider] {
			return nil
		}
		return []Reason{{"provider-allowlist", fmt.Sprintf("provider %q is not in the allowlist [%s]", req.Location.Provider, strings.Join(names, ", "))}}
	})
}

// AllowRegions allows actions only in the named regions, spelt as the
// providers spell them ("westeurope", "EU-SOUTH-03").
func AllowRegions(regions ...string) Rule {
	set := toSet(regions)
	return RuleFunc("region-allowlist", func(_ context.Context, req *Request) []Reason {
		if req.Location.Region == "" || set[req.Location.Region] {
			return nil
		}
		return []Reason{{"region-allowlist", fmt.Sprintf("region %s (%s) is not in the allowlist [%s]", req.Location.Region, req.Location.Provider, strings.Join(regions, ", "))}}
	})
}

// AllowImages allows training jobs only from images whose reference starts
// with one of prefixes ("myregistry.example/ml/"). With requireDigest, the
// image must also be pinned by digest ("...@sha256:<64 hex>"), so that what
// was approved is what runs.
func AllowImages(requireDigest bool, prefixes ...string) Rule {
	const name = "image-allowlist"
	return RuleFunc(name, func(_ context.Context, req *Request) []Reason {
		if req.Action != ActionJobSubmit || req.Job == nil {
			return nil
		}
		img := req.Job.Image
		var out []Reason
		allowed := len(prefixes) == 0
		for _, p := range prefixes {
			if strings.HasPrefix(img, p) {
				allowed = true
				break
			}
		}
		if !allowed {
			out = append(out, Reason{name, fmt.Sprintf("image %q is not from an allowed registry [%s]", img, strings.Join(prefixes, ", "))})
		}
		if requireDigest && !PinnedByDigest(img) {
			out = append(out, Reason{name, fmt.Sprintf("image %q is not pinned by digest; use name@sha256:<64 hex digits>", img)})
		}
		return out
	})
}

// PinnedByDigest reports whether an image reference ends in @sha256: and 64
// lower-case hex digits.
func PinnedByDigest(image string) bool {
	i := strings.LastIndex(image, "@sha256:")
	if i <= 0 {
		return false
	}
	d := image[i+len("@sha256:"):]
	if len(d) != 64 {
		return false
	}
	for j := 0; j < len(d); j++ {
		c := d[j]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// RequireApprovedModels denies a traffic change that raises the share of a
// deployment whose model version is not approved — rollbacks too: a split
// that ran before is restored only to deployments whose models are still
// approved.
func RequireApprovedModels() Rule {
	const name = "approved-model"
	return RuleFunc(name, func(_ context.Context, req *Request) []Reason {
		tc := req.Traffic
		if req.Action != ActionTrafficSet || tc == nil {
			return nil
		}
		var out []Reason
		for _, dep := range sortedKeys(tc.After) {
			if tc.After[dep] <= tc.Before[dep] {
				continue
			}
			mv := tc.Models[dep]
			switch {
			case mv == nil:
				out = append(out, Reason{name, fmt.Sprintf("deployment %q serves no registered model version; only approved model versions may receive traffic", dep)})
			case mv.Approval.State != ApprovalApproved:
				out = append(out, Reason{name, fmt.Sprintf("deployment %q serves model %s version %s, which is %s; approve it before it receives traffic", dep, mv.Model, mv.Version, strings.ToLower(string(mv.Approval.State)))})
			}
		}
		return out
	})
}

func toSet(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}
