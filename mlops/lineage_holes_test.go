package mlops_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tideline-ml/tideline/lineage"
	"github.com/tideline-ml/tideline/mlops"
	"github.com/tideline-ml/tideline/residency"
)

// 12. A model registered with DerivedFrom is linked to its datasets, so the
// impact of a deletion request reaches the deployments serving it —
// residency and lineage agree on what derives from what.
func TestDerivedFromModelHasNoLineageEdge(t *testing.T) {
	graph := lineage.NewGraph(nil)
	rec, err := mlops.NewLineageRecorder(graph, nil)
	require.NoError(t, err)
	e := newEnv(t, &mlops.ClientOptions{Hooks: []mlops.Hook{rec}}, nil)

	claims, err := e.c.CreateDataset(e.ctx, "claims", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{Location: euWest, Classification: residency.Restricted})
	require.NoError(t, err)
	mv, err := e.c.Models("").Register(e.ctx, "fraud", mlops.ModelSource{ArtifactURI: "https://models.example/fraud/model.onnx"},
		&mlops.RegisterOptions{Location: mlops.Location{Region: "westeurope"}, DerivedFrom: []mlops.DatasetRef{claims.Ref()}})
	require.NoError(t, err)
	require.Equal(t, residency.Restricted, mv.Classification)
	ep, err := e.c.CreateEndpoint(e.ctx, "fraud-api", &mlops.EndpointOptions{Location: euWest})
	require.NoError(t, err)
	_, err = ep.Deploy(e.ctx, "blue", mv, nil)
	require.NoError(t, err)
	require.NoError(t, rec.Err())

	dep := mlops.DeploymentNodeID("mem", "fraud-api", "blue")
	impact, err := graph.Impact(e.ctx, mlops.DatasetNodeID(claims.Ref()))
	require.NoError(t, err)
	require.Equal(t, []lineage.Path{{mlops.DatasetNodeID(claims.Ref()), mlops.ModelNodeID(mv), dep}}, impact)
}
