package coreweavetest

import (
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateJobStatus returns what the API server (1.37) would refuse in an
// update of a Job's status from old to job: the rules a controller's write
// must keep. The fake Cluster applies them; the controller functions of
// this package keep them, so that they work on a real API server too.
//
// Checked: Complete=True needs SuccessCriteriaMet=True and completionTime;
// Failed=True needs FailureTarget=True; completionTime only with
// Complete=True and not before startTime; a finished Job needs startTime,
// has no active, terminating or uncounted pods; SuccessCriteriaMet and
// FailureTarget or Failed exclude each other, as do Complete and Failed or
// FailureTarget; ready never exceeds active; terminal conditions,
// SuccessCriteriaMet, the failed and succeeded counters, completionTime and
// (for an unsuspended Job) startTime never go back.
func ValidateJobStatus(job, old *batchv1.Job) field.ErrorList {
	var errs field.ErrorList
	st := &job.Status
	fld := field.NewPath("status")
	cond := func(j *batchv1.Job, t batchv1.JobConditionType) bool {
		for _, c := range j.Status.Conditions {
			if c.Type == t && c.Status == corev1.ConditionTrue {
				return true
			}
		}
		return false
	}
	complete, failed := cond(job, batchv1.JobComplete), cond(job, batchv1.JobFailed)
	scm, target := cond(job, batchv1.JobSuccessCriteriaMet), cond(job, batchv1.JobFailureTarget)
	finished := complete || failed
	bad := func(path *field.Path, msg string) {
		errs = append(errs, field.Invalid(path, field.OmitValueType{}, msg))
	}
	if complete && failed {
		bad(fld.Child("conditions"), "cannot set Complete=True and Failed=true conditions")
	}
	if complete && target {
		bad(fld.Child("conditions"), "cannot set Complete=True and FailureTarget=true conditions")
	}
	if st.CompletionTime != nil && !complete {
		bad(fld.Child("completionTime"), "cannot set completionTime when there is no Complete=True condition")
	}
	if st.CompletionTime == nil && complete {
		errs = append(errs, field.Required(fld.Child("completionTime"), "completionTime is required for Complete jobs"))
	}
	if st.StartTime != nil && st.CompletionTime != nil && st.CompletionTime.Before(st.StartTime) {
		bad(fld.Child("completionTime"), "must be equal to or after `startTime`")
	}
	if failed && !target {
		bad(fld.Child("conditions"), "cannot set Failed=True condition without the FailureTarget=true condition")
	}
	if complete && !scm {
		bad(fld.Child("conditions"), "cannot set Complete=True condition without the SuccessCriteriaMet=true condition")
	}
	if finished && st.Active > 0 {
		bad(fld.Child("active"), "active>0 is invalid for finished job")
	}
	if finished && st.StartTime == nil {
		errs = append(errs, field.Required(fld.Child("startTime"), "startTime is required for finished job"))
	}
	if finished && st.UncountedTerminatedPods != nil && len(st.UncountedTerminatedPods.Failed)+len(st.UncountedTerminatedPods.Succeeded) > 0 {
		bad(fld.Child("uncountedTerminatedPods"), "must be empty for finished job")
	}
	if finished && st.Terminating != nil && *st.Terminating > 0 {
		bad(fld.Child("terminating"), "terminating>0 is invalid for finished job")
	}
	if st.Ready != nil && *st.Ready > st.Active {
		bad(fld.Child("ready"), "cannot set more ready pods than active")
	}
	if scm && (failed || target) {
		bad(fld.Child("conditions"), "cannot set SuccessCriteriaMet=True together with Failed=True or FailureTarget=True")
	}
	if old == nil {
		return errs
	}
	for _, t := range []batchv1.JobConditionType{batchv1.JobFailed, batchv1.JobComplete, batchv1.JobFailureTarget} {
		if cond(old, t) && !cond(job, t) {
			bad(fld.Child("conditions"), "cannot disable the terminal "+string(t)+"=True condition")
		}
	}
	if st.Failed < old.Status.Failed {
		bad(fld.Child("failed"), "cannot decrease the failed counter")
	}
	if st.Succeeded < old.Status.Succeeded {
		bad(fld.Child("succeeded"), "cannot decrease the succeeded counter")
	}
	if st.CompletionTime != nil && old.Status.CompletionTime != nil && !st.CompletionTime.Equal(old.Status.CompletionTime) {
		bad(fld.Child("completionTime"), "field is immutable")
	}
	suspended := job.Spec.Suspend != nil && *job.Spec.Suspend
	if old.Status.StartTime != nil && (st.StartTime == nil || !st.StartTime.Equal(old.Status.StartTime)) && !suspended {
		bad(fld.Child("startTime"), "field is immutable for unsuspended job once set")
	}
	if cond(old, batchv1.JobSuccessCriteriaMet) && !scm {
		bad(fld.Child("conditions"), "cannot disable the SuccessCriteriaMet=True condition")
	}
	if cond(old, batchv1.JobComplete) && !cond(old, batchv1.JobSuccessCriteriaMet) && scm {
		bad(fld.Child("conditions"), "cannot set SuccessCriteriaMet=True for Job already has Complete=true conditions")
	}
	return errs
}
