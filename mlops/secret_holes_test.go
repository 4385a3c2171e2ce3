package mlops_test

import (
	"bytes"
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tideline-ml/tideline/audit"
	"github.com/tideline-ml/tideline/lineage"
	"github.com/tideline-ml/tideline/mlops"
	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/memprovider"
	"github.com/tideline-ml/tideline/secret"
)

// 19. A secret the Client handed to a provider never comes back out of it:
// not in errors, job messages, audit records or lineage events, even when
// a provider or the job itself echoes the bare value, with no name beside
// it that a pattern could catch.
func TestSecretsEchoedByProviderReachAuditAndLineage(t *testing.T) {
	const token = "hf-Q2hhbmdlTWUtbm90LWEtcmVhbC10b2tlbg"
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
	claims := e.dataset("claims", "1", "rows")

	spec := jobSpec(claims)
	spec.SecretEnv = map[string]secret.Secret{"HF_TOKEN": secret.NewSecret(token)}

	// A provider error that echoes the value, bare and URL-encoded.
	e.mem.InjectFault(memprovider.Fault{Op: "SubmitJob", Nth: 1,
		Err: provider.Errorf(provider.InvalidArgument, "registry refused credential %s (encoded %s)", token, url.QueryEscape(token+"/x"))})
	_, err = e.c.SubmitJob(e.ctx, spec)
	require.Error(t, err)
	require.Equal(t, mlops.InvalidArgument, mlops.Code(err), "the code survives redaction")
	require.NotContains(t, err.Error(), token)
	require.NotContains(t, err.Error(), url.QueryEscape(token))

	// A job whose own output echoes it.
	job, err := e.c.SubmitJob(e.ctx, spec)
	require.NoError(t, err)
	require.NoError(t, e.mem.StartJob(job.Name))
	require.NoError(t, e.mem.FailJob(job.Name, "login with "+token+" failed"))
	werr := job.Wait(e.ctx, nil)
	require.Error(t, werr)
	require.NotContains(t, werr.Error(), token)
	require.NotContains(t, job.Message, token)
	require.Contains(t, job.Message, "login with")

	dump := string(sink.Bytes())
	require.Contains(t, dump, "registry refused credential")
	require.NotContains(t, dump, token)
	require.NotContains(t, dump, url.QueryEscape(token))
	require.NotContains(t, events.String(), token)
	require.Contains(t, events.String(), "login with")
}

// Read grants minted for a submit that then fails, or for a job that
// existed already, are revoked: a retried submission leaves no live
// credential behind.
func TestGrantsOfFailedSubmitStayValid(t *testing.T) {
	azure := memprovider.New(&memprovider.Options{Name: "azure", AccountKey: secret.NewSecret("k3y")})
	cw := memprovider.New(&memprovider.Options{Name: "cw"})
	c, err := mlops.NewClient(mlops.Providers{"azure": azure, "coreweave": cw}, &mlops.ClientOptions{
		Principal: alice, Policy: mlops.Permissive(), Retry: mlops.RetryOptions{MaxAttempts: 1}})
	require.NoError(t, err)
	ctx := t.Context()
	d, err := c.CreateDataset(ctx, "claims", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{Location: mlops.Location{Provider: "azure", Region: "westeurope"}})
	require.NoError(t, err)
	spec := jobSpec(d)
	spec.Location = mlops.Location{Provider: "coreweave", Region: "EU-SOUTH-03"}

	cw.InjectFault(memprovider.Fault{Op: "SubmitJob", Nth: 1, Err: provider.Errorf(provider.Unavailable, "cluster busy")})
	_, err = c.SubmitJob(ctx, spec)
	requireCode(t, err, mlops.Unavailable)
	grants := azure.Grants()
	require.Len(t, grants, 1)
	_, err = azure.ReadWithGrant(ctx, grants[0])
	requireCode(t, err, mlops.PermissionDenied, "revoked")

	job, err := c.SubmitJob(ctx, spec)
	require.NoError(t, err)
	again, err := c.SubmitJob(ctx, spec) // the same job: its grant stays, the new one goes
	require.NoError(t, err)
	require.Equal(t, job.ID, again.ID)
	grants = azure.Grants()
	require.Len(t, grants, 3)
	rc, err := azure.ReadWithGrant(ctx, grants[1])
	require.NoError(t, err, "the job's own grant works")
	require.NoError(t, rc.Close())
	_, err = azure.ReadWithGrant(ctx, grants[2])
	requireCode(t, err, mlops.PermissionDenied, "revoked")
	require.Equal(t, 2, azure.Revoked())
}
