package mlops_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tideline-ml/tideline/mlops"
	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/memprovider"
	"github.com/tideline-ml/tideline/residency"
	"github.com/tideline-ml/tideline/secret"
)

func TestNewClientBadInput(t *testing.T) {
	mem := memprovider.New(nil)
	for _, tc := range []struct {
		name      string
		providers mlops.Providers
		opts      *mlops.ClientOptions
		msg       string
	}{
		{"no providers", nil, nil, "providers is empty"},
		{"nil provider", mlops.Providers{"mem": nil}, nil, `provider "mem" is nil`},
		{"bad provider name", mlops.Providers{"Mem_1": mem}, nil, "provider name"},
		{"no regions", mlops.Providers{"mem": memprovider.New(&memprovider.Options{Regions: []provider.Region{}})}, nil, "no regions"},
		{"team without id", mlops.Providers{"mem": mem}, &mlops.ClientOptions{Principal: mlops.Principal{Team: "risk"}}, "no ID"},
		{"nil hook", mlops.Providers{"mem": mem}, &mlops.ClientOptions{Hooks: []mlops.Hook{nil}}, "hook 0 is nil"},
		{"negative retry", mlops.Providers{"mem": mem}, &mlops.ClientOptions{Retry: mlops.RetryOptions{MaxAttempts: -1}}, "retry"},
		{"negative poll", mlops.Providers{"mem": mem}, &mlops.ClientOptions{PollInterval: -1}, "poll"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := mlops.NewClient(tc.providers, tc.opts)
			require.Nil(t, c)
			requireCode(t, err, mlops.InvalidArgument, tc.msg)
		})
	}
}

// Every public method, given bad input, answers with a code and a message
// naming what was wrong, and leaves nothing behind in the provider.
func TestBadInputCreatesNothing(t *testing.T) {
	e := newEnv(t, nil, nil)
	ctx := e.ctx
	c := e.c
	// Fixtures that exist, so that the cases fail on their input alone.
	d := e.dataset("claims", "1", "x")
	mv := e.approvedModel("fraud")
	ep, err := c.CreateEndpoint(ctx, "fraud-api", &mlops.EndpointOptions{Location: euWest})
	require.NoError(t, err)
	_, err = ep.Deploy(ctx, "blue", mv, nil)
	require.NoError(t, err)
	require.NoError(t, ep.Promote(ctx, "blue"))
	job, err := c.SubmitJob(ctx, jobSpec(d))
	require.NoError(t, err)
	mv2 := e.approvedModel("fraud")
	before := e.mem.Counts()
	reg := c.Models("")
	loc := euWest
	ds := func(name, version string, opts *mlops.CreateDatasetOptions) error {
		_, err := c.CreateDataset(ctx, name, version, strings.NewReader("y"), opts)
		return err
	}
	job1 := func(mut func(*mlops.TrainJobSpec)) error {
		s := jobSpec(d)
		mut(&s)
		_, err := c.SubmitJob(ctx, s)
		return err
	}

	for _, tc := range []struct {
		name string
		call func() error
		code mlops.ErrorCode
		msg  string
	}{
		// CreateDataset
		{"dataset empty name", func() error { return ds("", "1", &mlops.CreateDatasetOptions{Location: loc}) }, mlops.InvalidArgument, "dataset name"},
		{"dataset upper case", func() error { return ds("Claims", "1", &mlops.CreateDatasetOptions{Location: loc}) }, mlops.InvalidArgument, "dataset name"},
		{"dataset too long", func() error { return ds(strings.Repeat("a", 33), "1", &mlops.CreateDatasetOptions{Location: loc}) }, mlops.InvalidArgument, "33 characters"},
		{"dataset double hyphen", func() error { return ds("a--b", "1", &mlops.CreateDatasetOptions{Location: loc}) }, mlops.InvalidArgument, "two hyphens"},
		{"dataset bad version", func() error { return ds("claims", "v 1", &mlops.CreateDatasetOptions{Location: loc}) }, mlops.InvalidArgument, "dataset version"},
		{"dataset nil reader", func() error {
			_, err := c.CreateDataset(ctx, "claims", "9", nil, &mlops.CreateDatasetOptions{Location: loc})
			return err
		}, mlops.InvalidArgument, "reader is nil"},
		{"dataset bad classification", func() error {
			return ds("claims", "9", &mlops.CreateDatasetOptions{Location: loc, Classification: residency.Classification(42)})
		}, mlops.InvalidArgument, "classification"},
		{"dataset bad label", func() error {
			return ds("claims", "9", &mlops.CreateDatasetOptions{Location: loc, Labels: map[string]string{"Bad-Key": "v"}})
		}, mlops.InvalidArgument, "labels"},
		{"dataset unknown provider", func() error {
			return ds("claims", "9", &mlops.CreateDatasetOptions{Location: mlops.Location{Provider: "azure", Region: "westeurope"}})
		}, mlops.InvalidArgument, `Location.Provider "azure"`},
		{"dataset unknown region", func() error {
			return ds("claims", "9", &mlops.CreateDatasetOptions{Location: mlops.Location{Provider: "mem", Region: "moon-1"}})
		}, mlops.InvalidArgument, `Region "moon-1"`},
		{"dataset no region", func() error {
			return ds("claims", "9", &mlops.CreateDatasetOptions{Location: mlops.Location{Provider: "mem"}})
		}, mlops.InvalidArgument, "Region is empty"},
		{"get dataset bad ref", func() error {
			_, err := c.GetDataset(ctx, mlops.DatasetRef{Name: "claims", Version: "V1"})
			return err
		}, mlops.InvalidArgument, "dataset version"},
		{"get dataset unknown provider", func() error {
			_, err := c.GetDataset(ctx, mlops.DatasetRef{Name: "claims", Version: "1", Provider: "nope"})
			return err
		}, mlops.InvalidArgument, `provider "nope"`},
		{"list datasets bad name", func() error { _, err := mlops.Collect(c.ListDatasets(ctx, "BAD")); return err }, mlops.InvalidArgument, "dataset name"},

		// SubmitJob
		{"job no image", func() error { return job1(func(s *mlops.TrainJobSpec) { s.Image = "" }) }, mlops.InvalidArgument, "Image is empty"},
		{"job image with space", func() error { return job1(func(s *mlops.TrainJobSpec) { s.Image = "a b" }) }, mlops.InvalidArgument, "white space"},
		{"job bad name", func() error { return job1(func(s *mlops.TrainJobSpec) { s.Name = "Fraud" }) }, mlops.InvalidArgument, "job name"},
		{"job name too long for digest", func() error { return job1(func(s *mlops.TrainJobSpec) { s.Name = strings.Repeat("a", 22) }) }, mlops.InvalidArgument, "at most 21"},
		{"job bad key", func() error { return job1(func(s *mlops.TrainJobSpec) { s.Key = "nightly run" }) }, mlops.InvalidArgument, "job key"},
		{"job negative gpus", func() error { return job1(func(s *mlops.TrainJobSpec) { s.GPU.Count = -1 }) }, mlops.InvalidArgument, "GPU.Count"},
		{"job gpu type without count", func() error { return job1(func(s *mlops.TrainJobSpec) { s.GPU.Count = 0 }) }, mlops.InvalidArgument, "GPU.Type"},
		{"job negative nodes", func() error { return job1(func(s *mlops.TrainJobSpec) { s.Nodes = -2 }) }, mlops.InvalidArgument, "Nodes"},
		{"job negative duration", func() error { return job1(func(s *mlops.TrainJobSpec) { s.MaxDuration = -1 }) }, mlops.InvalidArgument, "MaxDuration"},
		{"job negative retries", func() error { return job1(func(s *mlops.TrainJobSpec) { s.Retries = -1 }) }, mlops.InvalidArgument, "Retries"},
		{"job bad env", func() error { return job1(func(s *mlops.TrainJobSpec) { s.Env = map[string]string{"1X": "y"} }) }, mlops.InvalidArgument, "environment variable"},
		{"job secret env overlaps env", func() error {
			return job1(func(s *mlops.TrainJobSpec) {
				s.Env = map[string]string{"TOKEN": "x"}
				s.SecretEnv = map[string]secret.Secret{"TOKEN": secret.NewSecret("y")}
			})
		}, mlops.InvalidArgument, "both Env and SecretEnv"},
		{"job empty secret", func() error {
			return job1(func(s *mlops.TrainJobSpec) { s.SecretEnv = map[string]secret.Secret{"TOKEN": {}} })
		}, mlops.InvalidArgument, "is empty"},
		{"job bad secret name", func() error {
			return job1(func(s *mlops.TrainJobSpec) { s.SecretEnv = map[string]secret.Secret{"A-B": secret.NewSecret("y")} })
		}, mlops.InvalidArgument, "secret environment variable name"},
		{"job bad input name", func() error { return job1(func(s *mlops.TrainJobSpec) { s.Inputs[0].Name = "a-b" }) }, mlops.InvalidArgument, "Inputs[0].Name"},
		{"job duplicate input", func() error { return job1(func(s *mlops.TrainJobSpec) { s.Inputs = append(s.Inputs, s.Inputs[0]) }) }, mlops.InvalidArgument, "used twice"},
		{"job input bad version", func() error { return job1(func(s *mlops.TrainJobSpec) { s.Inputs[0].Dataset.Version = "" }) }, mlops.InvalidArgument, "Inputs[0].Dataset.Version"},
		{"job missing input", func() error { return job1(func(s *mlops.TrainJobSpec) { s.Inputs[0].Dataset.Version = "404" }) }, mlops.NotFound, `job input "train"`},
		{"job unknown region", func() error { return job1(func(s *mlops.TrainJobSpec) { s.Location.Region = "mars" }) }, mlops.InvalidArgument, `Region "mars"`},

		// ModelRegistry
		{"register bad model", func() error {
			_, err := reg.Register(ctx, "Fraud", mlops.ModelSource{ArtifactURI: "x"}, nil)
			return err
		}, mlops.InvalidArgument, "model name"},
		{"register two sources", func() error {
			_, err := reg.Register(ctx, "fraud", mlops.ModelSource{ArtifactURI: "x", Job: job.ID}, nil)
			return err
		}, mlops.InvalidArgument, "exactly one"},
		{"register no source", func() error { _, err := reg.Register(ctx, "fraud", mlops.ModelSource{}, nil); return err }, mlops.InvalidArgument, "exactly one"},
		{"register bad metric", func() error {
			_, err := reg.Register(ctx, "fraud", mlops.ModelSource{ArtifactURI: "mem://mem/x"}, &mlops.RegisterOptions{Location: mlops.Location{Region: "westeurope"}, Metrics: map[string]float64{"auc-roc": 1}})
			return err
		}, mlops.InvalidArgument, "metric name"},
		{"register bad tag", func() error {
			_, err := reg.Register(ctx, "fraud", mlops.ModelSource{ArtifactURI: "mem://mem/x"}, &mlops.RegisterOptions{Location: mlops.Location{Region: "westeurope"}, Tags: map[string]string{"": "v"}})
			return err
		}, mlops.InvalidArgument, "model tags"},
		{"register bad job id", func() error {
			_, err := reg.Register(ctx, "fraud", mlops.ModelSource{Job: "nojob"}, &mlops.RegisterOptions{Location: mlops.Location{Region: "westeurope"}})
			return err
		}, mlops.InvalidArgument, "job id"},
		{"register no region", func() error {
			_, err := reg.Register(ctx, "fraud", mlops.ModelSource{ArtifactURI: "mem://mem/x"}, nil)
			return err
		}, mlops.InvalidArgument, "Region is empty"},
		{"get bad version", func() error { _, err := reg.Get(ctx, "fraud", "0"); return err }, mlops.InvalidArgument, "version or alias"},
		{"approve bad version", func() error {
			_, err := reg.Approve(ctx, &mlops.ModelVersion{Model: "fraud", Version: "v1"}, "")
			return err
		}, mlops.InvalidArgument, "model version"},
		{"approve long comment", func() error {
			_, err := reg.Approve(ctx, &mlops.ModelVersion{Model: "fraud", Version: "1"}, strings.Repeat("x", 5000))
			return err
		}, mlops.InvalidArgument, "comment"},
		{"alias bad name", func() error { return reg.SetAlias(ctx, "fraud", "Champion", "1") }, mlops.InvalidArgument, "alias"},
		{"alias bad version", func() error { return reg.SetAlias(ctx, "fraud", "champion", "01") }, mlops.InvalidArgument, "model version"},
		{"models unknown provider", func() error { _, err := mlops.Collect(c.Models("nope").List(ctx, "fraud")); return err }, mlops.InvalidArgument, `"nope"`},

		// Endpoints and traffic
		{"endpoint bad name", func() error {
			_, err := c.CreateEndpoint(ctx, "ep_1", &mlops.EndpointOptions{Location: loc})
			return err
		}, mlops.InvalidArgument, "endpoint name"},
		{"endpoint no region", func() error { _, err := c.CreateEndpoint(ctx, "ep-one", nil); return err }, mlops.InvalidArgument, "Region is empty"},
		{"get endpoint bad name", func() error { _, err := c.GetEndpoint(ctx, "x"); return err }, mlops.InvalidArgument, "has 1 characters"},
		{"deploy nil model", func() error { _, err := ep.Deploy(ctx, "green", nil, nil); return err }, mlops.InvalidArgument, "model version is missing"},
		{"deploy bad name", func() error { _, err := ep.Deploy(ctx, "Green", mv, nil); return err }, mlops.InvalidArgument, "deployment name"},
		{"deploy negative instances", func() error { _, err := ep.Deploy(ctx, "green", mv, &mlops.DeployOptions{Instances: -1}); return err }, mlops.InvalidArgument, "Instances"},
		{"deploy existing", func() error { _, err := ep.Deploy(ctx, "blue", mv2, nil); return err }, mlops.AlreadyExists, `deployment "blue" serving mem/fraud@`},
		{"traffic bad sum", func() error { return ep.SetTraffic(ctx, map[string]int{"blue": 99}, nil) }, mlops.InvalidArgument, "sum to 99"},
		{"rollout bad steps", func() error { return ep.Rollout(ctx, "blue", &mlops.RolloutOptions{Steps: []int{50, 10}}) }, mlops.InvalidArgument, "increase strictly"},
		{"rollout step over 100", func() error { return ep.Rollout(ctx, "blue", &mlops.RolloutOptions{Steps: []int{101}}) }, mlops.InvalidArgument, "from 1 to 100"},
		{"rollout empty steps", func() error { return ep.Rollout(ctx, "blue", &mlops.RolloutOptions{Steps: []int{}}) }, mlops.InvalidArgument, "Steps is empty"},
		{"rollout negative bake", func() error { return ep.Rollout(ctx, "blue", &mlops.RolloutOptions{Bake: -1}) }, mlops.InvalidArgument, "Bake"},
		{"rollout missing deployment", func() error { return ep.Rollout(ctx, "red", nil) }, mlops.NotFound, `no deployment "red"`},
		{"promote bad name", func() error { return ep.Promote(ctx, "") }, mlops.InvalidArgument, "deployment name"},
		{"delete deployment bad name", func() error { return ep.DeleteDeployment(ctx, "B") }, mlops.InvalidArgument, "deployment name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireCode(t, tc.call(), tc.code, tc.msg)
			require.Equal(t, before, e.mem.Counts(), "nothing may be created")
		})
	}
	require.NoError(t, ep.Refresh(ctx))
	require.Equal(t, map[string]int{"blue": 100}, ep.Traffic)
}

func TestNoCapability(t *testing.T) {
	c, err := mlops.NewClient(mlops.Providers{"bare": dataOnly{memprovider.New(nil)}}, &mlops.ClientOptions{Principal: alice})
	require.NoError(t, err)
	ctx := context.Background()
	_, err = c.CreateDataset(ctx, "claims", "1", strings.NewReader("x"), nil)
	requireCode(t, err, mlops.Unimplemented, "datastore")
	spec := jobSpec()
	spec.Location = mlops.Location{}
	_, err = c.SubmitJob(ctx, spec)
	requireCode(t, err, mlops.Unimplemented, "trainer")
	_, err = c.CreateEndpoint(ctx, "fraud-api", nil)
	requireCode(t, err, mlops.Unimplemented, "serving")
	_, err = c.GetDataset(ctx, mlops.DatasetRef{Name: "claims", Version: "1"})
	requireCode(t, err, mlops.Unimplemented)
}
