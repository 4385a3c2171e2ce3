package mlops_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tideline-ml/tideline/mlops"
	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/memprovider"
	"github.com/tideline-ml/tideline/secret"
)

// misreporting stores the bytes it is given but reports a content digest
// (or size) other than theirs, as a driver that hashed the wrong stream or a
// store that damaged the upload would.
type misreporting struct {
	*memprovider.Provider
	size bool // misreport the size instead of the digest
}

func (m misreporting) PutDataset(ctx context.Context, req *provider.PutDatasetRequest) (*provider.DatasetInfo, error) {
	info, err := m.Provider.PutDataset(ctx, req)
	if err != nil {
		return info, err
	}
	if m.size {
		info.Size++
	} else {
		info.Digest = provider.DigestString(bytes.Repeat([]byte{0xab}, 32))
	}
	return info, nil
}

// TestCreateDatasetDataLossWhenProviderReportsAnotherDigest shows that
// CreateDataset compares what the provider says it stored with what mlops
// hashed while streaming, and answers DataLoss — never a Dataset — when they
// differ.
func TestCreateDatasetDataLossWhenProviderReportsAnotherDigest(t *testing.T) {
	for _, c := range []struct {
		name string
		size bool
		want string
	}{
		{"Digest", false, "sha256:abab"},
		{"Size", true, "(19 bytes) was sent"},
	} {
		t.Run(c.name, func(t *testing.T) {
			mem := memprovider.New(nil)
			c2, err := mlops.NewClient(mlops.Providers{"mem": misreporting{mem, c.size}}, &mlops.ClientOptions{Principal: alice})
			require.NoError(t, err)
			ctx := context.Background()
			d, err := c2.CreateDataset(ctx, "claims", "1", strings.NewReader("claim,amount\n1,100\n"), &mlops.CreateDatasetOptions{Location: euWest})
			require.Nil(t, d, "a dataset whose stored digest differs from the bytes sent must not be handed out")
			requireCode(t, err, mlops.DataLoss, "claims@1", "was sent")
			require.True(t, errors.Is(err, mlops.ErrDataLoss))
			require.Contains(t, err.Error(), c.want)
			require.Contains(t, err.Error(), "the stored version was removed")
			require.Zero(t, mem.Counts().Datasets, "nothing half-created stays behind")
		})
	}
}

// TestJobIdentityChangesWithEveryFieldButSecretValues submits a base spec
// and then the same spec with one field changed. Each change must give
// another job: without a Key another name (so a resubmit with a new image
// never hands back the job that runs the old one), with a Key a Conflict.
// Changing only a secret's value gives the same job: rotating an API key
// does not make the training another training, and a retry after a lost
// response that re-reads a rotated key from the vault must still find the
// job it started instead of starting a second GPU job. The value never
// enters the identity for a second reason: the identity is written into the
// job's metadata and name, where a secret must not be.
func TestJobIdentityChangesWithEveryFieldButSecretValues(t *testing.T) {
	base := func() mlops.TrainJobSpec {
		return mlops.TrainJobSpec{
			Name:        "train",
			Location:    euGPU,
			Image:       "registry.example/ml/train@sha256:" + strings.Repeat("a", 64),
			Command:     []string{"python", "-m", "train"},
			Args:        []string{"--epochs", "3"},
			Env:         map[string]string{"SEED": "7"},
			SecretEnv:   map[string]secret.Secret{"TRACKER_API_KEY": secret.NewSecret("trk-first-value")},
			GPU:         mlops.GPURequest{Type: "H100", Count: 2},
			Nodes:       1,
			Inputs:      []mlops.JobInput{{Name: "train", Dataset: mlops.DatasetRef{Name: "claims", Version: "1"}}},
			OutputURI:   "mem://mem/outputs/fraud",
			MaxDuration: time.Hour,
			Retries:     1,
		}
	}
	for _, c := range []struct {
		field  string
		change func(*mlops.TrainJobSpec)
	}{
		{"Image", func(s *mlops.TrainJobSpec) { s.Image = "registry.example/ml/train@sha256:" + strings.Repeat("b", 64) }},
		{"Command", func(s *mlops.TrainJobSpec) { s.Command = []string{"python", "-m", "finetune"} }},
		{"CommandSplit", func(s *mlops.TrainJobSpec) { s.Command = []string{"python -m", "train"} }},
		{"Args", func(s *mlops.TrainJobSpec) { s.Args = []string{"--epochs", "4"} }},
		{"EnvValue", func(s *mlops.TrainJobSpec) { s.Env = map[string]string{"SEED": "8"} }},
		{"EnvName", func(s *mlops.TrainJobSpec) { s.Env = map[string]string{"SEED": "7", "MODE": "fast"} }},
		{"SecretEnvName", func(s *mlops.TrainJobSpec) {
			s.SecretEnv = map[string]secret.Secret{"WANDB_API_KEY": secret.NewSecret("trk-first-value")}
		}},
		{"SecretEnvAdded", func(s *mlops.TrainJobSpec) {
			s.SecretEnv = maps.Clone(s.SecretEnv)
			s.SecretEnv["HF_TOKEN"] = secret.NewSecret("hf-value")
		}},
		{"GPUCount", func(s *mlops.TrainJobSpec) { s.GPU.Count = 4 }},
		{"GPUType", func(s *mlops.TrainJobSpec) { s.GPU.Type = "A100" }},
		{"Nodes", func(s *mlops.TrainJobSpec) { s.Nodes = 2 }},
		{"InputVersion", func(s *mlops.TrainJobSpec) { s.Inputs[0].Dataset.Version = "2" }},
		{"InputName", func(s *mlops.TrainJobSpec) { s.Inputs[0].Name = "training" }},
		{"InputAdded", func(s *mlops.TrainJobSpec) {
			s.Inputs = append(s.Inputs, mlops.JobInput{Name: "holdout", Dataset: mlops.DatasetRef{Name: "claims", Version: "2"}})
		}},
		{"Retries", func(s *mlops.TrainJobSpec) { s.Retries = 2 }},
		{"MaxDuration", func(s *mlops.TrainJobSpec) { s.MaxDuration = 2 * time.Hour }},
		{"OutputURI", func(s *mlops.TrainJobSpec) { s.OutputURI = "mem://mem/outputs/fraud-v2" }},
		{"Region", func(s *mlops.TrainJobSpec) { s.Location = mlops.Location{Provider: "mem", Region: "EU-NORTH-01"} }},
	} {
		t.Run(c.field, func(t *testing.T) {
			e := newIdentityEnv(t)
			first, err := e.c.SubmitJob(e.ctx, base())
			require.NoError(t, err)
			changed := base()
			c.change(&changed)
			second, err := e.c.SubmitJob(e.ctx, changed)
			require.NoError(t, err)
			require.NotEqual(t, first.Name, second.Name, "changing %s kept the job's identity, so the changed spec got the old job back", c.field)
			require.Equal(t, mlops.JobQueued, second.State, "the changed spec must start a job of its own")
			require.Equal(t, changed.Image, second.Spec.Image)
			require.Equal(t, 2, e.mem.Counts().Jobs)

			// Under one Key, the changed spec is refused, never answered
			// with the job that runs the other spec.
			keyed := base()
			keyed.Key = "fraud-nightly"
			_, err = e.c.SubmitJob(e.ctx, keyed)
			require.NoError(t, err)
			changedKeyed := changed
			changedKeyed.Key = keyed.Key
			job, err := e.c.SubmitJob(e.ctx, changedKeyed)
			require.Nil(t, job)
			requireCode(t, err, mlops.Conflict, "another spec")
		})
	}

	t.Run("SecretValueOnly", func(t *testing.T) {
		e := newIdentityEnv(t)
		first, err := e.c.SubmitJob(e.ctx, base())
		require.NoError(t, err)
		rotated := base()
		rotated.SecretEnv = map[string]secret.Secret{"TRACKER_API_KEY": secret.NewSecret("trk-rotated-value")}
		second, err := e.c.SubmitJob(e.ctx, rotated)
		require.NoError(t, err, "a rotated secret is the same job, not a Conflict")
		require.Equal(t, first.Name, second.Name)
		require.Equal(t, 1, e.mem.Counts().Jobs, "rotating a secret started a second job")
		keyed := base()
		keyed.Key = "fraud-nightly"
		_, err = e.c.SubmitJob(e.ctx, keyed)
		require.NoError(t, err)
		keyed.SecretEnv = rotated.SecretEnv
		_, err = e.c.SubmitJob(e.ctx, keyed)
		require.NoError(t, err, "a rotated secret under the same Key is the same job")
		for _, j := range []*mlops.TrainJob{first, second} {
			require.NotContains(t, j.Name, "trk-")
		}
		info, err := e.mem.GetJob(e.ctx, first.Name)
		require.NoError(t, err)
		for k, v := range info.Spec.Metadata {
			require.False(t, strings.Contains(v, "trk-first-value") || strings.Contains(v, "trk-rotated-value"), "job metadata %s holds a secret value", k)
		}
	})
}

// newIdentityEnv is an env holding claims@1 and claims@2.
func newIdentityEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, nil, nil)
	for _, v := range []string{"1", "2"} {
		e.dataset("claims", v, "claim,amount\n"+v+",100\n")
	}
	return e
}
