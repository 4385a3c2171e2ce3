// Package memprovider is an in-memory Tideline provider: every capability of
// the provider contract — datasets, training jobs, the model registry and
// serving — with the semantics the contract states, held in one process's
// memory. It is what the quickstart runs on and what a team's own tests use
// in place of a cloud, and it passes the conformance suite (package
// providertest) that the Azure and CoreWeave providers pass too.
//
// The semantics are real, not canned: regions are checked (the defaults are
// real Azure and CoreWeave region names, so residency rules resolve them),
// dataset and model versions are immutable, names are validated with the
// contract's rules, jobs move through Queued → Running → Succeeded, Failed or
// Canceled with retries, traffic splits are validated and applied
// atomically, and stale ETags meet Conflict. Every value handed in is copied
// and every value handed out is a fresh deep copy that the caller owns.
//
// # Testing
//
// A test plays the part of the cloud's controllers through methods that are
// not part of the contract: StartJob, SetJobProgress, AppendJobLog,
// CompleteJob and FailJob drive a job; SetDeploymentState drives a
// deployment. Times come from Options.Clock; a FakeClock makes them exact:
//
//	clock := memprovider.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
//	p := memprovider.New(&memprovider.Options{Clock: clock})
//	info, err := p.SubmitJob(ctx, &provider.JobSpec{Name: "train-fraud", Region: "EU-SOUTH-03", GPUs: 8, Nodes: 1})
//	// info.State == provider.JobQueued
//	p.StartJob("train-fraud")
//	clock.Advance(time.Hour)
//	p.CompleteJob("train-fraud", "")
//	info, err = p.GetJob(ctx, "train-fraud")
//	// info.State == provider.JobSucceeded, info.Finished is one hour after info.Started
//
// With Options.JobDuration set, jobs run by themselves instead: Running on
// submission and Succeeded once the clock shows JobDuration elapsed, which
// suits tests of code that waits for jobs. Advancing a FakeClock wakes every
// WatchJob, so a watcher sees the job finish without polling. A job whose
// spec sets MaxDuration fails once it has run longer than that, counted from
// its first start, and is not retried, as with Kubernetes'
// activeDeadlineSeconds. SubmitJob refuses more than 8 GPUs per node, the
// most a single node offers on either cloud.
//
// Counts tells a test how many things the provider holds, so that it can
// assert a failed call left nothing behind.
//
// # Faults
//
// InjectFault makes calls fail or slow down, in the manner of client-go's
// reactors. A Fault matches one method by name (or all of them), applies to
// every matching call or only the Nth one counted from its injection, and
// either fails the call before it does anything, fails it after the work was
// done (AfterEffect: a lost response, so that a retry meets AlreadyExists),
// or adds latency that gives way to the call's context. Every contract method
// that takes a context is recorded as a Call — operation, target and outcome
// code, never bytes or metadata values — and Calls returns them, so that a
// test can assert how often a client retried; they are kept until
// ResetCalls, so a long-lived provider should reset them now and then. The
// controls (StartJob and the rest) are neither recorded nor subject to
// faults: they are the test's own hands.
//
// # Errors
//
// Every error is a *provider.Error with the code the contract names
// (NotFound, AlreadyExists, InvalidArgument, FailedPrecondition, Conflict),
// and a message that says what was wrong and what to do. Context errors are
// returned unwrapped, and a failing dataset reader's error reaches the caller
// unchanged. Inputs that would be stored are validated
// with provider.ValidateName, ValidateVersion, ValidateModelVersion and
// ValidateMetadata; a name that breaks those rules cannot exist, so a read or
// delete of one reports NotFound.
//
// # Concurrency
//
// A Provider is safe for concurrent use and race-free: one mutex guards its
// state and another its faults and recorded calls, and neither is held while
// a dataset is read from its source, while a fault's latency is slept or
// while WatchJob waits. WatchJob waits on a channel that is closed and
// replaced at every job change, so all watchers wake at once. A dataset
// reader returned by OpenDataset belongs to one goroutine; readers share the
// stored bytes, which are never written after the version is committed.
//
// # Storage
//
// Dataset bytes are stored in 1 MiB chunks filled from the reader, so
// storing a 256 MiB dataset allocates about 256 MiB plus a few hundred small
// headers, never a doubling buffer, and reading it back copies nothing (the
// reader implements io.WriterTo). Each chunk's first 64 KiB are read into a
// small recycled buffer, and only data that fills it moves on to a whole
// chunk, so a small dataset costs about its size and the read that finds the
// end of a large one costs no chunk. PutDataset reads to EOF before it
// commits under the lock; it refuses an existing version before reading and
// again at commit, so nothing is left behind by a duplicate, a read error or
// a context that ends mid-read (checked between chunks).
//
// # Read grants
//
// The provider is also a provider.Granter: GrantRead signs a read-only URL
// for one dataset version with Options.AccountKey, as a storage account key
// signs an Azure SAS, and ReadWithGrant honours it until it expires — which
// is how a test plays a job in another cloud reading its input. CheckGrant
// is the storage's decision on its own — may this grant read, write or
// delete that version now — for a test that plays the storage service, as
// the conformance harness does. Grants lists what was issued, so a test can
// check that no grant leaked into output, errors or records.
//
// # Latest versions
//
// The provider keeps each dataset's latest version and each model's highest
// version number as they are stored (provider.LatestDatasetReader and
// provider.LatestModelVersionReader), so that numbering the next version
// costs the same at a hundred thousand versions as at ten. Deleting a
// dataset's latest version looks for the next one among the rest, once.
//
// # What it does not emulate
//
// No container runs: a job does nothing until a test or JobDuration moves
// it, and its logs are what AppendJobLog wrote. Endpoints serve no requests.
// There is no network, hence no latency unless injected, and no long-running
// operation takes time to finish: every create, update and delete is done
// when the call returns. There is no authentication, authorization, quota or
// rate limit, no eventual consistency, and no persistence: the state lives in
// one process's memory and is gone when the Provider is. Regions are names,
// not places; GPU types are not checked against what a region offers.
//
// # As
//
// The provider wraps no cloud SDK, so there are no native types to reach.
package memprovider
