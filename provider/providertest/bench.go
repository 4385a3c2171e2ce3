package providertest

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"testing"

	"github.com/tideline-ml/tideline/provider"
)

// benchDatasetSize is the dataset size of the DataStore benchmark: large
// enough that the cost is the bytes, not the call.
const benchDatasetSize = 4 << 20

// RunBenchmarks runs the suite's benchmarks against the provider that
// newHarness makes, one sub-benchmark per claimed capability:
//
//   - DataStore/PutOpen: PutDataset of 4 MiB, then OpenDataset and read it
//     back (b.SetBytes, so MB/s is the round trip's throughput). Each
//     version is deleted outside the timed region, so memory stays flat.
//   - Trainer/SubmitGet: SubmitJob then GetJob.
//   - Registry/CreateModelVersion: one new version per iteration.
//   - Serving/UpdateTraffic: UpdateEndpoint moving a split between two
//     deployments.
//
// A nil opts means the defaults.
func RunBenchmarks(b *testing.B, newHarness HarnessMaker, opts *Options) {
	s := &suite{newHarness: newHarness, o: opts.withDefaults(), names: newNamer()}
	h, err := newHarness(b.Context(), b)
	if err != nil {
		b.Fatalf("making the harness: %v", err)
	}
	claimed := h.Capabilities()
	h.Close()
	s.claims = map[provider.Capability]bool{}
	for _, c := range claimed {
		s.claims[c] = true
	}
	bench := func(name string, capability provider.Capability, fn func(b *testing.B, e *env)) {
		b.Run(name, func(b *testing.B) {
			if !s.claims[capability] {
				b.Skipf("harness does not claim capability %q", capability)
			}
			fn(b, s.newEnv(b))
		})
	}
	bench("DataStore/PutOpen", provider.CapDataStore, benchPutOpen)
	bench("Trainer/SubmitGet", provider.CapTrainer, benchSubmitGet)
	bench("Registry/CreateModelVersion", provider.CapRegistry, benchCreateModelVersion)
	bench("Serving/UpdateTraffic", provider.CapServing, benchUpdateTraffic)
}

func benchPutOpen(b *testing.B, e *env) {
	name := e.name("bench")
	data := payload(name, benchDatasetSize)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		version := "v" + strconv.Itoa(i)
		i++
		_, err := e.ds.PutDataset(e.ctx, &provider.PutDatasetRequest{
			Name: name, Version: version, Region: e.region,
			Content: provider.NewContent(bytes.NewReader(data), nil),
		})
		if err != nil {
			b.Fatalf("PutDataset(%s@%s): %v", name, version, err)
		}
		rc, err := e.ds.OpenDataset(e.ctx, name, version)
		if err != nil {
			b.Fatalf("OpenDataset(%s@%s): %v", name, version, err)
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil || n != int64(len(data)) {
			b.Fatalf("reading %s@%s: %d bytes, %v", name, version, n, err)
		}
		b.StopTimer()
		if err := e.ds.DeleteDataset(e.ctx, name, version); err != nil {
			b.Fatalf("DeleteDataset(%s@%s): %v", name, version, err)
		}
		b.StartTimer()
	}
}

func benchSubmitGet(b *testing.B, e *env) {
	b.ReportAllocs()
	for b.Loop() {
		spec := e.jobSpec(e.name("bench"))
		if _, err := e.tr.SubmitJob(e.ctx, spec); err != nil {
			b.Fatalf("SubmitJob(%s): %v", spec.Name, err)
		}
		if _, err := e.tr.GetJob(e.ctx, spec.Name); err != nil {
			b.Fatalf("GetJob(%s): %v", spec.Name, err)
		}
	}
}

func benchCreateModelVersion(b *testing.B, e *env) {
	model := e.name("bench")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := e.reg.CreateModelVersion(e.ctx, e.modelSpec(model, strconv.Itoa(i))); err != nil {
			b.Fatalf("CreateModelVersion(%s/%d): %v", model, i, err)
		}
	}
}

func benchUpdateTraffic(b *testing.B, e *env) {
	if m := e.srv.ServingCapabilities().MaxDeployments; m != 0 && m < 2 {
		b.Skipf("the benchmark splits traffic over 2 deployments; MaxDeployments is %d", m)
	}
	ep := e.name("bench")
	if _, err := e.srv.CreateEndpoint(e.ctx, e.endpointSpec(ep)); err != nil {
		b.Fatalf("CreateEndpoint(%s): %v", ep, err)
	}
	for _, d := range []string{"blue", "green"} {
		if _, err := e.srv.CreateDeployment(e.ctx, e.deploymentSpec(ep, d)); err != nil {
			b.Fatalf("CreateDeployment(%s/%s): %v", ep, d, err)
		}
		if err := e.h.SetDeploymentReady(e.ctx, e.p, ep, d); err != nil {
			b.Fatalf("harness SetDeploymentReady(%s/%s): %v", ep, d, err)
		}
	}
	splits := []map[string]int{{"blue": 90, "green": 10}, {"blue": 50, "green": 50}, {"blue": 0, "green": 100}, {"blue": 100, "green": 0}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		upd := &provider.EndpointUpdate{Endpoint: ep, Traffic: splits[i%len(splits)]}
		i++
		if _, err := e.srv.UpdateEndpoint(e.ctx, upd); err != nil {
			b.Fatal(fmt.Errorf("UpdateEndpoint(%s, %v): %w", ep, upd.Traffic, err))
		}
	}
}
