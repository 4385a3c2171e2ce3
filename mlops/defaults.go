package mlops

import (
	"context"

	"github.com/tideline-ml/tideline/audit"
	"github.com/tideline-ml/tideline/residency"
)

// DefaultPolicyRules are the rules of DefaultPolicy: a model version
// receives traffic only once approved (RequireApprovedModels), its approver
// is neither who registered it nor who trained it (SeparateDuties), and a
// training job runs an image pinned by digest, so that what was reviewed is
// what runs (AllowImages with requireDigest, from any registry). Build a
// policy of your own from them to keep them and add rules:
//
//	mlops.NewPolicy(append(mlops.DefaultPolicyRules(), mlops.MaxTrafficStep(25))...)
func DefaultPolicyRules() []Rule {
	return []Rule{RequireApprovedModels(), SeparateDuties(), AllowImages(true)}
}

// DefaultPolicy is the policy of a Client whose ClientOptions.Policy is nil:
// DefaultPolicyRules, enforced. A governance SDK is safe without
// configuration; relax it on purpose with Permissive.
func DefaultPolicy() *Policy { return NewPolicy(DefaultPolicyRules()...) }

// Permissive returns a policy with no rules, for throwaway experiments: a
// person may approve their own model, unapproved models may receive
// traffic, images need no digest. Residency is still enforced — no policy
// relaxes it — and the relaxation is on the record: every decision under it
// has Decision.Permissive set, which the AuditHook writes into each record
// (attribute policy=permissive).
func Permissive() *Policy { return &Policy{permissive: true} }

// requestClass is the most sensitive classification a call touches: of
// what it creates, reads, serves or inherits.
func requestClass(req *Request) residency.Classification {
	c := origins(req.Origins).classification()
	if req.Dataset != nil {
		c = max(c, req.Dataset.Classification())
	}
	if req.Model != nil {
		c = max(c, req.Model.Classification)
	}
	for _, d := range req.Inputs {
		if d != nil {
			c = max(c, d.Classification())
		}
	}
	if req.Traffic != nil {
		for _, mv := range req.Traffic.Models {
			if mv != nil {
				c = max(c, mv.Classification)
			}
		}
	}
	return c
}

// audited reports whether one of the Client's hooks is an AuditHook.
func (c *Client) audited() bool {
	for _, h := range c.opts.Hooks {
		if _, ok := h.(*AuditHook); ok {
			return true
		}
	}
	return false
}

// NewMemoryAuditHook returns an AuditHook over a fresh in-memory audit log
// (a SHA-256 chain, no key), for tests and experiments: one line gives a
// Client the audit hook it needs to act on confidential or restricted data.
// Log returns the log, to read or verify what was written.
func NewMemoryAuditHook() *AuditHook {
	sink := audit.NewMemorySink()
	log, err := audit.New(context.Background(), sink, nil)
	if err != nil {
		panic("mlops: an in-memory audit log cannot be opened: " + err.Error()) // a new MemorySink always opens
	}
	h, _ := NewAuditHook(log, nil)
	h.sink = sink
	return h
}
