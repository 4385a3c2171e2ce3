package azure

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/tideline-ml/tideline/provider"
)

// armError turns an error of a call to Azure Resource Manager into a
// provider error. The code comes first from ARM's error code, then from
// the status:
//
//   - a quota or limit code (any code containing "Quota", such as
//     QuotaExceeded, or ending in "LimitExceeded"): ResourceExhausted,
//     whatever the status;
//   - AuthorizationFailed, LinkedAuthorizationFailed, 401 and 403:
//     PermissionDenied;
//   - SubscriptionNotFound, ResourceGroupNotFound, WorkspaceNotFound:
//     FailedPrecondition (the configuration names a workspace that is not
//     there, not a missing job);
//   - 404: NotFound;
//   - 409 and 412: o.exists for a create, Conflict otherwise;
//   - 400 and 422: InvalidArgument;
//   - 429 and 5xx, which reach here only after the pipeline's retries:
//     Unavailable;
//   - a broken connection: Unavailable; the context's errors: Canceled and
//     DeadlineExceeded.
//
// The *azcore.ResponseError stays reachable through errors.As. The message
// holds the status and ARM's error code alone, never the request URL, a
// header, the response body or a token.
func armError(o op, err error) error { return serviceCallError("Azure Resource Manager", o, err) }

// serviceCallError is armError for the named service (Key Vault too).
func serviceCallError(service string, o op, err error) error {
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
	var af *azidentity.AuthenticationFailedError
	if errors.As(err, &af) {
		return provider.Wrap(provider.PermissionDenied, &credentialError{err},
			"azure: "+o.what+": the credential could not get a token for "+service+"; check its tenant, client id and secret, or its sign-in")
	}
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		var ne net.Error
		if errors.As(err, &ne) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) ||
			errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return provider.Wrap(provider.Unavailable, &serviceError{text: "the connection to " + service + " failed: " + netText(err), err: err}, "azure: "+o.what)
		}
		return provider.Wrap(provider.Unknown, &serviceError{text: netText(err), err: err}, "azure: "+o.what)
	}
	code, hint := armCodeOf(o, re)
	text := fmt.Sprintf("%s answered %d %s", service, re.StatusCode, http.StatusText(re.StatusCode))
	if re.ErrorCode != "" {
		text += " (" + re.ErrorCode + ")"
	}
	if hint != "" {
		text += "; " + hint
	}
	return provider.Wrap(code, &serviceError{text: text, err: err}, "azure: "+o.what)
}

func armCodeOf(o op, re *azcore.ResponseError) (provider.Code, string) {
	if c := armCodeOfErrorCode(re.ErrorCode); c != provider.Unknown {
		switch c {
		case provider.ResourceExhausted:
			return c, "a quota of the subscription or workspace is used up: free some or ask for more"
		case provider.PermissionDenied:
			return c, "check the credential and its role on the workspace"
		case provider.FailedPrecondition:
			return c, "check Config.SubscriptionID, ResourceGroup and Workspace"
		}
		return c, ""
	}
	switch s := re.StatusCode; {
	case s == http.StatusNotFound:
		return provider.NotFound, ""
	case s == http.StatusConflict || s == http.StatusPreconditionFailed:
		if o.exists != 0 {
			return o.exists, ""
		}
		return provider.Conflict, ""
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return provider.PermissionDenied, "check the credential and its role on the workspace"
	case s == http.StatusBadRequest || s == http.StatusUnprocessableEntity:
		return provider.InvalidArgument, ""
	case s == http.StatusTooManyRequests || s >= 500:
		return provider.Unavailable, "the request was retried and kept failing; try again later"
	}
	return provider.Unknown, ""
}

// armCodeOfErrorCode maps the ARM error codes that say more than their
// status; Unknown means the status decides.
func armCodeOfErrorCode(code string) provider.Code {
	lc := strings.ToLower(code)
	switch {
	case lc == "":
		return provider.Unknown
	case strings.Contains(lc, "quota") || strings.HasSuffix(lc, "limitexceeded"):
		return provider.ResourceExhausted
	case lc == "authorizationfailed" || lc == "linkedauthorizationfailed" || strings.HasPrefix(lc, "invalidauthenticationtoken"):
		return provider.PermissionDenied
	case lc == "subscriptionnotfound" || lc == "resourcegroupnotfound" || lc == "workspacenotfound":
		return provider.FailedPrecondition
	}
	return provider.Unknown
}
