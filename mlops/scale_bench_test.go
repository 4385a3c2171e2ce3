package mlops_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tideline-ml/tideline/mlops"
	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/memprovider"
	"github.com/tideline-ml/tideline/residency"
)

// Growth benchmarks: how listing and deciding cost grows with the number of
// items. Each reports ns/item (or ns per input) beside ns/op, so that
// per-item cost that rises with the size shows growth worse than O(n), and
// the process's CPU time beside wall time: on a shared machine the wall time
// of a long operation includes waiting for a core.

var listSizes = []int{1_000, 10_000, 100_000}

func sizeName(n int) string {
	if n%1000 == 0 {
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}

// replaceAll returns a copy of md with every from in its values replaced
// by to.
func replaceAll(md map[string]string, from, to string) map[string]string {
	out := make(map[string]string, len(md))
	for k, v := range md {
		out[k] = strings.ReplaceAll(v, from, to)
	}
	return out
}

// scaleEnv is a Client over a memprovider filled with n copies of a
// template dataset, job and model version, each made first through the
// Client so that the copies carry exactly the metadata mlops writes
// (origins, principal, operation id, spec digest). The copies are put into
// memprovider directly: creating 100k artifacts through the Client takes
// minutes and is not what these benchmarks measure.
type scaleEnv struct {
	c   *mlops.Client
	mem *memprovider.Provider
}

func newScaleEnv(tb testing.TB) *scaleEnv {
	tb.Helper()
	mem := memprovider.New(nil)
	c, err := mlops.NewClient(mlops.Providers{"mem": mem}, &mlops.ClientOptions{
		Principal: alice, Policy: mlops.Permissive(), Hooks: []mlops.Hook{mlops.NewMemoryAuditHook()}})
	require.NoError(tb, err)
	return &scaleEnv{c: c, mem: mem}
}

// fillDatasets adds n confidential datasets named ds-0 … ds-(n-1), version 1.
func (e *scaleEnv) fillDatasets(tb testing.TB, n int) {
	ctx := context.Background()
	tmpl, err := e.c.CreateDataset(ctx, "tmpl", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{Location: euWest, Classification: residency.Confidential})
	require.NoError(tb, err)
	info, err := e.mem.GetDataset(ctx, tmpl.Name, tmpl.Version)
	require.NoError(tb, err)
	for i := range n {
		name := "ds-" + strconv.Itoa(i)
		_, err := e.mem.PutDataset(ctx, &provider.PutDatasetRequest{Name: name, Version: "1", Region: info.Region,
			Metadata: replaceAll(info.Metadata, "mem/tmpl@1", "mem/"+name+"@1"),
			Content:  provider.NewContent(strings.NewReader("x"), nil)})
		require.NoError(tb, err)
	}
}

// fillJobs adds n jobs, each reading one dataset, copies of one submitted
// through the Client.
func (e *scaleEnv) fillJobs(tb testing.TB, n int) {
	ctx := context.Background()
	in, err := e.c.CreateDataset(ctx, "train-in", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{Location: euWest})
	require.NoError(tb, err)
	j, err := e.c.SubmitJob(ctx, mlops.TrainJobSpec{Key: "tmpl", Location: euGPU, Image: pinned,
		Inputs: []mlops.JobInput{{Name: "train", Dataset: in.Ref()}}})
	require.NoError(tb, err)
	info, err := e.mem.GetJob(ctx, j.Name)
	require.NoError(tb, err)
	for i := range n {
		spec := info.Spec
		spec.Name = "job-" + strconv.Itoa(i)
		_, err := e.mem.SubmitJob(ctx, &spec)
		require.NoError(tb, err)
	}
}

// fillModelVersions adds versions 2 … n+1 of model "scorer", copies of
// version 1 registered through the Client from an artifact derived from a
// dataset.
func (e *scaleEnv) fillModelVersions(tb testing.TB, n int) {
	ctx := context.Background()
	in, err := e.c.CreateDataset(ctx, "model-in", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{Location: euWest})
	require.NoError(tb, err)
	mv, err := e.c.Models("").Register(ctx, "scorer", mlops.ModelSource{ArtifactURI: "https://models.example/scorer.onnx"},
		&mlops.RegisterOptions{Location: mlops.Location{Region: "westeurope"}, DerivedFrom: []mlops.DatasetRef{in.Ref()}})
	require.NoError(tb, err)
	info, err := e.mem.GetModelVersion(ctx, mv.Model, mv.Version)
	require.NoError(tb, err)
	for i := range n {
		spec := info.ModelVersionSpec
		spec.Version = strconv.Itoa(i + 2)
		spec.Metadata = replaceAll(spec.Metadata, "scorer@1", "scorer@"+spec.Version)
		_, err := e.mem.CreateModelVersion(ctx, &spec)
		require.NoError(tb, err)
	}
}

// BenchmarkList lists datasets, jobs and a model's versions at 1k, 10k and
// 100k items. ns/item is ns/op over the items listed; it stays flat when
// listing is O(n). "provider-datasets" is the baseline for the datasets:
// memprovider's own ListDatasets over the same versions, the copies the
// provider contract requires and no more.
func BenchmarkList(b *testing.B) {
	ctx := context.Background()
	for _, kind := range []string{"provider-datasets", "datasets", "datasets-streamed", "jobs", "model-versions"} {
		for _, n := range listSizes {
			b.Run(fmt.Sprintf("%s/%s", kind, sizeName(n)), func(b *testing.B) {
				e := newScaleEnv(b)
				var list func() int
				switch kind {
				case "provider-datasets":
					e.fillDatasets(b, n)
					list = func() int {
						infos, err := e.mem.ListDatasets(ctx, "")
						require.NoError(b, err)
						return len(infos)
					}
				case "datasets":
					e.fillDatasets(b, n)
					list = func() int {
						ds, err := mlops.Collect(e.c.ListDatasets(ctx, ""))
						require.NoError(b, err)
						return len(ds)
					}
				case "datasets-streamed":
					// The way an iterator is meant to be used: each item
					// looked at and let go, none kept.
					e.fillDatasets(b, n)
					list = func() int {
						count := 0
						for d, err := range e.c.ListDatasets(ctx, "") {
							if err != nil { // not require: its Helper call costs more than a dataset
								b.Fatal(err)
							}
							if d.Constraint().IsNowhere() {
								b.Fatal("a dataset allowed nowhere")
							}
							count++
						}
						return count
					}
				case "jobs":
					e.fillJobs(b, n)
					list = func() int {
						js, err := mlops.Collect(e.c.ListJobs(ctx))
						require.NoError(b, err)
						return len(js)
					}
				case "model-versions":
					e.fillModelVersions(b, n)
					list = func() int {
						vs, err := mlops.Collect(e.c.Models("").List(ctx, "scorer"))
						require.NoError(b, err)
						return len(vs)
					}
				}
				var got int
				var cpu int64
				b.ReportAllocs()
				for b.Loop() {
					cpu -= cpuTime()
					got = list()
					cpu += cpuTime()
				}
				require.GreaterOrEqual(b, got, n)
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(got), "ns/item")
				b.ReportMetric(float64(cpu)/float64(b.N)/float64(got), "cpu-ns/item")
			})
		}
	}
}

// BenchmarkSubmitJobInputs submits a job reading 1, 10 or 100 datasets
// through a Client over memprovider: the whole governed call, from the
// inputs' origins read again and decided on to the job stored with its
// origins and read grants. ns/input is ns/op over the inputs.
func BenchmarkSubmitJobInputs(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("inputs=%d", n), func(b *testing.B) {
			e := newScaleEnv(b)
			inputs := make([]mlops.JobInput, n)
			for i := range n {
				d, err := e.c.CreateDataset(ctx, fmt.Sprintf("features-%03d", i), "1", strings.NewReader("x"),
					&mlops.CreateDatasetOptions{Location: euWest, Classification: residency.Confidential})
				require.NoError(b, err)
				inputs[i] = mlops.JobInput{Name: fmt.Sprintf("in%d", i), Dataset: d.Ref()}
			}
			i := 0
			var cpu int64
			b.ReportAllocs()
			for b.Loop() {
				i++
				cpu -= cpuTime()
				_, err := e.c.SubmitJob(ctx, mlops.TrainJobSpec{Key: "train-" + strconv.Itoa(i), Location: euGPU, Image: pinned, Inputs: inputs})
				cpu += cpuTime()
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/input")
			b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkNextVersion creates the next auto-numbered version of a dataset
// (CreateDataset with an empty version) and registers the next version of a
// model, with 10, 1k and 100k versions there already. Flat across the
// sizes when the provider keeps its latest version.
func BenchmarkNextVersion(b *testing.B) {
	for _, n := range []int{10, 1_000, 100_000} {
		e := newScaleEnv(b)
		e.fillDatasetVersions(b, n)
		e.fillModelVersions(b, n)
		ops := versionOps(e)
		for _, op := range []string{"CreateDataset", "Register"} {
			b.Run(fmt.Sprintf("%s/versions=%s", op, sizeName(n)), func(b *testing.B) {
				var cpu int64
				b.ReportAllocs()
				for b.Loop() {
					cpu -= cpuTime()
					ops[op](b)
					cpu += cpuTime()
				}
				b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}
