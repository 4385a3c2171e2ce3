package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// outcome records how a function under test ended a (fake) test.
type outcome struct {
	skipped, failed bool
	msg             string
}

// fakeTB stands in for the test's own testing.TB so that a Skip or Fatal
// ends only the goroutine run starts, as the testing package does, and is
// recorded instead of ending the real test.
type fakeTB struct {
	testing.TB
	out outcome
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Skip(args ...any) {
	f.out = outcome{skipped: true, msg: fmt.Sprint(args...)}
	runtime.Goexit()
}
func (f *fakeTB) Skipf(format string, args ...any) { f.Skip(fmt.Sprintf(format, args...)) }
func (f *fakeTB) Fatal(args ...any) {
	f.out = outcome{failed: true, msg: fmt.Sprint(args...)}
	runtime.Goexit()
}
func (f *fakeTB) Fatalf(format string, args ...any) { f.Fatal(fmt.Sprintf(format, args...)) }

// run calls fn with a fake TB and reports how fn ended it; the zero outcome
// means fn returned normally.
func run(t *testing.T, fn func(tb testing.TB)) outcome {
	t.Helper()
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f.out
}

func TestRequired(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  bool
	}{
		{"required", true},
		{"", false},
		{"optional", false},
		{"1", false},
		{"required ", false},
	} {
		t.Run(fmt.Sprintf("%q", tc.value), func(t *testing.T) {
			t.Setenv(integrationEnv, tc.value)
			if got := Required(); got != tc.want {
				t.Errorf("Required() = %v with %s=%q, want %v", got, integrationEnv, tc.value, tc.want)
			}
		})
	}
}

func TestMissing(t *testing.T) {
	for _, tc := range []struct {
		env        string
		wantFailed bool
	}{
		{"", false},
		{"required", true},
	} {
		t.Run("env="+tc.env, func(t *testing.T) {
			t.Setenv(integrationEnv, tc.env)
			got := run(t, func(tb testing.TB) { Missing(tb, "azurite not found on %s", "PATH") })
			if got.failed != tc.wantFailed || got.skipped == tc.wantFailed {
				t.Fatalf("outcome %+v, want failed=%v and skipped=%v", got, tc.wantFailed, !tc.wantFailed)
			}
			if !strings.Contains(got.msg, "azurite not found on PATH") || !strings.Contains(got.msg, integrationEnv+"=required") {
				t.Errorf("message %q does not say what is missing and which setting decides", got.msg)
			}
		})
	}
}

func TestRepoRoot(t *testing.T) {
	root := RepoRoot(t)
	if !filepath.IsAbs(root) {
		t.Errorf("RepoRoot = %q, not absolute", root)
	}
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if got := moduleOf(b); got != modulePath {
		t.Errorf("go.mod at %s declares %q, want %q", root, got, modulePath)
	}
	// This package is internal/testenv under the root.
	if _, err := os.Stat(filepath.Join(root, "internal", "testenv", "testenv.go")); err != nil {
		t.Errorf("RepoRoot = %s, which does not hold this package: %v", root, err)
	}
}

func TestRepoRootOutsideModule(t *testing.T) {
	t.Chdir(t.TempDir())
	got := run(t, func(tb testing.TB) { RepoRoot(tb) })
	if !got.failed || !strings.Contains(got.msg, modulePath) {
		t.Errorf("outcome %+v outside the module, want a failure naming %s", got, modulePath)
	}
}

func TestRepoRootSkipsOtherModules(t *testing.T) {
	// A nested module (here a temporary one, chdir'd into) must not be
	// taken for the root; with no tideline go.mod above it, the walk fails.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/wrapper\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	if got := run(t, func(tb testing.TB) { RepoRoot(tb) }); !got.failed {
		t.Errorf("outcome %+v in a foreign module, want a failure", got)
	}
}

func TestModuleOf(t *testing.T) {
	for _, tc := range []struct{ name, gomod, want string }{
		{"plain", "module github.com/tideline-ml/tideline\n\ngo 1.26\n", modulePath},
		{"quoted", "module \"github.com/tideline-ml/tideline\"\n", modulePath},
		{"comment", "// a module\nmodule github.com/tideline-ml/tideline // the SDK\n", modulePath},
		{"indented", "  module\tgithub.com/tideline-ml/tideline\n", modulePath},
		{"other module", "module example.com/x\n", "example.com/x"},
		{"no directive", "go 1.26\nrequire example.com/y v1.0.0\n", ""},
		{"modulex is not module", "modulex github.com/tideline-ml/tideline\n", ""},
		{"directive in a comment", "// module github.com/tideline-ml/tideline\n", ""},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := moduleOf([]byte(tc.gomod)); got != tc.want {
				t.Errorf("moduleOf(%q) = %q, want %q", tc.gomod, got, tc.want)
			}
		})
	}
}

// fakeRepo makes a directory tree with a repository of this module and a
// shared directory beside it holding testdata/present, changes into the
// repository's subdirectory pkg, and returns the shared directory.
func fakeRepo(t *testing.T) string {
	t.Helper()
	top := t.TempDir()
	repo := filepath.Join(top, "repo")
	shared := filepath.Join(top, "shared")
	for _, dir := range []string{filepath.Join(repo, "pkg"), filepath.Join(shared, "testdata", "present")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(repo, "go.mod"), []byte("module "+modulePath+"\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(filepath.Join(repo, "pkg"))
	return shared
}

func TestLookupSharedPresent(t *testing.T) {
	shared := fakeRepo(t)
	for _, elem := range [][]string{nil, {"testdata"}, {"testdata", "present"}, {"testdata/present"}} {
		path, ok := LookupShared(t, elem...)
		want := filepath.Join(append([]string{shared}, elem...)...)
		if !ok || path != filepath.FromSlash(want) {
			t.Errorf("LookupShared(%q) = %q, %v; want %q, true", elem, path, ok, want)
		}
	}
}

// Absent shared data is never an integration component: LookupShared
// neither skips nor fails, whatever TIDELINE_INTEGRATION says.
func TestLookupSharedAbsent(t *testing.T) {
	for _, env := range []string{"", "required"} {
		t.Run("env="+env, func(t *testing.T) {
			t.Setenv(integrationEnv, env)
			shared := fakeRepo(t)
			var path string
			var ok bool
			got := run(t, func(tb testing.TB) { path, ok = LookupShared(tb, "testdata", "absent") })
			if got != (outcome{}) {
				t.Fatalf("outcome %+v, want LookupShared to return", got)
			}
			if want := filepath.Join(shared, "testdata", "absent"); ok || path != want {
				t.Errorf("LookupShared = %q, %v; want %q, false", path, ok, want)
			}
		})
	}
}

func TestLookupSharedWithoutSharedDirectory(t *testing.T) {
	shared := fakeRepo(t)
	if err := os.RemoveAll(shared); err != nil {
		t.Fatal(err)
	}
	if path, ok := LookupShared(t); ok || path != shared {
		t.Errorf("LookupShared() = %q, %v; want %q, false", path, ok, shared)
	}
}
