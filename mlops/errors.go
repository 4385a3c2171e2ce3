package mlops

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tideline-ml/tideline/provider"
)

// ErrorCode classifies an error; see the constants of provider.Code, which
// this package shares so that a driver's error and a Client's error speak the
// same language.
type ErrorCode = provider.Code

// The error codes.
const (
	OK                 = provider.OK
	Unknown            = provider.Unknown
	InvalidArgument    = provider.InvalidArgument
	NotFound           = provider.NotFound
	AlreadyExists      = provider.AlreadyExists
	FailedPrecondition = provider.FailedPrecondition
	Conflict           = provider.Conflict
	PermissionDenied   = provider.PermissionDenied
	ResourceExhausted  = provider.ResourceExhausted
	Unavailable        = provider.Unavailable
	DeadlineExceeded   = provider.DeadlineExceeded
	Canceled           = provider.Canceled
	Unimplemented      = provider.Unimplemented
	DataLoss           = provider.DataLoss
	Internal           = provider.Internal
)

// Sentinels for errors.Is, one per code. They are the same values as the
// provider package's, so a driver error matches them too.
var (
	ErrUnknown            = provider.ErrUnknown
	ErrInvalidArgument    = provider.ErrInvalidArgument
	ErrNotFound           = provider.ErrNotFound
	ErrAlreadyExists      = provider.ErrAlreadyExists
	ErrFailedPrecondition = provider.ErrFailedPrecondition
	ErrConflict           = provider.ErrConflict
	ErrPermissionDenied   = provider.ErrPermissionDenied
	ErrResourceExhausted  = provider.ErrResourceExhausted
	ErrUnavailable        = provider.ErrUnavailable
	ErrDeadlineExceeded   = provider.ErrDeadlineExceeded
	ErrCanceled           = provider.ErrCanceled
	ErrUnimplemented      = provider.ErrUnimplemented
	ErrDataLoss           = provider.ErrDataLoss
	ErrInternal           = provider.ErrInternal
)

// ErrPolicyDenied matches every error that a policy denial produced. Such an
// error also matches ErrPermissionDenied, and errors.As turns it into a
// *PolicyError that lists every reason.
var ErrPolicyDenied = errors.New("denied by policy")

// Code returns the code of err: OK for nil, the code of the outermost coded
// error in its chain (*provider.Error, *PolicyError, *JobError, ...),
// Canceled or DeadlineExceeded for the context errors, and Unknown
// otherwise.
func Code(err error) ErrorCode { return provider.CodeOf(err) }

// errorf builds a coded error; the message says what was wrong and what to do.
func errorf(code ErrorCode, format string, args ...any) error {
	return provider.Errorf(code, format, args...)
}

// PolicyError is a denial. It lists every reason, from every rule that
// objected, not only the first.
type PolicyError struct {
	// Action and Target say what was attempted ("job.submit", "job train-3f2a…").
	Action Action
	Target string
	// Reasons are the objections, in rule order.
	Reasons []Reason
}

func (e *PolicyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "policy denied %s of %s", e.Action, e.Target)
	for i, r := range e.Reasons {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(r.String())
	}
	return b.String()
}

// ErrorCode returns PermissionDenied.
func (e *PolicyError) ErrorCode() ErrorCode { return PermissionDenied }

// Is makes a *PolicyError match ErrPolicyDenied and ErrPermissionDenied.
func (e *PolicyError) Is(target error) bool {
	return target == ErrPolicyDenied || target == ErrPermissionDenied
}
