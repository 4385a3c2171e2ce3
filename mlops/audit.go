package mlops

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/tideline-ml/tideline/audit"
	"github.com/tideline-ml/tideline/secret"
)

// AuditOptions configures NewAuditHook.
type AuditOptions struct {
	// Secrets are values scrubbed from every record, should an error
	// message carry one. Credentials inside URLs, secret-looking
	// parameters and bearer tokens are scrubbed without being named.
	Secrets []secret.Secret
	// TraceID, when not nil, reads a trace id from a call's context (from
	// OpenTelemetry, say) for the records.
	TraceID func(ctx context.Context) string
	// OnError, when not nil, is called when the record of a call's outcome
	// cannot be written (the call itself already happened).
	OnError func(error)
}

// AuditHook is a Hook that writes every governed call to a tamper-evident
// audit log: one record once the policy has decided and before any
// provider is called — the decision with every reason, outcome "pending",
// or "error" for a denial — and one when the call is over, outcome "ok" or
// "error". Both carry the operation's id as their request id.
//
// It fails closed: when the first record cannot be written, the call is not
// made and the caller gets the error. When the outcome record cannot be
// written, the audit log refuses every later append (see audit.Log), so the
// next governed call fails closed too.
type AuditHook struct {
	log  *audit.Log
	opts AuditOptions
	sink *audit.MemorySink // set by NewMemoryAuditHook

	mu  sync.Mutex
	err error
}

// NewAuditHook returns a hook that writes to log.
func NewAuditHook(log *audit.Log, opts *AuditOptions) (*AuditHook, error) {
	if log == nil {
		return nil, errorf(InvalidArgument, "audit log is nil: open one with audit.New")
	}
	h := &AuditHook{log: log}
	if opts != nil {
		h.opts = *opts
	}
	return h, nil
}

// Log returns the audit log the hook writes to.
func (h *AuditHook) Log() *audit.Log { return h.log }

// MemorySink returns the sink of a hook from NewMemoryAuditHook, nil for
// any other.
func (h *AuditHook) MemorySink() *audit.MemorySink { return h.sink }

// Err returns the first failure to write an outcome record, or nil.
func (h *AuditHook) Err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

func (h *AuditHook) record(ctx context.Context, op *Operation) audit.Record {
	req := op.Request
	r := audit.Record{
		Principal: req.Principal.ID,
		Action:    string(req.Action),
		Target:    req.Target,
		Provider:  req.Location.Provider,
		Region:    req.Location.Region,
		RequestID: op.ID,
	}
	if h.opts.TraceID != nil {
		r.TraceID = h.opts.TraceID(ctx)
	}
	attrs := map[string]string{}
	if req.Principal.Team != "" {
		attrs["team"] = req.Principal.Team
	}
	if req.RegionErr == nil && req.Region.Country != "" {
		attrs["country"] = req.Region.Country
	}
	// What the action touches, as residency sees it: the most sensitive
	// classification and the constraint that binds.
	if os := origins(req.Origins); len(os) > 0 {
		attrs["classification"] = os.classification().String()
		attrs["constraint"] = os.constraint().Encode()
	}
	if op.Decision.Permissive {
		attrs["policy"] = "permissive"
	}
	if len(attrs) > 0 {
		r.Attrs = attrs
	}
	return r
}

func (h *AuditHook) scrub(s string, op *Operation) string {
	return secret.Redact(secret.Scrub(s), append(slices.Clip(h.opts.Secrets), op.Secrets...)...)
}

// Before writes the decision. A denied call's record is its only one.
func (h *AuditHook) Before(ctx context.Context, op *Operation) (context.Context, error) {
	r := h.record(ctx, op)
	switch {
	case !op.Decision.Allowed:
		r.Decision = audit.DecisionDeny
		r.Outcome = audit.OutcomeError
		r.Error = "denied by policy"
	case op.Decision.WouldDeny:
		r.Decision = audit.DecisionWouldDeny
		r.Outcome = audit.OutcomePending
	default:
		r.Decision = audit.DecisionAllow
		r.Outcome = audit.OutcomePending
	}
	for _, reason := range op.Decision.Reasons {
		r.Reasons = append(r.Reasons, audit.Reason{Rule: reason.Rule, Message: h.scrub(reason.Message, op)})
	}
	if _, err := h.log.Append(ctx, r); err != nil {
		return ctx, errorf(Unavailable, "audit log cannot record %s of %s, so it was not done: %w", op.Request.Action, op.Request.Target, err)
	}
	return ctx, nil
}

// After writes the outcome of an allowed call.
func (h *AuditHook) After(ctx context.Context, op *Operation) {
	if !op.Decision.Allowed {
		return // the denial was recorded in full by Before
	}
	r := h.record(ctx, op)
	r.Outcome = audit.OutcomeOK
	if op.Err != nil {
		r.Outcome = audit.OutcomeError
		r.Error = h.scrub(fmt.Sprintf("%s: %v", Code(op.Err), op.Err), op)
	}
	if _, err := h.log.Append(ctx, r); err != nil {
		h.mu.Lock()
		if h.err == nil {
			h.err = err
		}
		h.mu.Unlock()
		if h.opts.OnError != nil {
			h.opts.OnError(err)
		}
	}
}
