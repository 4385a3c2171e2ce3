package coreweave_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/coreweave"
)

// permission is one (group, resource[/subresource], verb).
type permission struct{ group, resource, verb string }

func (p permission) String() string {
	return fmt.Sprintf("%s %s.%s", p.verb, p.resource, p.group)
}

func actionsOf(actions []k8stesting.Action) []permission {
	var out []permission
	for _, a := range actions {
		r := a.GetResource()
		if r.Resource == "resource" {
			// API discovery, open to every authenticated user.
			continue
		}
		res := r.Resource
		if s := a.GetSubresource(); s != "" {
			res += "/" + s
		}
		out = append(out, permission{r.Group, res, a.GetVerb()})
	}
	return out
}

func parseRole(t *testing.T) rbacv1.Role {
	t.Helper()
	var role rbacv1.Role
	if err := yaml.UnmarshalStrict(coreweave.RoleYAML, &role); err != nil {
		t.Fatalf("RoleYAML does not parse as a Role: %v", err)
	}
	if role.Kind != "Role" || role.APIVersion != "rbac.authorization.k8s.io/v1" || role.Namespace != "" {
		t.Fatalf("RoleYAML is %s %s in namespace %q; want a namespaced Role applied with -n", role.APIVersion, role.Kind, role.Namespace)
	}
	return role
}

func grants(role rbacv1.Role, p permission) bool {
	for _, r := range role.Rules {
		if slices.Contains(r.APIGroups, p.group) && slices.Contains(r.Resources, p.resource) && slices.Contains(r.Verbs, p.verb) {
			return true
		}
	}
	return false
}

// TestRoleIsExactlyWhatTheTrainerUses runs every training call, through
// every path that makes a request of its own (each job kind, a duplicate
// submit, a cancel that meets a concurrent change), and checks that the
// Role grants every request made and that every training rule of the Role
// was used.
func TestRoleIsExactlyWhatTheTrainerUses(t *testing.T) {
	role := parseRole(t)
	e := newEnv(t, true, nil)
	tj, err := coreweave.New(coreweave.Config{Clientset: e.cluster.Kube, Dynamic: e.cluster.Dynamic, Namespace: testNamespace, Region: testRegion, MultiNode: coreweave.MultiNodeTrainJob})
	if err != nil {
		t.Fatal(err)
	}
	// The first cancellation meets two concurrent changes: one that leaves
	// the job running (the record is written again), then its completion
	// (the record goes and the job is returned as it ended).
	conflicts := 0
	e.cluster.Kube.PrependReactor("patch", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		pa := a.(k8stesting.PatchAction)
		if pa.GetName() != "train-role-0" || !strings.Contains(string(pa.GetPatch()), coreweave.AnnotationCanceled) || conflicts == 2 {
			return false, nil, nil
		}
		conflicts++
		if conflicts == 2 {
			if err := e.ctl.CompleteJob(e.ctx, pa.GetName(), ""); err != nil {
				t.Error(err)
			}
		}
		return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "batch", Resource: "jobs"}, pa.GetName(), fmt.Errorf("changed"))
	})
	for i, pr := range []*coreweave.Provider{e.p, e.p, tj, e.p} {
		spec := jobSpec(fmt.Sprintf("train-role-%d", i))
		spec.Nodes = map[bool]int{true: 2, false: 1}[i == 1 || i == 2]
		if pr == tj {
			spec.MaxRetries = 0
		}
		first, err := pr.SubmitJob(e.ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pr.SubmitJob(e.ctx, spec); provider.CodeOf(err) != provider.AlreadyExists {
			t.Fatalf("duplicate submit: %v", err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := pr.WatchJob(e.ctx, spec.Name, first.Revision)
			done <- err
		}()
		for e.cluster.Watches() == 0 {
			time.Sleep(time.Millisecond)
		}
		if err := e.ctl.StartJob(e.ctx, spec.Name); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if _, err := pr.GetJob(e.ctx, spec.Name); err != nil {
			t.Fatal(err)
		}
		if _, err := pr.ListJobs(e.ctx); err != nil {
			t.Fatal(err)
		}
		rc, err := pr.JobLogs(e.ctx, spec.Name)
		if err != nil {
			t.Fatal(err)
		}
		rc.Close()
		info, err := pr.CancelJob(e.ctx, spec.Name)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]provider.JobState{true: provider.JobSucceeded, false: provider.JobCanceled}[i == 0]; info.State != want {
			t.Errorf("CancelJob of job %d returned %s, want %s", i, info.State, want)
		}
	}
	if n, err := e.cluster.Kube.CoreV1().ConfigMaps(testNamespace).List(e.ctx, metav1.ListOptions{}); err != nil || len(n.Items) != 3 {
		t.Errorf("cancellation records: %v, %v; want the three of the canceled jobs, none of the job that completed", n, err)
	}
	used := map[permission]bool{}
	for _, p := range append(actionsOf(e.cluster.Kube.Actions()), actionsOf(e.cluster.Dynamic.Actions())...) {
		used[p] = true
		if !grants(role, p) {
			t.Errorf("the trainer made a request the Role does not grant: %s", p)
		}
	}
	for _, r := range role.Rules {
		if slices.Contains(r.APIGroups, "serving.kserve.io") {
			continue
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					if p := (permission{g, res, v}); !used[p] {
						t.Errorf("the Role grants %s, which the trainer never uses", p)
					}
				}
			}
		}
	}
}

// TestRoleIsExactlyWhatServingUses runs every serving call in Knative
// mode, through the paths that make requests of their own (an empty
// endpoint, its first deployment, a second one, a canary split, a
// rollout, deleting a deployment, deleting endpoints with and without
// deployments),
// and checks that the Role grants every request the provider made and that
// every rule of the serving section was used. The controller's status
// writes are left out: they are KServe's.
func TestRoleIsExactlyWhatServingUses(t *testing.T) {
	role := parseRole(t)
	text := string(coreweave.RoleYAML)
	if !strings.Contains(text, "# --- serving ---") {
		t.Error("RoleYAML has no marked serving section")
	}
	e := knative(t)
	fake := e.cluster.Fake()
	var skip [][2]int
	kserve := func(f func()) {
		n := len(fake.Actions())
		f()
		skip = append(skip, [2]int{n, len(fake.Actions())})
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	e.endpoint("scoring")
	e.endpoint("empty")
	_, err := e.p.GetEndpoint(e.ctx, "scoring")
	must(err)
	_, err = e.p.ListEndpoints(e.ctx)
	must(err)
	_, err = e.p.UpdateEndpoint(e.ctx, &provider.EndpointUpdate{Endpoint: "empty", Metadata: map[string]string{"owner": "fraud-team"}})
	must(err)
	for _, d := range []string{"blue", "green"} {
		_, err = e.p.CreateDeployment(e.ctx, e.spec("scoring", d))
		must(err)
		kserve(func() { e.ready("scoring", d) })
	}
	e.traffic("scoring", map[string]int{"blue": 90, "green": 10})
	_, err = e.p.GetDeployment(e.ctx, "scoring", "green")
	must(err)
	_, err = e.p.ListDeployments(e.ctx, "scoring")
	must(err)
	e.traffic("scoring", map[string]int{"green": 100})
	must(e.p.DeleteDeployment(e.ctx, "scoring", "blue"))
	must(e.p.DeleteEndpoint(e.ctx, "scoring"))
	kserve(e.cluster.Settle)
	must(e.p.DeleteEndpoint(e.ctx, "empty"))

	var mine []k8stesting.Action
	all := fake.Actions()
	for i, a := range all {
		if !slices.ContainsFunc(skip, func(r [2]int) bool { return r[0] <= i && i < r[1] }) {
			mine = append(mine, a)
		}
	}
	used := map[permission]bool{}
	for _, p := range actionsOf(mine) {
		used[p] = true
		if !grants(role, p) {
			t.Errorf("serving made a request the Role does not grant: %s", p)
		}
	}
	for _, r := range role.Rules {
		if !slices.Contains(r.APIGroups, "serving.kserve.io") {
			continue
		}
		for _, res := range r.Resources {
			for _, v := range r.Verbs {
				if p := (permission{"serving.kserve.io", res, v}); !used[p] {
					t.Errorf("the Role grants %s, which serving never uses", p)
				}
			}
		}
	}
	var names []string
	for p := range maps.Keys(used) {
		names = append(names, p.String())
	}
	slices.Sort(names)
	t.Logf("serving used: %s", strings.Join(names, ", "))
}
