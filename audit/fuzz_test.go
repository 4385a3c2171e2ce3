package audit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tideline-ml/tideline/secret"
)

// fuzzSeeds returns a small valid log and a few damaged variants.
func fuzzSeeds(f *testing.F) [][]byte {
	f.Helper()
	sink := NewMemorySink()
	ctx := context.Background()
	l, err := New(ctx, sink, &Options{Key: testKey, Clock: stepClock()})
	if err != nil {
		f.Fatal(err)
	}
	for i := range 3 {
		r := sampleRecord(i)
		r.Attrs["escapes"] = "quote\" nl\n nul\x00 é"
		if _, err := l.Append(ctx, r); err != nil {
			f.Fatal(err)
		}
	}
	data := sink.Bytes()
	lines := splitLines(data)
	return [][]byte{
		data,
		data[:len(data)-7],
		joinLines([][]byte{lines[1], lines[0], lines[2]}),
		lines[0],
		[]byte(goldenCanonical),
		[]byte("\n"),
		[]byte("{}\n"),
		nil,
	}
}

// FuzzVerify checks that verifying arbitrary bytes never panics and fails,
// if at all, with a *VerifyError.
func FuzzVerify(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, key := range []secret.Secret{testKey, {}} {
			_, err := Verify(context.Background(), bytes.NewReader(data), &VerifyOptions{Key: key, Checkpoint: Checkpoint{Seq: 2}})
			var ve *VerifyError
			if err != nil && !errors.As(err, &ve) {
				t.Fatalf("Verify error %v is not a *VerifyError", err)
			}
		}
	})
}

// FuzzParseLine checks that every line the decoder accepts is canonical:
// encoding the decoded record gives back the same bytes. That is what lets
// Verify hash lines as stored.
func FuzzParseLine(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		for _, line := range splitLines(s) {
			f.Add(line)
		}
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := ParseLine(line)
		if err != nil {
			return
		}
		body := canonical(nil, &r)
		again := appendLine(nil, body[:len(body)-1], []byte(r.Hash))
		if !bytes.Equal(bytes.TrimSuffix(again, []byte{'\n'}), bytes.TrimSuffix(line, []byte{'\n'})) {
			t.Fatalf("decoded line re-encodes differently:\n in: %q\nout: %q", line, again)
		}
		var d decoder
		info, err := d.decode(bytes.TrimSuffix(line, []byte{'\n'}))
		if err != nil || info.seq != r.Seq || string(info.hash) != r.Hash || info.body != len(body)-1 {
			t.Fatalf("validating decode disagrees with ParseLine: %+v, %v", info, err)
		}
	})
}

// FuzzOpenFile checks that opening arbitrary file contents never panics,
// and that an opened file ends in a complete line whatever it held.
func FuzzOpenFile(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		path := filepath.Join(t.TempDir(), "audit.jsonl")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		sink, err := OpenFile(ctx, path, nil)
		if err != nil {
			var ve *VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("OpenFile error %v is not a *VerifyError", err)
			}
			return
		}
		// New checks the last record; whether it accepts it depends on
		// the bytes, but it must not panic. (No Append here: an fsync per
		// input would starve the fuzzer.)
		if l, err := New(ctx, sink, &Options{Key: testKey}); err == nil {
			if err := l.Close(); err != nil {
				t.Fatalf("closing a log that opened: %v", err)
			}
		} else {
			sink.Close()
		}
		got, rerr := os.ReadFile(path)
		if rerr != nil {
			t.Fatal(rerr)
		}
		if len(got) > 0 && got[len(got)-1] != '\n' {
			t.Fatal("file does not end in a newline after OpenFile")
		}
		if !strings.HasPrefix(string(data), string(got[:min(len(got), bytes.LastIndexByte(data, '\n')+1)])) {
			t.Fatal("OpenFile changed bytes before the torn tail")
		}
	})
}

// FuzzAppend appends records with arbitrary text and checks the stored
// line against the reference encoder: Append encodes a record in parts
// (the caller's fields before it takes the lock, the head and prev under
// it), and the parts must join into exactly the canonical line, which the
// decoder reads back and Verify accepts. Text that is not UTF-8 must be
// rejected without using a sequence number.
func FuzzAppend(f *testing.F) {
	f.Add("alice@example.com", "jobs/train-7", "dataset \"claims\"\tis EU only", "claims\x01", "restricted→EU")
	f.Add("", "", "", "", "")
	f.Add("\xff", "a\\b", "\n\r\t", "\x00", strings.Repeat("é", 40))
	f.Fuzz(func(t *testing.T, principal, target, message, attr, rule string) {
		ctx := context.Background()
		sink := NewMemorySink()
		l, err := New(ctx, sink, &Options{Key: testKey, Clock: stepClock()})
		if err != nil {
			t.Fatal(err)
		}
		// target doubles as an attr key, and attr keys must not be empty.
		accepted := attr != "" && target != ""
		for _, s := range []string{principal, target, message, attr, rule} {
			accepted = accepted && utf8.ValidString(s)
		}
		for i := range 2 {
			r := sampleRecord(i)
			r.Principal, r.Target = principal, target
			r.Reasons = append(r.Reasons, Reason{Rule: rule, Message: message})
			r.Attrs[attr] = message
			r.Attrs[target] = rule
			got, err := l.Append(ctx, r)
			if !accepted {
				if !errors.Is(err, ErrInvalidRecord) {
					t.Fatalf("Append = %v, want ErrInvalidRecord", err)
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			body := canonical(nil, &got)
			want := appendLine(nil, body[:len(body)-1], []byte(got.Hash))
			if line := splitLines(sink.Bytes())[got.Seq-1]; !bytes.Equal(line, want) {
				t.Fatalf("stored line:\n%q\nwant the reference encoding:\n%q", line, want)
			}
		}
		recs, err := sink.Records()
		if err != nil {
			t.Fatalf("a stored line does not parse: %v", err)
		}
		if want := map[bool]int{true: 2, false: 0}[accepted]; len(recs) != want {
			t.Fatalf("stored %d records, want %d", len(recs), want)
		}
		if cp, err := Verify(ctx, bytes.NewReader(sink.Bytes()), &VerifyOptions{Key: testKey}); err != nil || cp.Seq != uint64(len(recs)) {
			t.Fatalf("Verify = %+v, %v over %d records", cp, err, len(recs))
		}
	})
}
