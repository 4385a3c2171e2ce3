package azure

import (
	"encoding/base64"
	"maps"
	"strings"
	"time"

	"github.com/tideline-ml/tideline/provider"
)

// Azure stores metadata as x-ms-meta-* headers: names must be C#
// identifiers and are case-insensitive, values travel as header text (no
// bytes outside printable ASCII; surrounding spaces are trimmed), and a
// blob's names and values together may not exceed 8 KiB. The contract's
// keys (lower-case letters, digits and '_', starting with a letter) and
// values (any UTF-8 text without control characters) are mapped onto that
// reversibly:
//
//   - a key whose value is plain (printable ASCII, not starting or ending
//     with a space) is stored under its own name, or under "_k_" + key when
//     the key is a C# keyword, which is not an identifier;
//   - any other value is stored base64-encoded, behind a '~', under
//     "_b_" + key.
//
// The driver's own entries are "_tl_sha256" (the hex SHA-256 of the bytes)
// and "_tl_created" (the commit time, to the nanosecond: the service's
// creation time has whole seconds only, and the contract orders versions by
// it). Names the driver did not write are kept through updates and not
// shown.
const (
	maxAzureMetadata = 8 << 10 // bytes of names and values, all together

	metaDigest  = "_tl_sha256"
	metaCreated = "_tl_created"

	prefixKeyword = "_k_"
	prefixEncoded = "_b_"
	prefixOwn     = "_tl_"
	encodedMark   = "~"
)

// csharpKeywords are the reserved words of C#, which are not identifiers.
var csharpKeywords = map[string]bool{}

func init() {
	for _, k := range strings.Fields(`abstract as base bool break byte case catch char checked class const
		continue decimal default delegate do double else enum event explicit extern false finally fixed
		float for foreach goto if implicit in int interface internal is lock long namespace new null
		object operator out override params private protected public readonly ref return sbyte sealed
		short sizeof stackalloc static string struct switch this throw true try typeof uint ulong
		unchecked unsafe ushort using virtual void volatile while`) {
		csharpKeywords[k] = true
	}
}

// plainValue reports whether v can be stored as header text unchanged.
func plainValue(v string) bool {
	if v == "" || v[0] == ' ' || v[len(v)-1] == ' ' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}

// storedMetadata is what the driver writes for one version: the contract's
// metadata encoded, the driver's own entries, and foreign entries carried
// over as they were.
type storedMetadata struct {
	user    map[string]string
	digest  string // "sha256:<hex>"
	created time.Time
	foreign map[string]string
}

// encode returns the blob metadata for s, or InvalidArgument when it does
// not fit in Azure's limit.
func (s *storedMetadata) encode(field string) (map[string]*string, error) {
	out := make(map[string]*string, len(s.user)+len(s.foreign)+2)
	total := 0
	put := func(k, v string) {
		out[k] = &v
		total += len(k) + len(v)
	}
	for k, v := range s.foreign {
		put(k, v)
	}
	for k, v := range s.user {
		switch {
		case !plainValue(v):
			put(prefixEncoded+k, encodedMark+base64.RawStdEncoding.EncodeToString([]byte(v)))
		case csharpKeywords[k]:
			put(prefixKeyword+k, v)
		default:
			put(k, v)
		}
	}
	put(metaDigest, strings.TrimPrefix(s.digest, "sha256:"))
	put(metaCreated, s.created.UTC().Format(time.RFC3339Nano))
	if total > maxAzureMetadata {
		return nil, provider.Errorf(provider.InvalidArgument,
			"%s takes %d bytes as Azure blob metadata (values outside printable ASCII are stored base64-encoded, and the driver adds its own entries); Azure allows %d: shorten the values or keep non-ASCII text out of them",
			field, total, maxAzureMetadata)
	}
	return out, nil
}

// decodeMetadata reads blob metadata written by encode. ok is false when the
// blob lacks the driver's entries: it was not committed by this driver.
func decodeMetadata(md map[string]*string) (s storedMetadata, ok bool) {
	s.user = map[string]string{}
	var hexDigest, created string
	for rawKey, p := range md {
		if p == nil {
			continue
		}
		v := *p
		k := strings.ToLower(rawKey) // the service may return any case
		switch {
		case k == metaDigest:
			hexDigest = v
		case k == metaCreated:
			created = v
		case strings.HasPrefix(k, prefixEncoded):
			b, err := base64.RawStdEncoding.DecodeString(strings.TrimPrefix(v, encodedMark))
			if !strings.HasPrefix(v, encodedMark) || err != nil {
				s.addForeign(rawKey, v)
				continue
			}
			s.user[strings.TrimPrefix(k, prefixEncoded)] = string(b)
		case strings.HasPrefix(k, prefixKeyword):
			s.user[strings.TrimPrefix(k, prefixKeyword)] = v
		case strings.HasPrefix(k, "_"):
			s.addForeign(rawKey, v)
		default:
			s.user[k] = v
		}
	}
	t, err := time.Parse(time.RFC3339Nano, created)
	if len(hexDigest) != 64 || err != nil {
		return s, false
	}
	s.digest = "sha256:" + hexDigest
	s.created = t
	return s, true
}

func (s *storedMetadata) addForeign(k, v string) {
	if s.foreign == nil {
		s.foreign = map[string]string{}
	}
	s.foreign[k] = v
}

// merged applies the contract's merge: md's keys replace, an empty value
// deletes.
func merged(base, md map[string]string) map[string]string {
	out := maps.Clone(base)
	if out == nil {
		out = map[string]string{}
	}
	for k, v := range md {
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}
