package mlops_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tideline-ml/tideline/mlops"
	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/memprovider"
	"github.com/tideline-ml/tideline/residency"
)

func at(region string) mlops.Location { return mlops.Location{Provider: "mem", Region: region} }

func requireDenied(t *testing.T, err error, contains ...string) *mlops.PolicyError {
	t.Helper()
	var pe *mlops.PolicyError
	require.True(t, errors.As(err, &pe), "want a policy denial, got %v", err)
	for _, s := range contains {
		require.Contains(t, err.Error(), s)
	}
	return pe
}

// Residency travels: dataset → derived dataset → job → model → deployment,
// decided by two Clients that share nothing but the provider's state.
func TestResidencyInheritanceAcrossClients(t *testing.T) {
	mem := memprovider.New(nil)
	a := newEnvOver(t, mem, nil)
	b := newEnvOver(t, mem, &mlops.ClientOptions{Principal: mlops.Principal{ID: "carol@example.com"}})
	ctx := a.ctx

	// A restricted dataset may not be stored in the US.
	_, err := a.c.CreateDataset(ctx, "claims", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{Location: at("eastus"), Classification: residency.Restricted})
	requireDenied(t, err, "dataset mem/claims@1 is restricted", "EU/EEA", "region eastus (mem) is in US", "rule restricted→EU/EEA")
	require.Equal(t, memprovider.Counts{}, mem.Counts())

	claims, err := a.c.CreateDataset(ctx, "claims", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{Location: euWest, Classification: residency.Restricted})
	require.NoError(t, err)
	require.Equal(t, "EU/EEA", claims.Constraint().String())

	// A derived dataset inherits the constraint and the classification.
	_, err = a.c.CreateDataset(ctx, "features", "1", strings.NewReader("f"), &mlops.CreateDatasetOptions{
		Location: at("eastus"), Classification: residency.Internal, DerivedFrom: []mlops.DatasetRef{claims.Ref()}})
	requireDenied(t, err, "dataset mem/claims@1 is restricted")
	features, err := a.c.CreateDataset(ctx, "features", "1", strings.NewReader("f"), &mlops.CreateDatasetOptions{
		Location: at("northeurope"), Classification: residency.Internal, DerivedFrom: []mlops.DatasetRef{claims.Ref()}})
	require.NoError(t, err)
	require.Equal(t, residency.Restricted, features.Classification())
	require.Equal(t, []mlops.DatasetRef{claims.Ref()}, features.DerivedFrom)

	// Client B knows nothing of A: it reads the constraint from the provider.
	spec := jobSpec()
	spec.Inputs = []mlops.JobInput{{Name: "features", Dataset: mlops.DatasetRef{Name: "features", Version: "1"}}}
	spec.Location = at("US-EAST-04")
	_, err = b.c.SubmitJob(ctx, spec)
	pe := requireDenied(t, err, "dataset mem/claims@1 is restricted", "region US-EAST-04 (mem) is in US")
	require.Equal(t, "restricted→EU/EEA", pe.Reasons[0].Rule)
	spec.Location = at("EU-SOUTH-03")
	job, err := b.c.SubmitJob(ctx, spec)
	require.NoError(t, err)
	require.NoError(t, mem.StartJob(job.Name))
	require.NoError(t, mem.CompleteJob(job.Name, ""))

	// The model inherits: it may not be registered in the US either.
	_, err = b.c.Models("").Register(ctx, "fraud", mlops.ModelSource{Job: job.ID}, &mlops.RegisterOptions{Location: mlops.Location{Region: "eastus"}})
	requireDenied(t, err, "claims@1")
	mv, err := b.c.Models("").Register(ctx, "fraud", mlops.ModelSource{Job: job.ID}, &mlops.RegisterOptions{Location: mlops.Location{Region: "westeurope"}})
	require.NoError(t, err)
	require.Equal(t, residency.Restricted, mv.Classification)
	require.Equal(t, "EU/EEA", mv.Constraint.String())

	// And a deployment through client A may not serve it from eastus; the
	// denial names the dataset the constraint came from.
	us, err := a.c.CreateEndpoint(ctx, "fraud-us", &mlops.EndpointOptions{Location: at("eastus")})
	require.NoError(t, err)
	before := mem.Counts()
	_, err = us.Deploy(ctx, "blue", mv, nil)
	requireDenied(t, err, "dataset mem/claims@1 is restricted", "region eastus (mem) is in US")
	require.Equal(t, before, mem.Counts())
	eu, err := a.c.CreateEndpoint(ctx, "fraud-eu", &mlops.EndpointOptions{Location: euWest})
	require.NoError(t, err)
	_, err = eu.Deploy(ctx, "blue", mv, nil)
	require.NoError(t, err)
}

func TestConfidentialMayGoToUKNotUS(t *testing.T) {
	e := newEnv(t, nil, nil)
	_, err := e.c.CreateDataset(e.ctx, "hr-data", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{Location: at("uksouth"), Classification: residency.Confidential})
	require.NoError(t, err)
	_, err = e.c.CreateDataset(e.ctx, "hr-data", "2", strings.NewReader("x"), &mlops.CreateDatasetOptions{Location: at("westus2"), Classification: residency.Confidential})
	requireDenied(t, err, "confidential", "EU/EEA, UK, CH")
}

func TestTightenNeverLoosen(t *testing.T) {
	e := newEnv(t, nil, nil)
	de := residency.MustParseConstraint("DE")
	_, err := e.c.CreateDataset(e.ctx, "claims", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{
		Location: euWest, Classification: residency.Restricted, Constraint: &de})
	requireDenied(t, err, "only in DE", "westeurope (mem) is in NL")

	us := residency.MustParseConstraint("US")
	_, err = e.c.CreateDataset(e.ctx, "claims", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{
		Location: euWest, Classification: residency.Restricted, Constraint: &us})
	requireCode(t, err, mlops.InvalidArgument, "only narrow")

	d := e.dataset("claims", "1", "x")
	require.True(t, d.Constraint().IsAnywhere())
	eu := residency.MustParseConstraint("EEA")
	require.NoError(t, d.Tighten(e.ctx, eu))
	require.Equal(t, "EU/EEA", d.Constraint().String())
	requireCode(t, d.Tighten(e.ctx, residency.Anywhere()), mlops.InvalidArgument, "tightened within")

	// The tighter constraint binds what comes after, in any Client.
	other := newEnvOver(t, e.mem, nil)
	spec := jobSpec(d)
	spec.Location = at("US-EAST-04")
	_, err = other.c.SubmitJob(other.ctx, spec)
	requireDenied(t, err, "tightened")

	// Tightening so that the stored copy would sit outside is denied.
	nl := residency.MustParseConstraint("SE")
	requireDenied(t, d.Tighten(e.ctx, nl), "westeurope")
}

// A model trained before its dataset was tightened still may not be
// deployed outside the dataset's current constraint.
func TestDeploymentSeesLaterTightening(t *testing.T) {
	e := newEnv(t, nil, nil)
	d := e.dataset("claims", "1", "x")
	job := e.trainedJob("fraud", d)
	mv, err := e.c.Models("").Register(e.ctx, "fraud", mlops.ModelSource{Job: job.ID}, &mlops.RegisterOptions{Location: mlops.Location{Region: "westeurope"}})
	require.NoError(t, err)
	require.NoError(t, d.Tighten(e.ctx, residency.MustParseConstraint("EEA")))
	ep, err := e.c.CreateEndpoint(e.ctx, "fraud-us", &mlops.EndpointOptions{Location: at("eastus")})
	require.NoError(t, err)
	_, err = ep.Deploy(e.ctx, "blue", mv, nil)
	requireDenied(t, err, "dataset mem/claims@1", "eastus")
}

func TestUnknownRegionIsNeverAllowed(t *testing.T) {
	mem := memprovider.New(&memprovider.Options{Regions: []provider.Region{{Name: "onprem-fra", Cloud: "onprem"}}})
	e := newEnvOver(t, mem, nil)
	loc := mlops.Location{Provider: "mem", Region: "onprem-fra"}
	_, err := e.c.CreateDataset(e.ctx, "claims", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{Location: loc, Classification: residency.Public})
	requireDenied(t, err, "not in the residency catalog")

	cat := residency.DefaultCatalog()
	require.NoError(t, cat.Add(residency.Region{Provider: "onprem", Name: "onprem-fra", Country: "DE"}))
	e2 := newEnvOver(t, mem, &mlops.ClientOptions{Catalog: cat})
	d, err := e2.c.CreateDataset(e2.ctx, "claims", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{Location: loc, Classification: residency.Restricted})
	require.NoError(t, err)
	require.Equal(t, residency.Restricted, d.Classification())
}

func TestCustomRules(t *testing.T) {
	rules, err := residency.DefaultRules().With(residency.Rule{Name: "internal-stays-in-europe", Classification: residency.Internal, Constraint: residency.MustParseConstraint("EEA,GB,CH")})
	require.NoError(t, err)
	e := newEnv(t, &mlops.ClientOptions{Rules: &rules}, nil)
	_, err = e.c.CreateDataset(e.ctx, "logs", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{Location: at("eastus")})
	pe := requireDenied(t, err, "internal")
	require.Equal(t, "internal-stays-in-europe", pe.Reasons[0].Rule)

	_, err = mlops.NewClient(mlops.Providers{"mem": e.mem}, &mlops.ClientOptions{Rules: &residency.Rules{}})
	requireCode(t, err, mlops.InvalidArgument, "no rule")
}

func TestCorruptResidencyMetadataFailsClosed(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.dataset("claims", "1", "x")
	_, err := e.mem.UpdateDatasetMetadata(e.ctx, "claims", "1", map[string]string{"tideline_origins": `[{"a":"dataset","c":"restricted","k":"%%%"}]`}, "")
	require.NoError(t, err)
	_, err = e.c.GetDataset(e.ctx, mlops.DatasetRef{Name: "claims", Version: "1"})
	requireCode(t, err, mlops.DataLoss, "does not parse")
	_, err = e.c.SubmitJob(e.ctx, jobSpec(&mlops.Dataset{Name: "claims", Version: "1"}))
	requireCode(t, err, mlops.DataLoss)
	require.Equal(t, 0, e.mem.Counts().Jobs)
}

func TestAuditOnlyModeRecordsWouldBeDenials(t *testing.T) {
	rec := &recorder{}
	pol := mlops.NewPolicy(mlops.AllowRegions("westeurope")).WithMode(mlops.AuditOnly)
	e := newEnv(t, &mlops.ClientOptions{Policy: pol, Hooks: []mlops.Hook{rec}}, nil)
	d, err := e.c.CreateDataset(e.ctx, "claims", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{Location: at("eastus"), Classification: residency.Restricted})
	require.NoError(t, err, "audit-only blocks nothing")
	require.Equal(t, "eastus", d.Location.Region)
	var seen *mlops.Operation
	hook := hookFunc(func(op *mlops.Operation) { seen = op })
	e2 := newEnvOver(t, e.mem, &mlops.ClientOptions{Policy: pol, Hooks: []mlops.Hook{hook}})
	_, err = e2.c.CreateDataset(e2.ctx, "claims", "2", strings.NewReader("x"), &mlops.CreateDatasetOptions{Location: at("eastus"), Classification: residency.Restricted})
	require.NoError(t, err)
	require.True(t, seen.Decision.Allowed)
	require.True(t, seen.Decision.WouldDeny)
	require.Len(t, seen.Decision.Reasons, 2, "residency and the region allowlist both objected: %v", seen.Decision.Reasons)
}

type hookFunc func(*mlops.Operation)

func (f hookFunc) Before(ctx context.Context, op *mlops.Operation) (context.Context, error) {
	f(op)
	return ctx, nil
}
func (hookFunc) After(context.Context, *mlops.Operation) {}

func TestDryRunDecidesWithoutActing(t *testing.T) {
	rec := &recorder{}
	e := newEnv(t, &mlops.ClientOptions{Hooks: []mlops.Hook{rec}}, nil)
	dry := mlops.DryRun(e.ctx)
	_, err := e.c.CreateDataset(dry, "claims", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{Location: at("eastus"), Classification: residency.Restricted})
	require.ErrorIs(t, err, mlops.ErrDryRun)
	require.Equal(t, mlops.OK, mlops.Code(err))
	var res *mlops.DryRunResult
	require.True(t, errors.As(err, &res))
	require.False(t, res.Decision.Allowed)
	require.Contains(t, err.Error(), "restricted")

	_, err = e.c.CreateDataset(dry, "claims", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{Location: euWest, Classification: residency.Restricted})
	require.True(t, errors.As(err, &res))
	require.True(t, res.Decision.Allowed)
	require.Contains(t, err.Error(), "would be allowed")
	require.Equal(t, memprovider.Counts{}, e.mem.Counts())
	require.Empty(t, e.mem.Calls())
	require.Empty(t, rec.before, "a dry run is not an attempt: hooks do not see it")
}

func TestSeparationOfDuties(t *testing.T) {
	e := newEnv(t, &mlops.ClientOptions{Policy: mlops.NewPolicy(mlops.SeparateDuties())}, nil)
	job := e.trainedJob("fraud") // submitted by alice
	bob := mlops.WithPrincipal(e.ctx, mlops.Principal{ID: "bob@example.com"})
	mv, err := e.c.Models("").Register(bob, "fraud", mlops.ModelSource{Job: job.ID}, &mlops.RegisterOptions{Location: mlops.Location{Region: "westeurope"}})
	require.NoError(t, err)
	require.Equal(t, alice.ID, mv.TrainedBy)
	require.Equal(t, "bob@example.com", mv.RegisteredBy)

	_, err = e.c.Models("").Approve(bob, mv, "lgtm")
	requireDenied(t, err, "registered model fraud version 1")
	_, err = e.c.Models("").Approve(e.ctx, mv, "lgtm")
	requireDenied(t, err, "submitted job mem/"+job.Name)
	carol := mlops.WithPrincipal(e.ctx, mlops.Principal{ID: "carol@example.com"})
	_, err = e.c.Models("").Approve(carol, mv, "lgtm")
	require.NoError(t, err)
}

func TestMaxTrafficStep(t *testing.T) {
	e, ep := servingEnv(t, &mlops.ClientOptions{Policy: mlops.NewPolicy(mlops.MaxTrafficStep(50))}, nil)
	err := ep.SetTraffic(e.ctx, map[string]int{"green": 100}, nil)
	requireDenied(t, err, `"green" would go from 0% to 100%`, "at most 50")
	require.NoError(t, ep.Rollout(e.ctx, "green", &mlops.RolloutOptions{Steps: []int{50, 100}}))
	// Rollbacks are never blocked: a jump back of 100 points is fine.
	err = ep.Rollout(e.ctx, "blue", &mlops.RolloutOptions{Steps: []int{50, 100}, Check: func(ctx context.Context, s mlops.RolloutStep) error {
		return errors.New("unhealthy")
	}})
	var re *mlops.RolloutError
	require.True(t, errors.As(err, &re))
	require.Equal(t, map[string]int{"green": 100}, re.RolledBackTo)
}

func TestGPUQuota(t *testing.T) {
	e := newEnv(t, &mlops.ClientOptions{Policy: mlops.NewPolicy(mlops.GPUQuota(16, 20))}, nil)
	one := jobSpec() // 8 GPUs
	first, err := e.c.SubmitJob(e.ctx, one)
	require.NoError(t, err)
	_, err = e.c.SubmitJob(e.ctx, one)
	require.NoError(t, err, "resubmitting a running job asks for no more GPUs")
	two := jobSpec()
	two.Args = []string{"--seed", "2"}
	_, err = e.c.SubmitJob(e.ctx, two)
	require.NoError(t, err)
	three := jobSpec()
	three.Args = []string{"--seed", "3"}
	_, err = e.c.SubmitJob(e.ctx, three)
	requireDenied(t, err, "holds 16 GPUs", "limit per principal is 16")

	// A teammate is held by the team limit.
	mate := mlops.WithPrincipal(e.ctx, mlops.Principal{ID: "dave@example.com", Team: alice.Team})
	_, err = e.c.SubmitJob(mate, three)
	requireDenied(t, err, "team risk holds 16 GPUs", "limit per team is 20")

	// Ended jobs free their GPUs.
	require.NoError(t, first.Cancel(e.ctx))
	_, err = e.c.SubmitJob(e.ctx, three)
	require.NoError(t, err)
}

func TestHoldClassifications(t *testing.T) {
	azure, cw := memprovider.New(&memprovider.Options{Name: "azure"}), memprovider.New(&memprovider.Options{Name: "cw"})
	c, err := mlops.NewClient(mlops.Providers{"azure": azure, "coreweave": cw}, &mlops.ClientOptions{
		Principal: alice,
		Policy:    mlops.NewPolicy(mlops.HoldClassifications("coreweave", residency.Confidential)),
		Hooks:     []mlops.Hook{mlops.NewMemoryAuditHook()},
	})
	require.NoError(t, err)
	ctx := t.Context()
	restricted, err := c.CreateDataset(ctx, "claims", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{
		Location: mlops.Location{Provider: "azure", Region: "westeurope"}, Classification: residency.Restricted})
	require.NoError(t, err)
	_, err = c.CreateDataset(ctx, "claims", "1", strings.NewReader("x"), &mlops.CreateDatasetOptions{
		Location: mlops.Location{Provider: "coreweave", Region: "EU-SOUTH-03"}, Classification: residency.Restricted})
	requireDenied(t, err, `provider "coreweave" may hold data up to confidential`)

	spec := jobSpec(restricted)
	spec.Location = mlops.Location{Provider: "coreweave", Region: "EU-SOUTH-03"}
	_, err = c.SubmitJob(ctx, spec)
	requireDenied(t, err, "derives from dataset azure/claims@1 (restricted)")
	require.Equal(t, 0, cw.Counts().Jobs)
}
