package coreweave

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/tideline-ml/tideline/provider"
)

// mapErr gives an error from the Kubernetes API the provider code that says
// what the caller can do, keeping the original reachable through errors.As.
// what names the call ("creating Job \"train-1\"").
func mapErr(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	code := provider.Unknown
	switch {
	case apierrors.IsNotFound(err):
		code = provider.NotFound
	case apierrors.IsAlreadyExists(err):
		code = provider.AlreadyExists
	case apierrors.IsConflict(err):
		code = provider.Conflict
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		code = provider.InvalidArgument
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err):
		code = provider.PermissionDenied
	case apierrors.IsTooManyRequests(err):
		code = provider.Unavailable
	case apierrors.IsServerTimeout(err), apierrors.IsTimeout(err), apierrors.IsServiceUnavailable(err), apierrors.IsInternalError(err), apierrors.IsUnexpectedServerError(err):
		code = provider.Unavailable
	case apierrors.IsGone(err), apierrors.IsResourceExpired(err):
		code = provider.Conflict
	case transient(err):
		code = provider.Unavailable
	}
	if code == provider.PermissionDenied && apierrors.IsForbidden(err) {
		// The API server's message names the verb, the resource and the
		// namespace that were refused.
		return provider.Errorf(code, "coreweave: %s: %w; the Role in coreweave.RoleYAML grants what the provider needs", what, err)
	}
	return provider.Errorf(code, "coreweave: %s: %w", what, err)
}

// apiErr is mapErr for a call the provider makes itself: a 403 becomes
// PermissionDenied saying which permission is missing (the verb, the
// resource and the namespace) and where the Role that grants it is.
func (p *Provider) apiErr(err error, verb, resource, name string) error {
	if err == nil {
		return nil
	}
	what := verb + " " + resource
	if name != "" {
		what += fmt.Sprintf(" %q", name)
	}
	if apierrors.IsForbidden(err) {
		return provider.Errorf(provider.PermissionDenied, "coreweave: %s in namespace %q was forbidden: the credentials lack permission %q on %q in namespace %q; bind them to the Role in coreweave.RoleYAML (%w)", what, p.namespace, verb, resource, p.namespace, err)
	}
	return mapErr(err, what+" in namespace "+p.namespace)
}

// transient reports whether err is a failure of the connection rather than
// an answer of the API server: a reset, a refused or timed-out dial, a
// response cut short. Retrying may succeed.
func transient(err error) bool {
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		return false
	}
	var ne net.Error
	var ue *url.Error
	return errors.As(err, &ne) || errors.As(err, &ue) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED)
}
