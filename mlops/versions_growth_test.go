package mlops_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tideline-ml/tideline/mlops"
	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/memprovider"
	"github.com/tideline-ml/tideline/residency"
)

// fillDatasetVersions adds versions 2 … n+1 of dataset "grow", copies of
// version 1 created through the Client, straight into memprovider.
func (e *scaleEnv) fillDatasetVersions(tb testing.TB, n int) {
	ctx := context.Background()
	tmpl, err := e.c.CreateDataset(ctx, "grow", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{Location: euWest, Classification: residency.Confidential})
	require.NoError(tb, err)
	info, err := e.mem.GetDataset(ctx, tmpl.Name, tmpl.Version)
	require.NoError(tb, err)
	for i := range n {
		v := strconv.Itoa(i + 2)
		_, err := e.mem.PutDataset(ctx, &provider.PutDatasetRequest{Name: "grow", Version: v, Region: info.Region,
			Metadata: replaceAll(info.Metadata, "mem/grow@1", "mem/grow@"+v),
			Content:  provider.NewContent(strings.NewReader("x"), nil)})
		require.NoError(tb, err)
	}
}

// versionOps are the calls that find a dataset's or a model's latest
// version: numbering the next one, and reading "the latest".
func versionOps(e *scaleEnv) map[string]func(tb testing.TB) {
	ctx := context.Background()
	return map[string]func(tb testing.TB){
		"CreateDataset": func(tb testing.TB) {
			_, err := e.c.CreateDataset(ctx, "grow", "", strings.NewReader("y"), &mlops.CreateDatasetOptions{Location: euWest, Classification: residency.Confidential})
			require.NoError(tb, err)
		},
		"GetDataset": func(tb testing.TB) {
			_, err := e.c.GetDataset(ctx, mlops.DatasetRef{Name: "grow"})
			require.NoError(tb, err)
		},
		"Register": func(tb testing.TB) {
			_, err := e.c.Models("").Register(ctx, "scorer", mlops.ModelSource{ArtifactURI: "https://models.example/scorer.onnx"},
				&mlops.RegisterOptions{Location: mlops.Location{Region: "westeurope"}, DerivedFrom: []mlops.DatasetRef{{Name: "model-in", Version: "1"}}})
			require.NoError(tb, err)
		},
		"GetModel": func(tb testing.TB) {
			_, err := e.c.Models("").Get(ctx, "scorer", "")
			require.NoError(tb, err)
		},
	}
}

// Numbering the next version of a dataset or model, and reading the
// latest, used to list every version: each call cost time and memory in the
// number of versions, so creating n versions one by one was quadratic. With
// a provider that keeps the latest version, the work of a call is the same
// at 10 existing versions as at 5,000: the allocations are compared, and the
// provider must not be asked for a list.
func TestNextVersionCostDoesNotGrowWithVersions(t *testing.T) {
	allocs := func(existing int) map[string]float64 {
		e := newScaleEnv(t)
		e.fillDatasetVersions(t, existing)
		e.fillModelVersions(t, existing)
		out := map[string]float64{}
		for name, op := range versionOps(e) {
			op(t) // warm up: first calls make maps and buffers
			out[name] = testing.AllocsPerRun(10, func() { op(t) })
		}
		for _, c := range e.mem.Calls() {
			if c.Op == "ListDatasets" || c.Op == "ListModelVersions" {
				t.Errorf("with %d versions, the provider was asked to %s(%s); the latest version is read without a list", existing, c.Op, c.Target)
				break
			}
		}
		return out
	}
	small, large := allocs(10), allocs(5_000)
	for name, s := range small {
		t.Logf("%s: %.0f allocations at 10 versions, %.0f at 5,000", name, s, large[name])
		if large[name] > s+10 {
			t.Errorf("%s made %.0f allocations with 5,000 versions against %.0f with 10: its cost grows with the number of versions", name, large[name], s)
		}
	}
}

// noLatest is memprovider without the latest-version readers, as a store
// or registry that does not keep its latest version is.
type noLatest struct{ *memprovider.Provider }

func (noLatest) LatestDataset()      {} // shadows the promoted method
func (noLatest) LatestModelVersion() {} // shadows the promoted method

var (
	_ provider.DataStore = noLatest{}
	_ provider.Registry  = noLatest{}
)

// Auto numbering and "the latest" agree whether the provider keeps its
// latest versions or mlops lists them: numbers ignore versions that are not
// whole numbers, never reuse a deleted version's number, and the latest is
// the highest.
func TestNextVersionWithAndWithoutLatestReader(t *testing.T) {
	for name, wrap := range map[string]func(*memprovider.Provider) provider.Provider{
		"latest-reader": func(m *memprovider.Provider) provider.Provider { return m },
		"list-only":     func(m *memprovider.Provider) provider.Provider { return noLatest{m} },
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			mem := memprovider.New(nil)
			p := wrap(mem)
			_, hasLatest := p.(provider.LatestDatasetReader)
			require.Equal(t, name == "latest-reader", hasLatest)
			c, err := mlops.NewClient(mlops.Providers{"mem": p}, &mlops.ClientOptions{
				Principal: alice, Policy: mlops.Permissive(), Hooks: []mlops.Hook{mlops.NewMemoryAuditHook()}})
			require.NoError(t, err)
			create := func(version string) *mlops.Dataset {
				t.Helper()
				d, err := c.CreateDataset(ctx, "claims", version, strings.NewReader("bytes of "+version), &mlops.CreateDatasetOptions{Location: euWest})
				require.NoError(t, err)
				return d
			}
			require.Equal(t, "1", create("").Version)
			create("rc")
			require.Equal(t, "2", create("").Version)
			three := create("")
			require.Equal(t, "3", three.Version)
			require.NoError(t, three.Delete(ctx))
			// 3 was deleted: its number is never given again.
			require.Equal(t, "4", create("").Version)
			latest, err := c.GetDataset(ctx, mlops.DatasetRef{Name: "claims"})
			require.NoError(t, err)
			require.Equal(t, "4", latest.Version)
			_, err = c.GetDataset(ctx, mlops.DatasetRef{Name: "nothing"})
			requireCode(t, err, mlops.NotFound, "has no version")

			models := c.Models("")
			_, err = models.Get(ctx, "scorer", "")
			requireCode(t, err, mlops.NotFound, "has no version")
			for want := 1; want <= 3; want++ {
				mv, err := models.Register(ctx, "scorer", mlops.ModelSource{ArtifactURI: "https://models.example/scorer.onnx"},
					&mlops.RegisterOptions{Location: mlops.Location{Region: "westeurope"}, DerivedFrom: []mlops.DatasetRef{latest.Ref()}})
				require.NoError(t, err)
				require.Equal(t, strconv.Itoa(want), mv.Version)
			}
			mv, err := models.Get(ctx, "scorer", "")
			require.NoError(t, err)
			require.Equal(t, "3", mv.Version)
		})
	}
}

// Listing costs the same per dataset at 20,000 datasets as at 2,000, both
// when the caller keeps every item (Collect) and when it looks at each and
// lets it go. Allocations per item are compared exactly; CPU time per item,
// the least of five lists, may be at most three times as high: a list that
// did work per item in the number of items (a search or a sort for each)
// would take ten times as long per item, where a larger heap and colder
// caches cost less than twice.
func TestListDatasetsWorkPerItemDoesNotGrow(t *testing.T) {
	ctx := context.Background()
	type cost struct{ allocs, cpu float64 }
	measure := func(n int) map[string]cost {
		e := newScaleEnv(t)
		e.fillDatasets(t, n)
		lists := map[string]func() int{
			"collected": func() int {
				ds, err := mlops.Collect(e.c.ListDatasets(ctx, ""))
				require.NoError(t, err)
				return len(ds)
			},
			"streamed": func() int {
				count := 0
				for d, err := range e.c.ListDatasets(ctx, "") {
					if err != nil || d.Constraint().IsNowhere() {
						t.Fatalf("listed %v, %v", d, err)
					}
					count++
				}
				return count
			},
		}
		out := map[string]cost{}
		for name, list := range lists {
			got := list()
			require.GreaterOrEqual(t, got, n)
			best := int64(-1)
			for range 5 {
				start := cpuTime()
				list()
				if used := cpuTime() - start; best < 0 || used < best {
					best = used
				}
			}
			allocs := testing.AllocsPerRun(2, func() { list() })
			out[name] = cost{allocs: allocs / float64(got), cpu: float64(best) / float64(got)}
		}
		return out
	}
	small, large := measure(2_000), measure(20_000)
	for name, s := range small {
		l := large[name]
		t.Logf("%s: %.3f allocations and %.0f ns of CPU per dataset at 2k, %.3f and %.0f ns at 20k", name, s.allocs, s.cpu, l.allocs, l.cpu)
		if l.allocs > s.allocs*1.1 {
			t.Errorf("%s: listing 20k datasets made %.3f allocations per item against %.3f for 2k: the work per item grows", name, l.allocs, s.allocs)
		}
		if s.cpu > 0 && l.cpu > s.cpu*3 {
			t.Errorf("%s: listing 20k datasets took %.0f ns of CPU per item against %.0f ns for 2k: the cost per item grows with the number listed", name, l.cpu, s.cpu)
		}
	}
}

// A deleted version's number is never given again, however many of the
// highest versions were deleted: the next auto-numbered create skips them
// all. It used to count each deleted number as a lost race and give up
// after 16 with Conflict, "too many concurrent creates".
func TestNextVersionSkipsManyDeletedVersions(t *testing.T) {
	e := newEnv(t, nil, nil)
	var all []*mlops.Dataset
	for i := 1; i <= 20; i++ {
		all = append(all, e.dataset("claims", "", "bytes "+strconv.Itoa(i)))
	}
	for _, d := range all[2:] {
		require.NoError(t, d.Delete(e.ctx))
	}
	d, err := e.c.CreateDataset(e.ctx, "claims", "", strings.NewReader("new"), &mlops.CreateDatasetOptions{Location: euWest})
	require.NoError(t, err)
	require.Equal(t, "21", d.Version)
}
