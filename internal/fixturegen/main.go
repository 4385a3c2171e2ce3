// Command fixturegen derives the test fixtures in internal/fixtures from the
// project's shared test data, a directory named shared beside the repository
// root that a clone of the repository does not have.
//
// What it writes is facts only. Every human-language text of the originals
// is removed: JSON Schema and OpenAPI annotations (description, title,
// $comment), example values that are sentences rather than tokens, the
// messages of Kubernetes validation rules, YAML comments, and the
// free-text fields of the Azure ML REST examples, which get a neutral
// placeholder. What remains is field names, types, enums, required lists,
// formats, patterns, defaults, validation rules, $refs and example values.
// The output is deterministic: JSON with sorted keys, two-space indentation
// and a final newline.
//
// Usage, from anywhere inside the repository (or through go generate in
// internal/fixtures, or make fixtures):
//
//	go run ./internal/fixturegen [-shared DIR] [-out DIR]
//
// -shared defaults to the shared directory beside the repository root, -out
// to internal/fixtures. Every output is derived in memory first; nothing is
// written unless every input was read and transformed. Then each fixture
// folder's JSON files are replaced; its README.md, written by hand, is left
// alone.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// modulePath identifies the go.mod that marks the repository root.
const modulePath = "github.com/tideline-ml/tideline"

func main() {
	shared := flag.String("shared", "", "the shared test data directory (default: shared beside the repository root)")
	out := flag.String("out", "", "the fixtures directory to write (default: internal/fixtures under the repository root)")
	flag.Parse()
	if flag.NArg() != 0 {
		fmt.Fprintf(os.Stderr, "fixturegen: unexpected arguments %q; it takes only -shared and -out\n", flag.Args())
		os.Exit(2)
	}
	if *shared == "" || *out == "" {
		root, err := repoRoot()
		if err != nil {
			fmt.Fprintln(os.Stderr, "fixturegen:", err)
			os.Exit(1)
		}
		if *shared == "" {
			*shared = filepath.Join(filepath.Dir(root), "shared")
		}
		if *out == "" {
			*out = filepath.Join(root, "internal", "fixtures")
		}
	}
	if err := generate(*shared, *out); err != nil {
		fmt.Fprintln(os.Stderr, "fixturegen:", err)
		os.Exit(1)
	}
}

// generate derives every fixture from the shared directory src and writes
// them under dst, one folder per area. Nothing is written when any input
// fails.
func generate(src, dst string) error {
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("shared test data: %w; pass -shared DIR or place the shared directory beside the repository", err)
	}
	files, err := derive(src)
	if err != nil {
		return err
	}
	for _, a := range areas {
		if err := clean(filepath.Join(dst, a.name)); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		path := filepath.Join(dst, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			return err
		}
	}
	return nil
}

// area is one fixture folder and the function that derives its files from
// the shared directory, keyed by slash-separated path under the folder.
type area struct {
	name   string
	derive func(src string) (map[string][]byte, error)
}

var areas = []area{
	{"openlineage", deriveOpenLineage},
	{"crds", deriveCRDs},
	{"azureml", deriveAzureML},
	{"regions", deriveRegions},
}

// derive returns every fixture file keyed by its slash-separated path under
// the fixtures directory.
func derive(src string) (map[string][]byte, error) {
	all := map[string][]byte{}
	for _, a := range areas {
		files, err := a.derive(src)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", a.name, err)
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("%s: no input files found under %s", a.name, src)
		}
		for name, b := range files {
			all[a.name+"/"+name] = b
		}
	}
	return all, nil
}

// clean removes the JSON files under dir, and the folders they leave empty,
// so that a fixture whose original is gone does not linger. README.md and
// anything else written by hand stays.
func clean(dir string) error {
	var dirs []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && path == dir {
			return filepath.SkipDir
		}
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, path)
			return nil
		}
		if strings.HasSuffix(d.Name(), ".json") {
			return os.Remove(path)
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.Reverse(dirs) // deepest first
	for _, d := range dirs[:max(len(dirs)-1, 0)] {
		if entries, err := os.ReadDir(d); err == nil && len(entries) == 0 {
			if err := os.Remove(d); err != nil {
				return err
			}
		}
	}
	return nil
}

// repoRoot returns the nearest directory at or above the working directory
// whose go.mod declares this module.
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && declares(b, modulePath) {
			return dir, nil
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("no go.mod declaring module %s at or above %s; run inside the repository or pass -shared and -out", modulePath, wd)
		}
	}
}

// declares reports whether go.mod text has a module directive naming path.
func declares(gomod []byte, path string) bool {
	s := bufio.NewScanner(bytes.NewReader(gomod))
	for s.Scan() {
		line, _, _ := strings.Cut(s.Text(), "//")
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], "\"`") == path
		}
	}
	return false
}
