package mlops

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/residency"
	"github.com/tideline-ml/tideline/secret"
)

// Hook observes governed calls. Before runs after the policy decided and
// before any provider is called — for denied calls too, so that every
// attempt can be recorded. After runs once the call is over.
//
// A Hook whose Before returns an error stops the call: nothing is done in
// any provider and the caller gets that error. That is how an audit log
// fails closed. Before may return a context derived from ctx — one that
// carries a tracing span, or a tighter deadline — and the later hooks and
// the provider call then run under it, while the hook's own After gets it
// back (without its cancellation) to end what it began; a nil context means
// ctx unchanged. Hooks run in the order given and must be safe for
// concurrent use.
type Hook interface {
	Before(ctx context.Context, op *Operation) (context.Context, error)
	After(ctx context.Context, op *Operation)
}

// Operation is one governed call as the hooks see it.
type Operation struct {
	// ID is unique per call; it ties the Before and After records together
	// and is stored with created artifacts as their idempotency token.
	ID      string
	Request *Request
	// Decision is the policy's decision.
	Decision Decision
	Started  time.Time

	// Set before After runs:
	// Err is the outcome (nil on success); Result is what the call created
	// or changed (*Dataset, *TrainJob, *ModelVersion, *Endpoint,
	// *Deployment), or nil.
	Err      error
	Result   any
	Finished time.Time

	// Secrets are the secret values the call handed to a provider (a job's
	// secret environment variables, read grants). The Client redacts them,
	// and every other secret it handed out, from Err and from what it
	// returns; a hook that writes text from elsewhere about the operation
	// should redact them too.
	Secrets []secret.Secret
}

// govern runs one mutating call through the gate: policy decision, hooks,
// then do. A denial returns a *PolicyError and calls no provider.
func (c *Client) govern(ctx context.Context, req *Request, do func(ctx context.Context, op *Operation) (any, error)) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if req.Principal.ID == "" {
		p, err := c.principal(ctx)
		if err != nil {
			return nil, err
		}
		req.Principal = p
	}
	if req.Cloud == "" {
		req.Cloud = c.cloudOf(req.Location)
	}
	if req.Location.Region != "" {
		req.Region, req.RegionErr = c.opts.Catalog.Lookup(req.Cloud, req.Location.Region)
	}
	op := &Operation{ID: c.opts.NewID(), Request: req, Started: c.opts.Now()}
	if req.Action == ActionJobSubmit && c.wantsUsage() {
		release, err := c.decideSubmit(ctx, op)
		if err != nil {
			return nil, err
		}
		defer release()
	} else {
		op.Decision = c.opts.Policy.decide(ctx, req, residencyReasons(req, nil))
	}
	if ctx.Value(dryRunKey{}) != nil {
		return nil, &DryRunResult{Request: req, Decision: op.Decision}
	}
	if class := requestClass(req); class >= residency.Confidential && !c.audited() {
		return nil, errorf(FailedPrecondition, "%s of %s touches %s data, and this Client has no audit hook: add one to ClientOptions.Hooks with mlops.NewAuditHook (mlops.NewMemoryAuditHook() in tests); nothing was done",
			req.Action, req.Target, class)
	}
	ctxs := make([]context.Context, 0, len(c.opts.Hooks))
	for _, h := range c.opts.Hooks {
		hctx, err := h.Before(ctx, op)
		if hctx == nil {
			hctx = ctx
		}
		if err != nil {
			op.Err = err
			c.after(ctxs, op)
			return nil, err
		}
		ctxs = append(ctxs, hctx)
		ctx = hctx
	}
	if !op.Decision.Allowed {
		op.Err = &PolicyError{Action: req.Action, Target: req.Target, Reasons: op.Decision.Reasons}
	} else {
		op.Result, op.Err = do(ctx, op)
		op.Err = c.redactError(op.Err, op.Secrets...)
	}
	c.after(ctxs, op)
	return op.Result, op.Err
}

// after runs the After hooks of the hooks whose Before ran, in reverse
// order, each on the context its Before returned, no longer cancelled, so
// that a call cut short by its context is still recorded.
func (c *Client) after(ctxs []context.Context, op *Operation) {
	op.Finished = c.opts.Now()
	for i := len(ctxs) - 1; i >= 0; i-- {
		c.opts.Hooks[i].After(context.WithoutCancel(ctxs[i]), op)
	}
}

// retry calls f until it succeeds, fails with a code that is not retryable,
// runs out of attempts or ctx ends. Backoff doubles from MinBackoff to
// MaxBackoff; the wait stops when ctx ends. An error from provider pn is
// returned naming the provider as this Client knows it ("lab"), whatever
// the driver calls itself.
func (c *Client) retry(ctx context.Context, pn string, f func() error) error {
	delay := c.opts.Retry.MinBackoff
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil || attempt >= c.opts.Retry.MaxAttempts || !provider.CodeOf(err).IsRetryable() {
			return c.fromProvider(pn, err)
		}
		if werr := sleep(ctx, delay); werr != nil {
			// The context ended while waiting to retry: that is why the
			// call stops, so its error is what the caller matches.
			return fmt.Errorf("%w (waiting to retry after attempt %d failed: %v)", werr, attempt, c.fromProvider(pn, err))
		}
		delay = min(2*delay, c.opts.Retry.MaxBackoff)
	}
}

// fromProvider names the provider an error came from, once.
func (c *Client) fromProvider(pn string, err error) error {
	p, ok := c.providers[pn]
	if err == nil || !ok || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var pe *providerError
	if errors.As(err, &pe) {
		return err
	}
	return &providerError{name: pn, kind: p.Kind(), err: err}
}

// providerError is an error of a provider, named as the Client knows it.
type providerError struct {
	name, kind string
	err        error
}

func (e *providerError) Error() string {
	return fmt.Sprintf("provider %q (%s): %v", e.name, e.kind, e.err)
}

// Unwrap returns the driver's error.
func (e *providerError) Unwrap() error { return e.err }

// ErrorCode returns the code of the driver's error.
func (e *providerError) ErrorCode() ErrorCode { return provider.CodeOf(e.err) }

// sleep waits d or until ctx ends, whichever comes first.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Metadata keys Tideline stores with artifacts in every provider. They are
// how a second Client in another process learns what the first one decided.
const (
	metaPrincipal      = "tideline_principal"
	metaOperation      = "tideline_operation"
	metaSpec           = "tideline_spec"
	metaClassification = "tideline_classification"
	metaSourceJob      = "tideline_source_job"
	metaInputs         = "tideline_inputs"
	metaSubmitter      = "tideline_submitter"
	metaModel          = "tideline_model"
	metaRollout        = "tideline_rollout"
	metaOrigins        = "tideline_origins"
	metaConstraint     = "tideline_constraint"
	metaDerivedFrom    = "tideline_derived_from"
	metaTeam           = "tideline_team"
	metaTrainedBy      = "tideline_trained_by"
	metaParentRun      = "tideline_parent_run"
	metaParentJob      = "tideline_parent_job"
	metaJobName        = "tideline_job_name"
	metaLabelPrefix    = "label_"
)
