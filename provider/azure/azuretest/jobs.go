package azuretest

import (
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"time"
)

// JobKind is the collection jobs are stored in.
const JobKind = "jobs"

// Keys of a job's properties dictionary (properties.properties) that the
// server stamps as its controller moves the job, the way a run's history
// records them: the first start, the end, the last failure's message, and
// the number of runs started.
const (
	PropStartTime    = "StartTimeUtc"
	PropEndTime      = "EndTimeUtc"
	PropErrorMessage = "ErrorMessage"
	PropAttempts     = "tideline.attempts"
)

// The Azure ML job statuses the server's controller uses.
const (
	StatusNotStarted      = "NotStarted"
	StatusQueued          = "Queued"
	StatusRunning         = "Running"
	StatusCompleted       = "Completed"
	StatusFailed          = "Failed"
	StatusCancelRequested = "CancelRequested"
	StatusCanceled        = "Canceled"
)

// terminalStatus reports whether an Azure ML job status is final.
func terminalStatus(s string) bool {
	return s == StatusCompleted || s == StatusFailed || s == StatusCanceled
}

func (s *Server) jobRoutes() {
	const ex = "jobs/CommandJob/"
	s.Handle(RouteSpec{Method: http.MethodPut, Pattern: "jobs/{name}", Example: ex + "createOrUpdate.json"}, s.putJob)
	s.Handle(RouteSpec{Method: http.MethodGet, Pattern: "jobs/{name}", Example: ex + "get.json"}, func(r *Request) *Response {
		res, ok := s.Get(JobKind, r.Vars["name"])
		if !ok {
			return NotFound("job " + r.Vars["name"])
		}
		return JSON(http.StatusOK, res.Body)
	})
	s.Handle(RouteSpec{Method: http.MethodGet, Pattern: "jobs", Example: ex + "list.json"}, func(r *Request) *Response {
		var values []any
		for _, res := range s.List(JobKind, "") {
			values = append(values, res.Body)
		}
		return s.Page(r, values)
	})
	s.Handle(RouteSpec{Method: http.MethodPost, Pattern: "jobs/{name}/cancel", Example: "jobs/cancel.json"}, s.cancelJob)
	s.Handle(RouteSpec{Method: http.MethodDelete, Pattern: "jobs/{name}", Example: "jobs/delete.json"}, s.deleteJob)
	// Environments hold a job's image; Microsoft's examples cover none.
	s.Handle(RouteSpec{Method: http.MethodPut, Pattern: "environments/{name}/versions/{version}"}, func(r *Request) *Response {
		props, _ := r.JSON["properties"].(map[string]any)
		if img, _ := props["image"].(string); img == "" {
			return Error(http.StatusBadRequest, "UserError", "an environment version needs properties.image")
		}
		key := r.Vars["name"] + "/" + r.Vars["version"]
		now := time.Now()
		s.Lock()
		_, existed := s.GetLocked("environments", key)
		body := map[string]any{"id": s.armID("environments", r.Vars["name"], "versions", r.Vars["version"]), "name": r.Vars["version"],
			"type": "Microsoft.MachineLearningServices/workspaces/environments/versions", "properties": props, "systemData": systemData(now, now)}
		s.PutLocked(&Resource{Kind: "environments", Key: key, Body: body, Request: r.JSON})
		s.Unlock()
		if existed {
			return JSON(http.StatusOK, body)
		}
		return JSON(http.StatusCreated, body)
	})
}

// putJob creates a command job. Over an existing job it changes the
// display name, description and tags and keeps the status; a PUT that
// changes anything else of a job's definition is refused with 400. As in
// Azure Machine Learning, the PUT has no conditional form: If-Match and
// If-None-Match are ignored, and a PUT repeating a job's definition (a
// retry after a lost answer) succeeds without changing it.
func (s *Server) putJob(r *Request) *Response {
	name := r.Vars["name"]
	props, _ := r.JSON["properties"].(map[string]any)
	if props == nil {
		return Error(http.StatusBadRequest, "UserError", "the body has no properties")
	}
	for _, f := range []string{"jobType", "command", "environmentId", "computeId"} {
		if v, _ := props[f].(string); v == "" {
			return Error(http.StatusBadRequest, "UserError", "properties."+f+" is required for a command job")
		}
	}
	if props["jobType"] != "Command" {
		return Error(http.StatusBadRequest, "UserError", "the server runs command jobs alone")
	}
	s.Lock()
	defer s.Unlock()
	old, exists := s.GetLocked(JobKind, name)
	if exists {
		if f := immutableChange(old.Request, r.JSON); f != "" {
			return Error(http.StatusBadRequest, "UserError", "job "+name+" exists and its "+f+" cannot change; submit a new job under another name")
		}
	}
	now := time.Now()
	res := &Resource{Kind: JobKind, Key: name, Request: r.JSON, Created: now, Extra: map[string]any{"modified": now.UnixNano()}}
	status := StatusNotStarted
	stamps := map[string]any{}
	if exists {
		res.Created = old.Created
		status, _ = old.Body["properties"].(map[string]any)["status"].(string)
		stamps = stampsOf(old)
	}
	res.Body = s.jobBody(name, r.JSON, status, stamps, res.Created, now)
	s.PutLocked(res)
	if exists {
		return JSON(http.StatusOK, res.Body)
	}
	return JSON(http.StatusCreated, res.Body)
}

// jobBody builds the answer for a job, modelled on the example's answer:
// the definition's properties, the status, the stamps in
// properties.properties, id, name, type and systemData.
func (s *Server) jobBody(name string, def map[string]any, status string, stamps map[string]any, created, modified time.Time) map[string]any {
	props, _ := deepCopy(def)["properties"].(map[string]any)
	props["status"] = status
	if len(stamps) > 0 {
		pp, _ := props["properties"].(map[string]any)
		if pp == nil {
			pp = map[string]any{}
		}
		for k, v := range stamps {
			pp[k] = v
		}
		props["properties"] = pp
	}
	return map[string]any{
		"id": s.armID("jobs", name), "name": name, "type": "Microsoft.MachineLearningServices/workspaces/jobs",
		"properties": props, "systemData": systemData(created, modified),
	}
}

// stampsOf returns the controller's stamps of a stored job.
func stampsOf(r *Resource) map[string]any {
	out := map[string]any{}
	pp, _ := r.Body["properties"].(map[string]any)["properties"].(map[string]any)
	for _, k := range []string{PropStartTime, PropEndTime, PropErrorMessage, PropAttempts} {
		if v, ok := pp[k]; ok {
			out[k] = v
		}
	}
	return out
}

func jobStatus(r *Resource) string {
	st, _ := r.Body["properties"].(map[string]any)["status"].(string)
	return st
}

// cancelJob asks a job to stop: a job that has ended answers 200 and stays
// as it is; any other becomes CancelRequested and ends Canceled when the
// operation (Location style) finishes.
func (s *Server) cancelJob(r *Request) *Response {
	name := r.Vars["name"]
	res, ok := s.Get(JobKind, name)
	if !ok {
		return NotFound("job " + name)
	}
	if terminalStatus(jobStatus(res)) {
		return &Response{Status: http.StatusOK}
	}
	s.setStatus(name, StatusCancelRequested, nil)
	return s.StartOperation(r, http.StatusAccepted, nil, StyleLocation, func() (string, string) {
		// A job that ended meanwhile, or was deleted, stays as it is.
		s.transition(name, func(status string) bool { return !terminalStatus(status) }, StatusCanceled, func(st map[string]any, now string) {
			st[PropEndTime] = now
		})
		return "", ""
	})
}

// deleteJob removes a job when its operation (Location style) finishes; a
// missing job is 204.
func (s *Server) deleteJob(r *Request) *Response {
	name := r.Vars["name"]
	if _, ok := s.Get(JobKind, name); !ok {
		return &Response{Status: http.StatusNoContent}
	}
	return s.StartOperation(r, http.StatusAccepted, nil, StyleLocation, func() (string, string) {
		s.Lock()
		s.DeleteLocked(JobKind, name)
		s.Unlock()
		return "", ""
	})
}

// setStatus sets a job's status and stamps.
func (s *Server) setStatus(name, status string, stamp func(st map[string]any, now string)) bool {
	return s.transition(name, nil, status, stamp) == nil
}

// transition moves a job to status when allowed(current) holds.
func (s *Server) transition(name string, allowed func(current string) bool, status string, stamp func(st map[string]any, now string)) error {
	var err error
	found := s.Update(JobKind, name, func(r *Resource) {
		cur := jobStatus(r)
		if allowed != nil && !allowed(cur) {
			err = fmt.Errorf("azuretest: job %s is %s", name, cur)
			return
		}
		now := time.Now()
		st := stampsOf(r)
		if stamp != nil {
			stamp(st, now.UTC().Format(time.RFC3339Nano))
		}
		r.Extra["modified"] = now.UnixNano()
		r.Body = s.jobBody(name, r.Request, status, st, r.Created, now)
	})
	if !found {
		return fmt.Errorf("azuretest: no job %s", name)
	}
	return err
}

// StartJob starts a job's next run, as the cloud's scheduler would: a job
// that has not ended and is not running becomes Running, its attempts
// count one more, and its first start is stamped.
func (s *Server) StartJob(name string) error {
	return s.transition(name, func(cur string) bool {
		return !terminalStatus(cur) && cur != StatusRunning && cur != StatusCancelRequested
	}, StatusRunning,
		func(st map[string]any, now string) {
			if _, ok := st[PropStartTime]; !ok {
				st[PropStartTime] = now
			}
			n, _ := strconv.Atoi(fmt.Sprint(st[PropAttempts]))
			st[PropAttempts] = strconv.Itoa(n + 1)
			delete(st, PropEndTime)
		})
}

// CompleteJob ends a running job Completed. A non-empty outputURI replaces
// the uri of the job's outputs (every one of them).
func (s *Server) CompleteJob(name, outputURI string) error {
	if outputURI != "" {
		s.Update(JobKind, name, func(r *Resource) {
			props, _ := r.Request["properties"].(map[string]any)
			outs, _ := props["outputs"].(map[string]any)
			for _, o := range outs {
				if om, ok := o.(map[string]any); ok {
					om["uri"] = outputURI
				}
			}
		})
	}
	return s.transition(name, func(cur string) bool { return cur == StatusRunning }, StatusCompleted, func(st map[string]any, now string) {
		st[PropEndTime] = now
	})
}

// FailJob ends a running job Failed, with message as its error message.
func (s *Server) FailJob(name, message string) error {
	return s.transition(name, func(cur string) bool { return cur == StatusRunning }, StatusFailed, func(st map[string]any, now string) {
		st[PropEndTime] = now
		st[PropErrorMessage] = message
	})
}

// RequeueJob puts a failed or running job back in the queue for another
// run, as a retrying controller would; the last failure's message stays.
func (s *Server) RequeueJob(name string) error {
	return s.transition(name, func(cur string) bool { return cur == StatusFailed || cur == StatusRunning }, StatusQueued, func(st map[string]any, now string) {
		delete(st, PropEndTime)
	})
}

// SetJobStatus sets any status, for tests of a client's status mapping.
func (s *Server) SetJobStatus(name, status string) error {
	return s.transition(name, nil, status, nil)
}

// JobDefinition returns the body of the PUT that created the job: what the
// workspace stores as the job's definition.
func (s *Server) JobDefinition(name string) (map[string]any, bool) {
	res, ok := s.Get(JobKind, name)
	if !ok {
		return nil, false
	}
	return res.Request, true
}

// JobStatus returns a job's status.
func (s *Server) JobStatus(name string) (string, bool) {
	res, ok := s.Get(JobKind, name)
	if !ok {
		return "", false
	}
	return jobStatus(res), true
}

// mutableJobFields are the parts of a job's properties a PUT over an
// existing job may change.
var mutableJobFields = map[string]bool{"displayName": true, "description": true, "tags": true}

// immutableChange names the first part of an existing job's definition
// that next changes, or returns "" when it changes none.
func immutableChange(prev, next map[string]any) string {
	p, _ := prev["properties"].(map[string]any)
	n, _ := next["properties"].(map[string]any)
	keys := map[string]bool{}
	for k := range p {
		keys[k] = true
	}
	for k := range n {
		keys[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if !mutableJobFields[k] && !reflect.DeepEqual(p[k], n[k]) {
			return "properties." + k
		}
	}
	return ""
}
