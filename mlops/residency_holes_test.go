package mlops_test

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tideline-ml/tideline/mlops"
	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/memprovider"
	"github.com/tideline-ml/tideline/residency"
)

// Regression tests for the ways an artifact's residency constraint could be
// lost. Each is named after the hole it closes.

var (
	usGPU  = mlops.Location{Provider: "mem", Region: "US-EAST-04"}
	ieLoc  = mlops.Location{Provider: "mem", Region: "northeurope"}
	usEast = mlops.Location{Provider: "mem", Region: "eastus"}
)

func (e *env) restricted(name string) *mlops.Dataset {
	e.t.Helper()
	d, err := e.c.CreateDataset(e.ctx, name, "1", strings.NewReader("rows of "+name), &mlops.CreateDatasetOptions{Location: euWest, Classification: residency.Restricted})
	require.NoError(e.t, err)
	return d
}

// deployAt deploys mv on a new endpoint in loc and returns the error.
func (e *env) deployAt(endpoint string, loc mlops.Location, mv *mlops.ModelVersion) error {
	e.t.Helper()
	ep, err := e.c.CreateEndpoint(e.ctx, endpoint, &mlops.EndpointOptions{Location: loc})
	if err != nil {
		return err
	}
	_, err = ep.Deploy(e.ctx, "blue", mv, nil)
	return err
}

// 1. A model registered from a job's output URI is bound by the job's
// inputs and knows who trained it; a URI nothing can trace is restricted.
func TestModelFromArtifactURIIsUnconstrained(t *testing.T) {
	e := newEnv(t, nil, nil)
	claims := e.restricted("claims")
	job := e.trainedJob("fraud", claims)
	require.NotEmpty(t, job.OutputURI)

	for _, uri := range []string{job.OutputURI, job.OutputURI + "/model.onnx"} {
		mv, err := e.c.Models("").Register(e.ctx, "fraud", mlops.ModelSource{ArtifactURI: uri}, &mlops.RegisterOptions{Location: mlops.Location{Region: "westeurope"}})
		require.NoError(t, err)
		require.Equal(t, residency.Restricted, mv.Classification, "%s", uri)
		require.Equal(t, job.ID, mv.SourceJob)
		require.Equal(t, alice.ID, mv.TrainedBy, "separation of duties must know who trained it")
		err = e.deployAt("us-"+mv.Version, usEast, mv)
		requireCode(t, err, mlops.PermissionDenied, "claims@1")
	}

	// Untraceable: the strictest classification.
	mv, err := e.c.Models("").Register(e.ctx, "vendor", mlops.ModelSource{ArtifactURI: "https://models.example/vendor/model.onnx"}, &mlops.RegisterOptions{Location: mlops.Location{Region: "westeurope"}})
	require.NoError(t, err)
	require.Equal(t, residency.Restricted, mv.Classification)
	requireCode(t, e.deployAt("vendor-us", usEast, mv), mlops.PermissionDenied, "artifact https://models.example/vendor/model.onnx")

	// Declared sources decide instead.
	public, err := e.c.CreateDataset(e.ctx, "open-data", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{Location: euWest, Classification: residency.Public})
	require.NoError(t, err)
	mv, err = e.c.Models("").Register(e.ctx, "vendor", mlops.ModelSource{ArtifactURI: "https://models.example/vendor/model.onnx"},
		&mlops.RegisterOptions{Location: mlops.Location{Region: "westeurope"}, DerivedFrom: []mlops.DatasetRef{public.Ref()}})
	require.NoError(t, err)
	require.True(t, mv.Constraint.IsAnywhere(), "constraint %s", mv.Constraint)

	// Credentials in the URI are refused, and not echoed.
	_, err = e.c.Models("").Register(e.ctx, "vendor", mlops.ModelSource{ArtifactURI: "https://acct.blob.example/m/model.onnx?sv=2024&sig=c2VjcmV0"}, nil)
	requireCode(t, err, mlops.InvalidArgument, "ArtifactURI")
	require.NotContains(t, err.Error(), "c2VjcmV0")
}

// 2. A constraint whose encoding nearly fills, or overflows, one metadata
// value is kept whole (split over several values when it must be), never
// stored as "no constraint".
func TestOversizedConstraintIsDropped(t *testing.T) {
	cat := residency.DefaultCatalog()
	var names []string
	for i := 0; i < 100; i++ {
		r := residency.Region{Provider: "azure", Name: fmt.Sprintf("germanyedgezone%03dextended", i), Country: "DE", Geography: "Germany"}
		require.NoError(t, cat.Add(r))
		names = append(names, r.String())
	}
	// Just below one value (the origins around it then overflow it), and
	// well above.
	for _, minLen := range []int{provider.MaxMetaValueLen - 60, 3 * provider.MaxMetaValueLen / 2} {
		t.Run(fmt.Sprint(minLen), func(t *testing.T) {
			e := newEnv(t, &mlops.ClientOptions{Catalog: cat}, nil)
			d := e.restricted("claims")
			places := []string{"azure/westeurope"}
			var k residency.Constraint
			for _, n := range names {
				places = append(places, n)
				var err error
				k, err = cat.ParseConstraint(strings.Join(places, ","))
				require.NoError(t, err)
				if len(k.Encode()) >= minLen {
					break
				}
			}
			require.GreaterOrEqual(t, len(k.Encode()), minLen)
			require.NoError(t, d.Tighten(e.ctx, k))

			again, err := e.c.GetDataset(e.ctx, d.Ref())
			require.NoError(t, err)
			require.True(t, again.Constraint().Equal(k), "read back %s", again.Constraint())
			_, err = e.c.SubmitJob(e.ctx, mlops.TrainJobSpec{Name: "leak", Location: usGPU, Image: "registry.example/ml/train:1",
				Inputs: []mlops.JobInput{{Name: "in", Dataset: d.Ref()}}})
			requireCode(t, err, mlops.PermissionDenied, "claims@1")
		})
	}
}

// 3. Empty, null or missing origins on an artifact Tideline created fail
// closed.
func TestEmptyOrNullOriginsReadAsAnywhere(t *testing.T) {
	for _, bad := range []string{"", "null", "[]", "{}", " "} {
		t.Run(fmt.Sprintf("%q", bad), func(t *testing.T) {
			e := newEnv(t, nil, nil)
			_, err := e.mem.PutDataset(e.ctx, &provider.PutDatasetRequest{Name: "claims", Version: "1", Region: "westeurope",
				Metadata: map[string]string{"tideline_origins": bad, "tideline_classification": "public", "tideline_operation": "op-x"},
				Content:  provider.NewContent(strings.NewReader("x"), nil)})
			require.NoError(t, err)
			_, err = e.c.GetDataset(e.ctx, mlops.DatasetRef{Name: "claims", Version: "1"})
			requireCode(t, err, mlops.DataLoss)
		})
	}
	t.Run("stamped without origins", func(t *testing.T) {
		e := newEnv(t, nil, nil)
		_, err := e.mem.PutDataset(e.ctx, &provider.PutDatasetRequest{Name: "claims", Version: "1", Region: "westeurope",
			Metadata: map[string]string{"tideline_classification": "public", "tideline_operation": "op-x"},
			Content:  provider.NewContent(strings.NewReader("x"), nil)})
		require.NoError(t, err)
		_, err = e.c.GetDataset(e.ctx, mlops.DatasetRef{Name: "claims", Version: "1"})
		requireCode(t, err, mlops.DataLoss)
	})
	t.Run("model", func(t *testing.T) {
		for i, bad := range []string{"", "null"} {
			e := newEnv(t, nil, nil)
			model := fmt.Sprintf("fraud-%d", i)
			_, err := e.mem.CreateModelVersion(e.ctx, &provider.ModelVersionSpec{Model: model, Version: "1", Region: "westeurope", ArtifactURI: "mem://x",
				Metadata: map[string]string{"tideline_origins": bad, "tideline_operation": "op-x"}})
			require.NoError(t, err)
			_, err = e.c.Models("").Get(e.ctx, model, "1")
			requireCode(t, err, mlops.DataLoss)
		}
	})
}

// 4. Tighten a dataset to NL, delete it: its model still may not deploy in
// Ireland.
func TestDeletingTightenedDatasetLoosensDerived(t *testing.T) {
	e := newEnv(t, nil, nil)
	claims := e.restricted("claims")
	job := e.trainedJob("fraud", claims)
	mv, err := e.c.Models("").Register(e.ctx, "fraud", mlops.ModelSource{Job: job.ID}, &mlops.RegisterOptions{Location: mlops.Location{Region: "westeurope"}})
	require.NoError(t, err)
	require.NoError(t, claims.Tighten(e.ctx, residency.MustParseConstraint("NL")))
	require.NoError(t, claims.Delete(e.ctx))

	requireCode(t, e.deployAt("fraud-ie", ieLoc, mv), mlops.PermissionDenied, "claims@1", "NL")
	// A second Client, sharing nothing but the provider, agrees.
	other := newEnvOver(t, e.mem, &mlops.ClientOptions{Principal: mlops.Principal{ID: "carol@example.com"}})
	requireCode(t, other.deployAt("fraud-ie2", ieLoc, mv), mlops.PermissionDenied, "NL")
	// A job or derived dataset made from the job's inputs later is bound too.
	_, err = e.c.Models("").Register(e.ctx, "fraud", mlops.ModelSource{Job: job.ID}, &mlops.RegisterOptions{Location: mlops.Location{Region: "northeurope"}})
	requireCode(t, err, mlops.PermissionDenied, "NL")
	// And the deleted version is never created again with other data.
	_, err = e.c.CreateDataset(e.ctx, "claims", "1", strings.NewReader("new rows"), &mlops.CreateDatasetOptions{Location: euWest, Classification: residency.Public})
	requireCode(t, err, mlops.FailedPrecondition, "deleted")
	ds, err := mlops.Collect(e.c.ListDatasets(e.ctx, ""))
	require.NoError(t, err)
	require.Empty(t, ds, "deletion records are not listed as datasets")
}

// 5a. A tightening reaches every upstream dataset, however many there are.
func TestTighteningMissesMergedOrigins(t *testing.T) {
	e := newEnv(t, nil, nil)
	var inputs []*mlops.Dataset
	for i := 0; i < 40; i++ {
		inputs = append(inputs, e.restricted(fmt.Sprintf("shard-with-a-long-name-%03d", i)))
	}
	job := e.trainedJob("fraud", inputs...)
	mv, err := e.c.Models("").Register(e.ctx, "fraud", mlops.ModelSource{Job: job.ID}, &mlops.RegisterOptions{Location: mlops.Location{Region: "westeurope"}})
	require.NoError(t, err)
	last := inputs[len(inputs)-1]
	require.NoError(t, last.Tighten(e.ctx, residency.MustParseConstraint("NL")))
	requireCode(t, e.deployAt("fraud-ie", ieLoc, mv), mlops.PermissionDenied, last.Name, "NL")
	require.NoError(t, last.Delete(e.ctx))
	requireCode(t, e.deployAt("fraud-ie2", ieLoc, mv), mlops.PermissionDenied, last.Name, "NL")
}

// 6. An idempotent create never returns a copy less protected, or
// elsewhere, than the one asked for.
func TestIdempotentCreateDowngradesClassification(t *testing.T) {
	e := newEnv(t, nil, nil)
	_, err := e.c.CreateDataset(e.ctx, "claims", "1", strings.NewReader("same"), &mlops.CreateDatasetOptions{Location: usEast, Classification: residency.Public})
	require.NoError(t, err)
	_, err = e.c.CreateDataset(e.ctx, "claims", "1", strings.NewReader("same"), &mlops.CreateDatasetOptions{Location: euWest, Classification: residency.Restricted})
	requireCode(t, err, mlops.AlreadyExists, "classification public, not restricted", "region eastus, not westeurope")
	// The same request again is still a no-op.
	d, err := e.c.CreateDataset(e.ctx, "claims", "1", strings.NewReader("same"), &mlops.CreateDatasetOptions{Location: usEast, Classification: residency.Public})
	require.NoError(t, err)
	require.Equal(t, "1", d.Version)
}

// 21. A lost response does not make a second version.
func TestAutoVersionedCreateAfterLostResponseMakesTwoVersions(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.mem.InjectFault(memprovider.Fault{Op: "PutDataset", Nth: 1, AfterEffect: true})
	d, err := e.c.CreateDataset(e.ctx, "claims", "", strings.NewReader("rows"), &mlops.CreateDatasetOptions{Location: euWest})
	require.NoError(t, err, "the version was stored under this call's operation id: the call succeeded")
	require.Equal(t, "1", d.Version)
	all, err := mlops.Collect(e.c.ListDatasets(e.ctx, "claims"))
	require.NoError(t, err)
	require.Len(t, all, 1)
}

// 25. Concurrent auto-versioned creates take consecutive numbers, within a
// Client and across Clients.
func TestConcurrentAutoVersionedCreatesCollide(t *testing.T) {
	mem := memprovider.New(nil)
	var clients []*env
	for _, name := range []string{"a", "b"} {
		var n atomic.Int64
		clients = append(clients, newEnvOver(t, mem, &mlops.ClientOptions{NewID: func() string { return fmt.Sprintf("%s-%d", name, n.Add(1)) }}))
	}
	const n = 12
	var wg sync.WaitGroup
	errs := make([]error, n)
	versions := make([]string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := clients[i%2]
			d, err := e.c.CreateDataset(e.ctx, "claims", "", bytes.NewReader([]byte(fmt.Sprintf("rows %d", i))), &mlops.CreateDatasetOptions{Location: euWest})
			errs[i] = err
			if err == nil {
				versions[i] = d.Version
			}
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for i := 0; i < n; i++ {
		require.NoError(t, errs[i])
		require.False(t, seen[versions[i]], "version %s taken twice", versions[i])
		seen[versions[i]] = true
	}
	for v := 1; v <= n; v++ {
		require.True(t, seen[fmt.Sprint(v)], "version %d missing: %v", v, versions)
	}
}
