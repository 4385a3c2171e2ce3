package coreweave

import (
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/tideline-ml/tideline/provider"
)

// TestBatchStatus maps every Job status a controller writes.
func TestBatchStatus(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Minute))
	one, zero := int32(1), int32(0)
	cond := func(typ batchv1.JobConditionType, reason string) batchv1.JobCondition {
		return batchv1.JobCondition{Type: typ, Status: corev1.ConditionTrue, Reason: reason, LastTransitionTime: t1}
	}
	for _, tc := range []struct {
		name     string
		st       batchv1.JobStatus
		state    provider.JobState
		attempts int
		msg      string
	}{
		{"New", batchv1.JobStatus{}, provider.JobQueued, 0, ""},
		{"PodPending", batchv1.JobStatus{StartTime: &t0, Active: 1, Ready: &zero}, provider.JobQueued, 0, "waiting for its pod"},
		{"Running", batchv1.JobStatus{StartTime: &t0, Active: 1, Ready: &one}, provider.JobRunning, 1, ""},
		{"RetryPending", batchv1.JobStatus{StartTime: &t0, Active: 1, Ready: &zero, Failed: 1}, provider.JobQueued, 1, "run 1 failed"},
		{"Retrying", batchv1.JobStatus{StartTime: &t0, Active: 1, Ready: &one, Failed: 1}, provider.JobRunning, 2, ""},
		{"Suspended", batchv1.JobStatus{Conditions: []batchv1.JobCondition{cond(batchv1.JobSuspended, "JobSuspended")}}, provider.JobQueued, 0, "suspended"},
		{"SuccessCriteriaMet", batchv1.JobStatus{StartTime: &t0, Succeeded: 1, Conditions: []batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet, "CompletionsReached")}}, provider.JobSucceeded, 1, ""},
		{"Complete", batchv1.JobStatus{StartTime: &t0, Succeeded: 1, CompletionTime: &t1, Conditions: []batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet, "CompletionsReached"), cond(batchv1.JobComplete, "CompletionsReached")}}, provider.JobSucceeded, 1, ""},
		{"FailureTarget", batchv1.JobStatus{StartTime: &t0, Failed: 3, Conditions: []batchv1.JobCondition{cond(batchv1.JobFailureTarget, batchv1.JobReasonBackoffLimitExceeded)}}, provider.JobFailed, 3, "retries (MaxRetries, the Job's backoffLimit) are spent"},
		{"DeadlineExceeded", batchv1.JobStatus{StartTime: &t0, Failed: 1, Conditions: []batchv1.JobCondition{cond(batchv1.JobFailureTarget, batchv1.JobReasonDeadlineExceeded), cond(batchv1.JobFailed, batchv1.JobReasonDeadlineExceeded)}}, provider.JobFailed, 1, "MaxDuration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := batchStatus(&batchv1.Job{Status: tc.st})
			if st.state != tc.state || st.attempts != tc.attempts || !strings.Contains(st.message, tc.msg) {
				t.Errorf("got %s, %d attempts, %q; want %s, %d, a message with %q", st.state, st.attempts, st.message, tc.state, tc.attempts, tc.msg)
			}
			if st.attempts == 0 && !st.started.IsZero() {
				t.Errorf("Started %v before any run started", st.started)
			}
			if st.state.Terminal() && !st.finished.Equal(t1.Time) {
				t.Errorf("Finished %v, want when the outcome was reached (%v)", st.finished, t1)
			}
		})
	}
}

// TestKubeflowStatus maps PyTorchJob and TrainJob conditions.
func TestKubeflowStatus(t *testing.T) {
	u := func(conds ...map[string]any) *unstructured.Unstructured {
		list := make([]any, len(conds))
		for i, c := range conds {
			c["lastTransitionTime"] = "2026-01-02T03:04:05Z"
			list[i] = c
		}
		return &unstructured.Unstructured{Object: map[string]any{"status": map[string]any{"conditions": list}}}
	}
	c := func(typ, status string) map[string]any { return map[string]any{"type": typ, "status": status} }
	for _, tc := range []struct {
		name  string
		got   status
		state provider.JobState
	}{
		{"PyTorchCreated", pytorchStatus(u(c("Created", "True"))), provider.JobQueued},
		{"PyTorchRunning", pytorchStatus(u(c("Created", "True"), c("Running", "True"))), provider.JobRunning},
		{"PyTorchRestarting", pytorchStatus(u(c("Running", "False"), c("Restarting", "True"))), provider.JobQueued},
		{"PyTorchSucceeded", pytorchStatus(u(c("Running", "False"), c("Succeeded", "True"))), provider.JobSucceeded},
		{"PyTorchFailed", pytorchStatus(u(c("Failed", "True"))), provider.JobFailed},
		{"PyTorchSuspended", pytorchStatus(u(c("Suspended", "True"))), provider.JobQueued},
		{"TrainJobCreated", trainJobStatus(u(c("Created", "True"))), provider.JobQueued},
		{"TrainJobComplete", trainJobStatus(u(c("Complete", "True"))), provider.JobSucceeded},
		{"TrainJobFailed", trainJobStatus(u(c("Failed", "True"))), provider.JobFailed},
	} {
		if tc.got.state != tc.state {
			t.Errorf("%s: %s, want %s", tc.name, tc.got.state, tc.state)
		}
	}
}
