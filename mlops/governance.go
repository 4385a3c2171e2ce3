package mlops

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tideline-ml/tideline/residency"
)

// placing reports whether an action puts data, or something derived from
// it, into a region — the actions residency decides.
func placing(a Action) bool {
	switch a {
	case ActionDatasetCreate, ActionDatasetTighten, ActionJobSubmit, ActionModelRegister, ActionDeploymentCreate, ActionEndpointCreate, ActionTrafficSet:
		return true
	}
	return false
}

// residencyReasons are the objections of the residency rules: a region the
// catalog does not know, and every origin whose constraint excludes the
// region.
func residencyReasons(req *Request, reasons []Reason) []Reason {
	if !placing(req.Action) {
		return reasons
	}
	if req.RegionErr != nil {
		return append(reasons, Reason{"residency", fmt.Sprintf("region %s of provider %q (%s) is not in the residency catalog, so nothing may be placed there; add it to the Catalog with its country (%v)",
			req.Location.Region, req.Location.Provider, req.Cloud, req.RegionErr)})
	}
	for _, o := range req.Origins {
		if o.Constraint.Allows(req.Region) {
			continue
		}
		reasons = append(reasons, Reason{o.Rule, fmt.Sprintf("%s is %s and may be stored and processed only in %s; region %s (%s) is in %s",
			o.Artifact, o.Classification, o.Constraint, req.Location.Region, req.Location.Provider, whereIs(req.Region))})
	}
	return reasons
}

// whereIs says where a region is for a person: "US", "ES (EU, EEA)".
func whereIs(r residency.Region) string {
	js := r.Jurisdictions()
	var names []string
	for _, j := range js {
		if string(j) != r.Country {
			names = append(names, string(j))
		}
	}
	if len(names) == 0 {
		return r.Country
	}
	return r.Country + " (" + strings.Join(names, ", ") + ")"
}

// Mode says whether a Policy blocks what it denies.
type Mode int

// The modes.
const (
	// Enforce blocks a denied call: nothing is created.
	Enforce Mode = iota
	// AuditOnly lets a denied call through and marks the decision
	// WouldDeny, so that hooks record what would have been blocked — the
	// way to try rules on live pipelines before enforcing them.
	AuditOnly
)

// ErrDryRun matches the *DryRunResult that a call under DryRun returns.
var ErrDryRun = errors.New("dry run")

type dryRunKey struct{}

// DryRun returns a context under which governed calls validate, resolve and
// decide, then stop before any hook or provider: they return a
// *DryRunResult (matching ErrDryRun) holding the decision. Code reports OK
// for it.
func DryRun(ctx context.Context) context.Context {
	return context.WithValue(ctx, dryRunKey{}, true)
}

// DryRunResult is what a call under DryRun returns instead of acting.
type DryRunResult struct {
	Request  *Request
	Decision Decision
}

func (r *DryRunResult) Error() string {
	if !r.Decision.Allowed {
		return (&PolicyError{Action: r.Request.Action, Target: r.Request.Target, Reasons: r.Decision.Reasons}).Error() + " (dry run)"
	}
	if r.Decision.WouldDeny {
		return fmt.Sprintf("dry run: %s of %s would be allowed in audit-only mode, with %d objections", r.Request.Action, r.Request.Target, len(r.Decision.Reasons))
	}
	return fmt.Sprintf("dry run: %s of %s would be allowed", r.Request.Action, r.Request.Target)
}

// ErrorCode returns OK: a dry run that decided did what it was asked.
func (r *DryRunResult) ErrorCode() ErrorCode { return OK }

// Is makes a *DryRunResult match ErrDryRun.
func (r *DryRunResult) Is(target error) bool { return target == ErrDryRun }
