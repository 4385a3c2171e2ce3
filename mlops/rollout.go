package mlops

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/tideline-ml/tideline/provider"
)

// RolloutOptions configures Rollout.
type RolloutOptions struct {
	// Steps are the new deployment's shares, strictly increasing, each from
	// 1 to 100. Default 10, 50, 100. A last step below 100 leaves the
	// rollout holding there (a standing canary); run Rollout again or Promote.
	Steps []int
	// Bake is how long to let each step run before its check.
	Bake time.Duration
	// Check, when not nil, runs after each step; an error rolls the endpoint
	// back to the split it had before the rollout began.
	Check func(ctx context.Context, step RolloutStep) error
	// OnStep, when not nil, is called after each step's traffic is in place,
	// for the steps whose traffic this call moved.
	OnStep func(step RolloutStep)
}

// RolloutStep is one step of a rollout.
type RolloutStep struct {
	Endpoint, Deployment string
	// Index counts from 1 over the steps this call takes, Of of them;
	// Percent is the deployment's share at this step.
	Index, Of, Percent int
	// Split is the whole live split at this step.
	Split map[string]int
}

// RolloutError reports a rollout that stopped. It names the step, the cause
// and what became of the endpoint. errors.Is and errors.As reach the cause,
// so a rollout cut short by its context matches context.Canceled.
type RolloutError struct {
	Endpoint, Deployment string
	// Step is the index of the failed step (from 1) and Percent its share.
	Step, Percent int
	Err           error
	// Before is the split recorded before the rollout began: the only split
	// a rollback restores.
	Before map[string]int
	// RolledBackTo is Before once it is restored. It is nil when the
	// endpoint was not rolled back; then RollbackErr says why: Before is no
	// longer allowed (FailedPrecondition naming a deployment that is gone,
	// not ready or serving a rejected model; a *PolicyError when the policy
	// or residency refuses the traffic it would give back), another change
	// has superseded the rollout (Conflict), or the provider failed. Except
	// after a Conflict, the rollout's record stays on the endpoint, so that
	// AbortRollout can restore Before later; SetTraffic or Promote ends it
	// with a split of the caller's choosing.
	RolledBackTo map[string]int
	RollbackErr  error
	// LeftAt is the live split as last read when Rollout returned: Before
	// after a rollback, otherwise where the endpoint stayed. Nil when the
	// endpoint could not be read.
	LeftAt map[string]int
}

func (e *RolloutError) Error() string {
	s := fmt.Sprintf("rollout of %s/%s failed at step %d (%d%%): %v", e.Endpoint, e.Deployment, e.Step, e.Percent, e.Err)
	if e.RollbackErr == nil {
		return s + "; rolled back to " + fmtSplit(e.RolledBackTo)
	}
	s += fmt.Sprintf("; the split before it, %s, was not restored: %v", fmtSplit(e.Before), e.RollbackErr)
	if e.LeftAt != nil {
		s += "; live traffic stays at " + fmtSplit(e.LeftAt)
	}
	return s
}

// Unwrap returns the cause.
func (e *RolloutError) Unwrap() error { return e.Err }

// rolloutRecord is kept in the endpoint's metadata while a rollout runs, so
// that a program that crashed can resume or roll back from what the endpoint
// itself says. ID tells one Rollout call from another: two calls never write
// the same record, so a compare of the record tells whose it is.
type rolloutRecord struct {
	ID         string         `json:"id,omitempty"`
	Deployment string         `json:"deployment"`
	Previous   map[string]int `json:"previous"`
}

func (r rolloutRecord) encode() string {
	b, err := json.Marshal(r)
	if err != nil {
		return "" // unreachable: strings and ints always marshal
	}
	return asciiOnly(string(b))
}

func (e *Endpoint) rolloutRecord() (*rolloutRecord, error) {
	raw := e.meta[metaRollout]
	if raw == "" {
		return nil, nil
	}
	var r rolloutRecord
	if err := json.Unmarshal([]byte(raw), &r); err != nil || r.Deployment == "" || validateSplit("previous", r.Previous, 100, true) != nil {
		return nil, errorf(DataLoss, "endpoint %q carries an unreadable rollout record %q; clear it with Promote", e.Name, raw)
	}
	return &r, nil
}

// holder says, from the snapshot, who holds the endpoint, for a Conflict.
func (e *Endpoint) holder() string {
	rec, err := e.rolloutRecord()
	switch {
	case err != nil:
		return "it carries an unreadable rollout record"
	case rec != nil && rec.ID != "":
		return fmt.Sprintf("rollout %s of deployment %q holds it, at %s", rec.ID, rec.Deployment, fmtSplit(e.Traffic))
	case rec != nil:
		return fmt.Sprintf("a rollout of deployment %q holds it, at %s", rec.Deployment, fmtSplit(e.Traffic))
	}
	return "no rollout holds it; its live split is " + fmtSplit(e.Traffic)
}

// Rollout moves traffic to a deployment step by step, checking health
// between steps. It needs an endpoint that already serves live traffic:
// with none there is nothing to roll back to, so it fails with
// FailedPrecondition before anything moves — give the first deployment its
// traffic with Promote.
//
// The split before the rollout is recorded in the endpoint's metadata with
// the first step, in the same atomic update. Each step scales the other
// deployments' current shares down in proportion, so none of them ever
// gains; steps at or below the deployment's current share are skipped, and
// with none left Rollout does nothing. Every write is conditional on the
// endpoint's ETag and on the endpoint still being as this call last saw or
// left it: a second rollout started at the same time fails with Conflict
// (or FailedPrecondition once it reads the first one's record) naming the
// rollout that holds the endpoint, and a rollout whose endpoint was changed
// by anyone else stops without touching it again.
//
// When a check fails, a step's traffic change fails, or ctx ends, the
// endpoint is rolled back — on a context that outlives ctx — to exactly the
// recorded split, as a governed change: every deployment gaining traffic in
// it must still exist, be ready, serve a model version that is not
// rejected, and pass the policy and residency (rollbacks are exempt from
// MaxTrafficStep only). If it cannot be restored, traffic stays where the
// rollout stopped and the *RolloutError says why (RollbackErr) and where the
// endpoint stands (LeftAt). After the last step has passed its check the
// record is removed in an update of its own; a last step below 100 keeps it
// (a standing canary).
//
// A program that crashed mid-rollout calls Rollout again to resume, or
// AbortRollout to undo. A resumed rollout first bakes and checks the share
// it finds the deployment at (OnStep is not called for it: this call moved
// no traffic there), then takes the steps above it.
func (e *Endpoint) Rollout(ctx context.Context, deployment string, opts *RolloutOptions) error {
	if opts == nil {
		opts = &RolloutOptions{}
	}
	if err := provider.ValidateName("deployment name", deployment); err != nil {
		return err
	}
	steps := opts.Steps
	if steps == nil {
		steps = []int{10, 50, 100}
	}
	if len(steps) == 0 {
		return errorf(InvalidArgument, "rollout of %q: Steps is empty; give at least one share, such as [10 50 100]", deployment)
	}
	for i, s := range steps {
		if s < 1 || s > 100 || (i > 0 && s <= steps[i-1]) {
			return errorf(InvalidArgument, "rollout of %q: Steps %v must increase strictly, each from 1 to 100", deployment, steps)
		}
	}
	if opts.Bake < 0 {
		return errorf(InvalidArgument, "rollout of %q: Bake is negative", deployment)
	}
	if err := e.Refresh(ctx); err != nil {
		return err
	}
	dep := e.Deployment(deployment)
	if dep == nil {
		return errorf(NotFound, "endpoint %q has no deployment %q; Deploy it first", e.Name, deployment)
	}
	if dep.State != DeploymentReady {
		return errorf(FailedPrecondition, "deployment %s/%s is %s; roll out only a ready deployment", e.Name, deployment, dep.State)
	}
	rec, err := e.rolloutRecord()
	if err != nil {
		return err
	}
	if rec != nil && rec.Deployment != deployment {
		return errorf(FailedPrecondition, "endpoint %q is in the middle of a rollout of %q (%s); resume it with Rollout or undo it with AbortRollout first", e.Name, rec.Deployment, e.holder())
	}
	current := e.Traffic[deployment]
	r := &rolloutRun{e: e, deployment: deployment,
		seen: trafficState{maps.Clone(e.Traffic), e.meta[metaRollout]}}
	if rec != nil {
		r.before = rec.Previous
	} else {
		if current == 100 {
			return nil // it serves everything already
		}
		r.before = maps.Clone(e.Traffic)
	}
	if others(r.before, deployment) == 0 {
		return errorf(FailedPrecondition, "endpoint %q serves no live traffic besides %q, so a rollout would have nothing to roll back to; give %q its first traffic with Promote", e.Name, deployment, deployment)
	}
	resumed := rec != nil && current > 0
	var plan []int
	if resumed {
		plan = append(plan, current)
	}
	for _, s := range steps {
		if s > current {
			plan = append(plan, s)
		}
	}
	if len(plan) == 0 {
		return nil // every step is at or below its share already
	}
	record := rolloutRecord{ID: e.c.opts.NewID(), Deployment: deployment, Previous: r.before}.encode()
	for i, pct := range plan {
		step := RolloutStep{Endpoint: e.Name, Deployment: deployment, Index: i + 1, Of: len(plan), Percent: pct}
		if i == 0 && resumed {
			step.Split = maps.Clone(e.Traffic) // as the crashed program left it
		} else {
			step.Split = splitFor(r.seen.traffic, deployment, pct)
			if err := r.write(ctx, step.Split, record); err != nil {
				return r.stop(ctx, step, err)
			}
			if opts.OnStep != nil {
				opts.OnStep(step)
			}
		}
		err := sleep(ctx, opts.Bake)
		if err == nil && opts.Check != nil {
			err = opts.Check(ctx, step)
			if err == nil {
				err = ctx.Err()
			}
		}
		if err != nil {
			return r.stop(ctx, step, err)
		}
	}
	last := plan[len(plan)-1]
	if last < 100 {
		return nil // a standing canary keeps its record
	}
	if err := r.write(ctx, e.Traffic, ""); err != nil {
		return fmt.Errorf("rollout of %s/%s: every step passed its check, but removing the rollout's record failed (call Rollout again to finish it): %w", e.Name, deployment, err)
	}
	return nil
}

// trafficState is what a rollout compares before it writes: the live split
// and the raw rollout record.
type trafficState struct {
	traffic map[string]int
	record  string
}

func (s trafficState) is(traffic map[string]int, record string) bool {
	return s.record == record && maps.Equal(s.traffic, traffic)
}

// rolloutRun is one Rollout call in progress.
type rolloutRun struct {
	e          *Endpoint
	deployment string
	// before is the split recorded before the rollout began.
	before map[string]int
	// seen is the endpoint as this call last read or left it; tried is a
	// write whose outcome is unknown (nil when none). The endpoint is this
	// call's to change only while it is in one of them.
	seen  trafficState
	tried *trafficState
	// moved is set once this call has changed the endpoint.
	moved bool
}

// write reads the endpoint, checks that it is still as this call last saw
// or left it, and writes the split and record conditionally on the ETag of
// that read.
func (r *rolloutRun) write(ctx context.Context, split map[string]int, record string) error {
	e := r.e
	if err := e.Refresh(ctx); err != nil {
		return err
	}
	if !r.seen.is(e.Traffic, e.meta[metaRollout]) {
		return errorf(Conflict, "endpoint %q changed during the rollout of %q: %s", e.Name, r.deployment, e.holder())
	}
	r.tried = &trafficState{maps.Clone(split), record}
	if err := e.applyTraffic(ctx, split, nil, map[string]string{metaRollout: record}, false); err != nil {
		return err
	}
	r.seen, r.tried, r.moved = trafficState{maps.Clone(e.Traffic), e.meta[metaRollout]}, nil, true
	return nil
}

// stop ends a rollout that failed at step. Unless the endpoint is no longer
// this call's, it restores exactly the recorded split. It runs on a context
// that survives the caller's cancellation, bounded in time, because leaving
// an endpoint half-way is worse than a late return.
func (r *rolloutRun) stop(ctx context.Context, step RolloutStep, cause error) error {
	e := r.e
	rerr := &RolloutError{Endpoint: e.Name, Deployment: r.deployment, Step: step.Index, Percent: step.Percent, Err: cause, Before: maps.Clone(r.before)}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	if err := e.Refresh(rctx); err != nil {
		rerr.RollbackErr = err
		return rerr
	}
	rerr.LeftAt = maps.Clone(e.Traffic)
	record := e.meta[metaRollout]
	ours := r.seen.is(e.Traffic, record) || (r.tried != nil && r.tried.is(e.Traffic, record))
	if !ours {
		if !r.moved && Code(cause) == Conflict {
			// Nothing of this call is in place: it lost the endpoint to
			// another change before its first write took effect.
			return errorf(Conflict, "rollout of %q did not go ahead: %v", r.deployment, cause)
		}
		rerr.RollbackErr = errorf(Conflict, "endpoint %q is no longer in this rollout's hands: %s; it was left as it is", e.Name, e.holder())
		return rerr
	}
	if record == "" && maps.Equal(e.Traffic, r.before) {
		rerr.RolledBackTo = maps.Clone(r.before) // the first step never took effect
		return rerr
	}
	if err := e.applyTraffic(rctx, r.before, nil, map[string]string{metaRollout: ""}, true); err != nil {
		rerr.RollbackErr = err
		return rerr
	}
	rerr.RolledBackTo, rerr.LeftAt = maps.Clone(r.before), maps.Clone(e.Traffic)
	return rerr
}

// AbortRollout undoes a rollout left half-way by a program that stopped:
// the split recorded before the rollout began is restored exactly, and the
// record removed, in one update conditional on the read that found the
// record. The restore is governed as a Rollout's rollback is: when a
// deployment gaining traffic is gone, not ready or serves a rejected model
// version it fails with FailedPrecondition, and the policy and residency
// decide as for any change. Then nothing changes: end the rollout with
// SetTraffic or Promote instead. Without a rollout in progress — none ran,
// it ended, or a SetTraffic or Promote superseded it — it fails with
// FailedPrecondition.
func (e *Endpoint) AbortRollout(ctx context.Context) error {
	if err := e.Refresh(ctx); err != nil {
		return err
	}
	rec, err := e.rolloutRecord()
	if err != nil {
		return err
	}
	if rec == nil {
		return errorf(FailedPrecondition, "endpoint %q has no rollout in progress", e.Name)
	}
	return e.applyTraffic(ctx, rec.Previous, nil, map[string]string{metaRollout: ""}, true)
}

// IsRollingOut reports the deployment of a rollout in progress, from the
// snapshot.
func (e *Endpoint) IsRollingOut() (deployment string, ok bool) {
	rec, err := e.rolloutRecord()
	if err != nil || rec == nil {
		return "", false
	}
	return rec.Deployment, true
}

// others sums the shares of every deployment but one.
func others(split map[string]int, deployment string) int {
	total := 0
	for d, v := range split {
		if d != deployment {
			total += v
		}
	}
	return total
}

// splitFor gives the deployment pct, more than it has in current, and
// spreads the rest over the other deployments of current in proportion to
// their shares there. Scaling a whole share x by less than one gives at most
// x, so no other deployment gains.
func splitFor(current map[string]int, deployment string, pct int) map[string]int {
	rest := maps.Clone(current)
	delete(rest, deployment)
	split := scale(rest, others(current, deployment), 100-pct)
	if split == nil {
		split = map[string]int{}
	}
	split[deployment] = pct
	return nonZero(split)
}

// scale maps shares summing to from onto whole shares summing to to, by
// largest remainder; ties go to the name that sorts first, so the result is
// deterministic.
func scale(shares map[string]int, from, to int) map[string]int {
	if len(shares) == 0 || from == 0 {
		return nil
	}
	names := sortedKeys(shares)
	out := make(map[string]int, len(shares))
	rem := make([]int, len(names))
	used := 0
	for i, n := range names {
		q := shares[n] * to
		out[n] = q / from
		rem[i] = q % from
		used += out[n]
	}
	order := make([]int, len(names))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return rem[b] - rem[a] })
	for i := 0; used < to; i++ {
		out[names[order[i%len(order)]]]++
		used++
	}
	return out
}
