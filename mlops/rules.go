package mlops

import (
	"context"
	"fmt"
	"strings"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/residency"
)

// SeparateDuties denies an approval by the principal who registered the
// model version or who submitted the job that trained it: a second pair of
// eyes has to be a second person. Principals are compared in the form
// Principal's doc comment gives them, so "Alice@Example.com " is
// "alice@example.com"; a recorded ID with invisible characters in it is
// compared with them left out.
func SeparateDuties() Rule {
	const name = "separation-of-duties"
	return RuleFunc(name, func(_ context.Context, req *Request) []Reason {
		mv := req.Model
		if req.Action != ActionModelApprove || mv == nil {
			return nil
		}
		var out []Reason
		who := req.Principal.ID
		if samePrincipal(who, mv.RegisteredBy) {
			out = append(out, Reason{name, fmt.Sprintf("%s registered model %s version %s and may not also approve it; ask another reviewer", who, mv.Model, mv.Version)})
		}
		if samePrincipal(who, mv.TrainedBy) {
			out = append(out, Reason{name, fmt.Sprintf("%s submitted job %s that trained model %s version %s and may not also approve it; ask another reviewer", who, mv.SourceJob, mv.Model, mv.Version)})
		}
		return out
	})
}

// MaxTrafficStep denies a traffic change that raises any deployment's share
// by more than step percentage points at once, so that a new model meets
// real traffic gradually. Rollbacks are never blocked, nor is the first
// traffic of an endpoint that served nothing.
func MaxTrafficStep(step int) Rule {
	const name = "max-traffic-step"
	return RuleFunc(name, func(_ context.Context, req *Request) []Reason {
		tc := req.Traffic
		if req.Action != ActionTrafficSet || tc == nil || tc.Rollback || len(tc.Before) == 0 {
			return nil // a first deployment has nothing to shift from
		}
		var out []Reason
		for _, d := range sortedKeys(tc.After) {
			if rise := tc.After[d] - tc.Before[d]; rise > step {
				out = append(out, Reason{name, fmt.Sprintf("deployment %q would go from %d%% to %d%% of endpoint %s's traffic, a step of %d points; steps may be at most %d (use Rollout with smaller steps)", d, tc.Before[d], tc.After[d], tc.Endpoint, rise, step)})
			}
		}
		return out
	})
}

// GPUUsage is what running and queued jobs hold, counted as GPUs per node
// times nodes, across every provider that trains.
type GPUUsage struct {
	// Principal is the acting principal's jobs; Team is every job of the
	// principal's team (zero when the principal has no team).
	Principal, Team int
}

// usageRule marks rules that need Request.Usage, so that the Client lists
// jobs only when a policy asks.
type usageRule interface{ needsUsage() }

type gpuQuota struct {
	perPrincipal, perTeam int
}

// GPUQuota limits the GPUs that running and queued jobs may hold: at most
// perPrincipal for one principal and perTeam for one team (zero means no
// limit). A submission that would pass a limit is denied with what is in
// use.
func GPUQuota(perPrincipal, perTeam int) Rule { return gpuQuota{perPrincipal, perTeam} }

func (gpuQuota) Name() string { return "gpu-quota" }
func (gpuQuota) needsUsage()  {}

func (q gpuQuota) Evaluate(_ context.Context, req *Request) []Reason {
	if req.Action != ActionJobSubmit || req.Job == nil || req.Usage == nil {
		return nil
	}
	want := req.Job.GPU.Count * max(req.Job.Nodes, 1)
	var out []Reason
	if q.perPrincipal > 0 && req.Usage.Principal+want > q.perPrincipal {
		out = append(out, Reason{q.Name(), fmt.Sprintf("%s holds %d GPUs in running and queued jobs and asks for %d more; the limit per principal is %d", req.Principal.ID, req.Usage.Principal, want, q.perPrincipal)})
	}
	if q.perTeam > 0 && req.Principal.Team != "" && req.Usage.Team+want > q.perTeam {
		out = append(out, Reason{q.Name(), fmt.Sprintf("team %s holds %d GPUs in running and queued jobs and asks for %d more; the limit per team is %d", req.Principal.Team, req.Usage.Team, want, q.perTeam)})
	}
	return out
}

func (c *Client) wantsUsage() bool {
	for _, r := range c.opts.Policy.Rules() {
		if _, ok := r.(usageRule); ok {
			return true
		}
	}
	return false
}

// gpuUsage counts the GPUs of running and queued jobs of p and p's team,
// leaving out the job being submitted: resubmitting it asks for nothing new.
func (c *Client) gpuUsage(ctx context.Context, p Principal, submitProvider, submitName string) (*GPUUsage, error) {
	u := &GPUUsage{}
	for _, pn := range c.capable(hasTrainer) {
		t, _ := c.trainer(pn)
		var jobs []*provider.JobInfo
		err := c.retry(ctx, func() (err error) {
			jobs, err = t.ListJobs(ctx)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("counting GPUs in use for the quota: %w", err)
		}
		for _, j := range jobs {
			if j.State.Terminal() || (pn == submitProvider && j.Spec.Name == submitName) {
				continue
			}
			n := j.Spec.GPUs * max(j.Spec.Nodes, 1)
			if j.Spec.Metadata[metaSubmitter] == p.ID {
				u.Principal += n
			}
			if p.Team != "" && j.Spec.Metadata[metaTeam] == p.Team {
				u.Team += n
			}
		}
	}
	return u, nil
}

// HoldClassifications limits what one provider may hold or process to data
// classified at most maxClass — directly (a dataset stored there) or through
// what was derived from it (a job reading it, a model trained on it, a
// deployment serving that model). It is the rule for hand-overs between
// clouds: "restricted data never reaches CoreWeave" is
// HoldClassifications("coreweave", residency.Confidential).
func HoldClassifications(providerName string, maxClass residency.Classification) Rule {
	name := "provider-classification"
	return RuleFunc(name, func(_ context.Context, req *Request) []Reason {
		if req.Location.Provider != providerName {
			return nil
		}
		var out []Reason
		if d := req.Dataset; d != nil && d.Classification > maxClass {
			out = append(out, Reason{name, fmt.Sprintf("provider %q may hold data up to %s; %s is %s", providerName, maxClass, req.Target, d.Classification)})
		}
		var over []string
		for _, o := range req.Origins {
			if o.Classification > maxClass && (req.Dataset == nil || !strings.HasSuffix(o.Artifact, req.Dataset.Ref().String())) {
				over = append(over, o.Artifact+" ("+o.Classification.String()+")")
			}
		}
		if len(over) > 0 {
			out = append(out, Reason{name, fmt.Sprintf("provider %q may hold data up to %s; %s derives from %s", providerName, maxClass, req.Target, strings.Join(over, ", "))})
		}
		return out
	})
}
