package coreweavetest

import "k8s.io/apimachinery/pkg/runtime"

func runtimeFromUnstructured(m map[string]any, into any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructured(m, into)
}
