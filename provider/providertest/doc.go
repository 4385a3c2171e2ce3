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
// a model registry (CoreWeave) passes by not claiming CapRegistry. A
// harness that claims less than its provider implements hides tests that
// should have run: Provider/CapabilitiesMatchClaims then fails when
// TIDELINE_INTEGRATION is "required" (as in continuous integration) and
// skips, saying which capabilities went unclaimed, otherwise. Tests of
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
// Retries are the controller's too: after FailJob the provider's side —
// the Kubernetes Job's backoffLimit, Azure ML's retry setting, or the
// harness standing in for them — starts the job again while its MaxRetries
// allows. mlops never resubmits a failed job, so the suite checks that the
// provider's job is retried, and a harness over a backend whose controller
// does not run does the retrying in FailJob.
//
// A real delete or cancel finishes after the call returns: Azure answers
// 202 and runs a long-running operation, Kubernetes holds the object with
// finalizers until the garbage collector has removed its dependents. The
// suite therefore never expects a delete or a cancel to show at once: it
// calls the harness's Settle, which finishes what the cloud's controllers
// would (a Kubernetes harness deletes dependents and removes finalizers, an
// Azure harness completes the contract server's pending operations,
// memprovider has nothing to do), and polls until the provider reports the
// outcome, calling Settle again on every round, for at most
// Options.Timeout. For the same reason the suite never compares ETags or
// revisions for equality: a controller writing status changes them with
// nothing the contract promises, so the suite compares contents, re-reads
// an ETag that went stale before a conditional update it expects to win,
// and follows a watch that woke for a controller's write.
//
// The optional latest-version readers are claimed as CapLatestDataset and
// CapLatestModel; their tests (DataStore/LatestIsHighestNumber,
// DataStore/LatestFollowsDeletes, Registry/LatestIsHighestVersion) check the
// answer against what ListDatasets and ListModelVersions hold.
//
// Two checks need the cloud itself rather than the provider, so a harness
// implements two more interfaces when it claims the capability. A trainer
// harness implements JobInspector: InspectJob reads the job's stored
// definition, plain environment and secret-store values from the backend,
// so that the suite sees a driver that copied SecretEnv or a read grant into
// the plain definition, whatever the driver echoes in JobInfo. A grants
// harness implements GrantUser: UseGrant applies a grant's credential to a
// version's address and reads, writes or deletes the way a job in another
// cloud would, so that the suite checks the grant's scope (its version and
// nothing else), its read-only permission and its expiry (with a grant of a
// few seconds' lifetime; Options.ClockSkew allows for the storage's clock).
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
// A job's SecretEnv values and its inputs' grants are compared by name only
// when the suite checks the spec a job reports: the contract lets a driver
// echo them as redacting values it need not fill in. A grant the storage
// refuses — another version, a write or delete, expiry — must be refused
// with PermissionDenied, the code an HTTP 403 maps to, and the refusal must
// not repeat the credential. A PutDataset whose reader fails may wrap the
// reader's error; the suite looks for it with errors.Is.
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
// contract sentence at a time (a lost read error, lists in the wrong order,
// an ignored ETag, a result shared with the provider, a claimed capability
// the type lacks, secrets copied into the plain environment or the logs, a
// grant that reads another version, writes or outlives its expiry, an
// under-claimed capability, ...) and checks, in a child process, that the
// subtest named after that sentence fails and says why; and that the
// subtests pass for providers that differ from memprovider only as the
// contract allows. TestSuiteWaitsForDeletesThatSettleLater and
// TestSuiteToleratesControllerWrittenETags run the whole suite over two of
// those: one whose deletes and cancels finish later (by the harness's
// Settle, or by themselves), and one whose controller changes ETags and
// revisions after every write.
//
// Run a provider's conformance tests with
//
//	go test -race -run TestConformance ./provider/yourprovider
//
// and its benchmarks with
//
//	go test -run '^$' -bench BenchmarkConformance ./provider/yourprovider
package providertest
