package coreweave

import (
	"fmt"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/tideline-ml/tideline/provider"
)

// status is what a job's object says about its state.
type status struct {
	state             provider.JobState
	message           string
	attempts          int
	started, finished time.Time
	// failedRun is set when the message should name the last failed run,
	// which only the job's pods know.
	failedRun bool
}

// infoOf returns the JobInfo a job's object shows. lastFailure, when not
// empty, is the termination message of the job's last failed run.
func (p *Provider) infoOf(o *object, lastFailure string) (*provider.JobInfo, error) {
	ann := o.meta.GetAnnotations()
	spec, err := specOf(o.meta.GetName(), ann)
	if err != nil {
		return nil, err
	}
	var st status
	switch o.kind {
	case kindBatch:
		st = batchStatus(o.batch)
	case kindPyTorch:
		st = pytorchStatus(o.u)
	default:
		st = trainJobStatus(o.u)
	}
	info := &provider.JobInfo{
		Spec:     spec,
		State:    st.state,
		Message:  st.message,
		Attempts: st.attempts,
		Created:  o.meta.GetCreationTimestamp().Time,
		Started:  st.started,
		Finished: st.finished,
		Revision: o.meta.GetResourceVersion(),
	}
	// CancelJob writes the annotation only on a job that has not ended,
	// conditionally on the version it read, so whatever status comes after
	// it came from the cancellation.
	if c, ok := canceledAt(ann); ok {
		info.State = provider.JobCanceled
		info.Finished = c
		info.Message = "canceled by request"
		if o.meta.GetDeletionTimestamp() != nil {
			info.Message += "; the job and its pods are being deleted"
		}
	}
	if info.State == provider.JobSucceeded {
		info.Progress = 1
		info.OutputURI = ann[AnnotationOutputURI]
		if info.OutputURI == "" {
			info.OutputURI = p.outputURI(&spec)
		}
	}
	if info.State == provider.JobFailed && lastFailure != "" {
		info.Message += "; last run: " + lastFailure
	}
	if !info.Finished.IsZero() && info.Finished.Before(info.Started) {
		info.Finished = info.Started
	}
	return info, nil
}

func canceledAt(ann map[string]string) (time.Time, bool) {
	v, ok := ann[AnnotationCanceled]
	if !ok {
		return time.Time{}, false
	}
	t, _ := time.Parse(time.RFC3339, v)
	return t, true
}

func condTrue(conds []batchv1.JobCondition, t batchv1.JobConditionType) (batchv1.JobCondition, bool) {
	for _, c := range conds {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return c, true
		}
	}
	return batchv1.JobCondition{}, false
}

// batchStatus maps a Job's status. The outcome is final from
// SuccessCriteriaMet or FailureTarget on, before the Job controller has
// removed the pods and written Complete or Failed; Finished is when the
// outcome was reached, so it does not move when the final condition comes.
func batchStatus(j *batchv1.Job) status {
	s := j.Status
	st := status{state: provider.JobQueued}
	if s.StartTime != nil {
		st.started = s.StartTime.Time
	}
	ready := s.Active
	if s.Ready != nil {
		ready = *s.Ready
	}
	st.attempts = int(s.Failed + s.Succeeded + ready)
	if c, ok := condTrue(s.Conditions, batchv1.JobSuccessCriteriaMet); ok {
		st.state, st.finished = provider.JobSucceeded, c.LastTransitionTime.Time
	} else if c, ok := condTrue(s.Conditions, batchv1.JobComplete); ok {
		st.state, st.finished = provider.JobSucceeded, c.LastTransitionTime.Time
		if s.CompletionTime != nil {
			st.finished = s.CompletionTime.Time
		}
	} else if c, ok := condTrue(s.Conditions, batchv1.JobFailureTarget); ok {
		st.state, st.finished = provider.JobFailed, c.LastTransitionTime.Time
		st.message = failureMessage(c.Reason, c.Message)
	} else if c, ok := condTrue(s.Conditions, batchv1.JobFailed); ok {
		st.state, st.finished = provider.JobFailed, c.LastTransitionTime.Time
		st.message = failureMessage(c.Reason, c.Message)
	} else if c, ok := condTrue(s.Conditions, batchv1.JobSuspended); ok {
		st.message = "suspended (" + c.Reason + "); a queue such as Kueue admits it when there is capacity"
	} else if ready > 0 {
		st.state = provider.JobRunning
	} else if s.Failed > 0 {
		st.message = fmt.Sprintf("run %d failed; the Job controller starts it again (backoffLimit %d)", s.Failed, deref(j.Spec.BackoffLimit))
	} else if s.Active > 0 {
		st.message = "waiting for its pod to start"
	}
	if st.state == provider.JobSucceeded && st.attempts == 0 {
		st.attempts = 1
	}
	st.failedRun = st.state == provider.JobFailed
	if st.attempts == 0 && !st.state.Terminal() {
		// The Job controller sets startTime when it creates the first pod,
		// which may wait for a node; no run has started yet.
		st.started = time.Time{}
	}
	if st.state.Terminal() && st.started.IsZero() {
		st.started = st.finished
	}
	return st
}

func deref(p *int32) int32 {
	if p == nil {
		return 6
	}
	return *p
}

func failureMessage(reason, msg string) string {
	switch reason {
	case batchv1.JobReasonDeadlineExceeded:
		return "the job ran longer than its MaxDuration (activeDeadlineSeconds) and was stopped; raise MaxDuration or make the job faster"
	case batchv1.JobReasonBackoffLimitExceeded:
		return "the job failed and its retries (MaxRetries, the Job's backoffLimit) are spent"
	}
	if msg == "" {
		return reason
	}
	return reason + ": " + msg
}

// kubeflowCond reads a Kubeflow status condition.
type kubeflowCond struct {
	typ, status, reason, message string
	at                           time.Time
}

func conditionsOf(u *unstructured.Unstructured) []kubeflowCond {
	list, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	var out []kubeflowCond
	for _, it := range list {
		m, ok := it.(map[string]any)
		if !ok {
			continue
		}
		c := kubeflowCond{}
		c.typ, _ = m["type"].(string)
		c.status, _ = m["status"].(string)
		c.reason, _ = m["reason"].(string)
		c.message, _ = m["message"].(string)
		if s, ok := m["lastTransitionTime"].(string); ok {
			c.at, _ = time.Parse(time.RFC3339, s)
		}
		out = append(out, c)
	}
	return out
}

func findCond(cs []kubeflowCond, typ string) (kubeflowCond, bool) {
	for _, c := range cs {
		if c.typ == typ && strings.EqualFold(c.status, "True") {
			return c, true
		}
	}
	return kubeflowCond{}, false
}

func timeAt(u *unstructured.Unstructured, fields ...string) time.Time {
	s, _, _ := unstructured.NestedString(u.Object, fields...)
	t, _ := time.Parse(time.RFC3339, s)
	return t
}

// pytorchStatus maps a PyTorchJob's conditions (Created, Running,
// Restarting, Succeeded, Failed, Suspended). Attempts counts the first run
// and each failed one of the master replica.
func pytorchStatus(u *unstructured.Unstructured) status {
	cs := conditionsOf(u)
	st := status{state: provider.JobQueued, started: timeAt(u, "status", "startTime")}
	failed, _, _ := unstructured.NestedInt64(u.Object, "status", "replicaStatuses", "Master", "failed")
	switch c, ok := findCond(cs, "Succeeded"); {
	case ok:
		st.state, st.finished = provider.JobSucceeded, c.at
		if t := timeAt(u, "status", "completionTime"); !t.IsZero() {
			st.finished = t
		}
	default:
		if c, ok := findCond(cs, "Failed"); ok {
			st.state, st.finished, st.message = provider.JobFailed, c.at, failureMessage(c.reason, c.message)
			st.failedRun = true
		} else if c, ok := findCond(cs, "Suspended"); ok {
			st.message = "suspended (" + c.reason + ")"
		} else if c, ok := findCond(cs, "Restarting"); ok {
			st.message = "restarting after a failed run: " + c.message
		} else if _, ok := findCond(cs, "Running"); ok {
			st.state = provider.JobRunning
		}
	}
	switch {
	case st.state == provider.JobRunning || st.state.Terminal():
		st.attempts = int(failed) + 1
		if st.state == provider.JobFailed && failed > 0 {
			st.attempts = int(failed)
		}
	default:
		st.attempts = int(failed)
	}
	if st.state.Terminal() && st.started.IsZero() {
		st.started = st.finished
	}
	return st
}

// trainJobStatus maps a TrainJob's conditions (Complete, Failed,
// Suspended) and its JobSet's counts.
func trainJobStatus(u *unstructured.Unstructured) status {
	cs := conditionsOf(u)
	st := status{state: provider.JobQueued}
	if c, ok := findCond(cs, "Complete"); ok {
		st.state, st.finished, st.attempts = provider.JobSucceeded, c.at, 1
	} else if c, ok := findCond(cs, "Failed"); ok {
		st.state, st.finished, st.attempts, st.message = provider.JobFailed, c.at, 1, failureMessage(c.reason, c.message)
		st.failedRun = true
	} else if c, ok := findCond(cs, "Suspended"); ok {
		st.message = "suspended (" + c.reason + ")"
	} else {
		list, _, _ := unstructured.NestedSlice(u.Object, "status", "jobsStatus")
		for _, it := range list {
			if m, ok := it.(map[string]any); ok {
				if n, _ := m["ready"].(int64); n > 0 {
					st.state, st.attempts = provider.JobRunning, 1
				}
			}
		}
	}
	if c, ok := findCond(cs, "Created"); ok {
		st.started = c.at
	}
	if st.state == provider.JobRunning && st.started.IsZero() {
		st.started = u.GetCreationTimestamp().Time
	}
	if st.state.Terminal() && st.started.IsZero() {
		st.started = st.finished
	}
	return st
}

// lastFailedRun returns the termination message of the most recent failed
// container among pods, or "".
func lastFailedRun(pods []corev1.Pod) string {
	var best string
	var bestAt metav1.Time
	var bestName string
	for _, pod := range pods {
		for _, cs := range pod.Status.ContainerStatuses {
			t := cs.State.Terminated
			if t == nil || t.ExitCode == 0 {
				t = cs.LastTerminationState.Terminated
			}
			if t == nil || t.ExitCode == 0 {
				continue
			}
			msg := t.Message
			if msg == "" {
				msg = fmt.Sprintf("container %s exited with code %d (%s)", cs.Name, t.ExitCode, t.Reason)
			}
			if best == "" || bestAt.Before(&t.FinishedAt) || t.FinishedAt.Equal(&bestAt) && pod.Name > bestName {
				best, bestAt, bestName = strings.TrimSpace(msg), t.FinishedAt, pod.Name
			}
		}
	}
	return best
}
