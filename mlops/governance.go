package mlops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/residency"
)

// Origin is a residency constraint and the artifact it comes from.
// Everything derived from data — a derived dataset, a job, a model version,
// a deployment — carries the origins of everything upstream of it, so that a
// denial can name the dataset whose constraint it enforces, and so that a
// second Client in another process enforces the same constraint from the
// artifact's own metadata.
type Origin struct {
	// Artifact names where the constraint comes from:
	// "dataset azure/claims@1".
	Artifact       string
	Classification residency.Classification
	// Rule names the rule that set the constraint ("restricted→EU/EEA");
	// "tightened" when the owner narrowed it by hand.
	Rule       string
	Constraint residency.Constraint
}

func (o Origin) String() string {
	return fmt.Sprintf("%s (%s, rule %s: %s)", o.Artifact, o.Classification, o.Rule, o.Constraint)
}

// origins is a set of origins in the order they were found.
type origins []Origin

// constraint is where everything the origins allow overlaps: the
// intersection of their constraints, anywhere for none.
func (os origins) constraint() residency.Constraint {
	c := residency.Anywhere()
	for _, o := range os {
		c = c.Intersect(o.Constraint)
	}
	return c
}

// classification is the most sensitive classification among the origins,
// Unclassified (zero) for none.
func (os origins) classification() residency.Classification {
	var c residency.Classification
	for _, o := range os {
		c = max(c, o.Classification)
	}
	return c
}

// merge adds the origins of more that are not in os yet.
func (os origins) merge(more ...Origin) origins {
	for _, o := range more {
		if !slices.ContainsFunc(os, func(x Origin) bool { return x.Artifact == o.Artifact && x.Constraint.Equal(o.Constraint) }) {
			os = append(os, o)
		}
	}
	return os
}

// originJSON is the stored form of an Origin: short keys, because provider
// metadata is small (Azure Blob allows 8 KiB for all of a blob's metadata).
type originJSON struct {
	Artifact       string `json:"a"`
	Classification string `json:"c"`
	Rule           string `json:"r"`
	Constraint     string `json:"k"`
}

// encodeOrigins renders origins as ASCII-only JSON that fits one metadata
// value. When there are too many to fit, the tail is merged into one entry
// with the intersection of their constraints, so nothing is loosened.
func encodeOrigins(os origins) string {
	for keep := len(os); keep >= 0; keep-- {
		list := make([]originJSON, 0, keep+1)
		for _, o := range os[:keep] {
			list = append(list, originJSON{o.Artifact, o.Classification.String(), o.Rule, o.Constraint.Encode()})
		}
		if rest := os[keep:]; len(rest) > 0 {
			list = append(list, originJSON{fmt.Sprintf("%d more upstream artifacts", len(rest)),
				rest.classification().String(), "merged", rest.constraint().Encode()})
		}
		b, err := json.Marshal(list)
		if err != nil {
			continue
		}
		if s := asciiOnly(string(b)); len(s) <= provider.MaxMetaValueLen {
			return s
		}
	}
	return "[]" // unreachable: a single merged entry always fits
}

// decodeOrigins reads what encodeOrigins wrote. A value that does not parse
// is an error, never "no constraint": the artifact's residency is then
// unknown, and the caller must fail closed.
func (c *Client) decodeOrigins(s string) (origins, error) {
	if s == "" {
		return nil, nil
	}
	var list []originJSON
	if err := json.Unmarshal([]byte(s), &list); err != nil {
		return nil, err
	}
	out := make(origins, 0, len(list))
	for _, j := range list {
		class, err := residency.ParseClassification(j.Classification)
		if err != nil {
			return nil, err
		}
		k, err := c.opts.Catalog.ParseConstraint(j.Constraint)
		if err != nil {
			return nil, err
		}
		out = append(out, Origin{Artifact: j.Artifact, Classification: class, Rule: j.Rule, Constraint: k})
	}
	return out, nil
}

// asciiOnly escapes every non-ASCII rune of a JSON text as \uXXXX, so that
// the value survives metadata stores that carry only ASCII (HTTP headers).
func asciiOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf:
			b.WriteRune(r)
		case r > 0xFFFF:
			r1, r2 := (r-0x10000)>>10+0xD800, (r-0x10000)&0x3FF+0xDC00
			fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

// ruleOrigin is the origin a dataset gets from its own classification.
func (c *Client) ruleOrigin(artifact string, class residency.Classification) (Origin, error) {
	rule, err := c.opts.Rules.For(class)
	if err != nil {
		return Origin{}, errorf(InvalidArgument, "%s: %v", artifact, err)
	}
	return Origin{Artifact: artifact, Classification: class, Rule: rule.Name, Constraint: rule.Constraint}, nil
}

// readOrigins reads an artifact's stored origins; an artifact that has none
// but a classification gets its rule's origin, and one without either is
// treated as restricted, the most careful guess.
func (c *Client) readOrigins(artifact string, md map[string]string) (origins, error) {
	if raw, ok := md[metaOrigins]; ok {
		os, err := c.decodeOrigins(raw)
		if err != nil {
			return nil, errorf(DataLoss, "%s carries residency metadata that does not parse (%v); it cannot be used until its %s metadata is repaired", artifact, err, metaOrigins)
		}
		return os, nil
	}
	class, err := residency.ParseClassification(md[metaClassification])
	if err != nil || !class.Valid() {
		class = residency.Restricted
	}
	o, err := c.ruleOrigin(artifact, class)
	if err != nil {
		return nil, err
	}
	return origins{o}, nil
}

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

// refreshOrigins adds the current origins of every upstream dataset that
// still exists, so that a dataset tightened after a model was trained binds
// the model's deployments too. A dataset that is gone leaves the origin the
// model recorded; any other failure to read one is an error, not a pass.
func (c *Client) refreshOrigins(ctx context.Context, os []Origin) (origins, error) {
	out := origins(slices.Clone(os))
	for _, o := range os {
		rest, ok := strings.CutPrefix(o.Artifact, "dataset ")
		if !ok {
			continue
		}
		refs := splitRefs(rest)
		if len(refs) != 1 || refs[0].Provider == "" || refs[0].Version == "" {
			continue
		}
		if _, known := c.providers[refs[0].Provider]; !known {
			continue // held by a provider this Client does not have: the recorded origin stands
		}
		d, err := c.GetDataset(ctx, refs[0])
		if Code(err) == NotFound {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading upstream %s for its residency: %w", o.Artifact, err)
		}
		out = out.merge(d.Origins...)
	}
	return out, nil
}
