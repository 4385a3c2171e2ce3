// Command taste is the API taste in the README, as a program that runs: a
// restricted dataset, a GPU job that trains on it, a model version approved
// by a second person, and a canary rollout — on the in-memory provider, so
// it needs no cloud account. A test keeps the README's copy equal to the
// lines between the README markers below.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/tideline-ml/tideline/mlops"
	"github.com/tideline-ml/tideline/provider/memprovider"
	"github.com/tideline-ml/tideline/residency"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "taste:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	image := "registry.example/ml/train@sha256:" + strings.Repeat("ab", 32)
	healthy := func(ctx context.Context, s mlops.RolloutStep) error { return nil }
	// README:begin
	// Jobs on the in-memory provider finish by themselves after JobDuration.
	mem := memprovider.New(&memprovider.Options{JobDuration: 20 * time.Millisecond})
	c, err := mlops.NewClient(mlops.Providers{"lab": mem}, &mlops.ClientOptions{
		Principal: mlops.Principal{ID: "alice@bank.example"},
		// The default rules (approved models before traffic, separation of
		// duties, images pinned by digest) and one of the bank's own.
		Policy: mlops.NewPolicy(append(mlops.DefaultPolicyRules(), mlops.AllowRegions("westeurope", "EU-SOUTH-03"))...),
		Hooks:  []mlops.Hook{mlops.NewMemoryAuditHook()}, // restricted data needs an audit log
	})
	if err != nil {
		return err
	}
	eu := mlops.Location{Provider: "lab", Region: "westeurope"}
	claims, err := c.CreateDataset(ctx, "claims", "", strings.NewReader("id,amount\n1,120\n"),
		&mlops.CreateDatasetOptions{Location: eu, Classification: residency.Restricted})
	if err != nil {
		return err
	}
	job, err := c.SubmitJob(ctx, mlops.TrainJobSpec{
		Name: "fraud", Location: mlops.Location{Provider: "lab", Region: "EU-SOUTH-03"},
		Image: image, GPU: mlops.GPURequest{Type: "H100", Count: 8},
		Inputs: []mlops.JobInput{{Name: "claims", Dataset: claims.Ref()}}})
	if err != nil {
		return err
	}
	if err := job.Wait(ctx, nil); err != nil {
		return err
	}
	reg := c.Models("lab")
	bob := mlops.WithPrincipal(ctx, mlops.Principal{ID: "bob@bank.example"})
	ep, err := c.CreateEndpoint(ctx, "fraud-scoring", &mlops.EndpointOptions{Location: eu})
	if err != nil {
		return err
	}
	for _, name := range []string{"blue", "green"} {
		mv, err := reg.Register(ctx, "fraud", mlops.ModelSource{Job: job.ID}, &mlops.RegisterOptions{Location: eu})
		if err != nil {
			return err
		}
		if mv, err = reg.Approve(bob, mv, "MRM-2291 reviewed"); err != nil {
			return err
		}
		if _, err := ep.Deploy(ctx, name, mv, nil); err != nil {
			return err
		}
	}
	if err := ep.Promote(ctx, "blue"); err != nil {
		return err
	}
	err = ep.Rollout(ctx, "green", &mlops.RolloutOptions{Steps: []int{10, 50, 100}, Check: healthy})
	// README:end
	if err != nil {
		return err
	}
	if ep.Traffic["green"] != 100 {
		return errors.New("the rollout did not end with green at 100%")
	}
	fmt.Println(claims.Ref(), claims.Classification(), "trained by", job.ID, "; green serves", ep.Traffic["green"], "%")
	return nil
}
