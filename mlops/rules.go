package mlops

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/residency"
)

// SeparateDuties denies an approval by the principal who registered the
// model version or who submitted the job that trained it: a second pair of
// eyes has to be a second person. Principals are compared in the form
// Principal's doc comment gives them, so "Alice@Example.com " is
// "alice@example.com"; a recorded ID with invisible characters in it is
// compared with them left out. It applies to model approvals
// (ActionModelApprove).
func SeparateDuties() Rule {
	const name = "separation-of-duties"
	return RuleFor(name, []Action{ActionModelApprove}, func(_ context.Context, req *Request) []Reason {
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
// traffic of an endpoint that served nothing. It applies to traffic changes
// (ActionTrafficSet).
func MaxTrafficStep(step int) Rule {
	const name = "max-traffic-step"
	return RuleFor(name, []Action{ActionTrafficSet}, func(_ context.Context, req *Request) []Reason {
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
// times nodes, across every provider that trains, together with what
// submissions the same Client has allowed and not yet finished ask for. A
// count that would pass math.MaxInt, or a job at a provider whose GPU or
// node count is negative, makes the sum math.MaxInt: more than any limit.
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
// use; so is one whose count cannot be told (an overflow is never a pass).
//
// Within one Client the limit holds under any concurrency: a Client decides
// its job submissions one at a time, from reading the jobs in use to
// reserving what an allowed submission asks for, and counts that
// reservation against later submissions until the submission returns, by
// when the provider lists the job or the submission failed. The
// reservation lives in the Client, not in the providers: two Clients, in
// one process or two, count each other's jobs only once the provider lists
// them. Each Client keeps the limit against its own submissions and what
// the providers list, so submissions in flight at the same time through k
// Clients can leave a principal or team holding up to k times the limit.
// To bound a principal or team exactly, submit its jobs through one Client.
//
// The rule applies to job submissions (ActionJobSubmit).
func GPUQuota(perPrincipal, perTeam int) Rule { return gpuQuota{perPrincipal, perTeam} }

func (gpuQuota) Name() string      { return "gpu-quota" }
func (gpuQuota) Actions() []Action { return []Action{ActionJobSubmit} }
func (gpuQuota) needsUsage()       {}

func (q gpuQuota) Evaluate(_ context.Context, req *Request) []Reason {
	if req.Action != ActionJobSubmit || req.Job == nil || req.Usage == nil {
		return nil
	}
	want := jobGPUs(req.Job.GPU.Count, req.Job.Nodes)
	var out []Reason
	check := func(who string, held, limit int, unit string) {
		switch {
		case limit <= 0:
		case held < 0 || held == math.MaxInt:
			out = append(out, Reason{q.Name(), fmt.Sprintf("%s holds more GPUs than can be counted in running and queued jobs (a job's GPU or node count is negative or overflows); the limit per %s is %d; cancel or fix that job", who, unit, limit)})
		case want == math.MaxInt:
			out = append(out, Reason{q.Name(), fmt.Sprintf("%s asks for more GPUs than can be counted (%d per node on %d nodes); the limit per %s is %d", who, req.Job.GPU.Count, req.Job.Nodes, unit, limit)})
		case want > limit-held:
			out = append(out, Reason{q.Name(), fmt.Sprintf("%s holds %d GPUs in running and queued jobs and asks for %d more; the limit per %s is %d", who, held, want, unit, limit)})
		}
	}
	check(req.Principal.ID, req.Usage.Principal, q.perPrincipal, "principal")
	if req.Principal.Team != "" {
		check("team "+req.Principal.Team, req.Usage.Team, q.perTeam, "team")
	}
	return out
}

// jobGPUs is GPUs per node times nodes (zero nodes meaning one), or
// math.MaxInt when either is negative or the product overflows.
func jobGPUs(gpus, nodes int) int {
	nodes = max(nodes, 1)
	if gpus < 0 || (gpus > 0 && nodes > math.MaxInt/gpus) {
		return math.MaxInt
	}
	return gpus * nodes
}

// addGPUs adds two non-negative counts, saturating at math.MaxInt.
func addGPUs(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}

func (c *Client) wantsUsage() bool { return c.opts.Policy.needsUsage() }

// gpuLedger serialises a Client's quota decisions and remembers the GPUs of
// the submissions it allowed until they return.
type gpuLedger struct {
	turn chan struct{} // a token held from reading usage to reserving
	mu   sync.Mutex    // guards held
	held map[*gpuHold]struct{}
}

// gpuHold is what one allowed submission asks for while it is in flight.
type gpuHold struct {
	provider, job   string
	principal, team string
	gpus            int
}

func newGPULedger() gpuLedger {
	return gpuLedger{turn: make(chan struct{}, 1), held: map[*gpuHold]struct{}{}}
}

func (l *gpuLedger) holds() []gpuHold {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]gpuHold, 0, len(l.held))
	for h := range l.held {
		out = append(out, *h)
	}
	return out
}

// decideSubmit decides a job submission that a usage rule watches, in the
// Client's turn: it reads the GPUs in use, asks the policy and, when the
// submission goes ahead, reserves its GPUs. The returned release gives the
// reservation back; call it once the submission has returned, whatever its
// outcome.
//
// The reservations are read before the providers' jobs, and a submission
// releases its reservation only after the provider answered: so a job is
// always seen, as a reservation, at the provider or both (counted once).
func (c *Client) decideSubmit(ctx context.Context, op *Operation) (release func(), err error) {
	l := &c.gpus
	select {
	case l.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-l.turn }()
	req := op.Request
	name := strings.TrimPrefix(req.Target, "job ")
	usage, err := c.gpuUsage(ctx, req.Principal, req.Location.Provider, name, l.holds())
	if err != nil {
		return nil, err
	}
	req.Usage = usage
	op.Decision = c.opts.Policy.decide(ctx, req, residencyReasons(req, nil))
	if !op.Decision.Allowed || req.Job == nil || ctx.Value(dryRunKey{}) != nil {
		return func() {}, nil
	}
	h := &gpuHold{provider: req.Location.Provider, job: name, principal: req.Principal.ID, team: req.Principal.Team,
		gpus: jobGPUs(req.Job.GPU.Count, req.Job.Nodes)}
	l.mu.Lock()
	l.held[h] = struct{}{}
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		delete(l.held, h)
		l.mu.Unlock()
	}, nil
}

// gpuUsage counts the GPUs of running and queued jobs of p and p's team,
// and of the in-flight submissions in holds whose jobs the providers do not
// list yet, leaving out the job being submitted: resubmitting it asks for
// nothing new.
func (c *Client) gpuUsage(ctx context.Context, p Principal, submitProvider, submitName string, holds []gpuHold) (*GPUUsage, error) {
	u := &GPUUsage{}
	add := func(submitter, team string, gpus int) {
		if samePrincipal(submitter, p.ID) {
			u.Principal = addGPUs(u.Principal, gpus)
		}
		if p.Team != "" && strings.TrimSpace(team) == p.Team {
			u.Team = addGPUs(u.Team, gpus)
		}
	}
	listed := map[[2]string]bool{}
	for _, pn := range c.capable(hasTrainer) {
		t, _ := c.trainer(pn)
		var jobs []*provider.JobInfo
		err := c.retry(ctx, pn, func() (err error) {
			jobs, err = t.ListJobs(ctx)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("counting GPUs in use for the quota: %w", err)
		}
		for _, j := range jobs {
			listed[[2]string{pn, j.Spec.Name}] = true
			if j.State.Terminal() || (pn == submitProvider && j.Spec.Name == submitName) {
				continue
			}
			add(j.Spec.Metadata[metaSubmitter], j.Spec.Metadata[metaTeam], jobGPUs(j.Spec.GPUs, j.Spec.Nodes))
		}
	}
	for _, h := range holds {
		if listed[[2]string{h.provider, h.job}] || (h.provider == submitProvider && h.job == submitName) {
			continue
		}
		add(h.principal, h.team, h.gpus)
	}
	return u, nil
}

// HoldClassifications limits what one provider may hold or process to data
// classified at most maxClass — directly (a dataset stored there) or through
// what was derived from it (a job reading it, a model trained on it, a
// deployment serving that model). It is the rule for hand-overs between
// clouds: "restricted data never reaches CoreWeave" is
// HoldClassifications("coreweave", residency.Confidential). It applies to
// every action at that provider.
func HoldClassifications(providerName string, maxClass residency.Classification) Rule {
	const name = "provider-classification"
	f := func(_ context.Context, req *Request) []Reason {
		if req.Location.Provider != providerName {
			return nil
		}
		var out []Reason
		if d := req.Dataset; d != nil && d.Classification() > maxClass {
			out = append(out, Reason{name, fmt.Sprintf("provider %q may hold data up to %s; %s is %s", providerName, maxClass, req.Target, d.Classification())})
		}
		var over []string
		for i := range req.Origins {
			if o := &req.Origins[i]; o.Classification > maxClass && (req.Dataset == nil || !strings.HasSuffix(o.Artifact, req.Dataset.Ref().String())) {
				over = append(over, o.Artifact+" ("+o.Classification.String()+")")
			}
		}
		if len(over) > 0 {
			out = append(out, Reason{name, fmt.Sprintf("provider %q may hold data up to %s; %s derives from %s", providerName, maxClass, req.Target, strings.Join(over, ", "))})
		}
		return out
	}
	return placedRule{ruleFunc: ruleFunc{name: name, f: f}, providers: onlyKeys(providerName)}
}
