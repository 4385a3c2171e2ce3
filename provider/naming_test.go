package provider_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tideline-ml/tideline/provider"
)

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"abc", "claims", "fraud-v2", "a1b", strings.Repeat("a", 32), "x-y-z"} {
		require.NoError(t, provider.ValidateName("name", ok), ok)
	}
	for bad, why := range map[string]string{
		"":                      "empty",
		"ab":                    "2 characters",
		strings.Repeat("a", 33): "33 characters",
		"1abc":                  "start with a lower-case letter",
		"Abc":                   "start with a lower-case letter",
		"abc-":                  "ends with a hyphen",
		"a--b":                  "two hyphens",
		"a_bc":                  `'_'`,
		"a.bc":                  `'.'`,
		"abé":                   "offset 2",
	} {
		err := provider.ValidateName("dataset name", bad)
		require.Error(t, err, bad)
		require.Equal(t, provider.InvalidArgument, provider.CodeOf(err))
		require.Contains(t, err.Error(), "dataset name")
		require.Contains(t, err.Error(), why, bad)
	}
}

func TestValidateVersionAndModelVersion(t *testing.T) {
	for _, ok := range []string{"1", "2026-11-30", "v1.2.3", "a"} {
		require.NoError(t, provider.ValidateVersion("version", ok), ok)
	}
	for _, bad := range []string{"", "-1", "1.", "V1", "1 2", strings.Repeat("1", 33)} {
		require.Error(t, provider.ValidateVersion("version", bad), bad)
	}
	for _, ok := range []string{"1", "12", "9999"} {
		require.NoError(t, provider.ValidateModelVersion("version", ok), ok)
	}
	for _, bad := range []string{"0", "01", "-1", "1.0", "", "x", "99999999999999999999"} {
		require.Error(t, provider.ValidateModelVersion("version", bad), bad)
	}
}

func TestValidateMetadata(t *testing.T) {
	require.NoError(t, provider.ValidateMetadata("labels", map[string]string{"owner": "risk", "tideline_x": "a b"}))
	for _, md := range []map[string]string{
		{"Owner": "x"}, {"": "x"}, {"1a": "x"}, {"a-b": "x"},
		{"a": strings.Repeat("x", provider.MaxMetaValueLen+1)},
		{"a": "line\nbreak"},
	} {
		require.Error(t, provider.ValidateMetadata("labels", md), "%v", md)
	}
	big := map[string]string{}
	for i := 0; i < 5; i++ {
		big[string(rune('a'+i))] = strings.Repeat("x", provider.MaxMetaValueLen)
	}
	require.ErrorContains(t, provider.ValidateMetadata("labels", big), "limit")
}

var dns1035 = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
var azureEndpoint = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]$`)

// Whatever the rule accepts, every backend accepts: a Kubernetes DNS-1035
// label of at most 63 characters and an Azure ML online endpoint name.
func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"claims", "a--b", "x", "fraud-api", "Ab-1", strings.Repeat("z", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if provider.ValidateName("name", s) != nil {
			return
		}
		if !dns1035.MatchString(s) || len(s) > 63 {
			t.Fatalf("%q accepted but not a DNS-1035 label", s)
		}
		if !azureEndpoint.MatchString(s) {
			t.Fatalf("%q accepted but not an Azure ML endpoint name", s)
		}
		if strings.Contains(s, "--") {
			t.Fatalf("%q accepted with a double hyphen", s)
		}
	})
}

func FuzzValidateModelVersion(f *testing.F) {
	for _, s := range []string{"1", "01", "0", "123", "-4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if provider.ValidateModelVersion("v", s) == nil && !regexp.MustCompile(`^[1-9][0-9]*$`).MatchString(s) {
			t.Fatalf("%q accepted", s)
		}
	})
}
