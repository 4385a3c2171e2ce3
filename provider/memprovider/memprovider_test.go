package memprovider

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tideline-ml/tideline/provider"
)

func TestNewDefaults(t *testing.T) {
	p := New(nil)
	if p.Kind() != "memory" {
		t.Errorf("Kind = %q", p.Kind())
	}
	if !slices.Equal(p.Regions(), DefaultRegions()) {
		t.Errorf("Regions = %v; want DefaultRegions", p.Regions())
	}
	for _, name := range []string{"westeurope", "eastus", "EU-SOUTH-03", "US-EAST-04"} {
		if _, ok := provider.HasRegion(p, name); !ok {
			t.Errorf("default regions lack %s", name)
		}
	}
	if got := p.ServingCapabilities(); got != (provider.ServingCapabilities{MaxDeployments: 0, Mirror: true}) {
		t.Errorf("ServingCapabilities = %+v", got)
	}
	want := []provider.Capability{provider.CapDataStore, provider.CapTrainer, provider.CapRegistry, provider.CapServing, provider.CapJobWatch, provider.CapJobLogs, provider.CapGrants, provider.CapLatestDataset, provider.CapLatestModel}
	if got := provider.Capabilities(p); !slices.Equal(got, want) {
		t.Errorf("Capabilities = %v, want %v", got, want)
	}
	r := p.Regions()
	r[0].Name = "changed"
	if p.Regions()[0].Name != "westeurope" {
		t.Error("Regions returned the provider's own slice")
	}
	if New(&Options{}).Regions() == nil {
		t.Error("zero Options should give the default regions")
	}
}

func TestOptionsRegions(t *testing.T) {
	p := New(&Options{Regions: []provider.Region{
		{Name: "EU-SOUTH-03", Cloud: "coreweave"},
		{Name: "EU-SOUTH-03", Cloud: "coreweave"},
		{Name: "westeurope", Cloud: "azure"},
	}})
	if got := p.Regions(); len(got) != 2 {
		t.Errorf("Regions = %v; a duplicate should be kept once", got)
	}
	none := New(&Options{Regions: []provider.Region{}})
	_, err := none.CreateEndpoint(context.Background(), &provider.EndpointSpec{Name: "fraud-ep", Region: "westeurope"})
	wantCode(t, err, provider.InvalidArgument)
	if !strings.Contains(err.Error(), "none") {
		t.Errorf("error %q should say the provider has no regions", err)
	}
}

func TestRegionErrorNamesRegions(t *testing.T) {
	p := New(nil)
	_, err := p.CreateModelVersion(context.Background(), &provider.ModelVersionSpec{Model: "fraud", Version: "1", Region: "brazilsouth"})
	wantCode(t, err, provider.InvalidArgument)
	msg := err.Error()
	for _, r := range append([]provider.Region{{Name: "brazilsouth"}}, DefaultRegions()...) {
		if !strings.Contains(msg, r.Name) {
			t.Errorf("error %q does not mention %s", msg, r.Name)
		}
	}
}

// TestConcurrentUse runs every kind of call from many goroutines at once;
// under -race it shows the provider's state is guarded, and the final counts
// show no call was lost.
func TestConcurrentUse(t *testing.T) {
	p, clock := newFake(t, &Options{JobDuration: 1})
	ctx := context.Background()
	newEndpoint(t, p, "blue", "green")
	_, err := p.CreateModelVersion(ctx, modelSpec("1"))
	mustOK(t, err)
	p.InjectFault(Fault{Op: "GetDataset", Nth: 5})

	const workers = 8
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				name := fmt.Sprintf("w%d-n%d", w, i)
				if _, err := p.PutDataset(ctx, &provider.PutDatasetRequest{Name: "data-" + name, Version: "1", Region: "westeurope", Content: contentOf(pattern(i * 100))}); err != nil {
					t.Error(err)
				}
				_, _ = p.GetDataset(ctx, "data-"+name, "1")
				_, _ = p.ListDatasets(ctx, "")
				info, err := p.SubmitJob(ctx, jobSpec("job-"+name))
				if err != nil {
					t.Error(err)
					continue
				}
				clock.Advance(1)
				if _, err := p.WatchJob(ctx, "job-"+name, info.Revision); err != nil {
					t.Error(err)
				}
				_, _ = p.ListJobs(ctx)
				_ = p.AppendJobLog("job-"+name, "line\n")
				_, _ = p.CreateModelVersion(ctx, modelSpec(fmt.Sprint(2+w*100+i)))
				_ = p.SetAlias(ctx, "fraud", "champion", "1")
				_, _ = p.Aliases(ctx, "fraud")
				share := (w + i) % 101
				_, _ = p.UpdateEndpoint(ctx, &provider.EndpointUpdate{Endpoint: "fraud-ep", Traffic: map[string]int{"blue": share, "green": 100 - share}})
				_, _ = p.GetEndpoint(ctx, "fraud-ep")
				_ = p.Calls()
			}
		}()
	}
	wg.Wait()
	c := p.Counts()
	if c.Datasets != workers*20 || c.Jobs != workers*20 || c.ModelVersions != workers*20+1 || c.Aliases != 1 {
		t.Fatalf("Counts = %+v", c)
	}
	jobs, _ := p.ListJobs(ctx)
	for _, j := range jobs {
		if j.State != provider.JobSucceeded {
			t.Fatalf("job %s is %s after its JobDuration passed", j.Spec.Name, j.State)
		}
	}
}
