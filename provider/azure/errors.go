package azure

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

	"github.com/tideline-ml/tideline/provider"
)

// serviceError is the cause the driver's errors carry for a failed call to
// the storage service. Its text is the status and the service's error code
// alone — never the response body, headers or request URL — and Unwrap
// reaches the SDK's error, so that errors.As still finds the
// *azcore.ResponseError.
type serviceError struct {
	text string
	err  error
}

func (e *serviceError) Error() string { return e.text }
func (e *serviceError) Unwrap() error { return e.err }

// op describes what the driver was doing when a call failed, for the front
// of the error message ("reading dataset claims@v1").
type op struct {
	what string
	// exists is the code for a 409 or 412 answer to a write that must
	// create (AlreadyExists); zero means Conflict.
	exists provider.Code
}

// mapError turns an error of the SDK into a provider error with a code the
// caller can act on:
//
//   - 404: NotFound, except a missing container, which is FailedPrecondition
//     (the store is not set up, not the dataset missing);
//   - 409 and 412: AlreadyExists for a create (op.exists), Conflict
//     otherwise;
//   - 401 and 403: PermissionDenied;
//   - 400, 413 and 416: InvalidArgument;
//   - 429 and 5xx, which reach here only after the SDK's retries: Unavailable;
//   - a network error (refused, reset, timed out): Unavailable;
//   - the context's own errors: Canceled or DeadlineExceeded.
//
// The message never holds the request's URL, query, headers or body.
func mapError(o op, err error) error {
	if err == nil {
		return nil
	}
	var pe *provider.Error
	if errors.As(err, &pe) {
		return err
	}
	switch {
	case errors.Is(err, context.Canceled):
		return provider.Wrap(provider.Canceled, err, "azure: "+o.what)
	case errors.Is(err, context.DeadlineExceeded):
		return provider.Wrap(provider.DeadlineExceeded, err, "azure: "+o.what)
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		code, hint := codeOfStatus(o, re)
		text := fmt.Sprintf("the storage service answered %d %s", re.StatusCode, http.StatusText(re.StatusCode))
		if re.ErrorCode != "" {
			text += " (" + re.ErrorCode + ")"
		}
		if hint != "" {
			text += "; " + hint
		}
		return provider.Wrap(code, &serviceError{text: text, err: err}, "azure: "+o.what)
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return provider.Wrap(provider.Unavailable, &serviceError{text: "the connection to the storage service failed: " + netText(err), err: err}, "azure: "+o.what)
	}
	return provider.Wrap(provider.Unknown, &serviceError{text: netText(err), err: err}, "azure: "+o.what)
}

// netText is the text of a transport error without the request URL that
// net/http puts in front of it (*url.Error), which holds a SAS when the
// request carried one.
func netText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}

func codeOfStatus(o op, re *azcore.ResponseError) (provider.Code, string) {
	switch s := re.StatusCode; {
	case s == http.StatusNotFound:
		if bloberror.HasCode(re, bloberror.ContainerNotFound) {
			return provider.FailedPrecondition, "the container does not exist: create it, or check the configured container name"
		}
		return provider.NotFound, ""
	case s == http.StatusConflict || s == http.StatusPreconditionFailed:
		if o.exists != 0 {
			return o.exists, ""
		}
		return provider.Conflict, ""
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return provider.PermissionDenied, "check the credential and its role on the storage account"
	case s == http.StatusBadRequest || s == http.StatusRequestEntityTooLarge || s == http.StatusRequestedRangeNotSatisfiable:
		return provider.InvalidArgument, ""
	case s == http.StatusTooManyRequests || s >= 500:
		return provider.Unavailable, "the request was retried and kept failing; try again later"
	}
	return provider.Unknown, ""
}
