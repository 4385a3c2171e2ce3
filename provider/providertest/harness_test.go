package providertest

import (
	"strings"
	"testing"
	"time"

	"github.com/tideline-ml/tideline/provider"
)

func TestNamerNamesAreValidAndDistinct(t *testing.T) {
	n := newNamer()
	seen := map[string]bool{}
	for _, tag := range []string{"claims", "a", "", "-", "UPPER", "with space", "dots.and_underscores", "trailing-", strings.Repeat("long", 20), "àccent"} {
		for range 3 {
			name := n.name(tag)
			if err := provider.ValidateName("name", name); err != nil {
				t.Errorf("name(%q) = %q: %v", tag, name, err)
			}
			if seen[name] {
				t.Errorf("name(%q) = %q was handed out before", tag, name)
			}
			seen[name] = true
		}
	}
	if other := newNamer(); other.run == n.run {
		t.Logf("two namers drew the same run id %q; possible but unlikely (1 in 2^24)", n.run)
	}
}

func FuzzNamerName(f *testing.F) {
	for _, s := range []string{"claims", "", "--", "A_B", "x\x00y", strings.Repeat("z", 40)} {
		f.Add(s)
	}
	n := newNamer()
	f.Fuzz(func(t *testing.T, tag string) {
		name := n.name(tag)
		if err := provider.ValidateName("name", name); err != nil {
			t.Fatalf("name(%q) = %q: %v", tag, name, err)
		}
		if !strings.HasPrefix(name, n.run+"-") {
			t.Fatalf("name(%q) = %q lacks the run prefix %q", tag, name, n.run)
		}
	})
}

func TestOptionsDefaults(t *testing.T) {
	for _, c := range []struct {
		name string
		in   *Options
		want Options
	}{
		{"Nil", nil, Options{Timeout: 10 * time.Second, PollInterval: 5 * time.Millisecond, Concurrency: 8}},
		{"Negative", &Options{Timeout: -1, PollInterval: -1, Concurrency: -1, ClockSkew: -1}, Options{Timeout: 10 * time.Second, PollInterval: 5 * time.Millisecond, Concurrency: 8}},
		{"Kept", &Options{Timeout: time.Minute, PollInterval: time.Second, Concurrency: 3, Region: "westeurope", Parallel: true, ClockSkew: 5 * time.Second},
			Options{Timeout: time.Minute, PollInterval: time.Second, Concurrency: 3, Region: "westeurope", Parallel: true, ClockSkew: 5 * time.Second}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := c.in.withDefaults()
			if got.Timeout != c.want.Timeout || got.PollInterval != c.want.PollInterval || got.Concurrency != c.want.Concurrency ||
				got.Region != c.want.Region || got.Parallel != c.want.Parallel || got.ClockSkew != c.want.ClockSkew {
				t.Errorf("withDefaults() = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestSameMapTreatsNilAsEmpty(t *testing.T) {
	for _, c := range []struct {
		name string
		a, b map[string]int
		want bool
	}{
		{"BothNil", nil, nil, true},
		{"NilAndEmpty", nil, map[string]int{}, true},
		{"Equal", map[string]int{"a": 1}, map[string]int{"a": 1}, true},
		{"ValueDiffers", map[string]int{"a": 1}, map[string]int{"a": 2}, false},
		{"KeyDiffers", map[string]int{"a": 1}, map[string]int{"b": 1}, false},
		{"ZeroValueMissing", map[string]int{"a": 0}, map[string]int{}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := sameMap(c.a, c.b); got != c.want {
				t.Errorf("sameMap(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
			}
			if got := sameShares(c.a, c.b); c.name == "ZeroValueMissing" && !got {
				t.Errorf("sameShares(%v, %v) = false; zero shares are dropped before comparing", c.a, c.b)
			}
		})
	}
}
