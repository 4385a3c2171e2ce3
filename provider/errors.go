package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Code classifies an error by what the caller can do about it. The codes follow
// gRPC's status codes, so that an error from any provider means the same thing
// whichever cloud produced it.
type Code int

// The codes. OK is the code of a nil error.
const (
	OK                 Code = iota // not an error
	Unknown                        // an error that carries no code
	InvalidArgument                // the input is malformed; fix it before retrying
	NotFound                       // the named thing does not exist
	AlreadyExists                  // the named thing exists and may not be replaced
	FailedPrecondition             // the system is not in a state that allows the call
	Conflict                       // a concurrent change or another spec under the same key (gRPC's Aborted)
	PermissionDenied               // the caller or the policy forbids the call
	ResourceExhausted              // a quota or rate limit was reached
	Unavailable                    // a transient failure; retrying later may succeed
	DeadlineExceeded               // the deadline passed before the call finished
	Canceled                       // the caller's context was canceled
	Unimplemented                  // the provider does not offer the capability
	DataLoss                       // stored bytes do not match their recorded digest
	Internal                       // a bug or broken invariant
)

var codeNames = [...]string{
	OK:                 "OK",
	Unknown:            "Unknown",
	InvalidArgument:    "InvalidArgument",
	NotFound:           "NotFound",
	AlreadyExists:      "AlreadyExists",
	FailedPrecondition: "FailedPrecondition",
	Conflict:           "Conflict",
	PermissionDenied:   "PermissionDenied",
	ResourceExhausted:  "ResourceExhausted",
	Unavailable:        "Unavailable",
	DeadlineExceeded:   "DeadlineExceeded",
	Canceled:           "Canceled",
	Unimplemented:      "Unimplemented",
	DataLoss:           "DataLoss",
	Internal:           "Internal",
}

func (c Code) String() string {
	if c >= 0 && int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("Code(%d)", int(c))
}

// sentinel is the value behind each Err* variable. An *Error matches the
// sentinel of its code in errors.Is.
type sentinel struct{ code Code }

func (s *sentinel) Error() string { return s.code.String() }

// Sentinels, one per code, for errors.Is. The mlops package re-exports them.
var (
	ErrUnknown            error = &sentinel{Unknown}
	ErrInvalidArgument    error = &sentinel{InvalidArgument}
	ErrNotFound           error = &sentinel{NotFound}
	ErrAlreadyExists      error = &sentinel{AlreadyExists}
	ErrFailedPrecondition error = &sentinel{FailedPrecondition}
	ErrConflict           error = &sentinel{Conflict}
	ErrPermissionDenied   error = &sentinel{PermissionDenied}
	ErrResourceExhausted  error = &sentinel{ResourceExhausted}
	ErrUnavailable        error = &sentinel{Unavailable}
	ErrDeadlineExceeded   error = &sentinel{DeadlineExceeded}
	ErrCanceled           error = &sentinel{Canceled}
	ErrUnimplemented      error = &sentinel{Unimplemented}
	ErrDataLoss           error = &sentinel{DataLoss}
	ErrInternal           error = &sentinel{Internal}
)

// Error is an error with a code. Msg says what was wrong and what to do about
// it; Err, when not nil, is the cause (a cloud SDK's response error, say) and
// stays reachable through errors.As.
type Error struct {
	Code Code
	Msg  string
	Err  error
}

// Errorf returns an *Error with the given code and a formatted message. A %w
// verb in format sets the cause; with several %w verbs every one of them
// stays reachable through errors.Is and errors.As.
func Errorf(code Code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return &Error{Code: code, Msg: err.Error(), Err: u.Unwrap()}
	case interface{ Unwrap() []error }:
		return &Error{Code: code, Msg: err.Error(), Err: errors.Join(u.Unwrap()...)}
	}
	return &Error{Code: code, Msg: err.Error()}
}

// Wrap returns an *Error with the given code whose cause is err. msg replaces
// the cause's text at the front of the message; the cause's text follows it.
func Wrap(code Code, err error, msg string) *Error {
	return &Error{Code: code, Msg: msg, Err: err}
}

func (e *Error) Error() string {
	switch {
	case e.Err == nil:
		return e.Msg
	case e.Msg == "":
		return e.Err.Error()
	case containsSuffix(e.Msg, e.Err.Error()) || e.causeInMsg():
		return e.Msg
	default:
		return e.Msg + ": " + e.Err.Error()
	}
}

// causeInMsg reports whether Errorf already spelt every cause into Msg.
func (e *Error) causeInMsg() bool {
	j, ok := e.Err.(interface{ Unwrap() []error })
	if !ok {
		return false
	}
	for _, c := range j.Unwrap() {
		if !strings.Contains(e.Msg, c.Error()) {
			return false
		}
	}
	return true
}

func containsSuffix(s, suffix string) bool {
	return len(suffix) > 0 && len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is the sentinel of e's code.
func (e *Error) Is(target error) bool {
	s, ok := target.(*sentinel)
	return ok && s.code == e.Code
}

// Coded is implemented by errors that carry a code: *Error, and the richer
// error types of other packages (a policy denial, a failed job).
type Coded interface {
	error
	ErrorCode() Code
}

// ErrorCode returns e.Code.
func (e *Error) ErrorCode() Code { return e.Code }

// CodeOf returns the code of err: OK for nil, Canceled and DeadlineExceeded for
// the context errors, the code of the outermost Coded error in the chain, and
// Unknown for anything else.
func CodeOf(err error) Code {
	if err == nil {
		return OK
	}
	var c Coded
	if errors.As(err, &c) {
		return c.ErrorCode()
	}
	var s *sentinel
	if errors.As(err, &s) {
		return s.code
	}
	switch {
	case errors.Is(err, context.Canceled):
		return Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return DeadlineExceeded
	}
	return Unknown
}

// IsRetryable reports whether the code marks a failure that may succeed when
// the same call is made again later.
func (c Code) IsRetryable() bool {
	return c == Unavailable || c == ResourceExhausted
}
