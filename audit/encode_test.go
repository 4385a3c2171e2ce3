package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tideline-ml/tideline/secret"
)

// goldenRecord is the record of the test vectors published in the package
// documentation. Its hashes were computed independently of this package
// (SHA-256 and HMAC-SHA256 over goldenCanonical with a stock library).
var goldenRecord = Record{
	Principal: "alice@example.com", Action: "job.submit", Target: "jobs/train-7",
	Provider: "coreweave", Region: "EU-SOUTH-03", Decision: DecisionDeny,
	Reasons: []Reason{{Rule: "restricted→EU", Message: "dataset \"claims\"\tis EU only"}},
	Outcome: OutcomeError, Error: "denied\n", RequestID: "req-1",
	TraceID: "4bf92f3577b34da6a3ce929d0e0e4736",
	Attrs:   map[string]string{"gpus": "8", "dataset": "claims\x01"},
}

const (
	goldenCanonical = `{"v":1,"seq":1,"time":"2025-03-14T09:26:53.589793000Z","principal":"alice@example.com","action":"job.submit","target":"jobs/train-7","provider":"coreweave","region":"EU-SOUTH-03","decision":"deny","reasons":[{"rule":"restricted→EU","message":"dataset \"claims\"\tis EU only"}],"outcome":"error","error":"denied\n","request_id":"req-1","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","attrs":{"dataset":"claims\u0001","gpus":"8"},"prev":"0000000000000000000000000000000000000000000000000000000000000000"}`
	goldenKey       = "0123456789abcdef0123456789abcdef"
	goldenSHA256    = "f8b197957e42a2a0a5d28b8765092a4f43fa6a8fa0d9a6336f18cbc51dc2a852"
	goldenHMAC      = "225b23c0e062e38853dd7c69cebadcb5171d21b1b85d9cd5472fbc48fa9cd13e"
)

func goldenClock() time.Time { return time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC) }

func TestGoldenVectors(t *testing.T) {
	for _, tc := range []struct {
		name, key, hash string
	}{
		{"sha256", "", goldenSHA256},
		{"hmac-sha256", goldenKey, goldenHMAC},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := NewMemorySink()
			l, err := New(context.Background(), sink, &Options{Key: secret.NewSecret(tc.key), Clock: goldenClock})
			if err != nil {
				t.Fatal(err)
			}
			got, err := l.Append(context.Background(), goldenRecord)
			if err != nil {
				t.Fatal(err)
			}
			if got.Hash != tc.hash {
				t.Errorf("hash = %s, want %s", got.Hash, tc.hash)
			}
			wantLine := strings.TrimSuffix(goldenCanonical, "}") + `,"hash":"` + tc.hash + `"}` + "\n"
			if line := string(sink.Bytes()); line != wantLine {
				t.Errorf("stored line:\n%s\nwant:\n%s", line, wantLine)
			}
			if c := string(canonical(nil, &got)); c != goldenCanonical {
				t.Errorf("canonical encoding:\n%s\nwant:\n%s", c, goldenCanonical)
			}
		})
	}
}

// TestCanonicalIsJSON checks that the canonical line is JSON that a stock
// decoder reads back to the same values, so other tools can consume logs.
func TestCanonicalIsJSON(t *testing.T) {
	r := goldenRecord
	r.Seq, r.Time, r.Prev = 1, goldenClock(), Genesis
	r.Principal = "quote\" backslash\\ nul\x00 del\x7f unicode é ☃ \u2028 <&>"
	var got struct {
		Principal string            `json:"principal"`
		Attrs     map[string]string `json:"attrs"`
		Time      time.Time         `json:"time"`
		Seq       uint64            `json:"seq"`
	}
	if err := json.Unmarshal(canonical(nil, &r), &got); err != nil {
		t.Fatal(err)
	}
	if got.Principal != r.Principal || got.Attrs["dataset"] != "claims\x01" || !got.Time.Equal(r.Time) || got.Seq != 1 {
		t.Errorf("stock JSON decoder read %+v", got)
	}
}

func TestAppendString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", `""`},
		{"plain", `"plain"`},
		{`"`, `"\""`},
		{`\`, `"\\"`},
		{"\n\r\t", `"\n\r\t"`},
		{"\x00\x01\x08\x0b\x0c\x1f", `"\u0000\u0001\u0008\u000b\u000c\u001f"`},
		{"\x20\x7f/<>&", "\"\x20\x7f/<>&\""},
		{"é☃\u2028\u2029", "\"é☃\u2028\u2029\""},
	} {
		ok := true
		got := appendString(nil, tc.in, &ok)
		if string(got) != tc.want || !ok {
			t.Errorf("appendString(%q) = %s, %v; want %s, true", tc.in, got, ok, tc.want)
		}
	}
}

func TestAppendStringInvalidUTF8(t *testing.T) {
	for _, in := range []string{"\xff", "a\xc3", "\xed\xa0\x80", "\xf4\x90\x80\x80", "ok\xe2\x82"} {
		ok := true
		if got := appendString(nil, in, &ok); ok || string(got) != `"`+in+`"` {
			t.Errorf("appendString(%q) = %q, %v; want the bytes copied and false", in, got, ok)
		}
	}
	if ok := true; appendString(nil, "\uFFFD é", &ok) == nil || !ok {
		t.Error("a valid U+FFFD was reported as invalid")
	}
}

// referenceString is appendString written the plain way, one character at
// a time, to check the word-at-a-time version against.
func referenceString(s string) (string, bool) {
	var b strings.Builder
	valid := true
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			valid = false
			b.WriteByte(s[i])
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
	return b.String(), valid
}

// TestAppendStringWordBoundaries puts each kind of byte that needs a look
// at every position of strings around the eight-byte word size, where the
// word-at-a-time scan and its overlapping last word could go wrong.
func TestAppendStringWordBoundaries(t *testing.T) {
	specials := []string{`"`, `\`, "\n", "\x01", "\x1f", "\x7f", " ", "é", "☃", "\xff", "\xe2\x82", "\U0001F600"}
	for n := range 26 {
		for pos := 0; pos <= n; pos++ {
			for _, sp := range specials {
				in := strings.Repeat("a", pos) + sp + strings.Repeat("b", n-pos)
				want, wantValid := referenceString(in)
				valid := true
				if got := string(appendString([]byte("x"), in, &valid)); got != "x"+want || valid != wantValid {
					t.Fatalf("appendString(%q) = %s, %v; want %s, %v", in, got[1:], valid, want, wantValid)
				}
			}
		}
	}
}

func TestAppendTime(t *testing.T) {
	for _, tc := range []struct {
		in   time.Time
		want string
	}{
		{time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), "2025-01-02T03:04:05.000000000Z"},
		{time.Date(2025, 1, 2, 3, 4, 5, 7, time.FixedZone("x", 3600)), "2025-01-02T02:04:05.000000007Z"},
		{time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), "0000-01-01T00:00:00.000000000Z"},
		{time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), "9999-12-31T23:59:59.999999999Z"},
	} {
		if got := string(appendTime(nil, tc.in)); got != tc.want {
			t.Errorf("appendTime(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestAppendTimeMatchesTimeFormat compares the hand-written date arithmetic
// with the standard library over the whole range the format allows.
func TestAppendTimeMatchesTimeFormat(t *testing.T) {
	lo := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano() / 1e9
	hi := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).UnixNano() / 1e9
	times := []time.Time{
		time.Unix(lo, 0), time.Unix(hi, 999999999), time.Unix(0, 0), time.Unix(-1, 999999999),
		time.Date(1900, 2, 28, 23, 0, 0, 0, time.UTC), time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2000, 2, 29, 12, 0, 0, 0, time.UTC), time.Date(0, 2, 29, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 12, 31, 23, 59, 59, 1, time.UTC), time.Date(1600, 3, 1, 0, 0, 0, 0, time.UTC),
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for range 100000 {
		times = append(times, time.Unix(lo+rng.Int64N(hi-lo), rng.Int64N(1e9)))
	}
	for _, tm := range times {
		want := tm.UTC().Format("2006-01-02T15:04:05.000000000Z")
		if got := string(appendTime(nil, tm)); got != want {
			t.Fatalf("appendTime(%d.%09d) = %s, want %s", tm.Unix(), tm.Nanosecond(), got, want)
		}
	}
	if got := string(appendTime(nil, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))); got != "10000-01-01T00:00:00.000000000Z" {
		t.Errorf("out-of-range year encoded as %s", got)
	}
}

// TestTimeCacheMatchesAppendTime spells runs of times, many in the same
// second and some stepping back or across midnight, with one timeCache,
// and compares each with appendTime.
func TestTimeCacheMatchesAppendTime(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	var c timeCache
	tm := time.Date(1969, 12, 31, 23, 59, 58, 0, time.UTC)
	for i := range 200000 {
		switch rng.IntN(8) {
		case 0:
			tm = tm.Add(time.Duration(rng.Int64N(3e9)) - 1e9) // may go back
		case 1:
			tm = time.Unix(rng.Int64N(maxUnix-minUnix)+minUnix, rng.Int64N(1e9))
		default:
			tm = tm.Add(time.Duration(rng.Int64N(1000)))
		}
		if i == 1000 {
			tm = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) // out of range, then back
		}
		want := string(appendTime([]byte("x"), tm))
		if got := string(c.appendTime([]byte("x"), tm)); got != want {
			t.Fatalf("timeCache spelled %d.%09d as %s, want %s", tm.Unix(), tm.Nanosecond(), got, want)
		}
	}
}

// TestParseLineRoundTrip checks that decoding a stored line gives back the
// record Append returned.
func TestParseLineRoundTrip(t *testing.T) {
	sink := NewMemorySink()
	l, err := New(context.Background(), sink, &Options{Clock: goldenClock})
	if err != nil {
		t.Fatal(err)
	}
	want, err := l.Append(context.Background(), goldenRecord)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseLine(sink.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if string(canonical(nil, &got)) != string(canonical(nil, &want)) || got.Hash != want.Hash || !got.Time.Equal(want.Time) {
		t.Errorf("ParseLine = %+v, want %+v", got, want)
	}
}

func TestParseLineRejects(t *testing.T) {
	valid := strings.TrimSuffix(goldenCanonical, "}") + `,"hash":"` + goldenSHA256 + `"}`
	if _, err := ParseLine([]byte(valid)); err != nil {
		t.Fatalf("valid line rejected: %v", err)
	}
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"whitespace", `"seq":1,`, `"seq": 1,`, "expected"},
		{"version", `"v":1`, `"v":2`, "expected"},
		{"seq zero", `"seq":1,`, `"seq":0,`, "sequence number"},
		{"seq leading zero", `"seq":1,`, `"seq":01,`, "sequence number"},
		{"seq overflow", `"seq":1,`, `"seq":18446744073709551616,`, "overflows"},
		{"field order", `"principal":"alice@example.com","action":"job.submit"`, `"action":"job.submit","principal":"alice@example.com"`, "expected"},
		{"short time", `.589793000Z`, `.589793Z`, "time"},
		{"non-UTC time", `000Z"`, `000+01:00"`, "time"},
		{"impossible date", `2025-03-14`, `2025-02-30`, "does not exist"},
		{"leap second", `09:26:53`, `09:26:60`, "does not exist"},
		{"solidus escape", `jobs/train-7`, `jobs\/train-7`, "escape"},
		{"unicode escape of letter", `alice`, `\u0061lice`, "escape"},
		{"upper-case unicode escape", `\u0001`, `\u001F`, "escape"},
		{"long form of newline", `denied\n`, `denied\u000a`, "short forms"},
		{"raw control byte", `denied\n`, "denied\x01", "control byte"},
		{"invalid UTF-8", `alice`, "al\xffice", "UTF-8"},
		{"unsorted attrs", `"dataset":"claims\u0001","gpus":"8"`, `"gpus":"8","dataset":"claims\u0001"`, "increasing"},
		{"duplicate attrs", `"dataset":"claims\u0001","gpus":"8"`, `"gpus":"7","gpus":"8"`, "increasing"},
		{"upper-case hex", `"prev":"0000`, `"prev":"A000`, "hex"},
		{"short hash", `"hash":"f8b1`, `"hash":"f8b`, "hex"},
		{"trailing bytes", goldenSHA256 + `"}`, goldenSHA256 + `"} `, "after the record"},
		{"missing field", `"error":"denied\n",`, ``, "expected"},
		{"unterminated string", `"req-1"`, `"req-1`, "expected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line := strings.Replace(valid, tc.old, tc.new, 1)
			if line == valid {
				t.Fatalf("replacement %q did not apply", tc.old)
			}
			_, err := ParseLine([]byte(line))
			var ve *VerifyError
			if !errors.As(err, &ve) || ve.Kind != KindMalformed || !errors.Is(err, ErrIntegrity) {
				t.Fatalf("ParseLine(%s) error = %v, want a malformed *VerifyError", line, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}
