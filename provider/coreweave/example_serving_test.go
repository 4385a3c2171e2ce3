package coreweave_test

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/coreweave"
	"github.com/tideline-ml/tideline/provider/coreweave/coreweavetest"
)

// printCanary prints an endpoint's split and what the InferenceService
// holds for it.
func printCanary(ctx context.Context, p *coreweave.Provider, c *coreweavetest.ServingCluster, endpoint string) {
	info, err := p.GetEndpoint(ctx, endpoint)
	if err != nil {
		fmt.Println(err)
		return
	}
	var split []string
	for _, name := range slices.Sorted(maps.Keys(info.Traffic)) {
		split = append(split, fmt.Sprintf("%s:%d", name, info.Traffic[name]))
	}
	obj := c.Object(coreweave.InferenceServiceResource, "serving", endpoint)
	uri, _, _ := unstructured.NestedString(obj.Object, "spec", "predictor", "model", "storageUri")
	canary := "unset"
	if v, ok, _ := unstructured.NestedInt64(obj.Object, "spec", "predictor", "canaryTrafficPercent"); ok {
		canary = fmt.Sprint(v)
	}
	fmt.Printf("traffic %v; predictor %s, canaryTrafficPercent %s\n", split, uri, canary)
}

// The two-way canary of Knative mode: the newest deployment is the
// predictor, and canaryTrafficPercent is its share.
func ExampleProvider_UpdateEndpoint_canary() {
	ctx := context.Background()
	cluster := coreweavetest.NewServingCluster() // a real cluster: Config.Kubeconfig
	p, err := coreweave.New(coreweave.Config{
		Clientset: kubefake.NewClientset(), Dynamic: cluster.Dynamic(),
		Namespace: "serving", Region: "US-EAST-04",
		Serving: coreweave.ServingConfig{Mode: coreweave.DeploymentModeKnative, ModelFormat: "sklearn"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := p.CreateEndpoint(ctx, &provider.EndpointSpec{Name: "scoring"}); err != nil {
		fmt.Println(err)
		return
	}
	for _, name := range []string{"blue", "green"} {
		_, err := p.CreateDeployment(ctx, &provider.DeploymentSpec{
			Endpoint: "scoring", Name: name, Model: "fraud", ModelVersion: "3",
			ArtifactURI: "s3://models/fraud/" + name, InstanceType: "gd-8xh100ib-i128", Instances: 1,
		})
		if err != nil {
			fmt.Println(err)
			return
		}
		// KServe's controller marks the revision ready; here the test helper
		// writes that status.
		if err := coreweavetest.SetDeploymentReady(ctx, cluster.Dynamic(), "serving", "scoring", name); err != nil {
			fmt.Println(err)
			return
		}
	}
	for _, split := range []map[string]int{
		{"blue": 100},             // green is the canary at 0
		{"blue": 90, "green": 10}, // canaryTrafficPercent 10
		{"green": 100},            // promote: KServe rolls green out
		{"blue": 100, "green": 0}, // roll back: blue's predictor again
	} {
		if _, err := p.UpdateEndpoint(ctx, &provider.EndpointUpdate{Endpoint: "scoring", Traffic: split}); err != nil {
			fmt.Println(err)
			return
		}
		printCanary(ctx, p, cluster, "scoring")
	}
	_, err = p.UpdateEndpoint(ctx, &provider.EndpointUpdate{Endpoint: "scoring", Mirror: map[string]int{"green": 10}})
	fmt.Println(provider.CodeOf(err))
	// Output:
	// traffic [blue:100]; predictor s3://models/fraud/green, canaryTrafficPercent 0
	// traffic [blue:90 green:10]; predictor s3://models/fraud/green, canaryTrafficPercent 10
	// traffic [green:100]; predictor s3://models/fraud/green, canaryTrafficPercent unset
	// traffic [blue:100]; predictor s3://models/fraud/blue, canaryTrafficPercent unset
	// InvalidArgument
}

// Standard mode, KServe's default, has no revisions: an endpoint holds one
// deployment, and a second is refused until the first is deleted.
func ExampleProvider_CreateDeployment_standardMode() {
	ctx := context.Background()
	cluster := coreweavetest.NewServingCluster()
	p, err := coreweave.New(coreweave.Config{
		Clientset: kubefake.NewClientset(), Dynamic: cluster.Dynamic(),
		Namespace: "serving", Region: "US-EAST-04",
		Serving: coreweave.ServingConfig{ModelFormat: "sklearn"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%+v\n", p.ServingCapabilities())
	if _, err := p.CreateEndpoint(ctx, &provider.EndpointSpec{Name: "scoring"}); err != nil {
		fmt.Println(err)
		return
	}
	spec := &provider.DeploymentSpec{Endpoint: "scoring", Name: "blue", Model: "fraud", ModelVersion: "3", ArtifactURI: "s3://models/fraud/3"}
	if _, err := p.CreateDeployment(ctx, spec); err != nil {
		fmt.Println(err)
		return
	}
	spec.Name, spec.ModelVersion = "green", "4"
	_, err = p.CreateDeployment(ctx, spec)
	fmt.Println(provider.CodeOf(err))
	// Output:
	// {MaxDeployments:1 Mirror:false}
	// FailedPrecondition
}
