package mlops_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tideline-ml/tideline/mlops"
	"github.com/tideline-ml/tideline/provider/memprovider"
)

// When the context ends while a transient failure waits to be retried, the
// call returns the context's error, not the provider's.
func TestRetryReturnsContextErrorDuringBackoff(t *testing.T) {
	e := newEnv(t, &mlops.ClientOptions{Retry: mlops.RetryOptions{MaxAttempts: 10, MinBackoff: time.Second, MaxBackoff: time.Second}}, nil)
	e.mem.InjectFault(memprovider.Fault{Op: "GetDataset"})
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Millisecond)
	defer cancel()
	_, err := e.c.GetDataset(ctx, mlops.DatasetRef{Name: "claims", Version: "1"})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, mlops.DeadlineExceeded, mlops.Code(err), "%v", err)
	require.Contains(t, err.Error(), "waiting to retry")
}

// A failing reader's error comes back with the subject, and still matches.
func TestReaderErrorNamesTheDataset(t *testing.T) {
	e := newEnv(t, nil, nil)
	cause := errors.New("disk unplugged")
	_, err := e.c.CreateDataset(e.ctx, "claims", "1", io.MultiReader(strings.NewReader("abc"), brokenReader{cause}), &mlops.CreateDatasetOptions{Location: euWest})
	require.ErrorIs(t, err, cause)
	require.Contains(t, err.Error(), "dataset claims@1: reading source: disk unplugged")
	require.Zero(t, e.mem.Counts().Datasets)
}

type brokenReader struct{ err error }

func (r brokenReader) Read([]byte) (int, error) { return 0, r.err }

// Progress reports the total when the reader knows it, -1 otherwise.
func TestUploadProgressTotal(t *testing.T) {
	e := newEnv(t, nil, nil)
	var totals []int64
	opts := &mlops.CreateDatasetOptions{Location: euWest, Progress: func(_, total int64) { totals = append(totals, total) }}
	_, err := e.c.CreateDataset(e.ctx, "claims", "1", io.MultiReader(strings.NewReader("abc")), opts)
	require.NoError(t, err)
	require.Equal(t, int64(-1), totals[0])
	totals = nil
	_, err = e.c.CreateDataset(e.ctx, "claims", "2", strings.NewReader("abcd"), opts)
	require.NoError(t, err)
	require.Equal(t, int64(4), totals[0])
}
