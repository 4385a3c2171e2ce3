package audit

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tideline-ml/tideline/secret"
)

// testKey is the HMAC key of keyed test logs; 32 bytes as recommended.
var testKey = secret.NewSecret("tideline-audit-test-key-32-bytes")

// stepClock returns a deterministic clock that advances one millisecond per
// reading, so records and hashes are reproducible.
func stepClock() func() time.Time {
	start := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	var n atomic.Int64
	return func() time.Time { return start.Add(time.Duration(n.Add(1)) * time.Millisecond) }
}

// sampleRecord returns a realistic record whose fields depend on i.
func sampleRecord(i int) Record {
	r := Record{
		Principal: fmt.Sprintf("user-%d@example.com", i%7),
		Action:    "job.submit",
		Target:    fmt.Sprintf("jobs/train-%d", i),
		Provider:  "coreweave",
		Region:    "EU-SOUTH-03",
		Decision:  DecisionAllow,
		Reasons:   []Reason{{Rule: "residency", Message: "dataset claims is EU-restricted; EU-SOUTH-03 is in ES (EU)"}},
		Outcome:   OutcomePending,
		RequestID: fmt.Sprintf("req-%08d", i),
		TraceID:   "4bf92f3577b34da6a3ce929d0e0e4736",
		Attrs:     map[string]string{"gpus": "8", "dataset": "claims@sha256:9f86d081884c7d65"},
	}
	if i%5 == 4 {
		r.Decision = DecisionDeny
		r.Outcome = OutcomeError
		r.Error = "policy denied: region US-EAST-04 is in US"
	}
	return r
}

// writeFileLog creates a log file with n sample records and returns its
// path and final checkpoint.
func writeFileLog(t testing.TB, n int, key secret.Secret) (string, Checkpoint) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	sink, err := OpenFile(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := New(ctx, sink, &Options{Key: key, Clock: stepClock()})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := l.Append(ctx, sampleRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	cp := l.Checkpoint()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return path, cp
}

// splitLines splits a log into lines, each keeping its newline.
func splitLines(data []byte) [][]byte {
	var lines [][]byte
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			lines = append(lines, data)
			break
		}
		lines = append(lines, data[:i+1])
		data = data[i+1:]
	}
	return lines
}

func readLines(t testing.TB, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return splitLines(data)
}

func writeLines(t testing.TB, path string, lines [][]byte) {
	t.Helper()
	if err := os.WriteFile(path, bytes.Join(lines, nil), 0o600); err != nil {
		t.Fatal(err)
	}
}

// forgeLine encodes r as a line hashed with plain SHA-256 — what someone
// with write access but without the key can produce.
func forgeLine(r Record) []byte {
	body := canonical(nil, &r)
	body = body[:len(body)-1]
	sum := newHasher("").sumHex(body)
	return appendLine(nil, body, sum[:])
}

// wantVerifyError checks that err is a *VerifyError of the given kind at seq.
func wantVerifyError(t testing.TB, err error, seq uint64, kind Kind) {
	t.Helper()
	ve, ok := err.(*VerifyError)
	if !ok {
		t.Fatalf("got error %v (%T), want *VerifyError %v at record %d", err, err, kind, seq)
	}
	if ve.Seq != seq || ve.Kind != kind {
		t.Fatalf("got %v at record %d (%v), want %v at record %d", ve.Kind, ve.Seq, ve, kind, seq)
	}
}

// appendLine appends the stored form of a record to dst, as Append does:
// the canonical body (the canonical encoding without its final '}'), the
// hash field, '}' and a newline.
func appendLine(dst, body []byte, hexHash []byte) []byte {
	dst = append(dst, body...)
	dst = append(dst, hashField...)
	dst = append(dst, hexHash...)
	return append(dst, '"', '}', '\n')
}
