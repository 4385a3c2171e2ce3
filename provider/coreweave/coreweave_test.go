package coreweave_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/coreweave"
)

const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: cks
  cluster:
    server: https://abc123-9c8f070b.k8s.us-east-04a.coreweave.example
users:
- name: token
  user:
    token: CW-SECRET-not-a-real-token
contexts:
- name: training
  context: {cluster: cks, user: token, namespace: ml}
- name: other
  context: {cluster: cks, user: token}
current-context: other
`

// TestNewFromKubeconfig loads a kubeconfig by path and context, or a
// rest.Config, and refuses what does not load, without calling the
// cluster and without echoing the token.
func TestNewFromKubeconfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, ctx := range []string{"", "training"} {
		p, err := coreweave.New(coreweave.Config{Kubeconfig: path, Context: ctx, Namespace: "ml", Region: "US-EAST-04A"})
		if err != nil {
			t.Fatalf("New with context %q: %v", ctx, err)
		}
		if r := p.Regions(); len(r) != 1 || r[0].Name != "US-EAST-04" || r[0].Cloud != "coreweave" {
			t.Errorf("Regions() = %v", r)
		}
	}
	if _, err := coreweave.New(coreweave.Config{RESTConfig: &rest.Config{Host: "https://cluster.example"}, Namespace: "ml", Region: "EU-SOUTH-03"}); err != nil {
		t.Errorf("New with a rest.Config: %v", err)
	}
	for name, cfg := range map[string]coreweave.Config{
		"MissingContext": {Kubeconfig: path, Context: "nope", Namespace: "ml", Region: "US-EAST-04"},
		"MissingFile":    {Kubeconfig: filepath.Join(t.TempDir(), "none"), Namespace: "ml", Region: "US-EAST-04"},
		"UnknownRegion":  {Kubeconfig: path, Namespace: "ml", Region: "MARS-01"},
		"BadNamespace":   {Kubeconfig: path, Namespace: "ML", Region: "US-EAST-04"},
		"TwoWays":        {Kubeconfig: path, RESTConfig: &rest.Config{}, Namespace: "ml", Region: "US-EAST-04"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := coreweave.New(cfg)
			if provider.CodeOf(err) != provider.InvalidArgument {
				t.Fatalf("New = %v, want InvalidArgument", err)
			}
			if strings.Contains(err.Error(), "CW-SECRET") {
				t.Errorf("the error holds the token: %v", err)
			}
		})
	}
}
