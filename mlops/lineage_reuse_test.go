package mlops_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tideline-ml/tideline/lineage"
	"github.com/tideline-ml/tideline/mlops"
)

// TestDeploymentNameReusedAfterDeleteIsInImpact: a deployment deleted and
// then created again under the same name serves again, so the impact of the
// dataset it was trained on must list it. The lineage node kept the
// retirement of the first deployment and the second was invisible.
func TestDeploymentNameReusedAfterDeleteIsInImpact(t *testing.T) {
	graph := lineage.NewGraph(nil)
	rec, err := mlops.NewLineageRecorder(graph, nil)
	require.NoError(t, err)
	e := newEnv(t, &mlops.ClientOptions{Hooks: []mlops.Hook{rec}}, nil)

	claims := e.dataset("claims", "1", "rows")
	job := e.trainedJob("fraud", claims)
	mv, err := e.c.Models("").Register(e.ctx, "fraud", mlops.ModelSource{Job: job.ID}, &mlops.RegisterOptions{Location: mlops.Location{Region: "westeurope"}})
	require.NoError(t, err)
	ep, err := e.c.CreateEndpoint(e.ctx, "fraud-api", &mlops.EndpointOptions{Location: euWest})
	require.NoError(t, err)

	dep := mlops.DeploymentNodeID("mem", "fraud-api", "scorer")
	impact := func() []string {
		t.Helper()
		paths, err := graph.Impact(e.ctx, mlops.DatasetNodeID(claims.Ref()))
		require.NoError(t, err)
		var ends []string
		for _, p := range paths {
			ends = append(ends, p.End())
		}
		return ends
	}

	_, err = ep.Deploy(e.ctx, "scorer", mv, nil)
	require.NoError(t, err)
	require.Equal(t, []string{dep}, impact())

	require.NoError(t, ep.DeleteDeployment(e.ctx, "scorer"))
	require.Empty(t, impact(), "a deleted deployment is not impacted")

	_, err = ep.Deploy(e.ctx, "scorer", mv, nil)
	require.NoError(t, err)
	require.NoError(t, rec.Err())
	require.Equal(t, []string{dep}, impact(), "the deployment serves again under its old name")
}
