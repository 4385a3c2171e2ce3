// Package provider is the contract between Tideline's portable API (package
// mlops) and the clouds it drives.
//
// A driver implements Provider plus one small interface per capability it
// offers: DataStore (immutable, versioned datasets), Trainer (GPU training
// jobs), Registry (model versions, approvals and aliases) and Serving
// (endpoints, deployments and traffic splits). Optional refinements —
// JobWatcher, JobLogger, Granter, LatestDatasetReader,
// LatestModelVersionReader — are found by type assertion, in the manner of
// database/sql/driver, so adding a capability never breaks an existing
// driver. Users do not call drivers directly: mlops validates input, applies
// policy, writes the audit record and then calls the driver with a resolved
// request in which every reference has become a URI and every default has been
// applied.
//
// Each method's doc comment states its contract as outcomes: which code it
// returns when, what is never nil, what may run concurrently. The conformance
// suite in package providertest checks exactly those sentences, and every
// driver passes it.
//
// # Rules for every method
//
// Beyond what each method's comment says, every method of every capability:
//
//   - returns InvalidArgument for a name, version or metadata key that breaks
//     the naming rules below, and stores nothing;
//   - returns the context's error (Canceled or DeadlineExceeded through
//     CodeOf) when ctx is done before the work, and changes nothing;
//   - hands the caller values it owns: returned structs, maps and slices are
//     copies, and the driver keeps no reference to the caller's inputs.
//
// # Errors
//
// Drivers return *Error values whose Code follows gRPC's status codes
// (NotFound, AlreadyExists, InvalidArgument, FailedPrecondition, Conflict,
// Unavailable, ...), keeping the cloud's own error as the cause so that
// errors.As still reaches it. CodeOf reads the code of any error; context
// errors are returned unwrapped and map to Canceled and DeadlineExceeded.
// Each code has a sentinel (ErrNotFound, ...) for errors.Is; package mlops
// re-exports the same values.
//
// # Names
//
// ValidateName, ValidateVersion, ValidateModelVersion and ValidateMetadata
// hold the one set of naming rules every backend accepts: the strictest of
// Azure Machine Learning resource names, Azure Blob names and Kubernetes
// DNS labels. A name that passes is usable on every cloud unchanged.
//
// # Concurrency
//
// Every driver method may be called from several goroutines at once.
// Content, which hashes a dataset's bytes as the driver reads them, belongs to
// one request and is not safe for concurrent use.
package provider
