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
	str := func(s string) {
		var good bool
		dst, good = appendString(dst, s)
		ok = ok && good
	}
	dst = append(dst, `{"v":1,"seq":`...)
	dst = strconv.AppendUint(dst, r.Seq, 10)
	dst = append(dst, `,"time":"`...)
	dst = appendTime(dst, r.Time)
	dst = append(dst, `","principal":`...)
	str(r.Principal)
	dst = append(dst, `,"action":`...)
	str(r.Action)
	dst = append(dst, `,"target":`...)
	str(r.Target)
	dst = append(dst, `,"provider":`...)
	str(r.Provider)
	dst = append(dst, `,"region":`...)
	str(r.Region)
	dst = append(dst, `,"decision":`...)
	str(string(r.Decision))
	dst = append(dst, `,"reasons":[`...)
	for i, rs := range r.Reasons {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"rule":`...)
		str(rs.Rule)
		dst = append(dst, `,"message":`...)
		str(rs.Message)
		dst = append(dst, '}')
	}
	dst = append(dst, `],"outcome":`...)
	str(string(r.Outcome))
	dst = append(dst, `,"error":`...)
	str(r.Error)
	dst = append(dst, `,"request_id":`...)
	str(r.RequestID)
	dst = append(dst, `,"trace_id":`...)
	str(r.TraceID)
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
			str(k)
			dst = append(dst, ':')
			str(r.Attrs[k])
		}
	}
	dst = append(dst, `},"prev":`...)
	str(r.Prev)
	return append(dst, '}'), ok
}

// canonical is appendCanonical for callers that check UTF-8 elsewhere.
func canonical(dst []byte, r *Record) []byte {
	dst, _ = appendCanonical(dst, r)
	return dst
}

// appendString appends s as a canonical JSON string: only '"', '\\' and the
// bytes below 0x20 are escaped, with the short forms \n \r \t where JSON has
// them and \u00xx (lower-case hex) otherwise. It reports whether s is valid
// UTF-8.
func appendString(dst []byte, s string) ([]byte, bool) {
	ok := true
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
				ok = false
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
	return append(dst, '"'), ok
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
// nine fractional digits so that the text has one spelling per instant.
func appendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	if year < 0 || year > 9999 {
		// Append refuses such times; this only keeps verification of
		// hand-made records deterministic.
		dst = strconv.AppendInt(dst, int64(year), 10)
	} else {
		dst = appendDigits(dst, year, 4)
	}
	dst = append(dst, '-')
	dst = appendDigits(dst, int(month), 2)
	dst = append(dst, '-')
	dst = appendDigits(dst, day, 2)
	dst = append(dst, 'T')
	dst = appendDigits(dst, hour, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, minute, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, sec, 2)
	dst = append(dst, '.')
	dst = appendDigits(dst, t.Nanosecond(), 9)
	return append(dst, 'Z')
}

// appendDigits appends v, which must be below 10^width, zero-padded to width.
func appendDigits(dst []byte, v, width int) []byte {
	var buf [9]byte
	for i := width - 1; i >= 0; i-- {
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return append(dst, buf[:width]...)
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
