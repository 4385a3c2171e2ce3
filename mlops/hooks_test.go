package mlops_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tideline-ml/tideline/audit"
	"github.com/tideline-ml/tideline/lineage"
	"github.com/tideline-ml/tideline/lineage/lineagetest"
	"github.com/tideline-ml/tideline/mlops"
	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/memprovider"
	"github.com/tideline-ml/tideline/residency"
	"github.com/tideline-ml/tideline/secret"
)

// failingSink refuses writes once told to, as a full disk would.
type failingSink struct {
	*audit.MemorySink
	fail bool
}

func (s *failingSink) Write(ctx context.Context, b []byte) error {
	if s.fail {
		return errors.New("no space left on device")
	}
	return s.MemorySink.Write(ctx, b)
}

func TestAuditHookRecordsDecisionsAndOutcomes(t *testing.T) {
	sink := &failingSink{MemorySink: audit.NewMemorySink()}
	log, err := audit.New(context.Background(), sink, &audit.Options{Key: secret.NewSecret("0123456789abcdef0123456789abcdef")})
	require.NoError(t, err)
	hook, err := mlops.NewAuditHook(log, nil)
	require.NoError(t, err)
	e := newEnv(t, &mlops.ClientOptions{Hooks: []mlops.Hook{hook}}, nil)

	e.dataset("claims", "1", "x")
	_, err = e.c.CreateDataset(e.ctx, "claims", "2", strings.NewReader("y"), &mlops.CreateDatasetOptions{Location: at("eastus"), Classification: residency.Restricted})
	requireDenied(t, err)

	recs, err := sink.Records()
	require.NoError(t, err)
	require.Len(t, recs, 3)
	require.Equal(t, audit.DecisionAllow, recs[0].Decision)
	require.Equal(t, audit.OutcomePending, recs[0].Outcome)
	require.Equal(t, audit.OutcomeOK, recs[1].Outcome)
	require.Equal(t, recs[0].RequestID, recs[1].RequestID)
	require.Equal(t, alice.ID, recs[0].Principal)
	require.Equal(t, "westeurope", recs[0].Region)
	require.Equal(t, "NL", recs[0].Attrs["country"])
	require.Equal(t, "internal", recs[0].Attrs["classification"])
	require.Equal(t, "restricted", recs[2].Attrs["classification"])
	require.Equal(t, "EEA", recs[2].Attrs["constraint"])
	require.Equal(t, audit.DecisionDeny, recs[2].Decision)
	require.Equal(t, "restricted→EU/EEA", recs[2].Reasons[0].Rule)
	require.Contains(t, recs[2].Reasons[0].Message, "region eastus (mem) is in US")
	_, err = audit.VerifyRecords(recs, &audit.VerifyOptions{Key: secret.NewSecret("0123456789abcdef0123456789abcdef")})
	require.NoError(t, err)

	// The log cannot write: the call is not made.
	sink.fail = true
	_, err = e.c.CreateDataset(e.ctx, "claims", "3", strings.NewReader("z"), &mlops.CreateDatasetOptions{Location: euWest})
	requireCode(t, err, mlops.Unavailable, "audit log cannot record dataset.create", "no space left")
	require.Equal(t, 1, e.mem.Counts().Datasets)
	sink.fail = false
	_, err = e.c.CreateDataset(e.ctx, "claims", "3", strings.NewReader("z"), &mlops.CreateDatasetOptions{Location: euWest})
	require.Error(t, err, "a log whose sink failed stays closed until it is reopened")
	require.Equal(t, 1, e.mem.Counts().Datasets)
}

func TestAuditHookScrubsSecrets(t *testing.T) {
	sink := audit.NewMemorySink()
	log, err := audit.New(context.Background(), sink, nil)
	require.NoError(t, err)
	key := secret.NewSecret("hunter2-account-key")
	hook, err := mlops.NewAuditHook(log, &mlops.AuditOptions{Secrets: []secret.Secret{key}})
	require.NoError(t, err)
	e := newEnv(t, &mlops.ClientOptions{Hooks: []mlops.Hook{hook}, Retry: mlops.RetryOptions{MaxAttempts: 1}}, nil)
	e.mem.InjectFault(memprovider.Fault{Op: "PutDataset", Err: provider.Errorf(provider.Unavailable,
		"PUT https://acct.blob.example/c/claims?sv=2026&sig=c2VjcmV0LXNpZw%%3D%%3D failed; key hunter2-account-key rejected; Authorization: Bearer eyJhbGciOi.secret")})
	_, err = e.c.CreateDataset(e.ctx, "claims", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{Location: euWest})
	require.Error(t, err)
	all := string(sink.Bytes())
	for _, leak := range []string{"c2VjcmV0LXNpZw", "hunter2-account-key", "eyJhbGciOi"} {
		require.NotContains(t, all, leak)
	}
	require.Contains(t, all, "failed")
}

// A pipeline's lineage: paths from the deployment back to the dataset, and
// the impact of the dataset, which a data-deletion request asks for.
func TestLineageRecorder(t *testing.T) {
	graph := lineage.NewGraph(nil)
	var events bytes.Buffer
	em, err := lineage.NewEmitter(lineage.NewWriterTransport(&events), nil)
	require.NoError(t, err)
	rec, err := mlops.NewLineageRecorder(graph, &mlops.LineageOptions{Emitter: em})
	require.NoError(t, err)
	e := newEnv(t, &mlops.ClientOptions{Hooks: []mlops.Hook{rec}}, nil)

	claims, err := e.c.CreateDataset(e.ctx, "claims", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{Location: euWest, Classification: residency.Restricted})
	require.NoError(t, err)
	features, err := e.c.CreateDataset(e.ctx, "features", "1", strings.NewReader("f"), &mlops.CreateDatasetOptions{Location: euWest, DerivedFrom: []mlops.DatasetRef{claims.Ref()}})
	require.NoError(t, err)
	ctx := mlops.WithParentRun(e.ctx, "nightly-2026-11-30", "fraud-pipeline")
	spec := jobSpec(features)
	job, err := e.c.SubmitJob(ctx, spec)
	require.NoError(t, err)
	require.NoError(t, e.mem.StartJob(job.Name))
	require.NoError(t, e.mem.CompleteJob(job.Name, ""))
	require.NoError(t, job.Wait(e.ctx, nil))
	require.NoError(t, job.Refresh(e.ctx), "a second look emits nothing new")
	mv, err := e.c.Models("").Register(e.ctx, "fraud", mlops.ModelSource{Job: job.ID}, &mlops.RegisterOptions{Location: mlops.Location{Region: "westeurope"}})
	require.NoError(t, err)
	ep, err := e.c.CreateEndpoint(e.ctx, "fraud-api", &mlops.EndpointOptions{Location: euWest})
	require.NoError(t, err)
	_, err = ep.Deploy(e.ctx, "blue", mv, nil)
	require.NoError(t, err)
	require.NoError(t, rec.Err())

	dep := mlops.DeploymentNodeID("mem", "fraud-api", "blue")
	up, err := graph.Upstream(e.ctx, dep, nil)
	require.NoError(t, err)
	require.Contains(t, up, lineage.Path{dep, mlops.ModelNodeID(mv), mlops.JobNodeID(job.ID), mlops.DatasetNodeID(features.Ref()), mlops.DatasetNodeID(claims.Ref())})

	impact, err := graph.Impact(e.ctx, mlops.DatasetNodeID(claims.Ref()))
	require.NoError(t, err)
	require.Equal(t, []lineage.Path{{mlops.DatasetNodeID(claims.Ref()), mlops.DatasetNodeID(features.Ref()), mlops.JobNodeID(job.ID), mlops.ModelNodeID(mv), dep}}, impact)

	// Retired deployments drop out of the impact.
	require.NoError(t, ep.Delete(e.ctx))
	impact, err = graph.Impact(e.ctx, mlops.DatasetNodeID(claims.Ref()))
	require.NoError(t, err)
	require.Empty(t, impact)

	// START then COMPLETE, one run, the parent, residency on the input.
	lines := strings.Split(strings.TrimSpace(events.String()), "\n")
	require.Len(t, lines, 2)
	var start, complete map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &start))
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &complete))
	require.Equal(t, "START", start["eventType"])
	require.Equal(t, "COMPLETE", complete["eventType"])
	require.Equal(t, start["run"].(map[string]any)["runId"], complete["run"].(map[string]any)["runId"])
	require.Contains(t, lines[0], `"tideline_residency"`)
	require.Contains(t, lines[0], `"classification":"restricted"`)
	require.Contains(t, lines[0], `"country":"NL"`)
	require.Contains(t, lines[0], `"tideline_policy"`)
	require.Contains(t, lines[0], lineage.RunID(lineage.DefaultNamespace, "nightly-2026-11-30"))
	require.Equal(t, "fraud", start["job"].(map[string]any)["name"], "the job is the reusable name, the run is this submission")
}

func TestLineageFailedAndCanceledJobs(t *testing.T) {
	var events bytes.Buffer
	em, err := lineage.NewEmitter(lineage.NewWriterTransport(&events), nil)
	require.NoError(t, err)
	rec, err := mlops.NewLineageRecorder(lineage.NewGraph(nil), &mlops.LineageOptions{Emitter: em})
	require.NoError(t, err)
	e := newEnv(t, &mlops.ClientOptions{Hooks: []mlops.Hook{rec}}, nil)
	failed, err := e.c.SubmitJob(e.ctx, jobSpec())
	require.NoError(t, err)
	require.NoError(t, e.mem.StartJob(failed.Name))
	require.NoError(t, e.mem.FailJob(failed.Name, "CUDA error at https://x.example/p?sig=abcdef123"))
	require.Error(t, failed.Wait(e.ctx, nil))
	other := jobSpec()
	other.Args = []string{"x"}
	canceled, err := e.c.SubmitJob(e.ctx, other)
	require.NoError(t, err)
	require.NoError(t, canceled.Cancel(e.ctx))
	require.Error(t, canceled.Wait(e.ctx, nil))
	out := events.String()
	require.Contains(t, out, `"eventType":"FAIL"`)
	require.Contains(t, out, `"eventType":"ABORT"`)
	require.Contains(t, out, "CUDA error")
	require.NotContains(t, out, "abcdef123")
	require.NoError(t, lineagetest.NewValidator(t).ValidateLines(events.Bytes()))
}

// A job in one cloud reads a dataset held by another through a short-lived
// read grant; the grant never shows up where it should not.
func TestCrossProviderGrant(t *testing.T) {
	key := secret.NewSecret("TEST-ACCOUNT-KEY-do-not-print")
	azure := memprovider.New(&memprovider.Options{Name: "azure", AccountKey: key})
	cw := memprovider.New(&memprovider.Options{Name: "cw"})
	c, err := mlops.NewClient(mlops.Providers{"azure": azure, "coreweave": cw}, &mlops.ClientOptions{Principal: alice})
	require.NoError(t, err)
	ctx := t.Context()
	d, err := c.CreateDataset(ctx, "claims", "1", strings.NewReader("id,amount\n"), &mlops.CreateDatasetOptions{Location: mlops.Location{Provider: "azure", Region: "westeurope"}})
	require.NoError(t, err)
	spec := jobSpec(d)
	spec.Location = mlops.Location{Provider: "coreweave", Region: "EU-SOUTH-03"}
	spec.MaxDuration = 2 * 3600e9
	job, err := c.SubmitJob(ctx, spec)
	require.NoError(t, err)
	grants := azure.Grants()
	require.Len(t, grants, 1)
	g := job.Inputs[0].Grant
	require.False(t, g.IsZero())
	require.Equal(t, grants[0].Reveal(), g.URL.Reveal())

	rc, err := azure.ReadWithGrant(ctx, g.URL)
	require.NoError(t, err)
	b, _ := io.ReadAll(rc)
	require.Equal(t, "id,amount\n", string(b))

	printed, _ := json.Marshal(job)
	for _, s := range []string{string(printed), errorText(job)} {
		require.NotContains(t, s, "sig=")
		require.NotContains(t, s, key.Reveal())
	}
}

func errorText(v any) string {
	var b strings.Builder
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		b.WriteString(sprintf(verb, v))
	}
	return b.String()
}

// Secret environment variables reach the provider as secrets and appear in
// no record, event or printed value; rotating one is not a new job.
func TestSecretEnvNeverLeaks(t *testing.T) {
	sink := audit.NewMemorySink()
	log, err := audit.New(context.Background(), sink, nil)
	require.NoError(t, err)
	hook, err := mlops.NewAuditHook(log, nil)
	require.NoError(t, err)
	var events bytes.Buffer
	em, err := lineage.NewEmitter(lineage.NewWriterTransport(&events), nil)
	require.NoError(t, err)
	rec, err := mlops.NewLineageRecorder(lineage.NewGraph(nil), &mlops.LineageOptions{Emitter: em})
	require.NoError(t, err)
	e := newEnv(t, &mlops.ClientOptions{Hooks: []mlops.Hook{hook, rec}}, nil)

	const key = "wandb-KEY-1b2c3d4e5f-secret"
	spec := jobSpec()
	spec.SecretEnv = map[string]secret.Secret{"WANDB_API_KEY": secret.NewSecret(key)}
	job, err := e.c.SubmitJob(e.ctx, spec)
	require.NoError(t, err)
	require.Equal(t, key, job.Spec.SecretEnv["WANDB_API_KEY"].Reveal(), "the provider holds the real value")

	spec.SecretEnv = map[string]secret.Secret{"WANDB_API_KEY": secret.NewSecret("rotated-" + key)}
	again, err := e.c.SubmitJob(e.ctx, spec)
	require.NoError(t, err)
	require.Equal(t, job.ID, again.ID, "a rotated secret is the same job")

	require.NoError(t, e.mem.StartJob(job.Name))
	require.NoError(t, e.mem.FailJob(job.Name, "crashed"))
	require.Error(t, job.Wait(e.ctx, nil))

	printed, _ := json.Marshal(job)
	for name, text := range map[string]string{"audit": string(sink.Bytes()), "lineage": events.String(), "json": string(printed), "fmt": errorText(job), "error": job.Err().Error()} {
		require.NotContains(t, text, key, "the secret leaked into %s", name)
	}
}
