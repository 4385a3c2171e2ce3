package coreweave_test

import (
	"context"
	"testing"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/coreweave"
	"github.com/tideline-ml/tideline/provider/coreweave/coreweavetest"
	"github.com/tideline-ml/tideline/provider/providertest"
)

// The fake clusters come in two (coreweavetest.Cluster for jobs,
// ServingCluster for InferenceServices), so each fake harness hands the
// suite the part of the provider its cluster plays, and claims all of that
// part: a provider that shows the suite capabilities its harness does not
// claim fails a run under TIDELINE_INTEGRATION=required. The whole provider,
// every capability claimed by one harness, runs on the real API server
// (realserver_test.go).

// trainingPart is the provider as a trainer with watches and logs.
type trainingPart struct {
	provider.Provider
	provider.Trainer
	provider.JobWatcher
	provider.JobLogger
}

// servingPart is the provider as serving alone.
type servingPart struct {
	provider.Provider
	provider.Serving
}

func asTrainingPart(p *coreweave.Provider) provider.Provider {
	return trainingPart{p, p, p, p}
}

func asServingPart(p *coreweave.Provider) provider.Provider {
	return servingPart{p, p}
}

// fakeTrainingHarness is coreweavetest.FakeHarness handing the suite the
// training part of the provider.
func fakeTrainingHarness(kubeflow bool) providertest.HarnessMaker {
	inner := coreweavetest.FakeHarness(testNamespace, testRegion, kubeflow, nil)
	return func(ctx context.Context, tb testing.TB) (providertest.Harness, error) {
		h, err := inner(ctx, tb)
		if err != nil {
			return nil, err
		}
		return trainingHarness{h.(*coreweavetest.Harness)}, nil
	}
}

type trainingHarness struct{ *coreweavetest.Harness }

func (h trainingHarness) MakeProvider(ctx context.Context) (provider.Provider, error) {
	p, err := coreweave.New(h.Config)
	if err != nil {
		return nil, err
	}
	return asTrainingPart(p), nil
}

func (h trainingHarness) Reopen(ctx context.Context, _ provider.Provider) (provider.Provider, error) {
	return h.MakeProvider(ctx)
}
