package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"hash"
	"slices"
	"strconv"
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
// hash — to dst, and reports whether every string in r was valid UTF-8.
// Checking UTF-8 while encoding saves Append a second pass over the record.
// Invalid records still encode deterministically (bytes copied as they
// are), so that verifying a hand-made record fails cleanly.
func appendCanonical(dst []byte, r *Record) ([]byte, bool) {
	ok := true
	dst = append(dst, `{"v":1,"seq":`...)
	dst = strconv.AppendUint(dst, r.Seq, 10)
	dst = append(dst, `,"time":"`...)
	dst = appendTime(dst, r.Time)
	dst = append(dst, `","principal":`...)
	dst = appendString(dst, r.Principal, &ok)
	dst = append(dst, `,"action":`...)
	dst = appendString(dst, r.Action, &ok)
	dst = append(dst, `,"target":`...)
	dst = appendString(dst, r.Target, &ok)
	dst = append(dst, `,"provider":`...)
	dst = appendString(dst, r.Provider, &ok)
	dst = append(dst, `,"region":`...)
	dst = appendString(dst, r.Region, &ok)
	dst = append(dst, `,"decision":`...)
	dst = appendString(dst, string(r.Decision), &ok)
	dst = append(dst, `,"reasons":[`...)
	for i, rs := range r.Reasons {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"rule":`...)
		dst = appendString(dst, rs.Rule, &ok)
		dst = append(dst, `,"message":`...)
		dst = appendString(dst, rs.Message, &ok)
		dst = append(dst, '}')
	}
	dst = append(dst, `],"outcome":`...)
	dst = appendString(dst, string(r.Outcome), &ok)
	dst = append(dst, `,"error":`...)
	dst = appendString(dst, r.Error, &ok)
	dst = append(dst, `,"request_id":`...)
	dst = appendString(dst, r.RequestID, &ok)
	dst = append(dst, `,"trace_id":`...)
	dst = appendString(dst, r.TraceID, &ok)
	dst = append(dst, `,"attrs":{`...)
	if len(r.Attrs) > 0 {
		var small [8]string
		keys := small[:0]
		for k := range r.Attrs {
			keys = append(keys, k)
		}
		slices.Sort(keys) // Go compares strings bytewise, as the format requires
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k, &ok)
			dst = append(dst, ':')
			dst = appendString(dst, r.Attrs[k], &ok)
		}
	}
	dst = append(dst, `},"prev":`...)
	dst = appendString(dst, r.Prev, &ok)
	return append(dst, '}'), ok
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
	start := 0
	for i := 0; i < len(s); {
		// Most bytes are plain ASCII: skip them eight at a time while no
		// byte of the word needs a look, then one at a time.
		for i+8 <= len(s) && plainWord(s[i:i+8]) {
			i += 8
		}
		for i < len(s) && plain[s[i]] {
			i++
		}
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
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// plainWord reports whether none of the eight bytes of w is a control
// byte, '"', '\\' or non-ASCII, testing all eight at once (the classic
// has-zero-byte and has-less-than bit tricks).
func plainWord(w string) bool {
	_ = w[7]
	x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
		uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
	const (
		ones   = 0x0101010101010101
		high   = 0x8080808080808080
		quote  = '"' * ones
		bslash = '\\' * ones
	)
	q, b := x^quote, x^bslash
	return (x|(x-0x20*ones)&^x|(q-ones)&^q|(b-ones)&^b)&high == 0
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
	var b [30]byte
	putDigits(b[0:4], int(year))
	b[4] = '-'
	putDigits(b[5:7], int(month))
	b[7] = '-'
	putDigits(b[8:10], int(day))
	b[10] = 'T'
	putDigits(b[11:13], int(sod/3600))
	b[13] = ':'
	putDigits(b[14:16], int(sod/60%60))
	b[16] = ':'
	putDigits(b[17:19], int(sod%60))
	b[19] = '.'
	putDigits(b[20:29], t.Nanosecond())
	b[29] = 'Z'
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

// putDigits writes v, which must be below 10^len(b), zero-padded into b.
func putDigits(b []byte, v int) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
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
// an attacker does not teach it a valid MAC byte by byte.
func equalHex(a []byte, b []byte) bool {
	return subtle.ConstantTimeCompare(a, b) == 1
}
