package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The encoder below is written by hand rather than with encoding/json for
// two reasons: the canonical form must be byte-exact (field order, escaping,
// time layout), and Append and Verify run it once per record, where
// reflection would dominate the cost.

const hexDigits = "0123456789abcdef"

// plain marks the bytes appendString copies as they are without looking
// further: ASCII other than controls, '"' and '\\'. It is never written
// after initialisation.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendCanonical appends the canonical encoding of r — everything but the
// hash — to dst, and reports whether every string in r was valid UTF-8 and
// no attrs key empty. Checking while encoding saves Append a second pass
// over the record.
// Invalid records still encode deterministically (bytes copied as they
// are), so that verifying a hand-made record fails cleanly.
//
// The encoding is assembled from three parts so that Append can encode the
// caller's fields before it takes the Log's lock and add only the parts that
// depend on the chain under it: appendHead (version, sequence number, time),
// appendFields (everything the caller supplied) and the quoted prev with
// the closing brace.
func appendCanonical(dst []byte, r *Record) ([]byte, bool) {
	ok := true
	dst = appendHead(dst, r.Seq, r.Time, nil)
	dst = appendFields(dst, r, &ok)
	dst = appendString(dst, r.Prev, &ok)
	return append(dst, '}'), ok
}

// appendHead appends the start of a canonical encoding, up to and including
// the time's closing quotation mark: {"v":1,"seq":S,"time":"T". It spells
// the time through tc when tc is not nil.
func appendHead(dst []byte, seq uint64, t time.Time, tc *timeCache) []byte {
	dst = append(dst, `{"v":1,"seq":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, `,"time":"`...)
	if tc != nil {
		dst = tc.appendTime(dst, t)
	} else {
		dst = appendTime(dst, t)
	}
	return append(dst, '"')
}

// A timeCache spells times as appendTime does, remembering the text up to
// the second of the last one: records appended in the same second share it,
// so only the fraction is new. It is not safe for concurrent use.
type timeCache struct {
	sec    int64
	prefix [20]byte // YYYY-MM-DDThh:mm:ss.
	ok     bool
}

func (c *timeCache) appendTime(dst []byte, t time.Time) []byte {
	sec := t.Unix()
	if sec < minUnix || sec >= maxUnix {
		return appendTime(dst, t) // a year Append refuses
	}
	if !c.ok || sec != c.sec {
		var b [30]byte
		copy(c.prefix[:], appendTime(b[:0], t))
		c.sec, c.ok = sec, true
	}
	return appendFraction(append(dst, c.prefix[:]...), t.Nanosecond())
}

// maxHeadLen bounds the length appendHead produces: the largest uint64 has
// 20 digits and appendTime writes 30 bytes for the years Append accepts.
const maxHeadLen = len(`{"v":1,"seq":`) + 20 + len(`,"time":"`) + 30 + 1

// appendFields appends the middle of a canonical encoding, the fields a
// caller supplies: from ,"principal": up to and including ,"prev": — the
// value of prev and the closing brace follow. It sets *valid to false when
// a string is not valid UTF-8 or an attrs key is empty (which Append
// refuses; see Record.encodingProblems), so that Append need not look
// for either again. The literals between values carry the
// quotation marks around them, which halves the appends per field.
func appendFields(dst []byte, r *Record, valid *bool) []byte {
	dst = append(dst, `,"principal":"`...)
	dst = appendEscaped(dst, r.Principal, valid)
	dst = append(dst, `","action":"`...)
	dst = appendEscaped(dst, r.Action, valid)
	dst = append(dst, `","target":"`...)
	dst = appendEscaped(dst, r.Target, valid)
	dst = append(dst, `","provider":"`...)
	dst = appendEscaped(dst, r.Provider, valid)
	dst = append(dst, `","region":"`...)
	dst = appendEscaped(dst, r.Region, valid)
	dst = append(dst, `","decision":"`...)
	dst = appendEscaped(dst, string(r.Decision), valid)
	dst = append(dst, `","reasons":[`...)
	for i, rs := range r.Reasons {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"rule":"`...)
		dst = appendEscaped(dst, rs.Rule, valid)
		dst = append(dst, `","message":"`...)
		dst = appendEscaped(dst, rs.Message, valid)
		dst = append(dst, '"', '}')
	}
	dst = append(dst, `],"outcome":"`...)
	dst = appendEscaped(dst, string(r.Outcome), valid)
	dst = append(dst, `","error":"`...)
	dst = appendEscaped(dst, r.Error, valid)
	dst = append(dst, `","request_id":"`...)
	dst = appendEscaped(dst, r.RequestID, valid)
	dst = append(dst, `","trace_id":"`...)
	dst = appendEscaped(dst, r.TraceID, valid)
	dst = append(dst, `","attrs":{`...)
	if len(r.Attrs) > 0 {
		// Collecting the pairs in one pass spares a map lookup per key
		// after sorting.
		var small [8]attr
		attrs := small[:0]
		for k, v := range r.Attrs {
			attrs = append(attrs, attr{k, v})
		}
		sortAttrs(attrs)
		if attrs[0].key == "" { // the least key
			*valid = false
		}
		for i, a := range attrs {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, '"')
			dst = appendEscaped(dst, a.key, valid)
			dst = append(dst, '"', ':', '"')
			dst = appendEscaped(dst, a.value, valid)
			dst = append(dst, '"')
		}
	}
	return append(dst, `},"prev":`...)
}

type attr struct{ key, value string }

// sortAttrs sorts attrs by key. Records carry a few attrs, for which an
// insertion sort comparing keys directly is several times cheaper than a
// general sort calling a comparison function; Go compares strings bytewise,
// as the format requires.
func sortAttrs(attrs []attr) {
	if len(attrs) > 12 {
		slices.SortFunc(attrs, func(a, b attr) int { return strings.Compare(a.key, b.key) })
		return
	}
	for i := 1; i < len(attrs); i++ {
		a := attrs[i]
		j := i
		for ; j > 0 && a.key < attrs[j-1].key; j-- {
			attrs[j] = attrs[j-1]
		}
		attrs[j] = a
	}
}

// canonical is appendCanonical for callers that check UTF-8 elsewhere.
func canonical(dst []byte, r *Record) []byte {
	dst, _ = appendCanonical(dst, r)
	return dst
}

// appendString appends s as a canonical JSON string: only '"', '\\' and the
// bytes below 0x20 are escaped, with the short forms \n \r \t where JSON has
// them and \u00xx (lower-case hex) otherwise. It sets *valid to false when
// s is not valid UTF-8.
func appendString(dst []byte, s string, valid *bool) []byte {
	dst = append(dst, '"')
	dst = appendEscaped(dst, s, valid)
	return append(dst, '"')
}

// appendEscaped is appendString without the quotation marks. Most strings
// in records need no escaping and no UTF-8 decoding: it checks and copies
// them in one pass, a word at a time (the last word overlapping the one
// before it), into room made beforehand, and starts over on the slow path
// at the first byte that needs more than a copy.
func appendEscaped(dst []byte, s string, valid *bool) []byte {
	n := len(dst)
	dst = slices.Grow(dst, len(s))
	out := dst[n : n+len(s)]
	if len(s) < 8 {
		for i := range len(s) {
			c := s[i]
			if !plain[c] {
				return appendEscapedSlow(dst[:n], s, valid)
			}
			out[i] = c
		}
		return dst[:n+len(s)]
	}
	for i := 0; ; i += 8 {
		if i > len(s)-8 {
			i = len(s) - 8
		}
		x := word(s[i:])
		if nonPlain(x) != 0 {
			return appendEscapedSlow(dst[:n], s, valid)
		}
		binary.LittleEndian.PutUint64(out[i:], x)
		if i == len(s)-8 {
			return dst[:n+len(s)]
		}
	}
}

// appendEscapedSlow is appendEscaped for strings with something to escape
// or decode: it copies runs of plain bytes and looks at the rest one by one.
func appendEscapedSlow(dst []byte, s string, valid *bool) []byte {
	start := 0
	for i := 0; i < len(s); {
		i = skipPlain(s, i)
		if i == len(s) {
			break
		}
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				*valid = false
			}
			i += size
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	return append(dst, s[start:]...)
}

// skipPlain returns the index of the first byte of s at or after i that is
// not plain, or len(s): eight bytes at a time while no byte of the word
// needs a look, then one at a time.
func skipPlain(s string, i int) int {
	for i+8 <= len(s) && plainWord(word(s[i:])) {
		i += 8
	}
	for i < len(s) && plain[s[i]] {
		i++
	}
	return i
}

// word returns the first eight bytes of s, which must have that many, as a
// little-endian integer (the compiler turns this into a single load).
func word(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// plainWord reports whether none of the eight bytes of x is a control
// byte, '"', '\\' or non-ASCII; see nonPlain.
func plainWord(x uint64) bool { return nonPlain(x) == 0 }

// nonPlain tests the eight bytes of x (little-endian: the first byte is the
// lowest) at once for control bytes, '"', '\\' and non-ASCII bytes, with the
// classic has-zero-byte and has-less-than bit tricks. It returns zero when
// there is none; otherwise the lowest set bit is the high bit of the first
// such byte. Only bytes after that one can be marked wrongly (by a borrow
// running upwards), so bits.TrailingZeros64(m)/8 is the exact index of the
// first byte that needs a closer look.
func nonPlain(x uint64) uint64 {
	const (
		quote  = '"' * ones
		bslash = '\\' * ones
	)
	q, b := x^quote, x^bslash
	return (x | (x-0x20*ones)&^x | (q-ones)&^q | (b-ones)&^b) & high
}

// appendTime appends t in UTC as YYYY-MM-DDThh:mm:ss.nnnnnnnnnZ, always with
// nine fractional digits so that the text has one spelling per instant. It
// computes the calendar date from the Unix day number itself, which is
// several times cheaper than time.Time.Date on this hot path.
func appendTime(dst []byte, t time.Time) []byte {
	secs := t.Unix()
	days, sod := secs/86400, secs%86400
	if sod < 0 {
		days--
		sod += 86400
	}
	year, month, day := civilDate(days)
	if year < 0 || year > 9999 {
		// Append refuses such times; this only keeps verification of
		// hand-made records deterministic.
		return append(dst, t.UTC().Format("2006-01-02T15:04:05.000000000Z")...)
	}
	var b [20]byte
	put2(b[0:2], int(year/100))
	put2(b[2:4], int(year%100))
	b[4] = '-'
	put2(b[5:7], int(month))
	b[7] = '-'
	put2(b[8:10], int(day))
	b[10] = 'T'
	put2(b[11:13], int(sod/3600))
	b[13] = ':'
	put2(b[14:16], int(sod/60%60))
	b[16] = ':'
	put2(b[17:19], int(sod%60))
	b[19] = '.'
	return appendFraction(append(dst, b[:20]...), t.Nanosecond())
}

// appendFraction appends the nanoseconds ns, below one second, as nine
// digits, and the final Z of a time.
func appendFraction(dst []byte, ns int) []byte {
	var b [10]byte
	put2(b[7:9], ns%100)
	ns /= 100
	put2(b[5:7], ns%100)
	ns /= 100
	put2(b[3:5], ns%100)
	ns /= 100
	put2(b[1:3], ns%100)
	b[0] = byte('0' + ns/100)
	b[9] = 'Z'
	return append(dst, b[:]...)
}

// civilDate converts days since 1970-01-01 to a proleptic Gregorian date
// (H. Hinnant's days-to-civil algorithm, in 400-year eras).
func civilDate(days int64) (year, month, day int64) {
	z := days + 719468 // days since 0000-03-01
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097                                  // day of era, 0..146096
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // year of era, 0..399
	doy := doe - (365*yoe + yoe/4 - yoe/100)               // day of year from March 1
	mp := (5*doy + 2) / 153                                // month from March, 0..11
	day = doy - (153*mp+2)/5 + 1
	month = mp + 3
	if month > 12 {
		month -= 12
	}
	year = yoe + era*400
	if month <= 2 {
		year++
	}
	return year, month, day
}

// digitPairs holds the two-digit decimal spellings of 0 to 99, so that a
// time is written with one division per pair of digits rather than per
// digit.
const digitPairs = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"

// put2 writes v, which must be below 100, as two digits into b.
func put2(b []byte, v int) {
	_ = b[1]
	b[0], b[1] = digitPairs[2*v], digitPairs[2*v+1]
}

// hashField follows the body of a stored line and precedes the hash.
const hashField = `,"hash":"`

// hasher computes record hashes: HMAC-SHA256 under the key when there is
// one, plain SHA-256 otherwise. It is not safe for concurrent use.
type hasher struct {
	mac   hash.Hash
	plain hash.Hash // for telling forgeries from other damage; nil when unkeyed
	keyed bool
	sum   [sha256.Size]byte
}

func newHasher(key string) *hasher {
	if key == "" {
		return &hasher{mac: sha256.New()}
	}
	return &hasher{mac: hmac.New(sha256.New, []byte(key)), plain: sha256.New(), keyed: true}
}

// sumHex returns the hex hash of body followed by a closing brace: body is a
// canonical encoding without its final '}', which is how it appears in a
// stored line in front of the hash field.
func (h *hasher) sumHex(body []byte) (out [2 * sha256.Size]byte) {
	return h.hexOf(h.mac, body)
}

// plainHex is sumHex without the key: the hash someone without the key
// would have written.
func (h *hasher) plainHex(body []byte) (out [2 * sha256.Size]byte) {
	if h.plain == nil {
		return h.hexOf(h.mac, body)
	}
	return h.hexOf(h.plain, body)
}

var closingBrace = []byte{'}'}

func (h *hasher) hexOf(m hash.Hash, body []byte) (out [2 * sha256.Size]byte) {
	m.Reset()
	m.Write(body)
	m.Write(closingBrace)
	hex.Encode(out[:], m.Sum(h.sum[:0]))
	return out
}

// equalHex compares hashes in constant time, so that a verifier exposed to
// an attacker does not teach it a valid MAC byte by byte. It compares eight
// bytes at a time and branches only on the result, not on where the two
// differ; lengths are public.
func equalHex(a []byte, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	var diff uint64
	for ; len(a) >= 8; a, b = a[8:], b[8:] {
		diff |= binary.LittleEndian.Uint64(a) ^ binary.LittleEndian.Uint64(b)
	}
	for i := range a {
		diff |= uint64(a[i] ^ b[i])
	}
	return diff == 0
}
