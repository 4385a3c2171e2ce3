// Command quickstart runs Tideline's reference pipeline end to end on the
// in-memory provider, with no cloud account:
//
//  1. upload a restricted claims dataset to "Azure" in westeurope;
//  2. train on "CoreWeave" in EU-SOUTH-03 with 8 GPUs, the data handed over
//     as a short-lived read grant — the same job aimed at US-EAST-04 is
//     denied, naming the dataset and its rule;
//  3. register the model in the "Azure" registry: it inherits the EU
//     constraint;
//  4. have a second principal approve it (the trainer may not);
//  5. roll it out as a canary, 10% → 50% → 100%, with a health check
//     between steps — serving it from eastus is denied, and the first
//     attempt fails its check and rolls back;
//  6. ask the lineage which live deployments derive from the dataset,
//     verify the audit log, and print a summary.
//
// Two in-memory providers stand in for Azure and CoreWeave, so that it runs
// with no account (the real providers pass the same conformance suite, and
// package e2e runs this pipeline on their test parts); a goroutine plays
// the GPU cluster's controller. The program says so when it starts, and
// that its DENIED and ROLLED BACK lines are governance at work, not
// failures. The audit log and the OpenLineage
// events go to files in a temporary folder (or -out DIR).
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tideline-ml/tideline/audit"
	"github.com/tideline-ml/tideline/lineage"
	"github.com/tideline-ml/tideline/mlops"
	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/memprovider"
	"github.com/tideline-ml/tideline/residency"
	"github.com/tideline-ml/tideline/secret"
)

func main() {
	out := flag.String("out", "", "folder for the audit log and the OpenLineage events (default: a new temporary folder)")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := config{Dir: *out}
	if cfg.Dir == "" {
		dir, err := os.MkdirTemp("", "tideline-quickstart-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "quickstart:", err)
			os.Exit(1)
		}
		cfg.Dir = dir
	}
	if err := run(ctx, os.Stdout, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// config is what a run needs from outside.
type config struct {
	// Dir receives audit.jsonl and lineage.jsonl.
	Dir string
	// AccountKey signs the "Azure" storage account's read grants; empty
	// means a fixed development key.
	AccountKey string
}

// The image the policy allows: pinned by digest, from the team's registry.
const image = "registry.example/ml/fraud-train@sha256:4f1c2a7be0d9a6c3e58f7b21d04c9e6a8b3f5d7e9c1a2b4d6f8e0a1c3b5d7e9f"

var (
	westEurope = mlops.Location{Provider: "azure", Region: "westeurope"}
	euSouth    = mlops.Location{Provider: "coreweave", Region: "EU-SOUTH-03"}
	usEast     = mlops.Location{Provider: "coreweave", Region: "US-EAST-04"}
)

func run(ctx context.Context, w io.Writer, cfg config) error {
	start := time.Now()
	accountKey := secret.NewSecret(cfg.AccountKey)
	azure := memprovider.New(&memprovider.Options{Name: "azure", AccountKey: accountKey, Regions: []provider.Region{
		{Name: "westeurope", Cloud: "azure"}, {Name: "northeurope", Cloud: "azure"}, {Name: "eastus", Cloud: "azure"},
	}})
	coreweave := memprovider.New(&memprovider.Options{Name: "coreweave", Regions: []provider.Region{
		{Name: "EU-SOUTH-03", Cloud: "coreweave"}, {Name: "US-EAST-04", Cloud: "coreweave"},
	}})

	// Governance: a hash-chained audit log on disk, and lineage with
	// OpenLineage events in a file.
	auditPath, lineagePath := filepath.Join(cfg.Dir, "audit.jsonl"), filepath.Join(cfg.Dir, "lineage.jsonl")
	auditKey := secret.NewSecret("quickstart-audit-hmac-key-0123456789")
	sink, err := audit.OpenFile(ctx, auditPath, nil)
	if err != nil {
		return err
	}
	auditLog, err := audit.New(ctx, sink, &audit.Options{Key: auditKey})
	if err != nil {
		return err
	}
	auditHook, err := mlops.NewAuditHook(auditLog, &mlops.AuditOptions{Secrets: []secret.Secret{accountKey}})
	if err != nil {
		return err
	}
	events, err := lineage.NewFileTransport(lineagePath, nil)
	if err != nil {
		return err
	}
	emitter, err := lineage.NewEmitter(events, nil)
	if err != nil {
		return err
	}
	graph := lineage.NewGraph(nil)
	recorder, err := mlops.NewLineageRecorder(graph, &mlops.LineageOptions{Emitter: emitter})
	if err != nil {
		return err
	}

	tally := &tally{}
	c, err := mlops.NewClient(mlops.Providers{"azure": azure, "coreweave": coreweave}, &mlops.ClientOptions{
		Principal: mlops.Principal{ID: "alice@bank.example", Team: "fraud-ml"},
		// Residency needs no rule here: restricted data stays in the EU/EEA
		// by default. The default policy (approved models before traffic,
		// separation of duties, images pinned by digest) is kept, with two
		// rules of the bank's own added.
		Policy: mlops.NewPolicy(append(mlops.DefaultPolicyRules(),
			mlops.AllowImages(true, "registry.example/ml/"),
			mlops.MaxTrafficStep(50),
		)...),
		Hooks:        []mlops.Hook{auditHook, recorder, tally},
		PollInterval: 10 * time.Millisecond, MaxPollInterval: 50 * time.Millisecond,
	})
	if err != nil {
		return err
	}
	say := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	say("Tideline quickstart. \"azure\" and \"coreweave\" below are in-memory providers named after the")
	say("clouds, so that it runs with no account (the cloud providers pass the same conformance suite).")
	say("The DENIED and ROLLED BACK lines are the point: residency, policy and a failed health check")
	say("doing their work.")
	say("")

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
	say("      %s: %d bytes, %s, stored in %s", claims.Ref(), claims.Size, short(claims.Digest), claims.Location)
	say("      %s: may be stored and processed only in %s", claims.Classification(), claims.Constraint())

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
	grant := job.Inputs[0].Grant
	say("      submitted %s in %s", job.ID, job.Location)
	say("      input handed over as a read-only grant, valid until %s", grant.Expires.Format(time.RFC3339))
	var wg sync.WaitGroup
	var clusterErr error
	wg.Add(1)
	go func() { defer wg.Done(); clusterErr = playCluster(ctx, azure, coreweave, job.Name, grant.URL) }()
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
	if clusterErr != nil {
		return clusterErr
	}
	say("      %s in %s; outputs at %s", job.State, job.Finished.Sub(job.Started).Round(time.Millisecond), job.OutputURI)

	// 3. Registry.
	say("[3/6] Register the model in the Azure ML registry")
	reg := c.Models("azure")
	champion, err := reg.Register(ctx, "fraud", mlops.ModelSource{ArtifactURI: "mem://azure/artifacts/fraud/baseline"},
		&mlops.RegisterOptions{Location: mlops.Location{Region: "westeurope"}, Framework: "sklearn", Metrics: map[string]float64{"auc": 0.87},
			DerivedFrom: []mlops.DatasetRef{claims.Ref()}})
	if err != nil {
		return err
	}
	mv, err := reg.Register(ctx, "fraud", mlops.ModelSource{Job: job.ID},
		&mlops.RegisterOptions{Location: mlops.Location{Region: "westeurope"}, Framework: "pytorch", Metrics: map[string]float64{"auc": 0.93}})
	if err != nil {
		return err
	}
	say("      fraud v%s (baseline, auc 0.87) and fraud v%s (from %s, auc 0.93), both %s", champion.Version, mv.Version, job.ID, strings.ToLower(string(mv.Approval.State)))
	say("      fraud v%s inherits %s from %s", mv.Version, mv.Constraint, mv.Origins[0].Artifact)

	// 4. Approval by someone else.
	say("[4/6] A second principal approves")
	if _, err := reg.Approve(ctx, mv, "looks fine to me"); errors.As(err, &denied) {
		say("      DENIED  %s by %s: %s", denied.Action, "alice@bank.example", denied.Reasons[0].Message)
	} else {
		return fmt.Errorf("self-approval should have been denied, got %v", err)
	}
	bob := mlops.WithPrincipal(ctx, mlops.Principal{ID: "bob@bank.example", Team: "model-risk"})
	if champion, err = reg.Approve(bob, champion, "baseline, in production since Q2"); err != nil {
		return err
	}
	if mv, err = reg.Approve(bob, mv, "validation report MRM-2291 reviewed"); err != nil {
		return err
	}
	if err := reg.SetAlias(ctx, "fraud", "candidate", mv.Version); err != nil {
		return err
	}
	say("      fraud v%s approved by %s: %q", mv.Version, mv.Approval.By, mv.Approval.Comment)

	// 5. Serving: not from the US; a canary in Europe.
	say("[5/6] Canary on an Azure ML online endpoint: 10%% -> 50%% -> 100%%")
	us, err := c.CreateEndpoint(ctx, "fraud-scoring-us", &mlops.EndpointOptions{Location: mlops.Location{Provider: "azure", Region: "eastus"}})
	if err != nil {
		return err
	}
	if _, err := us.Deploy(ctx, "blue", mv, nil); errors.As(err, &denied) {
		say("      DENIED  serving fraud v%s from eastus: %s", mv.Version, denied.Reasons[0].Message)
	} else {
		return fmt.Errorf("serving from eastus should have been denied, got %v", err)
	}
	if err := us.Delete(ctx); err != nil {
		return err
	}
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

	// 6. Lineage, audit, summary.
	say("[6/6] Lineage, audit and summary")
	impact, err := graph.Impact(ctx, mlops.DatasetNodeID(claims.Ref()))
	if err != nil {
		return err
	}
	say("      live deployments derived from %s (a deletion request's question):", claims.Ref())
	for _, p := range impact {
		say("        %s", strings.Join(p, " -> "))
	}
	if err := recorder.Err(); err != nil {
		return fmt.Errorf("lineage: %w", err)
	}
	if err := events.Close(ctx); err != nil {
		return err
	}
	if err := auditLog.Close(); err != nil {
		return err
	}
	if err := auditHook.Err(); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	last, err := audit.VerifyFile(ctx, auditPath, &audit.VerifyOptions{Key: auditKey})
	if err != nil {
		return fmt.Errorf("audit log does not verify: %w", err)
	}
	say("      audit log: %d records, HMAC chain verified (%s)", last.Seq, auditPath)
	say("      OpenLineage events: %s", lineagePath)
	az, cw := azure.Counts(), coreweave.Counts()
	say("      azure:     %d dataset, %d model versions, %d endpoint, %d deployment", az.Datasets, az.ModelVersions, az.Endpoints, az.Deployments)
	say("      coreweave: %d training job", cw.Jobs)
	say("      governed calls: %d allowed, %d denied; %d provider errors", tally.allowed, tally.denied, tally.failed)
	say("      actions: %s", tally.actions())
	say("done in %s", time.Since(start).Round(time.Millisecond))
	return nil
}

// playCluster moves the job through its life the way CoreWeave's
// controllers would report it. The "container" reads its input through the
// read grant it was given, as a job in another cloud would.
func playCluster(ctx context.Context, azure, cw *memprovider.Provider, job string, grant secret.Secret) error {
	time.Sleep(20 * time.Millisecond)
	if err := cw.StartJob(job); err != nil {
		return err
	}
	data, err := azure.ReadWithGrant(ctx, grant)
	if err != nil {
		_ = cw.FailJob(job, "reading the input: "+err.Error())
		return err
	}
	n, err := io.Copy(io.Discard, data)
	data.Close()
	if err != nil {
		return err
	}
	_ = cw.AppendJobLog(job, fmt.Sprintf("read %d bytes of claims through the grant\n", n))
	for _, p := range []float64{0.25, 0.5, 0.75, 1} {
		time.Sleep(20 * time.Millisecond)
		_ = cw.AppendJobLog(job, fmt.Sprintf("epoch progress %.0f%%\n", p*100))
		_ = cw.SetJobProgress(job, p)
	}
	return cw.CompleteJob(job, "")
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

func (t *tally) Before(ctx context.Context, _ *mlops.Operation) (context.Context, error) {
	return ctx, nil
}

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
