package coreweave_test

import (
	"testing"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/providertest"
)

const (
	testNamespace = "tideline"
	testRegion    = "US-EAST-04A"
)

// TestConformance runs the suite with single-node jobs (batch/v1 Jobs) on
// the fake cluster, coreweavetest.Controller playing the Job controller and
// the garbage collector.
func TestConformance(t *testing.T) {
	providertest.RunConformanceTests(t, fakeTrainingHarness(false), nil)
}

// TestConformancePyTorchJob runs the suite with every job on two nodes, so
// every job is a PyTorchJob.
func TestConformancePyTorchJob(t *testing.T) {
	providertest.RunConformanceTests(t, fakeTrainingHarness(true), &providertest.Options{
		PrepareJob: func(s *provider.JobSpec) { s.Nodes = 2 },
	})
}
