package audit

import (
	"bytes"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// The decoder accepts exactly the canonical encoding and nothing else: no
// whitespace, no other field order, no optional escapes, sorted attrs. Being
// that strict means a line it accepts re-encodes to the same bytes, so the
// hash can be checked over the line as stored without building a Record —
// which keeps Verify free of allocations — while an implementation that
// re-encodes parsed fields reaches the same hash.

// lineInfo is what verification needs from a stored line.
type lineInfo struct {
	seq  uint64
	prev []byte // 64 hex digits, aliasing the line
	hash []byte // 64 hex digits, aliasing the line
	body int    // length of the line before the hash field
}

type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("at byte %d of the line: %s", e.off, e.msg) }

type decoder struct {
	b       []byte
	i       int
	rec     *Record // nil: validate only
	discard Record  // target for field pointers when rec is nil
	buf     [3][]byte
}

// decode parses one line without its newline. When d.rec is set it fills it.
func (d *decoder) decode(line []byte) (info lineInfo, err error) {
	d.b, d.i = line, 0
	r := d.rec
	if r == nil {
		r = &d.discard
	}
	if err = d.lit(`{"v":1,"seq":`); err != nil {
		return info, err
	}
	if info.seq, err = d.seq(); err != nil {
		return info, err
	}
	if err = d.lit(`,"time":`); err != nil {
		return info, err
	}
	if err = d.time(&r.Time); err != nil {
		return info, err
	}
	for _, f := range [...]struct {
		name string
		dst  *string
	}{
		{`,"principal":`, &r.Principal},
		{`,"action":`, &r.Action},
		{`,"target":`, &r.Target},
		{`,"provider":`, &r.Provider},
		{`,"region":`, &r.Region},
		{`,"decision":`, (*string)(&r.Decision)},
	} {
		if err = d.field(f.name, f.dst); err != nil {
			return info, err
		}
	}
	if err = d.reasons(r); err != nil {
		return info, err
	}
	for _, f := range [...]struct {
		name string
		dst  *string
	}{
		{`,"outcome":`, (*string)(&r.Outcome)},
		{`,"error":`, &r.Error},
		{`,"request_id":`, &r.RequestID},
		{`,"trace_id":`, &r.TraceID},
	} {
		if err = d.field(f.name, f.dst); err != nil {
			return info, err
		}
	}
	if err = d.attrs(r); err != nil {
		return info, err
	}
	if err = d.lit(`,"prev":`); err != nil {
		return info, err
	}
	if info.prev, err = d.hex(); err != nil {
		return info, err
	}
	info.body = d.i
	if err = d.lit(`,"hash":`); err != nil {
		return info, err
	}
	if info.hash, err = d.hex(); err != nil {
		return info, err
	}
	if err = d.lit(`}`); err != nil {
		return info, err
	}
	if d.i != len(d.b) {
		return info, d.fail("unexpected bytes after the record")
	}
	if d.rec != nil {
		d.rec.Seq = info.seq
		d.rec.Prev = string(info.prev)
		d.rec.Hash = string(info.hash)
	}
	return info, nil
}

func (d *decoder) fail(msg string) error { return &syntaxError{off: d.i, msg: msg} }

func (d *decoder) lit(s string) error {
	if len(d.b)-d.i < len(s) || string(d.b[d.i:d.i+len(s)]) != s {
		return d.fail("expected " + strconv.Quote(s))
	}
	d.i += len(s)
	return nil
}

func (d *decoder) peek() byte {
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

// seq parses a decimal sequence number: no sign, no leading zero, at least 1.
func (d *decoder) seq() (uint64, error) {
	start := d.i
	if d.peek() < '1' || d.peek() > '9' {
		return 0, d.fail("expected a sequence number from 1 without leading zeros")
	}
	var v uint64
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		dig := uint64(d.b[d.i] - '0')
		if v > (^uint64(0)-dig)/10 {
			d.i = start
			return 0, d.fail("sequence number overflows 64 bits")
		}
		v = v*10 + dig
		d.i++
	}
	return v, nil
}

func (d *decoder) field(name string, dst *string) error {
	if err := d.lit(name); err != nil {
		return err
	}
	s, err := d.str(2)
	if err != nil {
		return err
	}
	if d.rec != nil {
		*dst = string(s)
	}
	return nil
}

func (d *decoder) reasons(r *Record) error {
	if err := d.lit(`,"reasons":[`); err != nil {
		return err
	}
	if d.peek() != ']' {
		for {
			var rs Reason
			if err := d.field(`{"rule":`, &rs.Rule); err != nil {
				return err
			}
			if err := d.field(`,"message":`, &rs.Message); err != nil {
				return err
			}
			if err := d.lit(`}`); err != nil {
				return err
			}
			if d.rec != nil {
				r.Reasons = append(r.Reasons, rs)
			}
			if d.peek() != ',' {
				break
			}
			d.i++
		}
	}
	return d.lit(`]`)
}

func (d *decoder) attrs(r *Record) error {
	if err := d.lit(`,"attrs":{`); err != nil {
		return err
	}
	if d.peek() != '}' {
		var prev []byte
		for n := 0; ; n++ {
			at := d.i
			// Keys alternate between two scratch buffers so the previous key
			// survives decoding the next one for the order check.
			k, err := d.str(n % 2)
			if err != nil {
				return err
			}
			if n > 0 && bytes.Compare(prev, k) >= 0 {
				d.i = at
				return d.fail("attrs keys are not in strictly increasing byte order")
			}
			prev = k
			if err := d.lit(`:`); err != nil {
				return err
			}
			v, err := d.str(2)
			if err != nil {
				return err
			}
			if d.rec != nil {
				if r.Attrs == nil {
					r.Attrs = make(map[string]string)
				}
				r.Attrs[string(k)] = string(v)
			}
			if d.peek() != ',' {
				break
			}
			d.i++
		}
	}
	return d.lit(`}`)
}

// str parses a canonical JSON string and returns its content, aliasing the
// line when there is no escape and scratch buffer k otherwise.
func (d *decoder) str(k int) ([]byte, error) {
	b := d.b
	if d.peek() != '"' {
		return nil, d.fail("expected a string")
	}
	start := d.i + 1
	escaped := false
	i := start
	for {
		if i >= len(b) {
			d.i = i
			return nil, d.fail("unterminated string")
		}
		c := b[i]
		if c == '"' {
			break
		}
		if c < 0x20 {
			d.i = i
			return nil, d.fail("control byte in a string; it must be escaped")
		}
		if c != '\\' {
			i++
			continue
		}
		escaped = true
		if i+1 >= len(b) {
			d.i = i
			return nil, d.fail("unterminated escape")
		}
		switch b[i+1] {
		case '"', '\\', 'n', 'r', 't':
			i += 2
		case 'u':
			if i+6 > len(b) || b[i+2] != '0' || b[i+3] != '0' || (b[i+4] != '0' && b[i+4] != '1') || unhex(b[i+5]) < 0 {
				d.i = i
				return nil, d.fail(`non-canonical \u escape; only \u0000 to \u001f in lower case are used`)
			}
			if v := (b[i+4]-'0')<<4 | byte(unhex(b[i+5])); v == '\n' || v == '\r' || v == '\t' {
				d.i = i
				return nil, d.fail(`non-canonical escape; \n, \r and \t use their short forms`)
			}
			i += 6
		default:
			d.i = i
			return nil, d.fail("non-canonical escape")
		}
	}
	raw := b[start:i]
	if !utf8.Valid(raw) {
		d.i = start
		return nil, d.fail("string is not valid UTF-8")
	}
	d.i = i + 1
	if !escaped {
		return raw, nil
	}
	out := d.buf[k][:0]
	for j := 0; j < len(raw); {
		c := raw[j]
		if c != '\\' {
			out = append(out, c)
			j++
			continue
		}
		switch raw[j+1] {
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			out = append(out, (raw[j+4]-'0')<<4|byte(unhex(raw[j+5])))
			j += 6
			continue
		default: // '"' or '\\'
			out = append(out, raw[j+1])
		}
		j += 2
	}
	d.buf[k] = out
	return out, nil
}

// unhex decodes a lower-case hex digit, or returns -1.
func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	}
	return -1
}

// hex parses a quoted string of 64 lower-case hex digits.
func (d *decoder) hex() ([]byte, error) {
	if len(d.b)-d.i < 66 || d.b[d.i] != '"' || d.b[d.i+65] != '"' {
		return nil, d.fail("expected 64 lower-case hex digits in quotes")
	}
	h := d.b[d.i+1 : d.i+65]
	for j, c := range h {
		if unhex(c) < 0 {
			d.i += 1 + j
			return nil, d.fail("expected a lower-case hex digit")
		}
	}
	d.i += 66
	return h, nil
}

// time parses "YYYY-MM-DDThh:mm:ss.nnnnnnnnnZ" and rejects dates that do not
// exist, which time.Date would silently normalise.
func (d *decoder) time(dst *time.Time) error {
	const layout = `"0000-00-00T00:00:00.000000000Z"`
	if len(d.b)-d.i < len(layout) {
		return d.fail("expected a time like " + layout)
	}
	s := d.b[d.i : d.i+len(layout)]
	for j := range len(layout) {
		want := layout[j]
		if want == '0' {
			if s[j] < '0' || s[j] > '9' {
				return d.fail("expected a time like " + layout)
			}
		} else if s[j] != want {
			return d.fail("expected a time like " + layout)
		}
	}
	num := func(off, n int) int {
		v := 0
		for _, c := range s[off : off+n] {
			v = v*10 + int(c-'0')
		}
		return v
	}
	year, month, day := num(1, 4), num(6, 2), num(9, 2)
	hour, minute, sec, nsec := num(12, 2), num(15, 2), num(18, 2), num(21, 9)
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return d.fail("time names a date or clock reading that does not exist")
	}
	d.i += len(layout)
	if d.rec != nil {
		*dst = time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	}
	return nil
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// peekSeq reads the sequence number of a line cheaply, without checking the
// rest; used only to classify a break once one was found.
func peekSeq(line []byte) (uint64, bool) {
	d := decoder{b: line}
	if d.lit(`{"v":1,"seq":`) != nil {
		return 0, false
	}
	v, err := d.seq()
	return v, err == nil
}

// ParseLine decodes one stored line (a trailing newline is allowed) into a
// Record. It checks the syntax of the canonical encoding but not the hash;
// use Verify for that. A malformed line yields a *VerifyError of
// KindMalformed.
func ParseLine(line []byte) (Record, error) {
	line = bytes.TrimSuffix(line, []byte{'\n'})
	var r Record
	d := decoder{rec: &r}
	if _, err := d.decode(line); err != nil {
		return Record{}, &VerifyError{Kind: KindMalformed, Offset: -1, Detail: err.Error()}
	}
	return r, nil
}
