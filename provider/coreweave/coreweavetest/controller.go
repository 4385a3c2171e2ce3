package coreweavetest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/tideline-ml/tideline/provider/coreweave"
	"github.com/tideline-ml/tideline/provider/providertest"
)

// Controller plays, against any cluster (the fake Cluster or a real API
// server without a controller manager), the controllers a test needs: the
// Job controller and the Kubeflow operators writing status through the
// status subresource, the kubelet's part of a pod's status, and the
// garbage collector. Its status writes keep the API server's rules for Job
// status (ValidateJobStatus). It needs its own credentials: jobs/status,
// pods and pods/status, secrets (read and delete), and the Kubeflow
// resources' status.
type Controller struct {
	Kube      kubernetes.Interface
	Dynamic   dynamic.Interface
	Namespace string
	// Now is the clock of status times; nil means time.Now.
	Now func() time.Time
}

func (c *Controller) now() metav1.Time {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	return metav1.NewTime(now().Truncate(time.Second))
}

// find says which kind holds the job.
func (c *Controller) find(ctx context.Context, name string) (schema.GroupVersionResource, error) {
	_, err := c.Kube.BatchV1().Jobs(c.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err == nil {
		return schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}, nil
	}
	if !apierrors.IsNotFound(err) {
		return schema.GroupVersionResource{}, err
	}
	for _, gvr := range []schema.GroupVersionResource{PyTorchJobs, TrainJobs} {
		if c.Dynamic == nil {
			break
		}
		if _, err := c.Dynamic.Resource(gvr).Namespace(c.Namespace).Get(ctx, name, metav1.GetOptions{}); err == nil {
			return gvr, nil
		}
	}
	return schema.GroupVersionResource{}, fmt.Errorf("coreweavetest: no job %q in namespace %q", name, c.Namespace)
}

// StartJob starts the job's next run: a pod that runs and is ready.
func (c *Controller) StartJob(ctx context.Context, name string) error {
	gvr, err := c.find(ctx, name)
	if err != nil {
		return err
	}
	if gvr.Resource != "jobs" {
		return c.kubeflow(ctx, gvr, name, "start", "")
	}
	return c.updateJob(ctx, name, func(j *batchv1.Job) error {
		if finished(j) {
			return fmt.Errorf("coreweavetest: job %q has finished", name)
		}
		now := c.now()
		if j.Status.StartTime == nil {
			j.Status.StartTime = &now
		}
		pod, err := c.runPod(ctx, j, "batch", corev1.PodRunning, nil)
		if err != nil {
			return err
		}
		_ = pod
		j.Status.Active = 1
		one := int32(1)
		j.Status.Ready = &one
		return nil
	})
}

// CompleteJob ends the run successfully, as the Job controller does:
// SuccessCriteriaMet and Complete, completionTime, no active pod. A
// non-empty outputURI is written where a job reports it
// (coreweave.AnnotationOutputURI).
func (c *Controller) CompleteJob(ctx context.Context, name, outputURI string) error {
	gvr, err := c.find(ctx, name)
	if err != nil {
		return err
	}
	if outputURI != "" {
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{coreweave.AnnotationOutputURI: outputURI}}})
		if gvr.Resource == "jobs" {
			_, err = c.Kube.BatchV1().Jobs(c.Namespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
		} else {
			_, err = c.Dynamic.Resource(gvr).Namespace(c.Namespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
		}
		if err != nil {
			return err
		}
	}
	if gvr.Resource != "jobs" {
		return c.kubeflow(ctx, gvr, name, "complete", "")
	}
	return c.updateJob(ctx, name, func(j *batchv1.Job) error {
		if finished(j) {
			return fmt.Errorf("coreweavetest: job %q has finished", name)
		}
		now := c.now()
		if j.Status.StartTime == nil {
			j.Status.StartTime = &now
		}
		if err := c.endPods(ctx, name, 0, ""); err != nil {
			return err
		}
		j.Status.Active = 0
		zero := int32(0)
		j.Status.Ready = &zero
		j.Status.Terminating = &zero
		j.Status.Succeeded++
		j.Status.CompletionTime = &now
		j.Status.Conditions = append(j.Status.Conditions,
			batchv1.JobCondition{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonCompletionsReached, Message: "Reached expected number of succeeded pods", LastProbeTime: now, LastTransitionTime: now},
			batchv1.JobCondition{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonCompletionsReached, Message: "Reached expected number of succeeded pods", LastProbeTime: now, LastTransitionTime: now},
		)
		return nil
	})
}

// FailJob fails the run, its container ending with message as its
// termination message. While the Job's backoffLimit allows, a new pod is
// created, pending, as the Job controller does; otherwise the Job fails
// with FailureTarget and Failed (BackoffLimitExceeded).
func (c *Controller) FailJob(ctx context.Context, name, message string) error {
	gvr, err := c.find(ctx, name)
	if err != nil {
		return err
	}
	if gvr.Resource != "jobs" {
		return c.kubeflow(ctx, gvr, name, "fail", message)
	}
	return c.updateJob(ctx, name, func(j *batchv1.Job) error {
		if finished(j) {
			return fmt.Errorf("coreweavetest: job %q has finished", name)
		}
		now := c.now()
		if j.Status.StartTime == nil {
			j.Status.StartTime = &now
		}
		if err := c.endPods(ctx, name, 1, message); err != nil {
			return err
		}
		j.Status.Failed++
		zero := int32(0)
		j.Status.Ready = &zero
		limit := int32(6)
		if j.Spec.BackoffLimit != nil {
			limit = *j.Spec.BackoffLimit
		}
		if j.Status.Failed <= limit {
			if _, err := c.runPod(ctx, j, "batch", corev1.PodPending, nil); err != nil {
				return err
			}
			j.Status.Active = 1
			return nil
		}
		j.Status.Active = 0
		j.Status.Terminating = &zero
		msg := "Job has reached the specified backoff limit"
		j.Status.Conditions = append(j.Status.Conditions,
			batchv1.JobCondition{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonBackoffLimitExceeded, Message: msg, LastProbeTime: now, LastTransitionTime: now},
			batchv1.JobCondition{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonBackoffLimitExceeded, Message: msg, LastProbeTime: now, LastTransitionTime: now},
		)
		return nil
	})
}

func finished(j *batchv1.Job) bool {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// updateJob reads the Job, applies change and writes its status, again on
// a conflict.
func (c *Controller) updateJob(ctx context.Context, name string, change func(*batchv1.Job) error) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		j, err := c.Kube.BatchV1().Jobs(c.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if err := change(j); err != nil {
			return err
		}
		_, err = c.Kube.BatchV1().Jobs(c.Namespace).UpdateStatus(ctx, j, metav1.UpdateOptions{})
		return err
	})
}

// runPod creates the pod of a new run, or moves the job's pending pod to
// phase, as the Job controller and the kubelet would.
func (c *Controller) runPod(ctx context.Context, owner metav1.Object, kindOf string, phase corev1.PodPhase, tmpl *corev1.PodTemplateSpec) (*corev1.Pod, error) {
	name := owner.GetName()
	pods, err := c.pods(ctx, name)
	if err != nil {
		return nil, err
	}
	for i := range pods {
		if pods[i].Status.Phase == phase {
			// Written by an earlier try of the same change.
			return &pods[i], nil
		}
	}
	for i := range pods {
		if pods[i].Status.Phase == corev1.PodPending {
			pod := &pods[i]
			pod.Status.Phase = phase
			pod.Status.ContainerStatuses = containerStatuses(pod, phase == corev1.PodRunning, nil)
			return c.Kube.CoreV1().Pods(c.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		}
	}
	var spec corev1.PodSpec
	var podLabels map[string]string
	apiVersion, kindName := "batch/v1", "Job"
	if j, ok := owner.(*batchv1.Job); ok {
		spec = *j.Spec.Template.Spec.DeepCopy()
		podLabels = maps.Clone(j.Spec.Template.Labels)
	} else if tmpl != nil {
		spec = *tmpl.Spec.DeepCopy()
		podLabels = maps.Clone(tmpl.Labels)
	}
	if podLabels == nil {
		podLabels = map[string]string{}
	}
	switch kindOf {
	case "batch":
		podLabels[batchv1.JobNameLabel] = name
		podLabels["job-name"] = name
		podLabels[batchv1.ControllerUidLabel] = string(owner.GetUID())
	case "pytorch":
		podLabels["training.kubeflow.org/job-name"] = name
		apiVersion, kindName = "kubeflow.org/v1", "PyTorchJob"
	case "trainjob":
		podLabels["jobset.sigs.k8s.io/jobset-name"] = name
		apiVersion, kindName = "trainer.kubeflow.org/v1alpha1", "TrainJob"
	}
	if len(spec.Containers) == 0 {
		spec.Containers = []corev1.Container{{Name: "node", Image: "registry.example.com/train:latest"}}
	}
	yes := true
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      fmt.Sprintf("%s-run%03d", name, len(pods)+1),
			Namespace: c.Namespace,
			Labels:    podLabels,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: apiVersion, Kind: kindName, Name: name, UID: owner.GetUID(), Controller: &yes, BlockOwnerDeletion: &yes,
			}},
		},
		Spec: spec,
	}
	created, err := c.Kube.CoreV1().Pods(c.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	created.Status.Phase = phase
	created.Status.ContainerStatuses = containerStatuses(created, phase == corev1.PodRunning, nil)
	return c.Kube.CoreV1().Pods(c.Namespace).UpdateStatus(ctx, created, metav1.UpdateOptions{})
}

func containerStatuses(pod *corev1.Pod, running bool, term *corev1.ContainerStateTerminated) []corev1.ContainerStatus {
	var out []corev1.ContainerStatus
	for _, ct := range pod.Spec.Containers {
		cs := corev1.ContainerStatus{Name: ct.Name, Image: ct.Image, Ready: running}
		switch {
		case term != nil:
			cs.State.Terminated = term.DeepCopy()
		case running:
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.Now()}
		default:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
		}
		out = append(out, cs)
	}
	return out
}

// pods lists the pods of a job by the label every controller here sets.
func (c *Controller) pods(ctx context.Context, job string) ([]corev1.Pod, error) {
	var out []corev1.Pod
	for _, l := range []string{batchv1.JobNameLabel, "training.kubeflow.org/job-name", "jobset.sigs.k8s.io/jobset-name"} {
		list, err := c.Kube.CoreV1().Pods(c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: l + "=" + job})
		if err != nil {
			return nil, err
		}
		out = append(out, list.Items...)
	}
	return out, nil
}

// endPods ends the job's running or pending pods with an exit code and a
// termination message.
func (c *Controller) endPods(ctx context.Context, job string, code int32, message string) error {
	pods, err := c.pods(ctx, job)
	if err != nil {
		return err
	}
	now := c.now()
	for i := range pods {
		pod := &pods[i]
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		term := &corev1.ContainerStateTerminated{ExitCode: code, Message: message, StartedAt: now, FinishedAt: now, Reason: "Completed"}
		pod.Status.Phase = corev1.PodSucceeded
		if code != 0 {
			term.Reason = "Error"
			pod.Status.Phase = corev1.PodFailed
		}
		pod.Status.ContainerStatuses = containerStatuses(pod, false, term)
		if _, err := c.Kube.CoreV1().Pods(c.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	return nil
}

// kubeflow plays the Kubeflow operators for a PyTorchJob or TrainJob.
func (c *Controller) kubeflow(ctx context.Context, gvr schema.GroupVersionResource, name, what, message string) error {
	res := c.Dynamic.Resource(gvr).Namespace(c.Namespace)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		u, err := res.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		now := c.now().UTC().Format(time.RFC3339)
		pytorch := gvr == PyTorchJobs
		kindOf := "trainjob"
		if pytorch {
			kindOf = "pytorch"
		}
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		setCond := func(typ, status, reason, msg string) {
			for i, it := range conds {
				if m, ok := it.(map[string]any); ok && m["type"] == typ {
					m["status"], m["reason"], m["message"], m["lastTransitionTime"] = status, reason, msg, now
					conds[i] = m
					return
				}
			}
			conds = append(conds, map[string]any{"type": typ, "status": status, "reason": reason, "message": msg, "lastTransitionTime": now})
		}
		tmpl := &corev1.PodTemplateSpec{}
		if pytorch {
			if t, ok, _ := unstructured.NestedMap(u.Object, "spec", "pytorchReplicaSpecs", "Master", "template"); ok {
				_ = runtimeFromUnstructured(t, tmpl)
			}
		}
		switch what {
		case "start":
			// A TrainJob's status has no startTime: its Created
			// condition tells when it started.
			if _, ok, _ := unstructured.NestedString(u.Object, "status", "startTime"); !ok && pytorch {
				_ = unstructured.SetNestedField(u.Object, now, "status", "startTime")
			}
			if _, err := c.runPod(ctx, u, kindOf, corev1.PodRunning, tmpl); err != nil {
				return err
			}
			if pytorch {
				setCond("Restarting", "False", "Running", "")
				setCond("Running", "True", "PyTorchJobRunning", "the job is running")
				_ = unstructured.SetNestedField(u.Object, int64(1), "status", "replicaStatuses", "Master", "active")
			} else {
				setCond("Created", "True", "JobsCreated", "jobs created")
				_ = unstructured.SetNestedSlice(u.Object, []any{map[string]any{"name": "node", "ready": int64(1), "active": int64(1), "succeeded": int64(0), "failed": int64(0), "suspended": int64(0)}}, "status", "jobsStatus")
			}
		case "complete":
			if err := c.endPods(ctx, name, 0, ""); err != nil {
				return err
			}
			if pytorch {
				setCond("Running", "False", "PyTorchJobSucceeded", "")
				setCond("Succeeded", "True", "PyTorchJobSucceeded", "the job succeeded")
				_ = unstructured.SetNestedField(u.Object, now, "status", "completionTime")
				_ = unstructured.SetNestedField(u.Object, int64(0), "status", "replicaStatuses", "Master", "active")
			} else {
				setCond("Complete", "True", "JobsCompleted", "jobs completed")
				_ = unstructured.SetNestedSlice(u.Object, nil, "status", "jobsStatus")
			}
		case "fail":
			if err := c.endPods(ctx, name, 1, message); err != nil {
				return err
			}
			failed, _, _ := unstructured.NestedInt64(u.Object, "status", "replicaStatuses", "Master", "failed")
			failed++
			limit, ok, _ := unstructured.NestedInt64(u.Object, "spec", "runPolicy", "backoffLimit")
			if !ok {
				limit = 6
			}
			if pytorch {
				_ = unstructured.SetNestedField(u.Object, failed, "status", "replicaStatuses", "Master", "failed")
				_ = unstructured.SetNestedField(u.Object, int64(0), "status", "replicaStatuses", "Master", "active")
				setCond("Running", "False", "PyTorchJobRestarting", "")
				if failed <= limit {
					setCond("Restarting", "True", "PyTorchJobRestarting", message)
				} else {
					setCond("Restarting", "False", "PyTorchJobFailed", "")
					setCond("Failed", "True", "PyTorchJobFailed", "the job failed")
				}
			} else {
				setCond("Failed", "True", "FailedJobs", "jobs failed")
			}
		}
		_ = unstructured.SetNestedSlice(u.Object, conds, "status", "conditions")
		_, err = res.UpdateStatus(ctx, u, metav1.UpdateOptions{})
		return err
	})
}

// Settle plays the garbage collector for the namespace: for every job held
// by the foregroundDeletion finalizer it deletes the dependents (pods and
// Secrets owned by the job) and then removes the finalizer; it deletes pods
// and Secrets whose owning job is gone.
func (c *Controller) Settle(ctx context.Context) error {
	live := map[types.UID]bool{}
	type held struct {
		uid    types.UID
		remove func() error
	}
	var holding []held
	jobs, err := c.Kube.BatchV1().Jobs(c.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for i := range jobs.Items {
		j := &jobs.Items[i]
		live[j.UID] = true
		if j.DeletionTimestamp != nil {
			holding = append(holding, held{j.UID, func() error {
				return retry.RetryOnConflict(retry.DefaultRetry, func() error {
					cur, err := c.Kube.BatchV1().Jobs(c.Namespace).Get(ctx, j.Name, metav1.GetOptions{})
					if apierrors.IsNotFound(err) {
						return nil
					} else if err != nil {
						return err
					}
					cur.Finalizers = without(cur.Finalizers, metav1.FinalizerDeleteDependents)
					_, err = c.Kube.BatchV1().Jobs(c.Namespace).Update(ctx, cur, metav1.UpdateOptions{})
					if apierrors.IsNotFound(err) {
						return nil
					}
					return err
				})
			}})
		}
	}
	if c.Dynamic != nil {
		for _, gvr := range []schema.GroupVersionResource{PyTorchJobs, TrainJobs} {
			res := c.Dynamic.Resource(gvr).Namespace(c.Namespace)
			list, err := res.List(ctx, metav1.ListOptions{})
			if err != nil {
				continue // not served
			}
			for i := range list.Items {
				u := &list.Items[i]
				live[u.GetUID()] = true
				if u.GetDeletionTimestamp() != nil {
					holding = append(holding, held{u.GetUID(), func() error {
						return retry.RetryOnConflict(retry.DefaultRetry, func() error {
							cur, err := res.Get(ctx, u.GetName(), metav1.GetOptions{})
							if apierrors.IsNotFound(err) {
								return nil
							} else if err != nil {
								return err
							}
							cur.SetFinalizers(without(cur.GetFinalizers(), metav1.FinalizerDeleteDependents))
							_, err = res.Update(ctx, cur, metav1.UpdateOptions{})
							if apierrors.IsNotFound(err) {
								return nil
							}
							return err
						})
					}})
				}
			}
		}
	}
	dying := map[types.UID]bool{}
	for _, h := range holding {
		dying[h.uid] = true
	}
	collect := func(owners []metav1.OwnerReference) bool {
		for _, o := range owners {
			if dying[o.UID] || !live[o.UID] && isJobKind(o.Kind) {
				return true
			}
		}
		return false
	}
	pods, err := c.Kube.CoreV1().Pods(c.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, pod := range pods.Items {
		if collect(pod.OwnerReferences) {
			if err := c.Kube.CoreV1().Pods(c.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
	}
	secrets, err := c.Kube.CoreV1().Secrets(c.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, s := range secrets.Items {
		if collect(s.OwnerReferences) {
			if err := c.Kube.CoreV1().Secrets(c.Namespace).Delete(ctx, s.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
	}
	for _, h := range holding {
		if err := h.remove(); err != nil {
			return err
		}
	}
	return nil
}

func isJobKind(k string) bool { return k == "Job" || k == "PyTorchJob" || k == "TrainJob" }

func without(list []string, s string) []string {
	var out []string
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

// Inspect reads what the cluster holds for a job, with the Controller's
// own credentials: the stored object as JSON, the plain environment of its
// first container, and the values the container receives from Secrets.
func (c *Controller) Inspect(ctx context.Context, name string) (*providertest.JobView, error) {
	gvr, err := c.find(ctx, name)
	if err != nil {
		return nil, err
	}
	var def []byte
	var container corev1.Container
	if gvr.Resource == "jobs" {
		j, err := c.Kube.BatchV1().Jobs(c.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		def, _ = json.Marshal(j)
		container = j.Spec.Template.Spec.Containers[0]
	} else {
		u, err := c.Dynamic.Resource(gvr).Namespace(c.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		def, _ = json.Marshal(u.Object)
		if gvr == PyTorchJobs {
			t, _, _ := unstructured.NestedMap(u.Object, "spec", "pytorchReplicaSpecs", "Master", "template")
			var tmpl corev1.PodTemplateSpec
			if err := runtimeFromUnstructured(t, &tmpl); err != nil {
				return nil, err
			}
			container = tmpl.Spec.Containers[0]
		} else {
			env, _, _ := unstructured.NestedSlice(u.Object, "spec", "trainer", "env")
			for _, e := range env {
				var ev corev1.EnvVar
				if m, ok := e.(map[string]any); ok && runtimeFromUnstructured(m, &ev) == nil {
					container.Env = append(container.Env, ev)
				}
			}
		}
	}
	view := &providertest.JobView{Definition: string(def), Env: map[string]string{}, Secrets: map[string]string{}}
	for _, e := range container.Env {
		if e.ValueFrom == nil {
			view.Env[e.Name] = e.Value
			continue
		}
		if ref := e.ValueFrom.SecretKeyRef; ref != nil {
			s, err := c.Kube.CoreV1().Secrets(c.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
			if err != nil {
				return nil, fmt.Errorf("coreweavetest: reading Secret %q that %s refers to: %w", ref.Name, e.Name, err)
			}
			view.Secrets[e.Name] = string(s.Data[ref.Key])
		}
	}
	return view, nil
}
