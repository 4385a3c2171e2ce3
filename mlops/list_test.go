package mlops_test

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tideline-ml/tideline/mlops"
	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/residency"
)

// allocated returns the allocations and bytes f allocates, the least of
// three runs after a warm-up (another goroutine may allocate during one).
func allocated(f func()) (allocs, bytes uint64) {
	f()
	var before, after runtime.MemStats
	for i := range 3 {
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		a, b := after.Mallocs-before.Mallocs, after.TotalAlloc-before.TotalAlloc
		if i == 0 || a < allocs {
			allocs = a
		}
		if i == 0 || b < bytes {
			bytes = b
		}
	}
	return allocs, bytes
}

// Listing datasets used to decode every version's origins into a list,
// look its region up in the catalog and copy that region and the
// constraint into a Dataset of 600 bytes: three allocations and about 900
// bytes a version on top of what the provider's own list costs, which made
// a list of 100k datasets take more than 0.2 s. A listed version's origins
// are now checked but not decoded, and what binds it is the group head the
// Client already keeps: beyond the provider's list, a version costs its
// share of a block of Datasets, 256 bytes.
func TestListDatasetsDecodesNoOriginsPerVersion(t *testing.T) {
	const n = 2_000
	ctx := context.Background()
	e := newScaleEnv(t)
	e.fillDatasets(t, n)
	provAllocs, provBytes := allocated(func() {
		infos, err := e.mem.ListDatasets(ctx, "")
		require.NoError(t, err)
		require.GreaterOrEqual(t, len(infos), n)
	})
	allocs, bytes := allocated(func() {
		count := 0
		for d, err := range e.c.ListDatasets(ctx, "") {
			if err != nil || d.Classification() != residency.Confidential {
				t.Fatalf("listed %v, %v; want a confidential dataset", d, err) // not require: it allocates
			}
			count++
		}
		require.GreaterOrEqual(t, count, n)
	})
	perAlloc := (float64(allocs) - float64(provAllocs)) / n
	perByte := (float64(bytes) - float64(provBytes)) / n
	t.Logf("beyond the provider's list, per version: %.2f allocations, %.0f bytes", perAlloc, perByte)
	if perAlloc > 0.1 {
		t.Errorf("listing made %.2f allocations per version beyond the provider's list; it should make its Datasets in blocks and decode no origins", perAlloc)
	}
	if perByte > 320 {
		t.Errorf("listing allocated %.0f bytes per version beyond the provider's list; a listed Dataset should cost about its own 256 bytes", perByte)
	}
}

// Whatever form a version's origins are stored in — one group (made from
// nothing), several (derived from other datasets), tightened, written as
// other JSON than mlops writes, or absent on a version made outside
// Tideline — a listed version's Constraint is the intersection of its
// Origins' constraints and its Classification at least each origin's, as
// GetDataset reads them. Origins are the caller's own: changing them
// changes nothing the Dataset says. Read from many goroutines at once, the
// answers do not change.
func TestListedDatasetResidencyMatchesItsOrigins(t *testing.T) {
	e := newEnv(t, nil, nil)
	base, err := e.c.CreateDataset(e.ctx, "base", "1", strings.NewReader("b"), &mlops.CreateDatasetOptions{Location: euWest, Classification: residency.Restricted})
	require.NoError(t, err)
	other := e.dataset("other", "1", "o")
	_, err = e.c.CreateDataset(e.ctx, "derived", "1", strings.NewReader("d"), &mlops.CreateDatasetOptions{Location: euWest,
		DerivedFrom: []mlops.DatasetRef{base.Ref(), other.Ref()}})
	require.NoError(t, err)
	tight := e.dataset("tight", "1", "t")
	nl, err := residency.ParseConstraint("NL")
	require.NoError(t, err)
	require.NoError(t, tight.Tighten(e.ctx, nl))
	e.dataset("spaced", "1", "s")
	_, err = e.mem.UpdateDatasetMetadata(e.ctx, "spaced", "1", map[string]string{"tideline_origins": ` [ {"a":["dataset mem/spaced@1"], "c":"confidential", "r":"confidential-eea", "k":"EEA"} ] `}, "")
	require.NoError(t, err)
	_, err = e.mem.PutDataset(e.ctx, &provider.PutDatasetRequest{Name: "outside", Version: "1", Region: "westeurope",
		Metadata: map[string]string{"tideline_classification": "confidential"}, Content: provider.NewContent(strings.NewReader("x"), nil)})
	require.NoError(t, err)

	listed, err := mlops.Collect(e.c.ListDatasets(e.ctx, ""))
	require.NoError(t, err)
	require.Len(t, listed, 6)
	for _, d := range listed {
		got, err := e.c.GetDataset(e.ctx, d.Ref())
		require.NoError(t, err)
		os := d.Origins()
		require.NotEmpty(t, os, d.Ref())
		require.Equal(t, got.Origins(), os, d.Ref())
		k, class := residency.Anywhere(), residency.Classification(0)
		for _, o := range os {
			k, class = k.Intersect(o.Constraint), max(class, o.Classification)
		}
		require.True(t, d.Constraint().Equal(k), "%s: constraint %s, its origins allow %s", d.Ref(), d.Constraint(), k)
		require.True(t, d.Constraint().Equal(got.Constraint()), d.Ref())
		require.GreaterOrEqual(t, d.Classification(), class, d.Ref())
		require.Equal(t, got.Classification(), d.Classification(), d.Ref())
		require.Equal(t, "westeurope", d.Place().Name, d.Ref())
		require.Equal(t, "NL", d.Place().Country, d.Ref())

		os[0].Constraint, os[0].Artifact = residency.Anywhere(), "changed"
		require.Equal(t, got.Origins(), d.Origins(), "%s: the Origins returned are the caller's own", d.Ref())

		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 20 {
					if !d.Constraint().Equal(k) || len(d.Origins()) != len(os) || d.Classification() != got.Classification() {
						t.Errorf("%s: read from several goroutines, the residency changed", d.Ref())
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	byName := map[string]*mlops.Dataset{}
	for _, d := range listed {
		byName[d.Name] = d
	}
	require.Len(t, byName["derived"].Origins(), 3)
	require.Equal(t, residency.Restricted, byName["derived"].Classification())
	require.Equal(t, "NL", byName["tight"].Constraint().String())
	require.Equal(t, residency.Confidential, byName["outside"].Classification())
	require.Equal(t, "dataset mem/outside@1", byName["outside"].Origins()[0].Artifact)
}
