package azure

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/tideline-ml/tideline/provider"
)

// Endpoint and deployment metadata live in the resource's tags, where
// anyone looking at the workspace sees them. Resource Manager holds at
// most 50 tags on a resource and at most 256 characters (UTF-16 code
// units) in a tag's value, while the contract allows values of 2048 bytes.
// A value that does not fit a tag is stored outside it, never cut: the tag
// holds a reference, overflowMark + "sha256:<hex>" of the value, and the
// value itself is kept under that digest in a blob of the workspace's
// storage container (the endpoint's guard blob, or the deployment's own
// blob; see serving_guard.go). A value that itself starts with
// overflowMark takes the same path, so that a tag is never misread.
//
// Tags whose names are not contract metadata keys (a cost center someone
// set in the portal) are not shown and are kept through updates; they
// count against the 50.
const (
	maxTagValueLen = maxTagValue
	overflowMark   = "tideline-ref:"
)

// encodedMeta is metadata mapped onto tags.
type encodedMeta struct {
	tags map[string]string
	// overflow holds, by digest, the values that did not fit their tags.
	overflow map[string]string
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

func valueDigest(v string) string {
	sum := sha256.Sum256([]byte(v))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// encodeMeta maps md onto tags beside the foreign tags kept from the
// resource. It returns InvalidArgument, before anything is written, when
// the tags would exceed Resource Manager's count.
func encodeMeta(field string, md, foreign map[string]string) (encodedMeta, error) {
	e := encodedMeta{tags: maps.Clone(foreign), overflow: map[string]string{}}
	if e.tags == nil {
		e.tags = map[string]string{}
	}
	for k, v := range md {
		if utf16Len(v) <= maxTagValueLen && !strings.HasPrefix(v, overflowMark) {
			e.tags[k] = v
			continue
		}
		d := valueDigest(v)
		e.tags[k] = overflowMark + d
		e.overflow[d] = v
	}
	if len(e.tags) > maxTags {
		extra := ""
		if len(foreign) > 0 {
			extra = " (" + strconv.Itoa(len(foreign)) + " of them set outside Tideline: " + strings.Join(slices.Sorted(maps.Keys(foreign)), ", ") + ")"
		}
		return e, provider.Errorf(provider.InvalidArgument, "azure: %s needs %d tags on the Azure resource%s; Azure Resource Manager holds at most %d: use fewer keys", field, len(e.tags), extra, maxTags)
	}
	return e, nil
}

// decodeMeta reads the metadata out of tags: contract keys only, overflow
// references resolved through overflow. foreign are the other tags;
// missing lists references overflow lacks.
func decodeMeta(tags, overflow map[string]string) (md, foreign map[string]string, missing []string) {
	md, foreign = map[string]string{}, map[string]string{}
	for k, v := range tags {
		if provider.ValidateMetadata("", map[string]string{k: "x"}) != nil {
			foreign[k] = v
			continue
		}
		if d, ok := strings.CutPrefix(v, overflowMark); ok {
			full, ok := overflow[d]
			if !ok || valueDigest(full) != d {
				missing = append(missing, k)
				continue
			}
			v = full
		}
		md[k] = v
	}
	return md, foreign, missing
}

// referenced returns the overflow digests tags refer to.
func referenced(tags map[string]string) []string {
	var out []string
	for _, v := range tags {
		if d, ok := strings.CutPrefix(v, overflowMark); ok {
			out = append(out, d)
		}
	}
	return out
}
