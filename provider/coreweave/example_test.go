package coreweave_test

import (
	"context"
	"fmt"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/coreweave"
	"github.com/tideline-ml/tideline/provider/coreweave/coreweavetest"
	"github.com/tideline-ml/tideline/secret"
)

// A job's life on a fake cluster, with coreweavetest.Controller playing the
// Job controller. Against a real cluster, Config names a kubeconfig
// instead and the cluster's controllers run the job.
func Example() {
	ctx := context.Background()
	cluster := coreweavetest.NewCluster(false)
	p, err := coreweave.New(coreweave.Config{
		Clientset: cluster.Kube, Dynamic: cluster.Dynamic,
		Namespace: "ml", Region: "US-EAST-04A",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Regions())

	info, err := p.SubmitJob(ctx, &provider.JobSpec{
		Name:       "finetune",
		Region:     "US-EAST-04",
		Image:      "registry.example.com/finetune@sha256:" + strings.Repeat("0", 64),
		SecretEnv:  map[string]secret.Secret{"HF_TOKEN": secret.NewSecret("hf-example")},
		GPUType:    "H100",
		GPUs:       8,
		Nodes:      1,
		MaxRetries: 2,
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(info.State, info.Spec.SecretEnv["HF_TOKEN"])

	ctl := &coreweavetest.Controller{Kube: cluster.Kube, Dynamic: cluster.Dynamic, Namespace: "ml"}
	_ = ctl.StartJob(ctx, "finetune")
	info, _ = p.WatchJob(ctx, "finetune", info.Revision)
	fmt.Println(info.State, info.Attempts)

	_ = ctl.CompleteJob(ctx, "finetune", "")
	info, _ = p.WatchJob(ctx, "finetune", info.Revision)
	fmt.Println(info.State, info.OutputURI)
	// Output:
	// [{US-EAST-04 coreweave}]
	// Queued [REDACTED]
	// Running 1
	// Succeeded coreweave://ml/jobs/finetune
}

// A GPU the cluster's region does not offer is refused before anything is
// created, naming what it offers.
func ExampleProvider_SubmitJob_gpuNotOffered() {
	cluster := coreweavetest.NewCluster(false)
	p, _ := coreweave.New(coreweave.Config{Clientset: cluster.Kube, Dynamic: cluster.Dynamic, Namespace: "ml", Region: "EU-SOUTH-03"})
	_, err := p.SubmitJob(context.Background(), &provider.JobSpec{
		Name: "finetune", Image: "registry.example.com/finetune:1", GPUType: "A100", GPUs: 8, Nodes: 1,
	})
	fmt.Println(provider.CodeOf(err))
	fmt.Println(err)
	// Output:
	// InvalidArgument
	// coreweave: job "finetune" asks for GPU type "A100", which EU-SOUTH-03 does not offer; it offers H100, H200, GB200 (Config.GPUs)
}

// The Role the provider needs, rule by rule.
func Example_role() {
	var role rbacv1.Role
	if err := yaml.Unmarshal(coreweave.RoleYAML, &role); err != nil {
		panic(err)
	}
	for _, r := range role.Rules {
		fmt.Printf("%q %v: %v\n", r.APIGroups[0], r.Resources, r.Verbs)
	}
	// Output:
	// "batch" [jobs]: [get list watch create patch delete]
	// "kubeflow.org" [pytorchjobs]: [get list watch create patch delete]
	// "trainer.kubeflow.org" [trainjobs]: [get list watch create patch delete]
	// "" [secrets]: [create patch delete]
	// "" [configmaps]: [get list create update delete]
	// "" [pods]: [list]
	// "" [pods/log]: [get]
	// "serving.kserve.io" [inferenceservices]: [get list create update delete]
}
