// Package mlops is Tideline's portable API: one Client through which a
// pipeline program stores datasets, trains on GPUs, registers and approves
// models and rolls out deployments, on whichever providers it was given.
//
// A Client is built from named providers (package provider describes the
// contract; provider/memprovider is the in-memory one, provider/azure and
// provider/coreweave the clouds'):
//
//	c, err := mlops.NewClient(mlops.Providers{"lab": memprovider.New(nil)},
//		&mlops.ClientOptions{
//			Principal: mlops.Principal{ID: "alice@example.com"},
//			Hooks:     []mlops.Hook{mlops.NewMemoryAuditHook()},
//		})
//
// A pipeline can combine capabilities of several providers — data in one,
// training in another, the registry and serving in a third. Where a call
// could go to more than one provider, its Location names the provider.
//
// # The shape of a call
//
// Every call that changes something takes the same path: the input is
// validated (a typed InvalidArgument error names the field; nothing is
// created), references are resolved (a dataset reference becomes a URI and
// a digest), the Policy decides with every reason listed, the Hooks see the
// decision (the audit log is a hook, and a hook that cannot record stops the
// call), and only then does a provider do the work. A denial is a
// *PolicyError matching ErrPolicyDenied, and no provider is called.
//
// # Residency, audit and lineage
//
// Before any rule of the Policy, every Client applies residency: the target
// region is looked up in ClientOptions.Catalog (every Azure and CoreWeave
// region by default; an unknown one is never allowed) and checked against
// the constraints of everything involved. A dataset's constraint comes from
// its classification through ClientOptions.Rules (restricted data stays in
// the EU/EEA by default) and may be tightened; datasets derived from it,
// jobs reading it, models trained on it and deployments serving those
// models inherit it as Origins, stored in each artifact's provider metadata
// so that any Client enforces them. Every decision reads the upstream
// datasets again, so a tightening binds what was derived before it, and a
// deleted dataset leaves a deletion record that keeps binding. A model from
// an artifact URI nothing traces is treated as restricted. A job in another
// cloud reads its inputs through a short-lived read grant
// (provider.Granter), never the store's keys.
//
// A Client with no Policy uses DefaultPolicy: approved models before
// traffic, separation of duties, images pinned by digest. Permissive relaxes
// it for experiments, and says so in every audit record. Further rules:
// AllowProviders, AllowRegions, AllowImages, MaxTrafficStep, GPUQuota and
// HoldClassifications, or any Rule of your own. Policy.WithMode(AuditOnly)
// records would-be denials without blocking; DryRun decides without acting.
//
// NewAuditHook writes every attempt to an audit.Log and fails the call when
// it cannot; a call on confidential or restricted data fails with
// FailedPrecondition when no AuditHook is configured. NewLineageRecorder
// records provenance and emits OpenLineage events. Both are Hooks: give them
// in ClientOptions.Hooks.
//
// # Datasets, jobs, models, endpoints
//
// CreateDataset streams bytes into a provider, hashing them with SHA-256 in
// the same pass; versions are immutable, and Dataset.Open verifies the digest
// as the bytes are read back. SubmitJob is idempotent — by key, or by a digest
// of the spec — so a retried submission never starts a second GPU job;
// GetJob re-attaches by ID from any process, and TrainJob.Wait watches or
// polls. ModelRegistry numbers versions per model, moves aliases atomically
// and records approvals. An Endpoint holds named deployments and a traffic
// split; Rollout shifts traffic in steps with a health check between them,
// rolls back on failure, and keeps its progress in the endpoint so that a
// crashed program can resume it.
//
// # Errors
//
// Errors carry a code modelled on gRPC's (see ErrorCode); Code(err) reads it
// and each code has a sentinel for errors.Is (ErrNotFound, ErrConflict, ...).
// A provider's own error stays reachable through errors.As. Context errors
// are returned as they are, so errors.Is(err, context.Canceled) works.
// Policy denials are *PolicyError, failed jobs *JobError, failed rollouts
// *RolloutError.
//
// # Concurrency
//
// A Client is safe for concurrent use and holds little state beyond its
// configuration (GPUs of submissions in flight, the secrets it handed out, so
// that it can redact them); everything else lives in the providers. The handles it returns
// (*Dataset, *TrainJob, *ModelVersion, *Endpoint) are snapshots that one
// goroutine at a time may refresh.
//
// # Testing
//
// Build the Client over memprovider.New in tests: it has real semantics
// (immutability, version numbering, the job state machine, traffic
// validation), lets the test drive jobs to completion or failure, injects
// faults, and records calls, so a test can assert that nothing was created
// after a failure.
package mlops
