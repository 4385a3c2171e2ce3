package audit

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
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
//
// Verify decodes every line it reads, so the decoder is written for speed
// as much as the encoder: the literals between values are matched whole
// (each carries the quotation marks around it, as in the encoder, and is
// compared as two eight-byte words), strings, hex digits and times are
// checked eight bytes at a time, and
// a failure is recorded rather than returned, which keeps the sequence of
// steps in decode straight; see decoder.fail.

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
	err     *syntaxError // the first failure; b is empty from then on
	rec     *Record      // nil: validate only
	discard Record       // target for field pointers when rec is nil
	buf     [3][]byte
}

// decode parses one line without its newline. When d.rec is set it fills it.
func (d *decoder) decode(line []byte) (lineInfo, error) {
	var info lineInfo
	d.b, d.i, d.err = line, 0, nil
	r := d.rec
	if r == nil {
		r = &d.discard
	}
	d.lit(`{"v":1,"seq":`)
	info.seq = d.seq()
	d.lit(`,"time":"`)
	d.time(&r.Time)
	d.text(`","principal":"`, &r.Principal)
	d.text(`","action":"`, &r.Action)
	d.text(`","target":"`, &r.Target)
	d.text(`","provider":"`, &r.Provider)
	d.text(`","region":"`, &r.Region)
	d.text(`","decision":"`, (*string)(&r.Decision))
	d.lit(`","reasons":[`)
	d.reasons(r)
	d.text(`],"outcome":"`, (*string)(&r.Outcome))
	d.text(`","error":"`, &r.Error)
	d.text(`","request_id":"`, &r.RequestID)
	d.text(`","trace_id":"`, &r.TraceID)
	d.lit(`","attrs":{`)
	d.attrs(r)
	d.lit(`},"prev":"`)
	info.prev = d.hex()
	d.lit(`"` + hashField)
	info.body = d.i - len(hashField)
	info.hash = d.hex()
	d.lit(`"}`)
	if d.i != len(d.b) {
		d.fail("unexpected bytes after the record")
	}
	if d.err != nil {
		return lineInfo{}, d.err
	}
	if d.rec != nil {
		d.rec.Seq = info.seq
		d.rec.Prev = string(info.prev)
		d.rec.Hash = string(info.hash)
	}
	return info, nil
}

// fail records msg at the current offset unless a failure was recorded
// already, and empties the input, so that every later step fails at once
// and the first failure is the one reported.
func (d *decoder) fail(msg string) {
	if d.err == nil {
		d.err = &syntaxError{off: d.i, msg: msg}
	}
	d.b, d.i = d.b[:0], 0
}

// lit consumes the literal s. Literals of 8 to 16 bytes, most of them, are
// compared as two overlapping eight-byte words, which is several times
// cheaper than a call to compare memory.
func (d *decoder) lit(s string) {
	b, n := d.b[d.i:], len(s)
	ok := n <= len(b)
	if ok {
		switch {
		case n >= 8 && n <= 16:
			ok = binary.LittleEndian.Uint64(b) == word(s) &&
				binary.LittleEndian.Uint64(b[n-8:]) == word(s[n-8:])
		case n < 8:
			for j := range n {
				ok = ok && b[j] == s[j]
			}
		default:
			ok = string(b[:n]) == s
		}
	}
	if !ok {
		d.expected(s)
		return
	}
	d.i += n
}

func (d *decoder) expected(s string) { d.fail("expected " + strconv.Quote(s)) }

func (d *decoder) peek() byte {
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

// seq parses a decimal sequence number: no sign, no leading zero, at least 1.
func (d *decoder) seq() uint64 {
	start := d.i
	if d.peek() < '1' || d.peek() > '9' {
		d.fail("expected a sequence number from 1 without leading zeros")
		return 0
	}
	var v uint64
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		dig := uint64(d.b[d.i] - '0')
		if v > (^uint64(0)-dig)/10 {
			d.i = start
			d.fail("sequence number overflows 64 bits")
			return 0
		}
		v = v*10 + dig
		d.i++
	}
	return v
}

// text parses a string after the literal prefix, which ends with its
// opening quotation mark (see str), into *dst when the decoder fills a
// record.
func (d *decoder) text(prefix string, dst *string) {
	s := d.str(prefix, 2)
	if d.rec != nil {
		*dst = string(s)
	}
}

func (d *decoder) reasons(r *Record) {
	if d.peek() == ']' {
		return
	}
	for {
		var rs Reason
		d.text(`{"rule":"`, &rs.Rule)
		d.text(`","message":"`, &rs.Message)
		d.lit(`"}`)
		if d.rec != nil && d.err == nil {
			r.Reasons = append(r.Reasons, rs)
		}
		if d.peek() != ',' {
			return
		}
		d.i++
	}
}

func (d *decoder) attrs(r *Record) {
	if d.peek() == '}' {
		return
	}
	var prev []byte
	prefix := `"`
	for n := 0; ; n++ {
		at := d.i + len(prefix) - 1
		// Keys alternate between two scratch buffers so the previous key
		// survives decoding the next one for the order check.
		k := d.str(prefix, n%2)
		if n > 0 && d.err == nil && bytes.Compare(prev, k) >= 0 {
			d.i = at
			d.fail("attrs keys are not in strictly increasing byte order")
		}
		prev = k
		v := d.str(`":"`, 2)
		d.lit(`"`)
		if d.rec != nil && d.err == nil {
			if r.Attrs == nil {
				r.Attrs = make(map[string]string)
			}
			r.Attrs[string(k)] = string(v)
		}
		if d.peek() != ',' {
			return
		}
		prefix = `,"`
	}
}

// str parses the literal prefix, which ends with a string's opening
// quotation mark, and then the content of the string up to the closing
// one, which it leaves for the next literal. It returns the content,
// aliasing the line when there is no escape and scratch buffer k otherwise.
// The prefix is compared as lit compares; doing that here spares a call
// for every string of the line.
//
// It runs over most of every line Verify reads, so it skips plain bytes
// (printable ASCII other than '"' and '\\') eight at a time and looks
// closer only at the others, and it checks UTF-8 only for a string that
// holds a byte outside ASCII.
func (d *decoder) str(prefix string, k int) []byte {
	b, n := d.b, len(prefix)
	start := d.i + n
	if start > len(b) {
		d.expected(prefix)
		return nil
	}
	ok := true
	switch p := b[d.i:start]; {
	case n >= 8 && n <= 16:
		ok = binary.LittleEndian.Uint64(p) == word(prefix) &&
			binary.LittleEndian.Uint64(p[n-8:]) == word(prefix[n-8:])
	case n < 8:
		for j := range n {
			ok = ok && p[j] == prefix[j]
		}
	default:
		ok = string(p) == prefix
	}
	if !ok {
		d.expected(prefix)
		return nil
	}
	// Most strings hold plain bytes only: skip to the first byte that is
	// not, and if that is the closing quotation mark, the string is done.
	for i := start; i+8 <= len(b); i += 8 {
		if m := nonPlain(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			if i += bits.TrailingZeros64(m) >> 3; b[i] == '"' {
				d.i = i
				return b[start:i]
			}
			break
		}
	}
	d.i = start
	return d.strSlow(k)
}

// strSlow is str for a string that holds an escape or a byte outside
// ASCII, or ends among the last few bytes of the line; it parses from the
// current offset, the string's first byte.
func (d *decoder) strSlow(k int) []byte {
	b, start := d.b, d.i
	escaped, ascii := false, true
	i := start
	for {
		for i+8 <= len(b) {
			if m := nonPlain(binary.LittleEndian.Uint64(b[i:])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		if i >= len(b) {
			d.i = i
			d.fail("unterminated string")
			return nil
		}
		c := b[i]
		if c == '"' {
			break
		}
		if c >= utf8.RuneSelf {
			ascii = false
			i++
			continue
		}
		if c < 0x20 {
			d.i = i
			d.fail("control byte in a string; it must be escaped")
			return nil
		}
		if c != '\\' {
			i++ // a plain byte among the last few of the line
			continue
		}
		escaped = true
		if i+1 >= len(b) {
			d.i = i
			d.fail("unterminated escape")
			return nil
		}
		switch b[i+1] {
		case '"', '\\', 'n', 'r', 't':
			i += 2
		case 'u':
			if i+6 > len(b) || b[i+2] != '0' || b[i+3] != '0' || (b[i+4] != '0' && b[i+4] != '1') || unhex(b[i+5]) < 0 {
				d.i = i
				d.fail(`non-canonical \u escape; only \u0000 to \u001f in lower case are used`)
				return nil
			}
			if v := (b[i+4]-'0')<<4 | byte(unhex(b[i+5])); v == '\n' || v == '\r' || v == '\t' {
				d.i = i
				d.fail(`non-canonical escape; \n, \r and \t use their short forms`)
				return nil
			}
			i += 6
		default:
			d.i = i
			d.fail("non-canonical escape")
			return nil
		}
	}
	raw := b[start:i]
	if !ascii && !utf8.Valid(raw) {
		d.i = start
		d.fail("string is not valid UTF-8")
		return nil
	}
	d.i = i
	if !escaped {
		return raw
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
	return out
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

// hex parses 64 lower-case hex digits, checking them eight at a time (see
// notHex); only on failure does it look for the offending digit.
func (d *decoder) hex() []byte {
	if len(d.b)-d.i < 64 {
		d.fail("expected 64 lower-case hex digits")
		return nil
	}
	h := d.b[d.i : d.i+64]
	var bad uint64
	for j := 0; j < len(h); j += 8 {
		bad |= notHex(binary.LittleEndian.Uint64(h[j:]))
	}
	if bad != 0 {
		for j, c := range h {
			if unhex(c) < 0 {
				d.i += j
				d.fail("expected a lower-case hex digit")
				return nil
			}
		}
	}
	d.i += 64
	return h
}

// Constants of the word-at-a-time tests: a byte's value in every byte, and
// the bytes' high bits.
const (
	ones = 0x0101010101010101
	high = 0x8080808080808080
)

// notHex returns zero when all eight bytes of x are lower-case hex digits,
// and otherwise a value with the high bit set in (at least) the first byte
// that is not. Once a byte is known to be below 0x80, adding 0x80-lo to it
// sets its high bit exactly when it is at least lo, without carrying into
// the next byte; so each range test is one addition for all eight bytes,
// and a byte of 0x80 or more is marked by its own high bit.
func notHex(x uint64) uint64 {
	digit := (x + (0x80-'0')*ones) &^ (x + (0x80-'9'-1)*ones)
	letter := (x + (0x80-'a')*ones) &^ (x + (0x80-'f'-1)*ones)
	return (x | ^(digit | letter)) & high
}

// timeLayout is the layout of a time; a '0' in it stands for any decimal
// digit. It is checked as four eight-byte words, the last two overlapping.
const timeLayout = `0000-00-00T00:00:00.000000000Z`

// timeWords describes the words of timeLayout, at the offsets off, as the
// pattern of their bytes and a mask of 0xff in the bytes that hold a digit.
var timeWords = func() (w [4]struct {
	off             int
	pattern, digits uint64
}) {
	for i, off := range [4]int{0, 8, 16, len(timeLayout) - 8} {
		w[i].off, w[i].pattern = off, word(timeLayout[off:])
		for j := range 8 {
			if timeLayout[off+j] == '0' {
				w[i].digits |= 0xff << (8 * j)
			}
		}
	}
	return w
}()

// notLayout returns zero when the eight bytes of x match pattern, with a
// decimal digit wherever digits has 0xff, and otherwise nonzero. Outside the digits
// x must equal pattern; inside, each byte must be in '0' to '9', which is
// tested for all eight at once on y, x with a '0' in place of every other
// byte (see notHex for the additions).
func notLayout(x, pattern, digits uint64) uint64 {
	y := x&digits | '0'*ones&^digits
	digit := (y + (0x80-'0')*ones) &^ (y + (0x80-'9'-1)*ones)
	return (x^pattern)&^digits | (y|^digit)&high
}

// time parses "YYYY-MM-DDThh:mm:ss.nnnnnnnnnZ" (the literal before it
// consumed the opening quotation mark) and rejects dates that do not exist,
// which time.Date would silently normalise.
func (d *decoder) time(dst *time.Time) {
	if len(d.b)-d.i < len(timeLayout) {
		d.fail(`expected a time like "` + timeLayout + `"`)
		return
	}
	s := d.b[d.i : d.i+len(timeLayout)]
	var bad uint64
	for _, w := range timeWords {
		bad |= notLayout(binary.LittleEndian.Uint64(s[w.off:]), w.pattern, w.digits)
	}
	if bad != 0 {
		d.fail(`expected a time like "` + timeLayout + `"`)
		return
	}
	num2 := func(off int) int { return int(s[off]-'0')*10 + int(s[off+1]-'0') }
	year, month, day := num2(0)*100+num2(2), num2(5), num2(8)
	hour, minute, sec := num2(11), num2(14), num2(17)
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 59 {
		d.fail("time names a date or clock reading that does not exist")
		return
	}
	d.i += len(timeLayout)
	if d.rec != nil {
		nsec := 0
		for _, c := range s[20:29] {
			nsec = nsec*10 + int(c-'0')
		}
		*dst = time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	}
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
	d.lit(`{"v":1,"seq":`)
	v := d.seq()
	return v, d.err == nil
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
