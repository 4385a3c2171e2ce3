package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTasteRuns(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx); err != nil {
		t.Fatal(err)
	}
}

// The README shows the lines between the markers in main.go; they must not
// drift apart.
func TestReadmeShowsTheTaste(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := between(string(src), "\t// README:begin\n", "\t// README:end\n")
	if err != nil {
		t.Fatalf("main.go: %v", err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(want, "\n"), "\n") {
		lines = append(lines, strings.TrimPrefix(l, "\t"))
	}
	want = strings.Join(lines, "\n") + "\n"
	got, err := between(string(readme), "<!-- taste: examples/taste/main.go -->\n```go\n", "```\n")
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	if got != want {
		t.Errorf("the README's taste of the API differs from examples/taste/main.go; copy the lines between the README markers (one tab less)\nREADME:\n%s\nmain.go:\n%s", got, want)
	}
}

func between(s, begin, end string) (string, error) {
	_, rest, ok := strings.Cut(s, begin)
	if !ok {
		return "", errMissing(begin)
	}
	body, _, ok := strings.Cut(rest, end)
	if !ok {
		return "", errMissing(end)
	}
	return body, nil
}

type errMissing string

func (e errMissing) Error() string { return "no " + strings.TrimSpace(string(e)) + " marker" }
