package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tideline-ml/tideline/audit"
	"github.com/tideline-ml/tideline/lineage/lineagetest"
	"github.com/tideline-ml/tideline/secret"
)

func runQuickstart(t *testing.T, cfg config) (string, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	start := time.Now()
	require.NoError(t, run(ctx, &out, cfg))
	return out.String(), time.Since(start)
}

func TestQuickstart(t *testing.T) {
	dir := t.TempDir()
	s, elapsed := runQuickstart(t, config{Dir: dir})
	t.Log("\n" + s)
	for _, want := range []string{
		"are in-memory providers", "The DENIED and ROLLED BACK lines are the point",
		"[1/6]", "[2/6]", "[3/6]", "[4/6]", "[5/6]", "[6/6]",
		// the US job on EU-restricted data, naming the dataset and rule
		"DENIED  job.submit in US-EAST-04", "dataset azure/claims@1 is restricted", "(rule restricted→EU/EEA)",
		"read-only grant",
		"inherits EU/EEA from dataset azure/claims@1",
		"DENIED  model.approve",
		// the model that cannot be served in eastus
		"DENIED  serving fraud v2 from eastus", "region eastus (azure) is in US",
		"ROLLED BACK at step 2 (50%)", "traffic restored to blue 100%",
		"green-2 100%",
		// the impact query and the verified audit log
		"dataset:azure/claims@1 -> job:coreweave/", "-> deployment:azure/fraud-scoring/green-2",
		"HMAC chain verified",
		"1 dataset, 2 model versions, 1 endpoint, 1 deployment",
		"1 training job",
		"3 denied",
	} {
		require.Contains(t, s, want)
	}
	require.Less(t, elapsed, 5*time.Second, "the quickstart must finish in under 5 seconds")

	_, err := audit.VerifyFile(context.Background(), filepath.Join(dir, "audit.jsonl"), &audit.VerifyOptions{Key: secret.NewSecret("quickstart-audit-hmac-key-0123456789")})
	require.NoError(t, err)
}

// A recognisable fake account key signs the read grant the job gets; neither
// it nor the grant may appear in what the run prints, the audit log or the
// lineage events.
func TestQuickstartLeaksNoSecret(t *testing.T) {
	const fake = "FAKE-ACCOUNT-KEY-7f3a9c1e-do-not-leak"
	dir := t.TempDir()
	stdout, _ := runQuickstart(t, config{Dir: dir, AccountKey: fake})
	auditFile, err := os.ReadFile(filepath.Join(dir, "audit.jsonl"))
	require.NoError(t, err)
	events, err := os.ReadFile(filepath.Join(dir, "lineage.jsonl"))
	require.NoError(t, err)
	require.NotEmpty(t, auditFile)
	require.NotEmpty(t, events)
	for name, text := range map[string]string{"stdout": stdout, "audit log": string(auditFile), "lineage events": string(events)} {
		require.NotContains(t, text, fake, "the account key leaked into the %s", name)
		require.NotContains(t, text, "sig=", "a grant's signature leaked into the %s", name)
		require.NotContains(t, text, "mem://azure/datasets/claims/1?", "a grant URL leaked into the %s", name)
		require.False(t, strings.Contains(text, "se=") && strings.Contains(text, "sp=r"), "a grant's query leaked into the %s", name)
	}
}

// Every OpenLineage event the pipeline emits validates against the official
// schema and the facet schemas, custom ones included.
func TestQuickstartEventsValidate(t *testing.T) {
	v := lineagetest.NewValidator(t)
	dir := t.TempDir()
	runQuickstart(t, config{Dir: dir})
	events, err := os.ReadFile(filepath.Join(dir, "lineage.jsonl"))
	require.NoError(t, err)
	require.Equal(t, 2, bytes.Count(events, []byte("\n")), "START and COMPLETE of the training job")
	require.NoError(t, v.ValidateLines(events))
	require.Contains(t, string(events), `"tideline_residency"`)
	require.Contains(t, string(events), `"tideline_policy"`)
}
