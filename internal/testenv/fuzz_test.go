package testenv

import (
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// FuzzModuleOf checks that any go.mod text parses without panicking and that
// a module directive written plainly or quoted yields its path back.
func FuzzModuleOf(f *testing.F) {
	for _, seed := range []string{
		modulePath, "example.com/x", "a", "x/y/z.v2", "", "''", "`x`",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, path string) {
		_ = moduleOf([]byte(path)) // arbitrary text
		if path == "" || strings.Contains(path, "//") || strings.ContainsRune(path, '"') ||
			strings.IndexFunc(path, unicode.IsSpace) >= 0 || !strconv.CanBackquote(path) {
			return
		}
		gomod := "// header\n\nmodule " + path + "\n\ngo 1.26\n"
		if got := moduleOf([]byte(gomod)); got != path {
			t.Errorf("moduleOf(%q) = %q, want %q", gomod, got, path)
		}
		quoted := "module " + strconv.Quote(path) + " // note\n"
		if got := moduleOf([]byte(quoted)); got != path {
			t.Errorf("moduleOf(%q) = %q, want %q", quoted, got, path)
		}
	})
}
