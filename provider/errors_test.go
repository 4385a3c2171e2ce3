package provider_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tideline-ml/tideline/provider"
)

type cloudErr struct{ status int }

func (e *cloudErr) Error() string { return fmt.Sprintf("HTTP %d", e.status) }

func TestErrorCodesAndCauses(t *testing.T) {
	cause := &cloudErr{status: 404}
	err := provider.Errorf(provider.NotFound, "dataset %q: %w", "claims", cause)
	require.Equal(t, `dataset "claims": HTTP 404`, err.Error())
	require.ErrorIs(t, err, provider.ErrNotFound)
	require.NotErrorIs(t, err, provider.ErrAlreadyExists)
	var ce *cloudErr
	require.True(t, errors.As(err, &ce), "the cause stays reachable")
	require.Equal(t, provider.NotFound, provider.CodeOf(fmt.Errorf("outer: %w", err)))

	w := provider.Wrap(provider.Unavailable, cause, "reading blob")
	require.Equal(t, "reading blob: HTTP 404", w.Error())
	require.True(t, provider.CodeOf(w).IsRetryable())
	require.False(t, provider.NotFound.IsRetryable())
}

func TestCodeOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want provider.Code
	}{
		{nil, provider.OK},
		{context.Canceled, provider.Canceled},
		{fmt.Errorf("waiting: %w", context.DeadlineExceeded), provider.DeadlineExceeded},
		{errors.New("plain"), provider.Unknown},
		{provider.ErrDataLoss, provider.DataLoss},
		{fmt.Errorf("wrapped: %w", provider.ErrNotFound), provider.NotFound},
		{provider.Errorf(provider.Conflict, "etag"), provider.Conflict},
	} {
		require.Equal(t, tc.want, provider.CodeOf(tc.err), "%v", tc.err)
	}
}

func TestCodeStrings(t *testing.T) {
	seen := map[string]bool{}
	for c := provider.OK; c <= provider.Internal; c++ {
		s := c.String()
		require.NotContains(t, s, "Code(", "code %d has no name", int(c))
		require.False(t, seen[s], "duplicate name %s", s)
		seen[s] = true
	}
	require.Equal(t, "Code(99)", provider.Code(99).String())
}

func TestErrorfWithSeveralCauses(t *testing.T) {
	a, b := errors.New("first"), &cloudErr{status: 503}
	err := provider.Errorf(provider.Unavailable, "both failed: %w; %w", a, b)
	require.Equal(t, "both failed: first; HTTP 503", err.Error())
	require.ErrorIs(t, err, a)
	var ce *cloudErr
	require.True(t, errors.As(err, &ce))
	require.Equal(t, "plain", provider.Errorf(provider.Internal, "plain").Error())
}
