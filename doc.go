// Package tideline is the home of Tideline, a Go SDK for governed,
// multicloud MLOps.
//
// Platform teams write their ML pipelines as ordinary Go programs. Through
// one mlops.Client they store versioned datasets, train on GPUs, register
// and approve models and roll out canary deployments. Every call that
// changes anything is checked against residency and policy before any
// cloud is touched, audited and recorded in a lineage graph.
//
// The providers are the in-memory one (provider/memprovider), which the
// quickstart and a team's own tests run on, the Azure provider
// (provider/azure: Blob Storage and Azure Machine Learning) and the
// CoreWeave provider (provider/coreweave: Kubernetes Jobs, Kubeflow and
// KServe), all passing one conformance suite (provider/providertest).
//
// Start with these packages:
//
//   - mlops: the portable API — Client, Dataset, TrainJob, ModelRegistry,
//     Endpoint and its Rollout, Policy, and the error codes.
//   - provider/memprovider: a complete in-memory provider with real
//     semantics, a controllable job lifecycle and fault injection, for
//     tests and for trying Tideline with no cloud account.
//   - provider: the contract a cloud driver implements, one small interface
//     per capability; provider/providertest checks a driver against it.
//   - residency: where data may live — a catalog of every Azure and
//     CoreWeave region with its country and jurisdictions, classifications
//     and constraints.
//   - audit: a tamper-evident, hash-chained audit log.
//   - lineage: the provenance graph and its OpenLineage export.
//   - secret: the redacting Secret type and the credential scrubber.
//
// The program in examples/quickstart runs the reference pipeline end to end
// on the in-memory provider:
//
//	go run ./examples/quickstart
//
// and examples/taste is the short program the README shows.
//
// This package holds documentation only.
package tideline
