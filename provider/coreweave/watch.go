package coreweave

import (
	"context"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/tideline-ml/tideline/provider"
)

// WatchJob returns the job once its Revision (the object's
// resourceVersion) differs from afterRevision. It reads the job once, then
// watches that one object from afterRevision, with bookmarks, so that it
// wakes for a change and for nothing else. When the watch ends it resumes
// from the last version seen (an event's or a bookmark's), also when the
// stream broke or the server ended it with a 5xx or 429 error; when that
// version has expired (410 Gone) it lists the job by name and watches on
// from the list's version. A job deleted meanwhile is returned from its
// cancellation record, or NotFound. Errors: NotFound; ctx.Err() when ctx
// ends first.
func (p *Provider) WatchJob(ctx context.Context, name, afterRevision string) (*provider.JobInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o, rec, err := p.find(ctx, name)
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	if rec != nil {
		if rec.ResourceVersion != afterRevision {
			return recordInfo(rec)
		}
		// A record does not change; nothing will wake this call.
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if afterRevision == "" || o.meta.GetResourceVersion() != afterRevision {
		return p.info(ctx, o)
	}
	k := o.kind
	rv := afterRevision
	pause := time.Duration(0)
	for {
		if pause > 0 {
			// The last watch ended at once with nothing in it: wait before
			// the next, so that a server closing watches is not hammered.
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(pause):
			}
		}
		opened := time.Now()
		w, err := p.watchObject(ctx, k, name, rv)
		var info *provider.JobInfo
		var expired, deleted bool
		switch {
		case err == nil:
			info, rv, expired, deleted, err = p.consume(ctx, w, k, name, afterRevision, rv)
			w.Stop()
		case apierrors.IsGone(err) || apierrors.IsResourceExpired(err):
			expired, err = true, nil
		default:
			err = p.apiErr(err, "watch", k.resource(), name)
		}
		switch {
		case err != nil || info != nil:
			return info, ctxErr(ctx, err)
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case deleted:
			return p.afterDelete(ctx, name, afterRevision)
		case expired:
			cur, listRV, err := p.relist(ctx, k, name)
			if err != nil {
				return nil, ctxErr(ctx, p.apiErr(err, "list", k.resource(), ""))
			}
			if cur == nil {
				return p.afterDelete(ctx, name, afterRevision)
			}
			if cur.meta.GetResourceVersion() != afterRevision {
				return p.info(ctx, cur)
			}
			rv = listRV
		}
		if time.Since(opened) < 100*time.Millisecond {
			pause = min(max(2*pause, 50*time.Millisecond), 2*time.Second)
		} else {
			pause = 0
		}
	}
}

// afterDelete returns what is left of a job that was deleted while watched:
// its cancellation record, or NotFound.
func (p *Provider) afterDelete(ctx context.Context, name, afterRevision string) (*provider.JobInfo, error) {
	_, rec, err := p.find(ctx, name)
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	if rec != nil {
		return recordInfo(rec)
	}
	// Recreated meanwhile: the caller reads it again.
	return p.GetJob(ctx, name)
}

// consume reads one watch until the job changes, the watch ends or ctx
// ends. next is the last version seen, to resume from.
func (p *Provider) consume(ctx context.Context, w watch.Interface, k kind, name, afterRevision, rv string) (info *provider.JobInfo, next string, expired, deleted bool, err error) {
	next = rv
	for {
		select {
		case <-ctx.Done():
			return nil, next, false, false, ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil, next, false, false, nil
			}
			switch ev.Type {
			case watch.Error:
				st := apierrors.FromObject(ev.Object)
				if apierrors.IsGone(st) || apierrors.IsResourceExpired(st) {
					return nil, next, true, false, nil
				}
				if brokenStream(st) {
					// The stream broke (client-go reports a connection cut
					// mid-event as an internal error) or the server ended it
					// for a while: resume from the last version seen.
					return nil, next, false, false, nil
				}
				return nil, next, false, false, p.apiErr(st, "watch", k.resource(), name)
			case watch.Bookmark:
				if m, err := meta.Accessor(ev.Object); err == nil && m.GetResourceVersion() != "" {
					next = m.GetResourceVersion()
				}
			case watch.Deleted:
				return nil, next, false, true, nil
			case watch.Added, watch.Modified:
				o, ok := fromEvent(k, ev.Object)
				if !ok || o.meta.GetName() != name {
					continue
				}
				next = o.meta.GetResourceVersion()
				if next == afterRevision {
					continue
				}
				info, err := p.info(ctx, o)
				return info, next, false, false, err
			}
		}
	}
}

// brokenStream reports whether a watch's error event means the stream
// ended for a reason a new watch may not meet: an internal error (what
// client-go reports when the connection breaks mid-stream), a timeout, an
// unavailable or overloaded server.
func brokenStream(err error) bool {
	return apierrors.IsInternalError(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
		apierrors.IsServiceUnavailable(err) || apierrors.IsTooManyRequests(err) || apierrors.IsUnexpectedServerError(err)
}

// ctxErr returns ctx.Err() unwrapped when ctx ended, as the contract asks,
// and err otherwise.
func ctxErr(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
