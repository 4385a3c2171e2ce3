package azure

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"time"

	"github.com/tideline-ml/tideline/provider"
)

// Azure Machine Learning's PUT of a job creates it or replaces its
// definition; it has no conditional form (the service ignores If-Match
// and If-None-Match there). SubmitJob makes a job's creation exclusive
// with a claim blob in the workspace's storage container, created with
// If-None-Match: * before the job's PUT:
//
//	registry/jobs/<job>   {"submission": ..., "claimed": ...}
//
// Of concurrent submits of one name, one creates the claim and goes on to
// PUT the job; the others wait for that job to appear and answer
// AlreadyExists with it. A claim whose job has not appeared within
// jobClaimTTL — its submitter crashed or gave up between the claim and
// the PUT — is taken over by the next submit, with If-Match on the
// claim's ETag so that one taker wins.
const jobClaimPrefix = "registry/jobs/"

// jobClaimTTL is how long a claim without its job holds the name. It is
// well beyond the time a submit needs from its claim to its job's PUT,
// retries included.
const jobClaimTTL = 2 * time.Minute

type jobClaim struct {
	Format     int       `json:"format"`
	Job        string    `json:"job"`
	Submission string    `json:"submission"`
	Claimed    time.Time `json:"claimed"`
}

func jobClaimBlob(job string) string { return jobClaimPrefix + job }

// unsettledSubmission is a submission of this Workspace value whose
// SubmitJob returned without knowing whether its PUT made the job: its
// claim and its secrets stayed. Its call has ended, so no PUT of it is
// still to come; a later submit of the same name through this value may
// take its claim over without waiting for the claim to go stale, and
// then deletes its secrets.
type unsettledSubmission struct {
	submission string
	secrets    int
}

// claimJob makes name this submission's to create. It returns the claim's
// ETag; or, when the job exists by now (created by another submit, or
// outside Tideline), that job, for the caller's AlreadyExists; or the
// error that stopped it. It waits while another submit holds a fresh claim
// without a job yet, until that job appears, the claim goes stale, or ctx
// ends.
func (w *Workspace) claimJob(ctx context.Context, name, submission, what string) (string, *armJob, error) {
	blobName := jobClaimBlob(name)
	for round := 0; ; round++ {
		rec, _ := json.Marshal(jobClaim{Format: 1, Job: name, Submission: submission, Claimed: time.Now().UTC()})
		etag, err := w.writeBlob(ctx, blobName, rec, blobCond{absent: true}, what+" (claiming the job's name)")
		if err == nil {
			return etag, nil, nil
		}
		if provider.CodeOf(err) != provider.Conflict {
			return "", nil, err
		}
		// Claimed already. The job may exist by now.
		var existing armJob
		switch gerr := armError(op{what: what + " (looking for the job of an existing claim)"}, w.arm.getJSON(ctx, armPath("jobs", name), &existing)); provider.CodeOf(gerr) {
		case provider.OK:
			return "", &existing, nil
		case provider.NotFound:
		default:
			return "", nil, gerr
		}
		b, curTag, rerr := w.readBlob(ctx, blobName, what+" (reading the claim on the job's name)")
		switch provider.CodeOf(rerr) {
		case provider.OK:
		case provider.NotFound:
			continue // released meanwhile: try again at once
		default:
			return "", nil, rerr
		}
		var cur jobClaim
		bad := json.Unmarshal(b, &cur) != nil
		mine, _ := w.unsettled.Load(name)
		ownEarlier := !bad && mine != nil && mine.(*unsettledSubmission).submission == cur.Submission
		if bad || ownEarlier || time.Since(cur.Claimed) > jobClaimTTL {
			// Abandoned, unreadable, or left by an earlier submit of this
			// value that has ended: take it over, if no one else does
			// first.
			etag, err := w.writeBlob(ctx, blobName, rec, blobCond{ifMatch: curTag}, what+" (taking over an abandoned claim)")
			if err == nil {
				if ownEarlier {
					w.unsettled.CompareAndDelete(name, mine)
					w.dropSecrets(ctx, name, cur.Submission, mine.(*unsettledSubmission).secrets)
				}
				return etag, nil, nil
			}
			if provider.CodeOf(err) != provider.Conflict {
				return "", nil, err
			}
		}
		// Another submit holds a fresh claim and is about to PUT the job.
		// Wait for it: 10 ms doubling to 1 s, with jitter.
		bound := min(10*time.Millisecond<<min(round, 7), time.Second)
		if err := pause(ctx, bound/2+rand.N(bound/2)); err != nil {
			return "", nil, err
		}
	}
}

// releaseJobClaim removes this submission's claim after its job was not
// created, so that the name is free at once.
func (w *Workspace) releaseJobClaim(ctx context.Context, name, etag, what string) {
	cctx, cancel := cleanupContext(ctx)
	defer cancel()
	w.deleteBlob(cctx, jobClaimBlob(name), etag, what+" (releasing the claim on the job's name)")
}
