package coreweavetest_test

import (
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tideline-ml/tideline/provider/coreweave/coreweavetest"
)

// TestValidateJobStatus refuses what the API server refuses in a Job
// status update, and accepts what the Controller writes.
func TestValidateJobStatus(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	before := metav1.NewTime(t0.Add(-time.Second))
	c := func(typ batchv1.JobConditionType) batchv1.JobCondition {
		return batchv1.JobCondition{Type: typ, Status: corev1.ConditionTrue}
	}
	job := func(st batchv1.JobStatus) *batchv1.Job { return &batchv1.Job{Status: st} }
	for _, tc := range []struct {
		name     string
		job, old *batchv1.Job
		want     string
	}{
		{"CompleteWithoutSuccessCriteriaMet", job(batchv1.JobStatus{StartTime: &t0, CompletionTime: &t0, Conditions: []batchv1.JobCondition{c(batchv1.JobComplete)}}), nil, "without the SuccessCriteriaMet"},
		{"CompleteWithoutCompletionTime", job(batchv1.JobStatus{StartTime: &t0, Conditions: []batchv1.JobCondition{c(batchv1.JobSuccessCriteriaMet), c(batchv1.JobComplete)}}), nil, "completionTime is required"},
		{"CompletionBeforeStart", job(batchv1.JobStatus{StartTime: &t0, CompletionTime: &before, Conditions: []batchv1.JobCondition{c(batchv1.JobSuccessCriteriaMet), c(batchv1.JobComplete)}}), nil, "after `startTime`"},
		{"FinishedWithoutStart", job(batchv1.JobStatus{Conditions: []batchv1.JobCondition{c(batchv1.JobFailureTarget), c(batchv1.JobFailed)}}), nil, "startTime is required"},
		{"FailedWithoutFailureTarget", job(batchv1.JobStatus{StartTime: &t0, Conditions: []batchv1.JobCondition{c(batchv1.JobFailed)}}), nil, "without the FailureTarget"},
		{"FinishedWithActive", job(batchv1.JobStatus{StartTime: &t0, Active: 1, Conditions: []batchv1.JobCondition{c(batchv1.JobFailureTarget), c(batchv1.JobFailed)}}), nil, "active>0"},
		{"FailedCounterDecreases", job(batchv1.JobStatus{Failed: 1}), job(batchv1.JobStatus{Failed: 2}), "decrease the failed counter"},
		{"StartTimeMoves", job(batchv1.JobStatus{StartTime: &t0}), job(batchv1.JobStatus{StartTime: &before}), "immutable"},
		{"TerminalUndone", job(batchv1.JobStatus{StartTime: &t0}), job(batchv1.JobStatus{StartTime: &t0, Conditions: []batchv1.JobCondition{c(batchv1.JobFailureTarget)}}), "cannot disable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := coreweavetest.ValidateJobStatus(tc.job, tc.old)
			if !strings.Contains(errs.ToAggregate().Error(), tc.want) {
				t.Errorf("errors %v, want one saying %q", errs, tc.want)
			}
		})
	}
	ok := job(batchv1.JobStatus{StartTime: &t0, CompletionTime: &t0, Succeeded: 1, Conditions: []batchv1.JobCondition{c(batchv1.JobSuccessCriteriaMet), c(batchv1.JobComplete)}})
	if errs := coreweavetest.ValidateJobStatus(ok, job(batchv1.JobStatus{StartTime: &t0})); len(errs) > 0 {
		t.Errorf("a valid completion is refused: %v", errs)
	}
}
