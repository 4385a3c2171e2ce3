package azure

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tideline-ml/tideline/provider"
)

// The driver follows ARM's long-running operations itself rather than with
// azcore's runtime.NewPoller: the poller is built for generated clients'
// typed results and final-state rules, polls at the caller's frequency or
// at whatever Retry-After says with no floor or ceiling, and reports an
// operation's failure as an *azcore.ResponseError built from the poll's
// 200 answer. Here every pause is bounded (see retryAfter), every failure
// is mapped to the provider's codes, and the follow is fifty lines.

// operationStatus is an Azure-AsyncOperation status resource.
type operationStatus struct {
	Status string        `json:"status"`
	Error  *armErrorBody `json:"error"`
}

// wait follows the long-running operation that r started, under ctx, and
// returns when it ended: nil when it succeeded, a provider error when it
// failed, was canceled, or polling failed. An answer other than 201 or 202
// is a finished operation. With Azure-AsyncOperation the status resource
// is polled until its status is Succeeded, Failed or Canceled; with
// Location alone the location is polled until it answers 200 or 204 (202
// means not yet). A 201 with neither header has finished; a 202 with
// neither is an error, since nothing says when the work ends.
func (c *armClient) wait(ctx context.Context, what string, r *armResponse) error {
	if r.status != http.StatusCreated && r.status != http.StatusAccepted {
		return nil
	}
	asyncOp := r.header.Get("Azure-AsyncOperation")
	location := r.header.Get("Location")
	if asyncOp == "" && location == "" {
		if r.status == http.StatusCreated {
			return nil
		}
		return provider.Errorf(provider.Internal, "azure: %s: the service accepted the request (202) without Azure-AsyncOperation or Location to follow it by", what)
	}
	pause := c.retryAfter(r.header)
	for {
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return armError(op{what: what + " (waiting for the operation to finish)"}, ctx.Err())
		case <-t.C:
		}
		if asyncOp != "" {
			var st operationStatus
			pr, err := c.do(ctx, http.MethodGet, asyncOp, nil, nil)
			if err != nil {
				return armError(op{what: what + " (polling the operation)"}, err)
			}
			if err := pr.decode(&st); err != nil {
				return err
			}
			switch {
			case strings.EqualFold(st.Status, "Succeeded"):
				return nil
			case strings.EqualFold(st.Status, "Failed"), strings.EqualFold(st.Status, "Canceled"), strings.EqualFold(st.Status, "Cancelled"):
				return operationFailed(what, st)
			}
			pause = c.retryAfter(pr.header)
			continue
		}
		pr, err := c.do(ctx, http.MethodGet, location, nil, nil)
		if err != nil {
			return armError(op{what: what + " (polling the operation)"}, err)
		}
		if pr.status != http.StatusAccepted {
			return nil
		}
		pause = c.retryAfter(pr.header)
	}
}

// operationFailed is the error of an operation that ended Failed or
// Canceled: its code comes from the operation's error code the way an
// answer's does (armCodeOf), with Internal for a Failed operation whose
// code says nothing more. The message names the code, never the service's
// message text.
func operationFailed(what string, st operationStatus) error {
	body := armErrorBody{}
	if st.Error != nil {
		body = *st.Error
	}
	code := armCodeOfErrorCode(body.Code)
	if code == provider.Unknown {
		code = provider.Internal
		if strings.HasPrefix(strings.ToLower(st.Status), "cancel") {
			code = provider.Canceled
		}
	}
	return provider.Wrap(code, &serviceError{text: "the operation ended " + st.Status + " (" + body.String() + ")", err: &OperationError{Status: st.Status, Code: body.Code, Message: body.Message}}, "azure: "+what)
}

// OperationError is the cause of an error for a long-running operation
// that ended Failed or Canceled; errors.As finds it. Message is the
// service's text, which the driver's own error messages leave out.
type OperationError struct {
	Status, Code, Message string
}

func (e *OperationError) Error() string {
	return "operation " + e.Status + ": " + armErrorBody{Code: e.Code}.String()
}

// retryAfter is the pause before the next poll: Retry-After (seconds, or
// an HTTP date) when the answer carries one, else the poll interval; never
// shorter than the poll interval, never longer than MaxPollInterval.
func (c *armClient) retryAfter(h http.Header) time.Duration {
	d := c.pollEvery
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if secs, err := strconv.Atoi(v); err == nil {
			d = time.Duration(secs) * time.Second
		} else if at, err := http.ParseTime(v); err == nil {
			d = time.Until(at)
		}
	}
	return min(max(d, c.pollEvery), MaxPollInterval)
}
