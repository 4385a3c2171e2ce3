package mlops_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tideline-ml/tideline/mlops"
	"github.com/tideline-ml/tideline/provider/memprovider"
	"github.com/tideline-ml/tideline/residency"
)

func Example() {
	ctx := context.Background()
	mem := memprovider.New(nil)
	// No Policy: the default one (approved models before traffic, separation
	// of duties, images pinned by digest). Restricted data needs an audit
	// hook; in a test or an experiment an in-memory log is one line.
	c, err := mlops.NewClient(mlops.Providers{"lab": mem}, &mlops.ClientOptions{
		Principal: mlops.Principal{ID: "alice@example.com"},
		Hooks:     []mlops.Hook{mlops.NewMemoryAuditHook()},
	})
	if err != nil {
		panic(err)
	}
	eu := mlops.Location{Provider: "lab", Region: "westeurope"}

	claims, err := c.CreateDataset(ctx, "claims", "1", strings.NewReader("id,amount\n1,120\n"),
		&mlops.CreateDatasetOptions{Location: eu, Classification: residency.Restricted})
	if err != nil {
		panic(err)
	}
	fmt.Println("dataset", claims.Ref(), claims.Size, "bytes,", claims.Classification())

	job, err := c.SubmitJob(ctx, mlops.TrainJobSpec{
		Name: "fraud", Location: mlops.Location{Provider: "lab", Region: "EU-SOUTH-03"},
		Image:  "registry.example/ml/train@sha256:0d5e1bc0a6b3c4f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6",
		GPU:    mlops.GPURequest{Type: "H100", Count: 8},
		Inputs: []mlops.JobInput{{Name: "claims", Dataset: claims.Ref()}},
	})
	if err != nil {
		panic(err)
	}
	// The in-memory provider lets the program play the cloud's controller.
	_ = mem.StartJob(job.Name)
	_ = mem.CompleteJob(job.Name, "")
	if err := job.Wait(ctx, nil); err != nil {
		panic(err)
	}
	fmt.Println("job", job.State)

	mv, err := c.Models("").Register(ctx, "fraud", mlops.ModelSource{Job: job.ID},
		&mlops.RegisterOptions{Location: mlops.Location{Region: "westeurope"}, Framework: "pytorch"})
	if err != nil {
		panic(err)
	}
	fmt.Println("model", mv.Model, "version", mv.Version, mv.Approval.State)
	// Output:
	// dataset claims@1 16 bytes, restricted
	// job Succeeded
	// model fraud version 1 Pending
}

func ExampleEndpoint_Rollout() {
	ctx := context.Background()
	c, _ := mlops.NewClient(mlops.Providers{"lab": memprovider.New(nil)},
		&mlops.ClientOptions{Principal: mlops.Principal{ID: "alice@example.com"}, Hooks: []mlops.Hook{mlops.NewMemoryAuditHook()}})
	reg := c.Models("")
	register := func() *mlops.ModelVersion {
		mv, _ := reg.Register(ctx, "fraud", mlops.ModelSource{ArtifactURI: "mem://lab/artifacts/fraud"},
			&mlops.RegisterOptions{Location: mlops.Location{Region: "westeurope"}})
		mv, _ = reg.Approve(mlops.WithPrincipal(ctx, mlops.Principal{ID: "bob@example.com"}), mv, "reviewed")
		return mv
	}
	ep, _ := c.CreateEndpoint(ctx, "fraud-api", &mlops.EndpointOptions{Location: mlops.Location{Region: "westeurope"}})
	_, _ = ep.Deploy(ctx, "blue", register(), nil)
	_ = ep.Promote(ctx, "blue")
	_, _ = ep.Deploy(ctx, "green", register(), nil)

	err := ep.Rollout(ctx, "green", &mlops.RolloutOptions{
		Steps:  []int{10, 50, 100},
		OnStep: func(s mlops.RolloutStep) { fmt.Println("step", s.Index, s.Split) },
		Check: func(ctx context.Context, s mlops.RolloutStep) error {
			if s.Percent == 50 {
				return errors.New("error rate 3% over budget")
			}
			return nil
		},
	})
	fmt.Println(err)
	fmt.Println("traffic now", ep.Traffic)
	// Output:
	// step 1 map[blue:90 green:10]
	// step 2 map[blue:50 green:50]
	// rollout of fraud-api/green failed at step 2 (50%): error rate 3% over budget; rolled back to {blue=100}
	// traffic now map[blue:100]
}

func ExamplePolicyError() {
	ctx := context.Background()
	c, _ := mlops.NewClient(mlops.Providers{"lab": memprovider.New(nil)}, &mlops.ClientOptions{
		Principal: mlops.Principal{ID: "alice@example.com"},
		Policy: mlops.NewPolicy(
			mlops.AllowRegions("westeurope", "EU-SOUTH-03"),
			mlops.AllowImages(true, "registry.example/ml/"),
		),
	})
	_, err := c.SubmitJob(ctx, mlops.TrainJobSpec{
		Name: "fraud", Location: mlops.Location{Region: "US-EAST-04"},
		Image: "registry.example/ml/train:latest",
	})
	var pe *mlops.PolicyError
	if errors.As(err, &pe) {
		for _, r := range pe.Reasons {
			fmt.Println(r.Rule+":", r.Message)
		}
	}
	fmt.Println(errors.Is(err, mlops.ErrPolicyDenied), mlops.Code(err))
	// Output:
	// region-allowlist: region US-EAST-04 (lab) is not in the allowlist [westeurope, EU-SOUTH-03]
	// image-allowlist: image "registry.example/ml/train:latest" is not pinned by digest; use name@sha256:<64 hex digits>
	// true PermissionDenied
}

// Residency travels with the data: a model trained on restricted data may
// not be served from the US, and the denial names the dataset it came from.
func Example_residency() {
	ctx := context.Background()
	mem := memprovider.New(nil)
	c, _ := mlops.NewClient(mlops.Providers{"lab": mem}, &mlops.ClientOptions{
		Principal: mlops.Principal{ID: "alice@example.com"},
		Hooks:     []mlops.Hook{mlops.NewMemoryAuditHook()},
	})

	claims, _ := c.CreateDataset(ctx, "claims", "1", strings.NewReader("id,amount\n"),
		&mlops.CreateDatasetOptions{Location: mlops.Location{Region: "westeurope"}, Classification: residency.Restricted})
	fmt.Println(claims.Ref(), "may live in", claims.Constraint())

	job, _ := c.SubmitJob(ctx, mlops.TrainJobSpec{Name: "fraud", Location: mlops.Location{Region: "EU-SOUTH-03"},
		Image:  "registry.example/ml/train@sha256:0d5e1bc0a6b3c4f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6",
		Inputs: []mlops.JobInput{{Name: "claims", Dataset: claims.Ref()}}})
	_ = mem.StartJob(job.Name)
	_ = mem.CompleteJob(job.Name, "")
	_ = job.Wait(ctx, nil)
	mv, _ := c.Models("").Register(ctx, "fraud", mlops.ModelSource{Job: job.ID}, &mlops.RegisterOptions{Location: mlops.Location{Region: "westeurope"}})
	fmt.Println("model inherits", mv.Constraint)

	us, _ := c.CreateEndpoint(ctx, "fraud-us", &mlops.EndpointOptions{Location: mlops.Location{Region: "eastus"}})
	_, err := us.Deploy(ctx, "blue", mv, nil)
	var pe *mlops.PolicyError
	if errors.As(err, &pe) {
		fmt.Println(pe.Reasons[0].Message)
	}
	// Output:
	// claims@1 may live in EU/EEA
	// model inherits EU/EEA
	// dataset lab/claims@1 is restricted and may be stored and processed only in EU/EEA; region eastus (lab) is in US
}

func ExampleDatasetNodeID() {
	fmt.Println(mlops.DatasetNodeID(mlops.DatasetRef{Provider: "lab", Name: "claims", Version: "1"}))
	fmt.Println(mlops.JobNodeID("lab/fraud-1a2b3c4d5e"))
	fmt.Println(mlops.ModelNodeID(&mlops.ModelVersion{Location: mlops.Location{Provider: "lab"}, Model: "fraud", Version: "2"}))
	fmt.Println(mlops.DeploymentNodeID("lab", "fraud-scoring", "green"))
	// Output:
	// dataset:lab/claims@1
	// job:lab/fraud-1a2b3c4d5e
	// model:lab/fraud@2
	// deployment:lab/fraud-scoring/green
}
