package coreweave

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/tideline-ml/tideline/provider"
)

// WatchJob returns the job once its Revision (the object's
// resourceVersion) differs from afterRevision. It reads the job once, then
// watches that one object from the version it read, with bookmarks, so
// that it wakes for a change and for nothing else; when the watch ends it
// resumes from the last version seen, and when that version has expired
// (410 Gone) it reads the job again. A job deleted meanwhile is returned
// from its cancellation record, or NotFound. Errors: NotFound; ctx.Err()
// when ctx ends first.
func (p *Provider) WatchJob(ctx context.Context, name, afterRevision string) (*provider.JobInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for {
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
		info, expired, err := p.watchFrom(ctx, o, afterRevision)
		if info != nil || err != nil {
			return info, ctxErr(ctx, err)
		}
		if !expired {
			// The object was deleted: read it again (its record).
			continue
		}
	}
}

// watchFrom watches o from afterRevision until it changes. It returns
// expired when the version is too old to watch from, so the caller reads
// the job again, and neither info nor expired when the job was deleted.
func (p *Provider) watchFrom(ctx context.Context, o *object, afterRevision string) (*provider.JobInfo, bool, error) {
	name := o.meta.GetName()
	rv := afterRevision
	for {
		w, err := p.watchObject(ctx, o.kind, name, rv)
		if err != nil {
			if apierrors.IsGone(err) || apierrors.IsResourceExpired(err) {
				return nil, true, nil
			}
			return nil, false, p.apiErr(err, "watch", o.kind.resource(), name)
		}
		info, next, expired, deleted, err := p.consume(ctx, w, o.kind, name, afterRevision, rv)
		w.Stop()
		switch {
		case err != nil || info != nil:
			return info, false, err
		case expired:
			return nil, true, nil
		case deleted:
			return nil, false, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		rv = next
	}
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

// ctxErr returns ctx.Err() unwrapped when ctx ended, as the contract asks,
// and err otherwise.
func ctxErr(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
