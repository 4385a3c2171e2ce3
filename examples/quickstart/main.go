// Command quickstart runs Tideline's reference pipeline end to end on the
// in-memory provider, with no cloud account:
//
//  1. upload a restricted claims dataset to "Azure" in westeurope;
//  2. train on "CoreWeave" in EU-SOUTH-03 with 8 GPUs — the same job aimed
//     at US-EAST-04 is denied by policy;
//  3. register the model in the "Azure" registry;
//  4. have a second principal approve it;
//  5. roll it out as a canary, 10% → 50% → 100%, with a health check
//     between steps — the first attempt fails its check and rolls back;
//  6. print a summary.
//
// Two in-memory providers stand in for Azure and CoreWeave; a goroutine
// plays the GPU cluster's controller. Swap them for the cloud providers and
// the pipeline code stays the same.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tideline-ml/tideline/mlops"
	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/memprovider"
	"github.com/tideline-ml/tideline/residency"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// The image the policy allows: pinned by digest, from the team's registry.
const image = "registry.example/ml/fraud-train@sha256:4f1c2a7be0d9a6c3e58f7b21d04c9e6a8b3f5d7e9c1a2b4d6f8e0a1c3b5d7e9f"

var (
	westEurope = mlops.Location{Provider: "azure", Region: "westeurope"}
	euSouth    = mlops.Location{Provider: "coreweave", Region: "EU-SOUTH-03"}
	usEast     = mlops.Location{Provider: "coreweave", Region: "US-EAST-04"}
)

func run(ctx context.Context, w io.Writer) error {
	start := time.Now()
	azure := memprovider.New(&memprovider.Options{Name: "azure", Regions: []provider.Region{
		{Name: "westeurope", Cloud: "azure"}, {Name: "northeurope", Cloud: "azure"}, {Name: "eastus", Cloud: "azure"},
	}})
	coreweave := memprovider.New(&memprovider.Options{Name: "coreweave", Regions: []provider.Region{
		{Name: "EU-SOUTH-03", Cloud: "coreweave"}, {Name: "US-EAST-04", Cloud: "coreweave"},
	}})
	tally := &tally{}
	c, err := mlops.NewClient(mlops.Providers{"azure": azure, "coreweave": coreweave}, &mlops.ClientOptions{
		Principal: mlops.Principal{ID: "alice@bank.example", Team: "fraud-ml"},
		Policy: mlops.NewPolicy(
			mlops.AllowRegions("westeurope", "northeurope", "EU-SOUTH-03"),
			mlops.AllowImages(true, "registry.example/ml/"),
			mlops.RequireApprovedModels(),
		),
		Hooks:        []mlops.Hook{tally},
		PollInterval: 10 * time.Millisecond, MaxPollInterval: 50 * time.Millisecond,
	})
	if err != nil {
		return err
	}
	say := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }

	// 1. Data.
	say("[1/6] Upload the restricted claims dataset to Azure Blob Storage (westeurope)")
	rows := claimsCSV(20000)
	claims, err := c.CreateDataset(ctx, "claims", "", bytes.NewReader(rows), &mlops.CreateDatasetOptions{
		Location: westEurope, Classification: residency.Restricted,
		Labels: map[string]string{"owner": "fraud_ml", "source": "claims_warehouse"},
	})
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	say("      %s: %d bytes, %s, %s, stored in %s", claims.Ref(), claims.Size, short(claims.Digest), claims.Classification, claims.Location)

	// 2. Training, once denied and once allowed.
	say("[2/6] Train on CoreWeave with 8 H100 GPUs")
	spec := mlops.TrainJobSpec{
		Name: "fraud", Image: image,
		Command: []string{"python", "-m", "fraud.train"}, Args: []string{"--epochs", "3"},
		GPU:         mlops.GPURequest{Type: "H100", Count: 8},
		Inputs:      []mlops.JobInput{{Name: "claims", Dataset: claims.Ref()}},
		MaxDuration: 6 * time.Hour,
	}
	spec.Location = usEast
	_, err = c.SubmitJob(ctx, spec)
	var denied *mlops.PolicyError
	if !errors.As(err, &denied) {
		return fmt.Errorf("the job in US-EAST-04 should have been denied, got %v", err)
	}
	say("      DENIED  %s in %s:", denied.Action, usEast)
	for _, r := range denied.Reasons {
		say("              %s", r)
	}
	spec.Location = euSouth
	job, err := c.SubmitJob(ctx, spec)
	if err != nil {
		return fmt.Errorf("submit: %w", err)
	}
	say("      submitted %s in %s", job.ID, job.Location)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); playCluster(coreweave, job.Name) }()
	lastPct := -1
	err = job.Wait(ctx, &mlops.WaitOptions{OnChange: func(j *mlops.TrainJob) {
		if pct := int(j.Progress * 100); j.State == mlops.JobRunning && pct != lastPct {
			lastPct = pct
			say("      %-9s %3d%%", j.State, pct)
		}
	}})
	wg.Wait()
	if err != nil {
		return fmt.Errorf("training: %w", err)
	}
	say("      %s in %s; outputs at %s", job.State, job.Finished.Sub(job.Started).Round(time.Millisecond), job.OutputURI)

	// 3. Registry.
	say("[3/6] Register the model in the Azure ML registry")
	reg := c.Models("azure")
	champion, err := reg.Register(ctx, "fraud", mlops.ModelSource{ArtifactURI: "mem://azure/artifacts/fraud/baseline"},
		&mlops.RegisterOptions{Region: "westeurope", Framework: "sklearn", Metrics: map[string]float64{"auc": 0.87}})
	if err != nil {
		return err
	}
	mv, err := reg.Register(ctx, "fraud", mlops.ModelSource{Job: job.ID},
		&mlops.RegisterOptions{Region: "westeurope", Framework: "pytorch", Metrics: map[string]float64{"auc": 0.93}})
	if err != nil {
		return err
	}
	say("      fraud v%s (baseline, auc 0.87) and fraud v%s (from %s, auc 0.93), both %s", champion.Version, mv.Version, job.ID, strings.ToLower(string(mv.Approval.State)))

	// 4. Approval by someone else.
	say("[4/6] A second principal approves")
	bob := mlops.WithPrincipal(ctx, mlops.Principal{ID: "bob@bank.example", Team: "model-risk"})
	if champion, err = reg.Approve(bob, "fraud", champion.Version, "baseline, in production since Q2"); err != nil {
		return err
	}
	if mv, err = reg.Approve(bob, "fraud", mv.Version, "validation report MRM-2291 reviewed"); err != nil {
		return err
	}
	if err := reg.SetAlias(ctx, "fraud", "candidate", mv.Version); err != nil {
		return err
	}
	say("      fraud v%s approved by %s: %q", mv.Version, mv.Approval.By, mv.Approval.Comment)

	// 5. Canary.
	say("[5/6] Canary on an Azure ML online endpoint: 10%% -> 50%% -> 100%%")
	ep, err := c.CreateEndpoint(ctx, "fraud-scoring", &mlops.EndpointOptions{Location: westEurope})
	if err != nil {
		return err
	}
	if _, err := ep.Deploy(ctx, "blue", champion, &mlops.DeployOptions{InstanceType: "Standard_DS3_v2", Instances: 2}); err != nil {
		return err
	}
	if err := ep.Promote(ctx, "blue"); err != nil {
		return err
	}
	if _, err := ep.Deploy(ctx, "green", mv, &mlops.DeployOptions{InstanceType: "Standard_DS3_v2", Instances: 1}); err != nil {
		return err
	}
	probe := &latencyProbe{budget: 300 * time.Millisecond, instances: map[string]int{"green": 1}}
	rollout := &mlops.RolloutOptions{
		Steps:  []int{10, 50, 100},
		OnStep: func(s mlops.RolloutStep) { say("      step %d/%d  %s", s.Index, s.Of, fmtSplit(s.Split)) },
		Check:  probe.check,
	}
	err = ep.Rollout(ctx, "green", rollout)
	var rb *mlops.RolloutError
	if !errors.As(err, &rb) {
		return fmt.Errorf("the first rollout should have rolled back, got %v", err)
	}
	say("      ROLLED BACK at step %d (%d%%): %v", rb.Step, rb.Percent, rb.Err)
	say("              traffic restored to %s", fmtSplit(rb.RolledBackTo))

	say("      redeploy with 4 instances as green-2 and roll out again")
	if err := ep.DeleteDeployment(ctx, "green"); err != nil {
		return err
	}
	if _, err := ep.Deploy(ctx, "green-2", mv, &mlops.DeployOptions{InstanceType: "Standard_DS3_v2", Instances: 4}); err != nil {
		return err
	}
	probe.instances["green-2"] = 4
	if err := ep.Rollout(ctx, "green-2", rollout); err != nil {
		return err
	}
	if err := reg.SetAlias(ctx, "fraud", "champion", mv.Version); err != nil {
		return err
	}
	if err := ep.DeleteDeployment(ctx, "blue"); err != nil {
		return err
	}
	say("      fraud v%s serves 100%% of %s; alias champion -> v%s", mv.Version, ep.Name, mv.Version)

	// 6. Summary.
	say("[6/6] Summary")
	az, cw := azure.Counts(), coreweave.Counts()
	say("      azure:     %d dataset, %d model versions, %d endpoint, %d deployment", az.Datasets, az.ModelVersions, az.Endpoints, az.Deployments)
	say("      coreweave: %d training job", cw.Jobs)
	say("      governed calls: %d allowed, %d denied; %d provider errors", tally.allowed, tally.denied, tally.failed)
	say("      actions: %s", tally.actions())
	say("done in %s", time.Since(start).Round(time.Millisecond))
	return nil
}

// playCluster moves the job through its life the way CoreWeave's
// controllers would report it.
func playCluster(cw *memprovider.Provider, job string) {
	time.Sleep(20 * time.Millisecond)
	_ = cw.StartJob(job)
	for _, p := range []float64{0.25, 0.5, 0.75, 1} {
		time.Sleep(20 * time.Millisecond)
		_ = cw.AppendJobLog(job, fmt.Sprintf("epoch progress %.0f%%\n", p*100))
		_ = cw.SetJobProgress(job, p)
	}
	_ = cw.CompleteJob(job, "")
}

// latencyProbe stands in for a real health check: with one instance the
// new deployment cannot take half the traffic within the latency budget.
type latencyProbe struct {
	budget    time.Duration
	instances map[string]int
}

func (p *latencyProbe) check(_ context.Context, s mlops.RolloutStep) error {
	p99 := time.Duration(100+s.Percent*6/p.instances[s.Deployment]) * time.Millisecond
	if p99 > p.budget {
		return fmt.Errorf("p99 latency %s over the %s budget", p99, p.budget)
	}
	return nil
}

// tally is a hook that counts governed calls by outcome.
type tally struct {
	mu                      sync.Mutex
	allowed, denied, failed int
	byAction                map[mlops.Action]int
}

func (t *tally) Before(context.Context, *mlops.Operation) error { return nil }

func (t *tally) After(_ context.Context, op *mlops.Operation) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byAction == nil {
		t.byAction = map[mlops.Action]int{}
	}
	t.byAction[op.Request.Action]++
	switch {
	case !op.Decision.Allowed:
		t.denied++
	case op.Err != nil:
		t.failed++
	default:
		t.allowed++
	}
}

func (t *tally) actions() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var parts []string
	for a, n := range t.byAction {
		parts = append(parts, fmt.Sprintf("%s×%d", a, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func claimsCSV(n int) []byte {
	var b bytes.Buffer
	b.WriteString("claim_id,policy_id,amount_eur,country,fraud\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%d,P%06d,%d.%02d,%s,%d\n", 100000+i, (i*7919)%1000000, (i*37)%5000, i%100, []string{"DE", "FR", "NL", "ES"}[i%4], boolInt(i%53 == 0))
	}
	return b.Bytes()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func short(digest string) string {
	if len(digest) > len("sha256:")+12 {
		return digest[:len("sha256:")+12] + "…"
	}
	return digest
}

func fmtSplit(split map[string]int) string {
	names := make([]string, 0, len(split))
	for n := range split {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d%%", n, split[n])
	}
	return strings.Join(parts, ", ")
}
