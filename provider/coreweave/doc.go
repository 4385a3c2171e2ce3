// Package coreweave is the Tideline provider for CoreWeave's Kubernetes
// service: GPU training as Kubernetes Jobs and Kubeflow jobs, and model
// serving with KServe, in one namespace of one cluster, through client-go.
//
// It implements provider.Trainer, provider.JobWatcher, provider.JobLogger
// and provider.Serving. CoreWeave has no model registry and no dataset
// store of this kind; pipelines pair this provider with one that has them.
package coreweave
