// Package providertest is the conformance suite every Tideline provider
// passes: the in-memory one, Azure and CoreWeave alike.
//
// The driver contract in package provider is written as outcomes: which code
// a method returns when, what is never nil, what may run concurrently. The
// suite turns each of those sentences into a named subtest, grouped by
// capability, so that a failure names the sentence that was broken:
//
//	TestConformance/Provider/RegionsAreNamed
//	TestConformance/DataStore/ReadErrorLeavesNothing
//	TestConformance/Trainer/RetryAfterFailure
//	TestConformance/Registry/ConcurrentAliasMovesLeaveOneTarget
//	TestConformance/Serving/DeleteDeploymentWithTrafficIsFailedPrecondition
//	TestConformance/Grants/GrantNeverPrintsItself
//
// Besides each method's own sentences, every capability is checked for the
// properties that hold across the contract: a done context gives Canceled
// or DeadlineExceeded and changes nothing; a name that breaks
// provider.NameRule (or a version, metadata key or model version that breaks
// its rule) is InvalidArgument; values returned to the caller are copies, and
// maps the caller passed in are not kept; conditional updates racing on one
// ETag have exactly one winner; every method may be called from many
// goroutines at once (run the suite with -race).
//
// # Wiring a harness
//
// A provider's test implements Harness and passes a HarnessMaker to
// RunConformanceTests:
//
//	func TestConformance(t *testing.T) {
//		providertest.RunConformanceTests(t, newHarness, nil)
//	}
//
// Capabilities says what the harness claims. The suite fails a claimed
// capability the provider does not implement, and skips every test of an
// unclaimed one with a message naming the capability, so a provider without
// a model registry (CoreWeave) passes by not claiming CapRegistry. Tests of
// serving features depend on the provider's own ServingCapabilities: a
// provider whose endpoints hold at most two deployments and cannot mirror
// (KServe) runs MaxDeploymentsEnforced and MirrorUnsupportedIsInvalidArgument
// instead of the mirror tests.
//
// Nothing runs pods or model servers in a test, so the harness plays the
// cloud's controllers. StartJob, CompleteJob and FailJob move a job the way
// the training controller would, and SetDeploymentReady marks a deployment
// ready: memprovider calls its own controls, a Kubernetes harness writes Job
// or InferenceService status through the API server, an Azure harness
// changes the state its contract server reports. The suite then waits for
// the provider to report the change, through provider.JobWatcher when the
// harness claims CapJobWatch and by polling GetJob otherwise (Options sets
// the timeout and poll interval, since a real backend is slower than
// memory).
//
// The suite calls the HarnessMaker once per subtest. A harness may hand each
// one fresh state (memprovider does) or the same account or cluster (a cloud
// harness will, because creating one per subtest is slow). The suite is
// written for the second case: every subtest creates resources under names
// of its own, built from a random run id, and filters what List methods
// return by those names rather than expecting empty lists. Reopen gives the
// Reattach test a second provider value over the same state, as another
// process would hold.
//
// RunBenchmarks times the calls that dominate a pipeline: storing and
// reading back a 4 MiB dataset, submitting and reading a job, registering a
// model version and moving an endpoint's traffic split.
//
// # Choices where the contract is silent
//
// The suite requires InvalidArgument, not Unimplemented, for a non-empty
// mirror split on a provider whose ServingCapabilities().Mirror is false:
// UpdateEndpoint's contract lists mirror problems as InvalidArgument, and the
// request is malformed for that provider rather than asking for a missing
// capability. A live split over an endpoint that has deployments must sum to
// 100, so an empty or all-zero split there is InvalidArgument too.
//
// # Concurrency
//
// The concurrency tests call the provider, and the harness's
// SetDeploymentReady, from several goroutines at once, so a harness must be
// safe for concurrent use. With Options.Parallel the leaf subtests also run
// in parallel with each other.
//
// # Testing
//
// memprovider's conformance_test.go runs the suite three times: with the
// defaults, with serving capabilities like KServe's (two deployments per
// endpoint, no mirror, deployments that wait to be marked ready), and with
// Options.Parallel. This package's own tests keep the suite honest:
// TestSuiteCatchesBrokenProviders wraps memprovider so that it breaks one
// contract sentence at a time (a wrapped read error, lists in the wrong
// order, an ignored ETag, a result shared with the provider, a claimed
// capability the type lacks, ...) and checks, in a child process, that the
// subtest named after that sentence fails and says why.
//
// Run a provider's conformance tests with
//
//	go test -race -run TestConformance ./provider/yourprovider
//
// and its benchmarks with
//
//	go test -run '^$' -bench BenchmarkConformance ./provider/yourprovider
package providertest
