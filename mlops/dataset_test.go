package mlops_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tideline-ml/tideline/mlops"
	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/memprovider"
	"github.com/tideline-ml/tideline/residency"
)

func TestDatasetCreateGetOpen(t *testing.T) {
	e := newEnv(t, nil, nil)
	body := strings.Repeat("claim,amount\n", 1000)
	var progress []int64
	d, err := e.c.CreateDataset(e.ctx, "claims", "1", strings.NewReader(body), &mlops.CreateDatasetOptions{
		Location: euWest, Classification: residency.Restricted, Labels: map[string]string{"owner": "risk"},
		Progress: func(n, total int64) {
			require.Equal(t, int64(len(body)), total)
			progress = append(progress, n)
		},
	})
	require.NoError(t, err)
	sum := sha256.Sum256([]byte(body))
	require.Equal(t, fmt.Sprintf("sha256:%x", sum), d.Digest)
	require.Equal(t, int64(len(body)), d.Size)
	require.Equal(t, residency.Restricted, d.Classification())
	require.Equal(t, euWest, d.Location)
	require.Equal(t, alice.ID, d.CreatedBy)
	require.NotEmpty(t, progress)
	require.Equal(t, int64(len(body)), progress[len(progress)-1])

	got, err := e.c.GetDataset(e.ctx, mlops.DatasetRef{Name: "claims", Version: "1"})
	require.NoError(t, err)
	require.Equal(t, d.Digest, got.Digest)
	require.Equal(t, residency.Restricted, got.Classification())
	require.Equal(t, map[string]string{"owner": "risk"}, got.Labels)

	var down []int64
	rc, err := got.Open(e.ctx, &mlops.OpenOptions{Progress: func(n, total int64) {
		require.Equal(t, int64(len(body)), total)
		down = append(down, n)
	}})
	require.NoError(t, err)
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	require.Equal(t, body, string(b))
	require.NotEmpty(t, down)
	require.Equal(t, int64(len(body)), down[len(down)-1])
}

func TestDatasetVersionsAreImmutable(t *testing.T) {
	e := newEnv(t, nil, nil)
	first := e.dataset("claims", "1", "a,b\n1,2\n")

	// The same bytes again: a harmless retry.
	again, err := e.c.CreateDataset(e.ctx, "claims", "1", strings.NewReader("a,b\n1,2\n"), &mlops.CreateDatasetOptions{Location: euWest})
	require.NoError(t, err)
	require.Equal(t, first.Digest, again.Digest)

	// Other bytes under the same version: refused.
	_, err = e.c.CreateDataset(e.ctx, "claims", "1", strings.NewReader("a,b\n9,9\n"), &mlops.CreateDatasetOptions{Location: euWest})
	requireCode(t, err, mlops.AlreadyExists, "claims@1", "immutable")
	require.True(t, errors.Is(err, mlops.ErrAlreadyExists))
	require.Equal(t, 1, e.mem.Counts().Datasets)
}

func TestDatasetNextVersion(t *testing.T) {
	e := newEnv(t, nil, nil)
	for want := 1; want <= 3; want++ {
		d := e.dataset("claims", "", fmt.Sprintf("v%d", want))
		require.Equal(t, fmt.Sprint(want), d.Version)
	}
	list, err := mlops.Collect(e.c.ListDatasets(e.ctx, "claims"))
	require.NoError(t, err)
	require.Len(t, list, 3)
}

// corrupting serves altered bytes from OpenDataset, as a damaged disk would.
type corrupting struct {
	*memprovider.Provider
	flip int
}

func (c corrupting) OpenDataset(ctx context.Context, name, version string) (io.ReadCloser, error) {
	rc, err := c.Provider.OpenDataset(ctx, name, version)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	if c.flip < len(b) {
		b[c.flip] ^= 1
	} else {
		b = append(b, 'x')
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func TestDatasetOpenDetectsCorruption(t *testing.T) {
	for _, flip := range []int{0, 5, 1 << 20} {
		t.Run(fmt.Sprint(flip), func(t *testing.T) {
			mem := memprovider.New(nil)
			good := newEnvOver(t, mem, nil)
			good.dataset("claims", "1", "claim,amount\n1,100\n")

			bad, err := mlops.NewClient(mlops.Providers{"mem": corrupting{mem, flip}}, &mlops.ClientOptions{Principal: alice})
			require.NoError(t, err)
			d, err := bad.GetDataset(good.ctx, mlops.DatasetRef{Name: "claims", Version: "1"})
			require.NoError(t, err)
			rc, err := d.Open(good.ctx, nil)
			require.NoError(t, err)
			_, err = io.ReadAll(rc)
			requireCode(t, err, mlops.DataLoss, "claims@1")
			require.True(t, errors.Is(err, mlops.ErrDataLoss))
		})
	}
}

// failingReader fails after n bytes, as a dropped upload would.
type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("connection reset by peer")
	}
	k := min(len(p), f.n)
	for i := range p[:k] {
		p[i] = 'x'
	}
	f.n -= k
	return k, nil
}

func TestDatasetReadFailureLeavesNothing(t *testing.T) {
	e := newEnv(t, nil, nil)
	_, err := e.c.CreateDataset(e.ctx, "claims", "1", &failingReader{n: 3 << 20}, &mlops.CreateDatasetOptions{Location: euWest})
	require.ErrorContains(t, err, "connection reset")
	require.Equal(t, 0, e.mem.Counts().Datasets)
	_, err = e.c.GetDataset(e.ctx, mlops.DatasetRef{Name: "claims", Version: "1"})
	requireCode(t, err, mlops.NotFound)
}

func TestDatasetAmbiguousProvider(t *testing.T) {
	a, b := memprovider.New(&memprovider.Options{Name: "a"}), memprovider.New(&memprovider.Options{Name: "b"})
	c, err := mlops.NewClient(mlops.Providers{"one": a, "two": b}, &mlops.ClientOptions{Principal: alice})
	require.NoError(t, err)
	ctx := context.Background()
	_, err = c.CreateDataset(ctx, "claims", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{Location: mlops.Location{Region: "westeurope"}})
	requireCode(t, err, mlops.InvalidArgument, "several providers", "one, two")
	for _, p := range []string{"one", "two"} {
		_, err = c.CreateDataset(ctx, "claims", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{Location: mlops.Location{Provider: p, Region: "westeurope"}})
		require.NoError(t, err)
	}
	_, err = c.GetDataset(ctx, mlops.DatasetRef{Name: "claims", Version: "1"})
	requireCode(t, err, mlops.InvalidArgument, `"one" and "two"`)
	d, err := c.GetDataset(ctx, mlops.DatasetRef{Name: "claims", Version: "1", Provider: "two"})
	require.NoError(t, err)
	require.Equal(t, "two", d.Location.Provider)
}

func TestDatasetCanceledContext(t *testing.T) {
	e := newEnv(t, nil, nil)
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	_, err := e.c.CreateDataset(ctx, "claims", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{Location: euWest})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, mlops.Canceled, mlops.Code(err))
	require.Equal(t, 0, e.mem.Counts().Datasets)
}

func TestDatasetProviderErrorKeepsCause(t *testing.T) {
	e := newEnv(t, &mlops.ClientOptions{Retry: mlops.RetryOptions{MaxAttempts: 1}}, nil)
	cause := errors.New("disk on fire")
	e.mem.InjectFault(memprovider.Fault{Op: "PutDataset", Err: provider.Wrap(provider.Internal, cause, "storing blob")})
	_, err := e.c.CreateDataset(e.ctx, "claims", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{Location: euWest})
	requireCode(t, err, mlops.Internal, "disk on fire")
	require.ErrorIs(t, err, cause)
}

func TestDatasetDelete(t *testing.T) {
	e := newEnv(t, nil, nil)
	d, err := e.c.CreateDataset(e.ctx, "claims", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{Location: euWest, Classification: residency.Restricted})
	require.NoError(t, err)
	job := e.trainedJob("fraud", d)
	mv, err := e.c.Models("").Register(e.ctx, "fraud", mlops.ModelSource{Job: job.ID}, &mlops.RegisterOptions{Location: mlops.Location{Region: "westeurope"}})
	require.NoError(t, err)

	require.NoError(t, d.Delete(e.ctx))
	require.Equal(t, 1, e.mem.Counts().Datasets, "the bytes are gone; the deletion record remains")
	left, err := mlops.Collect(e.c.ListDatasets(e.ctx, ""))
	require.NoError(t, err)
	require.Empty(t, left)
	_, err = e.c.GetDataset(e.ctx, d.Ref())
	requireCode(t, err, mlops.NotFound)
	require.NoError(t, d.Delete(e.ctx), "deleting what is gone fulfils the request")

	// What was derived keeps the constraint recorded with it.
	ep, err := e.c.CreateEndpoint(e.ctx, "fraud-us", &mlops.EndpointOptions{Location: mlops.Location{Provider: "mem", Region: "eastus"}})
	require.NoError(t, err)
	_, err = ep.Deploy(e.ctx, "blue", mv, nil)
	requireDenied(t, err, "dataset mem/claims@1 is restricted")
}

// An empty version asks for the latest.
func TestGetLatestVersion(t *testing.T) {
	e := newEnv(t, nil, nil)
	_, err := e.c.GetDataset(e.ctx, mlops.DatasetRef{Name: "claims"})
	requireCode(t, err, mlops.NotFound, "no version")
	for _, v := range []string{"1", "2", "10", "3"} {
		e.dataset("claims", v, "rows "+v)
	}
	d, err := e.c.GetDataset(e.ctx, mlops.DatasetRef{Name: "claims"})
	require.NoError(t, err)
	require.Equal(t, "10", d.Version, "the highest number, not the newest or the largest string")

	reg := e.c.Models("")
	_, err = reg.Get(e.ctx, "fraud", "")
	requireCode(t, err, mlops.NotFound, "no version")
	for range 3 {
		_, err := reg.Register(e.ctx, "fraud", mlops.ModelSource{ArtifactURI: "mem://mem/a"}, &mlops.RegisterOptions{Location: euWest})
		require.NoError(t, err)
	}
	mv, err := reg.Get(e.ctx, "fraud", "")
	require.NoError(t, err)
	require.Equal(t, "3", mv.Version)
}
