// Package lineage records where every dataset, model and deployment came
// from, answers provenance questions about it, and exports run events in the
// OpenLineage format.
//
// # The graph
//
// Nodes are dataset versions (named by name and version, and carrying their
// content digest), job runs, model versions and deployments. Ids spell the
// kind out; DatasetID, JobID, ModelID and DeploymentID build them. A graph
// recorded by mlops names each artifact as the Client knows it, provider
// first — "dataset:lab/claims@1", "job:lab/fraud-1a2b3c4d5e",
// "model:lab/fraud@2", "deployment:lab/fraud-scoring/green" — and
// mlops.DatasetNodeID, JobNodeID, ModelNodeID and DeploymentNodeID build
// those. Edges point the way data flows:
//
//	dataset ──consumed──▶ job ──produced──▶ dataset | model
//	dataset ──derived───▶ dataset | model
//	model ──deployed-as─▶ deployment
//
// A Store records the graph. Graph holds it in memory; FileStore adds an
// append-only JSON-lines journal that is replayed on open, so the graph
// survives restarts. Writes are idempotent, and recorded facts are
// immutable: a dataset version cannot change its digest, and a deployment
// only changes by being retired, or revived when its name is deployed again.
// A Batch records many changes at once, all or nothing (Graph.Apply,
// FileStore.Apply); a FileStore writes it, and the single writes of
// concurrent callers, as one group with one fsync.
//
// Queries return paths, not bare node sets, so that an answer can be
// explained: Upstream from a deployment yields paths such as
// deployment → model → job → dataset, and Impact from a dataset yields a path
// to every live deployment built on it — the services a data-deletion
// request reaches. Graph interns ids to int32 indexes and keeps adjacency
// as int32 slices, so an upstream query over a cone of a few hundred nodes
// answers in microseconds in a graph of a million nodes.
//
// # OpenLineage
//
// RunEvent and its parts are Go types for OpenLineage spec 2-0-2 RunEvents.
// An Emitter turns job lifecycle facts (a JobRun) into events — START on
// submit; COMPLETE, FAIL or ABORT at the end — with inputs, outputs, the
// parent run and these facets:
//
//   - parent (ParentRunFacet 1-2-0), when the run was started by another;
//   - errorMessage (ErrorMessageRunFacet 1-0-1), on FAIL, with what looks
//     like a credential scrubbed by secret.Scrub (URL credentials and signed
//     query strings, Authorization headers, secret-named keys' values);
//   - version (DatasetVersionDatasetFacet 1-0-1), carrying the content digest;
//   - tideline_residency (ResidencyDatasetFacet), the dataset's
//     classification, residency constraint, region and country;
//   - tideline_policy (PolicyRunFacet), the policy decision with its rules
//     and every reason.
//
// The two custom facets have JSON Schemas in this package's schemas
// directory (FacetSchemas returns them), written like the official facet
// schemas: each extends the core DatasetFacet or RunFacet by $ref to the
// 2-0-2 schema's $id. RunIDs are name-based (version 5) UUIDs derived from
// the namespace and run name, so separate processes agree on them.
//
// Events travel through a Transport: HTTPTransport posts them from a
// bounded queue with retries (go-retryablehttp), FileTransport appends them
// to a JSON-lines file and WriterTransport writes them to any io.Writer.
//
// # Errors
//
// Errors wrap one of the sentinels ErrNotFound, ErrInvalid, ErrConflict,
// ErrCorrupt, ErrClosed or ErrQueueFull; test for them with errors.Is.
// Context errors are returned unwrapped. Messages name the node, edge,
// journal line or event field at fault and what to do about it. Errors from
// the HTTP transport never contain its bearer token; events it gives up on
// are counted in Stats and reported to HTTPTransportOptions.OnError as
// *SendError values.
//
// # Concurrency
//
// Graph, FileStore and every Transport are safe for concurrent use. Graph
// serves queries under a read lock, so queries run in parallel with each
// other and wait only for writes. FileStore checks writes one at a time,
// journals them in that order (grouping those that queue up) and applies
// each once written, so its journal order is the order in which changes
// were applied. An HTTPTransport sends from one goroutine, in emission
// order; Emit never waits for the network, and Flush and Close wait for
// the queue within their context. Emitter holds no mutable state.
//
// # Testing
//
// Graph is the in-memory store for tests; WriterTransport over a
// bytes.Buffer captures events. The package's own tests validate emitted
// events against the official OpenLineage JSON Schemas in the repository's
// shared test data (skipped when that is absent, failed when
// TIDELINE_INTEGRATION=required). The upstream-query benchmark builds a
// graph of a million nodes and three million edges; the journal benchmarks
// open a journal of that graph and measure writes:
//
//	go test -run '^$' -bench Upstream -benchtime=200x ./lineage
//	go test -run '^$' -bench OpenJournal -benchtime=3x ./lineage
//	go test -run '^$' -bench JournalWrite -benchtime=3x ./lineage
package lineage
