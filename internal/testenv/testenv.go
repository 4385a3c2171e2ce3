package testenv

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const (
	// modulePath identifies the go.mod that marks the repository root, so
	// that a nested module (a wrapper built for an integration component)
	// is walked past rather than mistaken for the root.
	modulePath = "github.com/tideline-ml/tideline"

	// integrationEnv names the variable that turns skips into failures.
	integrationEnv = "TIDELINE_INTEGRATION"
)

// Required reports whether absent integration components fail tests instead
// of skipping them: true exactly when TIDELINE_INTEGRATION is "required".
func Required() bool {
	return os.Getenv(integrationEnv) == "required"
}

// Missing ends the test because an integration component is absent. The
// message, built from format and args, should say what is missing and how to
// provide it. The test is skipped, or failed when Required reports true.
func Missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		tb.Fatalf("%s (failing instead of skipping because %s=required)", msg, integrationEnv)
	}
	tb.Skipf("%s (skipping; set %s=required to fail instead)", msg, integrationEnv)
}

// RepoRoot returns the absolute path of the repository root: the nearest
// directory at or above the test's working directory whose go.mod declares
// this module. It fails the test when there is none, which means the test
// runs outside the repository and cannot locate anything relative to it.
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatalf("testenv: cannot read the working directory to locate the repository root: %v", err)
	}
	for dir := wd; ; {
		ok, err := declaresModule(filepath.Join(dir, "go.mod"))
		if err != nil {
			tb.Fatalf("testenv: %v", err)
		}
		if ok {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatalf("testenv: no go.mod declaring module %s at or above %s; run the test from inside the repository", modulePath, wd)
		}
		dir = parent
	}
}

// declaresModule reports whether the go.mod file at path declares this
// module. A missing file is not an error: the walk goes on upwards.
func declaresModule(path string) (bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading %s while locating the repository root: %w", path, err)
	}
	return moduleOf(b) == modulePath, nil
}

// moduleOf returns the path in a go.mod file's module directive, or "" when
// there is none. It reads only as much of the syntax as that line needs:
// an optional quoted path (interpreted or raw) and a trailing comment.
func moduleOf(gomod []byte) string {
	s := bufio.NewScanner(bytes.NewReader(gomod))
	for s.Scan() {
		line, _, _ := strings.Cut(s.Text(), "//")
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module")
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '\t' && rest[0] != '"') {
			continue
		}
		p := strings.TrimSpace(rest)
		if strings.HasPrefix(p, `"`) || strings.HasPrefix(p, "`") {
			if unq, err := strconv.Unquote(p); err == nil {
				p = unq
			}
		}
		return p
	}
	return ""
}

// LookupShared returns the absolute path of elem joined under the shared
// directory beside the repository root, that is <root>/../shared/<elem...>,
// and whether that path exists. Elements may contain slashes. Unlike
// Missing, it neither skips nor fails a test when the path is absent: no
// test may need the shared directory, so the caller decides what absence
// means (the check that internal/fixtures matches its originals skips). A
// path that exists but cannot be examined fails the test.
func LookupShared(tb testing.TB, elem ...string) (string, bool) {
	tb.Helper()
	parts := []string{RepoRoot(tb), "..", "shared"}
	for _, e := range elem {
		parts = append(parts, filepath.FromSlash(e))
	}
	path := filepath.Join(parts...)
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return path, true
	case errors.Is(err, fs.ErrNotExist):
		return path, false
	default:
		tb.Fatalf("testenv: shared test data %s exists but cannot be examined: %v", path, err)
		return "", false // not reached: Fatalf ends the test
	}
}
