package audit

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tideline-ml/tideline/secret"
)

// The files in testdata/ are logs written by an earlier version of this
// package from compatRecords, with compatClock, one keyed with goldenKey
// and one unkeyed. They are never regenerated: the format is frozen, so a
// log written then must verify now, and the same records appended now must
// produce the same bytes (which is what lets the earlier version verify
// logs written now).
const (
	compatKeyedFile   = "v1-hmac.jsonl"
	compatUnkeyedFile = "v1-sha256.jsonl"
)

// compatClock starts at the golden vector's instant and steps by an
// irregular amount, so the fixture covers varied nanoseconds, a leap day
// and a date before 1970.
func compatClock() func() time.Time {
	times := []time.Time{
		time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC),
		time.Date(2025, 3, 14, 9, 26, 53, 589793001, time.UTC),
		time.Date(2028, 2, 29, 23, 59, 59, 999999999, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 1, time.UTC),
		time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	n := 0
	return func() time.Time {
		t := times[n%len(times)].Add(time.Duration(n/len(times)) * time.Hour)
		n++
		return t
	}
}

// compatRecords are the records of the fixture: typical ones, and ones
// that exercise every escape, non-ASCII text (including the characters
// JSON encoders commonly escape but this format does not), empty fields,
// many reasons and attrs, and escapes on either side of eight-byte
// boundaries.
func compatRecords() []Record {
	var controls strings.Builder
	for c := range 0x20 {
		controls.WriteByte(byte(c))
	}
	rs := []Record{
		goldenRecord,
		sampleRecord(1),
		sampleRecord(4),
		{Action: "a"},
		{Principal: `back\slash "quoted"`, Action: "job.submit", Target: controls.String(), Outcome: OutcomeOK},
		{Principal: "ünïcødé → ✓ 日本語 \U0001F600", Action: "dataset.create", Target: "<a href='x'>&amp;</a>\u007f\u2028\u2029/",
			Decision: DecisionWouldDeny, Outcome: OutcomePending,
			Reasons: []Reason{{Rule: "r1", Message: "m1"}, {Rule: "", Message: ""}, {Rule: "r→3", Message: "line\nbreak\ttab\rcr"}},
			Attrs:   map[string]string{"z": "last", "a": "first", "é": "non-ASCII key", "A": "upper", "a\"b": "quote in key", "m": ""}},
		{Principal: "1234567\"", Action: "12345678\\", Target: "1234567\n12345678", Provider: "\x1f1234567", Region: "12345678\x00",
			Decision: DecisionDeny, Outcome: OutcomeError, Error: "1234567é1234567",
			RequestID: "req-" + strings.Repeat("x", 200), TraceID: strings.Repeat("\"", 9)},
	}
	return rs
}

// writeCompatLog appends compatRecords to a new Log over a MemorySink and
// returns the sink's bytes.
func writeCompatLog(t testing.TB, key string) []byte {
	t.Helper()
	ctx := context.Background()
	sink := NewMemorySink()
	l, err := New(ctx, sink, &Options{Key: secret.NewSecret(key), Clock: compatClock()})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range compatRecords() {
		if _, err := l.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	return sink.Bytes()
}

// TestEarlierLogsVerify checks that logs written by an earlier version of
// the package verify, and that appending the same records now writes the
// same bytes.
func TestEarlierLogsVerify(t *testing.T) {
	for _, tc := range []struct{ file, key, first string }{
		{compatKeyedFile, goldenKey, goldenHMAC},
		{compatUnkeyedFile, "", goldenSHA256},
	} {
		t.Run(tc.file, func(t *testing.T) {
			stored, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			n := uint64(len(compatRecords()))
			lines := splitLines(stored)
			if uint64(len(lines)) != n {
				t.Fatalf("fixture has %d lines, want %d", len(lines), n)
			}
			// The first record is the published test vector, whose hashes
			// were computed independently of this package.
			if first, err := ParseLine(lines[0]); err != nil || first.Hash != tc.first {
				t.Fatalf("the fixture's first record hash = %q, %v; want the test vector's %s", first.Hash, err, tc.first)
			}
			last, err := ParseLine(lines[n-1])
			if err != nil {
				t.Fatal(err)
			}
			cp, err := Verify(context.Background(), bytes.NewReader(stored),
				&VerifyOptions{Key: secret.NewSecret(tc.key), Checkpoint: Checkpoint{Seq: n, Hash: last.Hash}})
			if err != nil || cp.Seq != n {
				t.Fatalf("Verify = %+v, %v; want the fixture's %d records to verify", cp, err, n)
			}
			records := make([]Record, 0, n)
			for _, line := range lines {
				r, err := ParseLine(line)
				if err != nil {
					t.Fatal(err)
				}
				records = append(records, r)
			}
			if _, err := VerifyRecords(records, &VerifyOptions{Key: secret.NewSecret(tc.key)}); err != nil {
				t.Fatalf("VerifyRecords: %v", err)
			}
			if _, err := checkLast(lines[n-1], newHasher(tc.key)); err != nil {
				t.Fatalf("a Log would not resume after the fixture's last record: %v", err)
			}

			written := writeCompatLog(t, tc.key)
			if !bytes.Equal(written, stored) {
				got := splitLines(written)
				for i := range min(len(got), len(lines)) {
					if !bytes.Equal(got[i], lines[i]) {
						t.Fatalf("record %d is written differently from the fixture:\n got %q\nwant %q", i+1, got[i], lines[i])
					}
				}
				t.Fatalf("the log written now differs from the fixture (%d bytes, want %d)", len(written), len(stored))
			}
		})
	}
}
