package provider

import (
	"fmt"
	"strconv"
)

// The naming rules below are the strictest of the places a Tideline name ends
// up: Azure Machine Learning resource names (online endpoints allow at most 32
// characters and must start with a letter), Azure Blob container and blob
// names, and Kubernetes DNS-1123 / DNS-1035 labels (lower case only; KServe
// derives further names from an InferenceService's name, so it must stay well
// under 63 characters). A name that passes here is accepted by every backend.
const (
	MinNameLen    = 3
	MaxNameLen    = 32
	MaxVersionLen = 32
	MaxMetaKeyLen = 63
	// MaxMetaValueLen bounds one metadata value. Azure Blob Storage caps all
	// of a blob's metadata at 8 KiB, which sets the budget below.
	MaxMetaValueLen = 2048
	// MaxMetaTotalLen bounds the sum of metadata key and value lengths.
	MaxMetaTotalLen = 8000
)

// NameRule is the human statement of the name rule, used in error messages.
const NameRule = "3 to 32 characters: lower-case letters, digits and single hyphens, starting with a letter and ending with a letter or digit"

// VersionRule is the human statement of the version rule.
const VersionRule = "1 to 32 characters: lower-case letters, digits, '.' and '-', starting and ending with a letter or digit"

// MetaKeyRule is the human statement of the metadata key rule.
const MetaKeyRule = "1 to 63 characters: lower-case letters, digits and '_', starting with a letter"

// ValidateName checks a resource name (dataset, job, model, alias, endpoint,
// deployment) against NameRule. field names the input in the message, as in
// `dataset name`.
func ValidateName(field, name string) error {
	if reason := nameProblem(name); reason != "" {
		return Errorf(InvalidArgument, "%s %q is not valid: %s; names must be %s", field, name, reason, NameRule)
	}
	return nil
}

func nameProblem(name string) string {
	switch {
	case name == "":
		return "it is empty"
	case len(name) < MinNameLen:
		return fmt.Sprintf("it has %d characters", len(name))
	case len(name) > MaxNameLen:
		return fmt.Sprintf("it has %d characters", len(name))
	case !isLower(name[0]):
		return "it does not start with a lower-case letter"
	case name[len(name)-1] == '-':
		return "it ends with a hyphen"
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case isLower(c) || isDigit(c):
		case c == '-':
			if name[i-1] == '-' {
				return fmt.Sprintf("it has two hyphens in a row at offset %d", i-1)
			}
		default:
			return fmt.Sprintf("it contains %q at offset %d", c, i)
		}
	}
	return ""
}

// ValidateVersion checks a version string against VersionRule.
func ValidateVersion(field, version string) error {
	reason := ""
	switch {
	case version == "":
		reason = "it is empty"
	case len(version) > MaxVersionLen:
		reason = fmt.Sprintf("it has %d characters", len(version))
	case !isLower(version[0]) && !isDigit(version[0]):
		reason = "it does not start with a lower-case letter or digit"
	case !isLower(version[len(version)-1]) && !isDigit(version[len(version)-1]):
		reason = "it does not end with a lower-case letter or digit"
	default:
		for i := 0; i < len(version); i++ {
			c := version[i]
			if !isLower(c) && !isDigit(c) && c != '.' && c != '-' {
				reason = fmt.Sprintf("it contains %q at offset %d", c, i)
				break
			}
		}
	}
	if reason != "" {
		return Errorf(InvalidArgument, "%s %q is not valid: %s; versions must be %s", field, version, reason, VersionRule)
	}
	return nil
}

// ValidateModelVersion checks a model version: a positive decimal integer
// without leading zeros, as registries number them.
func ValidateModelVersion(field, version string) error {
	n, err := strconv.ParseUint(version, 10, 63)
	if err != nil || n == 0 || strconv.FormatUint(n, 10) != version {
		return Errorf(InvalidArgument, "%s %q is not valid: model versions are positive whole numbers such as \"1\" or \"12\"", field, version)
	}
	return nil
}

// ValidateMetadata checks metadata keys against MetaKeyRule and the sizes
// against MaxMetaValueLen and MaxMetaTotalLen. Values may hold any UTF-8 text
// without control characters.
func ValidateMetadata(field string, md map[string]string) error {
	total := 0
	for k, v := range md {
		if !validMetaKey(k) {
			return Errorf(InvalidArgument, "%s key %q is not valid: keys must be %s", field, k, MetaKeyRule)
		}
		if len(v) > MaxMetaValueLen {
			return Errorf(InvalidArgument, "%s value of %q has %d bytes; the limit is %d", field, k, len(v), MaxMetaValueLen)
		}
		for i := 0; i < len(v); i++ {
			if v[i] < 0x20 || v[i] == 0x7f {
				return Errorf(InvalidArgument, "%s value of %q contains control character %q at offset %d; use printable text", field, k, v[i], i)
			}
		}
		total += len(k) + len(v)
	}
	if total > MaxMetaTotalLen {
		return Errorf(InvalidArgument, "%s has %d bytes of keys and values; the limit is %d", field, total, MaxMetaTotalLen)
	}
	return nil
}

func validMetaKey(k string) bool {
	if k == "" || len(k) > MaxMetaKeyLen || !isLower(k[0]) {
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; !isLower(c) && !isDigit(c) && c != '_' {
			return false
		}
	}
	return true
}

func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }
