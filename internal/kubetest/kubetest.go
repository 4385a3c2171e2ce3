package kubetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/tideline-ml/tideline/internal/fixtures"
	"github.com/tideline-ml/tideline/internal/testenv"
)

// The variables scripts/testenv.sh exports for the API server it starts.
const (
	URLEnv         = "TIDELINE_KUBE_URL"
	CAFileEnv      = "TIDELINE_KUBE_CA_FILE"
	AdminTokenEnv  = "TIDELINE_KUBE_ADMIN_TOKEN"
	UserTokenEnv   = "TIDELINE_KUBE_USER_TOKEN"
	NobodyTokenEnv = "TIDELINE_KUBE_NOBODY_TOKEN"
)

// The users behind the tokens. User belongs to no group besides
// system:authenticated, so it may do only what a test binds to it; Nobody
// is never bound to anything.
const (
	User   = "tideline-provider"
	Nobody = "tideline-nobody"
)

// The client rate limits of every Config: far above client-go's defaults
// (5 per second, bursts of 10), which would make a busy test wait on its own
// client rather than on the server.
const (
	clientQPS   = 500
	clientBurst = 1000
)

// timeout bounds each helper's wait for the server: creating objects,
// CRDs becoming established, a binding coming into force.
const timeout = 60 * time.Second

// CRDResource is the resource of CustomResourceDefinitions, for the
// dynamic client.
var CRDResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// Env is the API server that scripts/testenv.sh started for the test run.
// It holds only what the environment says; its methods may be called from
// parallel tests.
type Env struct {
	url, caFile                   string
	adminToken, userToken, nobody string
}

// Start returns the API server of the test run. When the variables that
// describe it are absent, the test skips, or fails under
// TIDELINE_INTEGRATION=required (see testenv.Missing); when only some are
// set, or the CA file cannot be read, or the server does not answer
// /readyz, the test fails, because the environment is broken.
func Start(tb testing.TB) *Env {
	tb.Helper()
	names := []string{URLEnv, CAFileEnv, AdminTokenEnv, UserTokenEnv, NobodyTokenEnv}
	var set, unset []string
	vals := make(map[string]string, len(names))
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			set = append(set, n)
			vals[n] = v
		} else {
			unset = append(unset, n)
		}
	}
	if len(set) == 0 {
		testenv.Missing(tb, "kubetest: no Kubernetes API server: %s are unset; run the tests with make test, whose scripts/testenv.sh builds and starts etcd and kube-apiserver", strings.Join(names, ", "))
	}
	if len(unset) > 0 {
		tb.Fatalf("kubetest: %s set but %s unset; run the tests with make test, which sets all of them", strings.Join(set, ", "), strings.Join(unset, ", "))
	}
	e := &Env{
		url:        vals[URLEnv],
		caFile:     vals[CAFileEnv],
		adminToken: vals[AdminTokenEnv],
		userToken:  vals[UserTokenEnv],
		nobody:     vals[NobodyTokenEnv],
	}
	if _, err := os.Stat(e.caFile); err != nil {
		tb.Fatalf("kubetest: %s names a CA file that cannot be read: %v", CAFileEnv, err)
	}
	if err := e.ready(); err != nil {
		tb.Fatalf("kubetest: the API server at %s (%s) does not answer: %v; was it started by this run of make test?", e.url, URLEnv, err)
	}
	return e
}

// ready asks the server for /readyz as the administrator.
func (e *Env) ready() error {
	cs, err := kubernetes.NewForConfig(e.AdminConfig())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	return err
}

// URL returns the server's address, https://127.0.0.1:PORT.
func (e *Env) URL() string { return e.url }

// CAFile returns the path of the PEM file that verifies the server's
// certificate.
func (e *Env) CAFile() string { return e.caFile }

// AdminConfig returns a new client configuration for a member of
// system:masters, whom RBAC allows everything.
func (e *Env) AdminConfig() *rest.Config { return e.config(e.adminToken) }

// UserConfig returns a new client configuration for User, who may do only
// what BindRole grants it (and what RBAC grants every authenticated user:
// discovery and reviews of its own access).
func (e *Env) UserConfig() *rest.Config { return e.config(e.userToken) }

// NobodyConfig returns a new client configuration for Nobody, to whom no
// test binds anything.
func (e *Env) NobodyConfig() *rest.Config { return e.config(e.nobody) }

// config returns a configuration that verifies the server with the CA file
// and authenticates with token. Each call returns a new value the caller
// may change.
func (e *Env) config(token string) *rest.Config {
	return &rest.Config{
		Host:            e.url,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAFile: e.caFile},
		QPS:             clientQPS,
		Burst:           clientBurst,
		UserAgent:       "tideline-kubetest",
	}
}

// installed records, per server URL, the outcome of installing the CRDs in
// this process: a test process installs them once, and every later call
// returns that outcome.
var installed struct {
	sync.Mutex
	done map[string]error
}

// InstallCRDs installs the CustomResourceDefinitions of internal/fixtures
// (PyTorchJob, TrainJob, InferenceService) and waits until each is
// established, so that their resources can be created as soon as it
// returns. It does the work once per test process; a CRD that exists
// already, created by another test process sharing the server, is kept as
// it is. A failure fails the test, and every later call in the process.
func (e *Env) InstallCRDs(tb testing.TB) {
	tb.Helper()
	installed.Lock()
	defer installed.Unlock()
	if installed.done == nil {
		installed.done = make(map[string]error)
	}
	err, ok := installed.done[e.url]
	if !ok {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		err = installCRDs(ctx, e.AdminConfig())
		cancel()
		installed.done[e.url] = err
	}
	if err != nil {
		tb.Fatalf("kubetest: installing the CRDs: %v", err)
	}
}

// installCRDs creates every CRD of fixtures.CRDs that does not exist yet
// and waits until all are established.
func installCRDs(ctx context.Context, cfg *rest.Config) error {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	crds := fixtures.CRDs()
	files, err := fs.Glob(crds, "*.json")
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("internal/fixtures holds no CRD")
	}
	var names []string
	for _, f := range files {
		b, err := fs.ReadFile(crds, f)
		if err != nil {
			return err
		}
		var obj unstructured.Unstructured
		if err := json.Unmarshal(b, &obj.Object); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		_, err = dyn.Resource(CRDResource).Create(ctx, &obj, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating %s from %s: %w", obj.GetName(), f, err)
		}
		names = append(names, obj.GetName())
	}
	for _, name := range names {
		if err := waitEstablished(ctx, dyn, name); err != nil {
			return err
		}
	}
	return nil
}

// waitEstablished polls the CRD name until its Established condition is
// True; a NamesAccepted condition of False ends the wait at once.
func waitEstablished(ctx context.Context, dyn dynamic.Interface, name string) error {
	for {
		obj, err := dyn.Resource(CRDResource).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("reading CRD %s: %w", name, err)
		}
		conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]any)
			switch {
			case m["type"] == "Established" && m["status"] == "True":
				return nil
			case m["type"] == "NamesAccepted" && m["status"] == "False":
				return fmt.Errorf("CRD %s: names not accepted: %v", name, m["message"])
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("CRD %s not established: %w", name, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Namespace creates a namespace named prefix, a dash and a random suffix,
// and deletes it when the test ends. The prefix is made a valid name
// first: lower-cased, every character other than a letter, digit or dash
// replaced by a dash, at most 40 characters, so a test may pass t.Name().
//
// Nothing finalizes a deleted namespace on this server (no namespace
// controller runs): it stays Terminating, with its objects, until the
// server stops. New objects cannot be created in it.
func (e *Env) Namespace(tb testing.TB, prefix string) string {
	tb.Helper()
	cs := e.clientset(tb, e.AdminConfig())
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ns, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: namePrefix(prefix) + "-"},
	}, metav1.CreateOptions{})
	if err != nil {
		tb.Fatalf("kubetest: creating a namespace for prefix %q: %v", prefix, err)
	}
	name := ns.Name
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		err := cs.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			tb.Errorf("kubetest: deleting namespace %s: %v", name, err)
		}
	})
	return name
}

// namePrefix makes s a prefix of a valid namespace name (a DNS label with
// room for the random suffix).
func namePrefix(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	p := b.String()
	if len(p) > 40 {
		p = p[:40]
	}
	p = strings.Trim(p, "-")
	if p == "" || p[0] < 'a' {
		p = "t" + p
	}
	return p
}

// BindRole creates the Role that roleYAML describes in namespace, and a
// RoleBinding of it to user, and returns once the server applies the
// binding (RBAC reads bindings from a cache, so a request sent right after
// creating one may still be refused). Both are deleted when the test ends.
//
// roleYAML holds one rbac.authorization.k8s.io/v1 Role, in YAML or JSON,
// as a provider's documentation gives it; its namespace, if any, is
// replaced by namespace. Unknown fields fail the test rather than being
// ignored, so that a misspelt key cannot silently grant less.
func (e *Env) BindRole(tb testing.TB, namespace string, roleYAML []byte, user string) {
	tb.Helper()
	role, err := parseRole(roleYAML)
	if err != nil {
		tb.Fatalf("kubetest: BindRole: %v", err)
	}
	role.Namespace = namespace
	role.ResourceVersion = ""
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name + "-" + user, Namespace: namespace},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}

	cs := e.clientset(tb, e.AdminConfig())
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if _, err := cs.RbacV1().Roles(namespace).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		tb.Fatalf("kubetest: creating Role %s in namespace %s: %v", role.Name, namespace, err)
	}
	tb.Cleanup(func() { e.deleteQuietly(tb, "Role", namespace, role.Name, cs.RbacV1().Roles(namespace).Delete) })
	if _, err := cs.RbacV1().RoleBindings(namespace).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		tb.Fatalf("kubetest: binding Role %s to user %s in namespace %s: %v", role.Name, user, namespace, err)
	}
	tb.Cleanup(func() {
		e.deleteQuietly(tb, "RoleBinding", namespace, binding.Name, cs.RbacV1().RoleBindings(namespace).Delete)
	})
	if err := waitInForce(ctx, cs, namespace, role, user); err != nil {
		tb.Fatalf("kubetest: Role %s bound to user %s in namespace %s: %v", role.Name, user, namespace, err)
	}
}

// deleteQuietly deletes an object at cleanup; a namespace already gone or
// terminating is no error.
func (e *Env) deleteQuietly(tb testing.TB, kind, namespace, name string, del func(context.Context, string, metav1.DeleteOptions) error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := del(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		tb.Errorf("kubetest: deleting %s %s/%s: %v", kind, namespace, name, err)
	}
}

// parseRole decodes one Role strictly.
func parseRole(b []byte) (*rbacv1.Role, error) {
	j, err := utilyaml.ToJSON(b)
	if err != nil {
		return nil, fmt.Errorf("the Role is neither YAML nor JSON: %w", err)
	}
	d := json.NewDecoder(bytes.NewReader(j))
	d.DisallowUnknownFields()
	var role rbacv1.Role
	if err := d.Decode(&role); err != nil {
		return nil, fmt.Errorf("decoding the Role: %w", err)
	}
	if role.APIVersion != rbacv1.SchemeGroupVersion.String() || role.Kind != "Role" {
		return nil, fmt.Errorf("want apiVersion %s and kind Role, got apiVersion %q and kind %q", rbacv1.SchemeGroupVersion, role.APIVersion, role.Kind)
	}
	if role.Name == "" {
		return nil, fmt.Errorf("the Role has no metadata.name")
	}
	if len(role.Rules) == 0 {
		return nil, fmt.Errorf("Role %s has no rules", role.Name)
	}
	return &role, nil
}

// waitInForce asks the server, as the administrator, whether user may do
// what the Role's first rule allows, until it answers yes.
func waitInForce(ctx context.Context, cs kubernetes.Interface, namespace string, role *rbacv1.Role, user string) error {
	r := role.Rules[0]
	attrs := &authorizationv1.ResourceAttributes{Namespace: namespace}
	if len(r.Verbs) > 0 {
		attrs.Verb = r.Verbs[0]
	}
	if len(r.APIGroups) > 0 {
		attrs.Group = r.APIGroups[0]
	}
	if len(r.Resources) > 0 {
		attrs.Resource, attrs.Subresource, _ = strings.Cut(r.Resources[0], "/")
	}
	if len(r.ResourceNames) > 0 {
		attrs.Name = r.ResourceNames[0]
	}
	for {
		review, err := cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{User: user, ResourceAttributes: attrs},
		}, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("reviewing access: %w", err)
		}
		if review.Status.Allowed {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not in force: %s %s in group %q still refused (%s): %w",
				attrs.Verb, path.Join(attrs.Resource, attrs.Subresource), attrs.Group, review.Status.Reason, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// clientset returns a typed client for cfg.
func (e *Env) clientset(tb testing.TB, cfg *rest.Config) *kubernetes.Clientset {
	tb.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		tb.Fatalf("kubetest: a client for %s: %v", e.url, err)
	}
	return cs
}
