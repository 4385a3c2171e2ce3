// Package coreweave is the Tideline provider for CoreWeave's Kubernetes
// service: GPU training as Kubernetes Jobs and Kubeflow jobs, and model
// serving with KServe, in one namespace of one cluster, through client-go.
//
// It implements provider.Trainer, provider.JobWatcher, provider.JobLogger
// and provider.Serving. CoreWeave has no model registry and no dataset
// store of this kind; pipelines pair this provider with one that has them.
//
// # Construction
//
// New takes a Config naming the cluster in exactly one way — a kubeconfig
// path (and optionally a context), a rest.Config, or ready clients (a
// kubernetes.Interface with a dynamic.Interface) — the namespace, and the
// cluster's region or zone ("US-EAST-04A"), which the residency catalog
// resolves to the region Regions reports. The region is configured, not
// read from the nodes' topology labels: nodes are cluster-scoped, and the
// provider's Role is namespaced on purpose. New makes no call to the
// cluster.
//
// # Training
//
// A job with one node is a batch/v1 Job; a job with more is a Kubeflow
// PyTorchJob (kubeflow.org/v1, one master and Nodes-1 workers) or, where
// only Kubeflow Trainer is installed or Config.MultiNode says so, a
// TrainJob (trainer.kubeflow.org/v1alpha1, on the ClusterTrainingRuntime
// Config.TrainingRuntime); which of them the cluster serves is found by
// discovery, once. The Kubeflow resources go through the dynamic client.
//
// GPUs are asked for as nvidia.com/gpu limits and placed by required node
// affinity on node.kubernetes.io/instance-type (or, with
// Config.LegacyGPUClass, on gpu.nvidia.com/class). The GPUs table maps
// portable names (H100, H200, GB200, A100-80GB, …) to instance types and
// legacy classes. What the region offers is Config.GPUs, by default
// DefaultOffers: the GPUs of the CKS instance types. A GPU the region does
// not offer, or more per node than its nodes have, is InvalidArgument
// naming what the region offers, before anything is created.
//
// MaxRetries becomes the Job's backoffLimit (a PyTorchJob's
// runPolicy.backoffLimit) and MaxDuration its activeDeadlineSeconds: the
// cluster's controller owns retries and the deadline. A TrainJob has no
// retry setting of its own (its training runtime's JobSet decides), so a
// TrainJob with MaxRetries above zero is InvalidArgument.
//
// The job's name is its idempotency key. A submission that finds the name
// taken returns the job there with AlreadyExists, and the message says
// whether its tideline-ml.github.io/spec-hash annotation matches (the same spec) or
// not. A create whose response was lost is recognised by the random
// submission id in its annotations; concurrent submissions of one name
// leave one job.
//
// SecretEnv values and the inputs' read grants go into a Secret of their
// own, created first, made owned by the job once the job exists (so the
// garbage collector deletes it with the job), and read by the container
// through secretKeyRef. They appear in no job definition, annotation,
// error or log line. When the job cannot be created, or a later step of
// the submission fails, the Secret is deleted, and so is a job the
// submission created: nothing is left half-made.
//
// Labels carry the job's name, the region and app.kubernetes.io/managed-by;
// annotations carry the spec (everything but secret values, so JobInfo.Spec
// is read back from the cluster by any process), each JobSpec.Metadata
// entry verbatim under MetadataPrefix, the spec hash, the submission time
// and the jurisdictions of the region. A metadata key that cannot be an
// annotation key, or annotations beyond the API server's 256 KiB, are
// InvalidArgument before anything is created; nothing is ever cut short.
//
// A job's state comes from its status: a Job's active, ready, failed and
// succeeded counts and its conditions (SuccessCriteriaMet or Complete is
// Succeeded, FailureTarget or Failed is Failed, Suspended is Queued);
// Attempts counts the runs started. A PyTorchJob's and a TrainJob's
// conditions map likewise. The message of a failed job ends with the
// termination message of its last failed run, read from its pods.
// Revision is the object's resourceVersion. WatchJob waits with a watch of
// the one object, with bookmarks, resumed from the last version seen and
// re-listed when that version has expired (410 Gone); it does not poll.
// JobLogs reads the logs of the job's pods, found by the label their
// controller sets.
//
// CancelJob of a job that has not ended writes a small record of it (a
// ConfigMap, labelled tideline-ml.github.io/canceled-job, holding the job's
// annotations and status but no secret), marks the job with the
// tideline-ml.github.io/canceled annotation, conditionally on the version it read,
// and deletes it with foreground propagation. While the foregroundDeletion
// finalizer holds the job it reads Canceled from the annotation; once it is
// gone, from the record, which keeps the name taken as any ended job's is.
// ListJobs lists jobs and records together, ordered by creation time.
// Records stay until deleted (kubectl delete configmap -l
// tideline-ml.github.io/canceled-job).
//
// # Serving
//
// An endpoint is one object in the namespace: a ConfigMap until its first
// deployment, then a KServe InferenceService (serving.kserve.io/v1beta1)
// whose annotations hold the endpoint's metadata and its deployments.
// Config.Serving.Mode chooses KServe's deployment mode. In Standard mode,
// KServe's default, one predictor runs without revisions, so an endpoint
// holds one deployment and a second is FailedPrecondition naming Knative
// mode. In Knative mode traffic is split between the newest revision
// (spec.predictor) and the one last rolled out: an endpoint holds two
// deployments, and UpdateEndpoint's split becomes canaryTrafficPercent.
// Giving the newest all traffic rolls it out; giving the older one traffic
// again serves its predictor as a new revision. Nothing is mirrored. A
// deployment's model format comes from its metadata key "model_format" or
// Config.Serving.ModelFormat; InstanceType selects nodes by
// node.kubernetes.io/instance-type. The ETag is the object's
// resourceVersion, which KServe's status writes change too: after a
// Conflict, read the endpoint again. KServe answers at an
// InferenceService's address as soon as its only revision is ready, before
// any traffic is assigned through the provider.
//
// # Least privilege
//
// RoleYAML (role.yaml in this package) is the namespaced Role the provider
// needs, and no more: tests check that the trainer and serving make no
// request outside it and that each uses every rule of its part:
//
//	batch                  jobs               get list watch create patch delete
//	kubeflow.org           pytorchjobs        get list watch create patch delete
//	trainer.kubeflow.org   trainjobs          get list watch create patch delete
//	""                     secrets            create patch delete
//	""                     configmaps         get list create update delete  (training and serving)
//	""                     pods               list
//	""                     pods/log           get
//	serving.kserve.io      inferenceservices  get list create update delete  (serving)
//
// Secrets are never read back. A request the credentials may not make
// fails with PermissionDenied naming the verb, the resource and the
// namespace.
//
// # Testing
//
// Package coreweavetest has a fake cluster over client-go's fake clientsets
// that behaves like an API server where the provider relies on one
// (resource versions, conflicts, foreground deletion, watches that resume
// and expire, Job status validation), and a Controller that plays the Job
// controller, the Kubeflow operators and the garbage collector against any
// cluster, fake or real.
//
// On a real kube-apiserver (1.37, with its etcd; no controller manager,
// scheduler or kubelet) the provider, holding only a token bound to
// RoleYAML, passes the conformance suite's trainer, watch, logs and serving
// tests, with single-node Jobs and Knative serving, and with PyTorchJobs
// and Standard serving; the controllers' status writes and the garbage
// collector's removal of the foregroundDeletion finalizer are played by an
// administrator. The API server accepts, without pruning a field, every
// object kind the provider writes under the CRDs' schemas: a Job with
// GPUs, a PyTorchJob and a TrainJob on three nodes, their Secrets, and
// InferenceServices in both modes with a canary. A token bound to nothing
// gets PermissionDenied naming the verb, the resource and the namespace.
// Concurrent submissions of one name leave one Job and one Secret, and so
// does a submission whose create response was lost, retried. Waiting by
// WatchJob costs the same number of requests for a short job and a long
// one, and one more when the watch is cut. Pod logs are not read there:
// without a kubelet there are none, so the suite's logs tests pass without
// content, which the fake cluster checks.
//
// # What only a live cluster can show
//
// The tests above prove the objects, the permissions and the API traffic;
// they cannot prove what the cluster's controllers do with them:
//
//   - scheduling: that the instance-type affinity and nvidia.com/gpu
//     limits of the GPU table land on the intended nodes of a region, and
//     that a multi-node PyTorchJob or TrainJob starts its workers
//     together;
//   - the Job controller, the Kubeflow training operator and KServe's
//     controller writing status as the tests play it: the conditions and
//     their order, retries counted against backoffLimit, revisions and
//     canary traffic reported by an InferenceService;
//   - KServe's canary split in Knative mode, and the Standard mode's one
//     revision, as served traffic rather than as fields;
//   - pod logs, which need a kubelet;
//   - CoreWeave's own sign-in (CKS tokens and their expiry): the tests use
//     static bearer tokens, through the same client-go configuration;
//   - the region read from real nodes' labels.
package coreweave
