// Package kubetest gives tests the real Kubernetes API server that
// scripts/testenv.sh starts for make test: kube-apiserver on its own etcd,
// listening on https://127.0.0.1 with a self-signed certificate, bearer
// token authentication and RBAC authorization.
//
// A test calls Start, which skips the test when no server was started (or
// fails it under TIDELINE_INTEGRATION=required, see internal/testenv), and
// then takes client configurations for three users:
//
//   - AdminConfig: a member of system:masters, to set up what a test needs
//     and to play the controllers this server does not run;
//   - UserConfig: User ("tideline-provider"), in no group, who may do what
//     BindRole grants it in a namespace and nothing else there — the
//     identity a provider under test uses;
//   - NobodyConfig: Nobody ("tideline-nobody"), to whom nothing is bound,
//     for the requests that must be refused.
//
// Every configuration verifies the server's certificate with the CA file
// the server wrote, and raises client-go's rate limits so that a busy test
// is not slowed by its own client. InstallCRDs installs the PyTorchJob,
// TrainJob and InferenceService CRDs of internal/fixtures; Namespace gives
// each test a namespace of its own, and BindRole binds a Role, given as the
// YAML a provider documents, to a user in it.
//
// Several test binaries share one server during make test, so tests must
// keep to their own namespaces and never assume a cluster-wide listing is
// theirs alone.
//
// # What the server does not do
//
// Only kube-apiserver and etcd run: no scheduler, controller manager,
// kubelet or CRD operator. Objects are validated (by the built-in
// validation, or by a CRD's OpenAPI schema, defaults and CEL rules) and
// stored, and RBAC is enforced, but nothing acts on them:
//
//   - a Job creates no Pods and its status stays empty until a test writes
//     it; Pods stay Pending, and their logs cannot be read (an unscheduled
//     Pod's log is empty; once bound to a node the server cannot reach, the
//     request fails);
//   - deleting with propagationPolicy Foreground leaves the object behind
//     with the foregroundDeletion finalizer, since no garbage collector
//     removes it; Background and Orphan delete it at once (and leave its
//     dependents);
//   - a deleted namespace stays Terminating, with its objects, because no
//     namespace controller empties it; nothing new can be created in it;
//   - no admission webhook of KServe or Kubeflow runs, so only the CRD
//     schemas check those resources: canaryTrafficPercent must be an
//     integer, but 150 is accepted.
//
// # Playing the controllers
//
// A test that needs a workload to progress writes its status as the
// controller would, as the administrator, through the status subresource
// (UpdateStatus; a status in a plain Update is dropped, for Jobs and for
// the three CRDs alike). What the 1.37 server requires of a batch/v1 Job's
// status, found by trying (TestJobStatusAsTheController checks the usual
// path):
//
//   - startTime, once set, cannot change while the Job is not suspended;
//     it is required before the Job may finish;
//   - ready may not exceed active;
//   - Complete=True needs SuccessCriteriaMet=True beside it, and
//     completionTime, not before startTime; active must then be 0. The
//     server does not compare succeeded with completions (0 is accepted);
//   - Failed=True needs FailureTarget=True beside it, with active 0, and
//     completionTime must be unset (it belongs to Complete alone);
//   - FailureTarget cannot be set together with Complete or
//     SuccessCriteriaMet; SuccessCriteriaMet and FailureTarget may be set
//     while pods are still active, as the controller does before it
//     finishes a Job;
//   - a terminal Complete or Failed condition cannot be removed or changed.
//
// The usual sequence is therefore: startTime and active; then
// SuccessCriteriaMet (or FailureTarget); then, with active 0, Complete with
// completionTime and succeeded (or Failed, without completionTime).
//
// The CRDs have a status subresource and their schemas apply to status
// writes:
//
//   - PyTorchJob: each condition needs type and status; startTime,
//     completionTime and the conditions' times must be RFC 3339 date-times;
//     replicaStatuses is a map from replica type (Master, Worker) to
//     active/succeeded/failed counts. Nothing orders the conditions
//     (Created, Running, Succeeded, Failed) or keeps a finished job
//     finished: the schema checks each write alone.
//   - TrainJob: each condition needs type, status (True, False or Unknown),
//     reason, message and lastTransitionTime; each jobsStatus entry needs
//     name, active, ready, succeeded, failed and suspended. spec.runtimeRef
//     is immutable.
//   - InferenceService: conditions need type and status (any string);
//     components.predictor.traffic lists revisions with their percent;
//     modelStatus.transitionStatus defaults to UpToDate and must be one of
//     the schema's values; address.url must be a string.
//     Its status keeps fields the schema does not name.
//
// In PyTorchJob and TrainJob status, unknown fields are pruned (the client
// sees a warning), not refused.
package kubetest
