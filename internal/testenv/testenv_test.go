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

func TestSharedDirAbsent(t *testing.T) {
	const name = "no-such-shared-entry.d"
	for _, tc := range []struct {
		env        string
		wantFailed bool
	}{
		{"", false},
		{"required", true},
	} {
		t.Run("env="+tc.env, func(t *testing.T) {
			t.Setenv(integrationEnv, tc.env)
			got := run(t, func(tb testing.TB) { SharedDir(tb, "testdata", name) })
			if got.failed != tc.wantFailed || got.skipped == tc.wantFailed {
				t.Fatalf("outcome %+v, want failed=%v and skipped=%v", got, tc.wantFailed, !tc.wantFailed)
			}
			if !strings.Contains(got.msg, "../shared/testdata/"+name) {
				t.Errorf("message %q does not name the path relative to the repository root", got.msg)
			}
		})
	}
}

func TestSharedDirPresent(t *testing.T) {
	// Needs the shared directory itself; without it this test skips (or
	// fails under TIDELINE_INTEGRATION=required) through the rule it tests.
	shared := SharedDir(t)
	want := filepath.Join(filepath.Dir(RepoRoot(t)), "shared")
	if shared != want {
		t.Errorf("SharedDir() = %q, want %q", shared, want)
	}
	entries, err := os.ReadDir(shared)
	if err != nil || len(entries) == 0 {
		t.Fatalf("shared directory %s has no entries: %v", shared, err)
	}
	name := entries[0].Name()
	if got := SharedDir(t, name); got != filepath.Join(want, name) {
		t.Errorf("SharedDir(%q) = %q, want %q", name, got, filepath.Join(want, name))
	}
	if entries[0].IsDir() {
		// A slash-separated element reaches into a subdirectory.
		sub, err := os.ReadDir(filepath.Join(shared, name))
		if err == nil && len(sub) > 0 {
			joined := name + "/" + sub[0].Name()
			if got := SharedDir(t, joined); got != filepath.Join(want, name, sub[0].Name()) {
				t.Errorf("SharedDir(%q) = %q", joined, got)
			}
		}
	}
}
