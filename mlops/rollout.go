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
	// OnStep, when not nil, is called after each step's traffic is in place.
	OnStep func(step RolloutStep)
}

// RolloutStep is one step of a rollout.
type RolloutStep struct {
	Endpoint, Deployment string
	// Index counts from 1; Percent is the deployment's share at this step.
	Index, Of, Percent int
	// Split is the whole live split at this step.
	Split map[string]int
}

// RolloutError reports a rollout that stopped. It names the step, the cause
// and what the endpoint was rolled back to. errors.Is and errors.As reach
// the cause, so a rollout cut short by its context matches
// context.Canceled.
type RolloutError struct {
	Endpoint, Deployment string
	// Step is the index of the failed step (from 1) and Percent its share.
	Step, Percent int
	Err           error
	// RolledBackTo is the split restored, or nil when the rollback failed
	// too; then RollbackErr says why and the rollout can be resumed or
	// rolled back later (Endpoint.AbortRollout).
	RolledBackTo map[string]int
	RollbackErr  error
}

func (e *RolloutError) Error() string {
	s := fmt.Sprintf("rollout of %s/%s failed at step %d (%d%%): %v", e.Endpoint, e.Deployment, e.Step, e.Percent, e.Err)
	if e.RollbackErr != nil {
		return s + fmt.Sprintf("; rollback failed too: %v", e.RollbackErr)
	}
	return s + "; rolled back to " + fmtSplit(e.RolledBackTo)
}

// Unwrap returns the cause.
func (e *RolloutError) Unwrap() error { return e.Err }

// rolloutRecord is kept in the endpoint's metadata while a rollout runs, so
// that a program that crashed can resume or roll back from what the endpoint
// itself says.
type rolloutRecord struct {
	Deployment string         `json:"deployment"`
	Previous   map[string]int `json:"previous"`
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

// Rollout moves traffic to a deployment step by step, checking health
// between steps. When a check fails, a step's traffic change fails, or ctx
// ends, the endpoint is rolled back to the split it had before the rollout
// and a *RolloutError names the step.
//
// Rollout works out where it stands from the endpoint itself: the split
// before the rollout is kept in the endpoint's metadata, and steps at or
// below the deployment's current share are skipped. A program that crashed
// mid-rollout calls Rollout again to resume, or AbortRollout to undo.
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
		return errorf(FailedPrecondition, "endpoint %q is in the middle of a rollout of %q; resume it with Rollout or undo it with AbortRollout first", e.Name, rec.Deployment)
	}
	var previous map[string]int
	if rec != nil {
		previous = rec.Previous
	} else {
		previous = withoutDeployment(e.Traffic, deployment)
	}
	if len(previous) == 0 {
		// Nothing serves yet: there is nothing to shift traffic away from.
		steps = []int{100}
	}
	current := e.Traffic[deployment]
	var record string
	if b, err := json.Marshal(rolloutRecord{Deployment: deployment, Previous: previous}); err == nil {
		record = string(b)
	}
	for i, pct := range steps {
		if pct <= current {
			continue
		}
		split := splitFor(previous, deployment, pct)
		// The record goes in with the first step and leaves with the last,
		// each in the same atomic update as the traffic.
		meta := map[string]string{metaRollout: record}
		if pct == 100 || len(previous) == 0 {
			meta[metaRollout] = ""
		}
		step := RolloutStep{Endpoint: e.Name, Deployment: deployment, Index: i + 1, Of: len(steps), Percent: pct, Split: split}
		err := e.changeTraffic(ctx, split, nil, meta, false)
		if err == nil {
			if opts.OnStep != nil {
				opts.OnStep(step)
			}
			err = sleep(ctx, opts.Bake)
		}
		if err == nil && opts.Check != nil {
			err = opts.Check(ctx, step)
			if err == nil {
				err = ctx.Err()
			}
		}
		if err != nil {
			return e.rollback(ctx, step, previous, err)
		}
		current = pct
	}
	return nil
}

// rollback restores the split before the rollout. It runs on a context that
// survives the caller's cancellation, bounded in time, because leaving an
// endpoint half-way is worse than a late return.
func (e *Endpoint) rollback(ctx context.Context, step RolloutStep, previous map[string]int, cause error) error {
	rerr := &RolloutError{Endpoint: e.Name, Deployment: step.Deployment, Step: step.Index, Percent: step.Percent, Err: cause}
	if len(previous) == 0 {
		// An endpoint cannot route to no deployment at all, so a first
		// deployment keeps its traffic, and the error says so.
		rerr.RollbackErr = errorf(FailedPrecondition, "endpoint %q had no traffic before the rollout; there is no split to restore", e.Name)
		return rerr
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	if err := e.changeTraffic(rctx, previous, nil, map[string]string{metaRollout: ""}, true); err != nil {
		rerr.RollbackErr = err
		return rerr
	}
	rerr.RolledBackTo = maps.Clone(previous)
	return rerr
}

// AbortRollout undoes a rollout left half-way by a program that stopped:
// the split before the rollout is restored. Without a rollout in progress it
// fails with FailedPrecondition.
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
	return e.changeTraffic(ctx, rec.Previous, nil, map[string]string{metaRollout: ""}, true)
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

func withoutDeployment(split map[string]int, deployment string) map[string]int {
	rest := maps.Clone(split)
	delete(rest, deployment)
	total := 0
	for _, v := range rest {
		total += v
	}
	if total == 0 {
		return nil
	}
	return scale(rest, total, 100)
}

// splitFor gives the deployment pct and spreads the rest over previous in
// proportion.
func splitFor(previous map[string]int, deployment string, pct int) map[string]int {
	split := scale(previous, 100, 100-pct)
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
