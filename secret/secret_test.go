package secret

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
)

// sasToken looks like an Azure SAS: its characters need URL escaping.
const sasToken = "sv=2024-11-04&sig=Zm9v+YmFy/YmF6=="

type xmlDoc struct{ Grant Secret }

type withSecrets struct {
	Name    string
	Grant   Secret
	private Secret
	Ptr     *Secret
	Nested  struct{ Inner Secret }
	List    []Secret
	Map     map[string]Secret
}

func newWithSecrets() withSecrets {
	s := NewSecret(sasToken)
	w := withSecrets{Name: "job", Grant: s, private: s, Ptr: &s, List: []Secret{s}, Map: map[string]Secret{"k": s}}
	w.Nested.Inner = s
	return w
}

func TestSecretNeverPrinted(t *testing.T) {
	s := NewSecret(sasToken)
	w := newWithSecrets()
	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T", "%10s", "%-12v", "%.3s", "%U"} {
		outputs = append(outputs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, &s), fmt.Sprintf(verb, w), fmt.Sprintf(verb, &w))
	}
	outputs = append(outputs, fmt.Sprint(s, w), fmt.Sprintln(s, w), s.String(), s.GoString(),
		fmt.Errorf("granting %v: %w", s, errors.New("boom")).Error())

	j, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, string(j))
	x, err := xml.Marshal(xmlDoc{Grant: s})
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, string(x))
	text, err := s.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, string(text))

	for _, h := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
	} {
		var buf bytes.Buffer
		logger := slog.New(h(&buf))
		logger.Info("grant", "sas", s, "ptr", &s, "struct", w, slog.Group("g", "sas", s))
		logger.With("sas", s).Info("with", slog.Any("any", s))
		outputs = append(outputs, buf.String())
	}

	for _, out := range outputs {
		for _, leak := range []string{sasToken, "Zm9v", "YmFy"} {
			if strings.Contains(out, leak) {
				t.Errorf("output leaks the secret: %s", out)
			}
		}
	}
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%+v", w), string(j), outputs[len(outputs)-1]} {
		if !strings.Contains(out, Placeholder) {
			t.Errorf("output does not show %s: %s", Placeholder, out)
		}
	}
}

func TestSecretReveal(t *testing.T) {
	if got := NewSecret(sasToken).Reveal(); got != sasToken {
		t.Errorf("Reveal = %q", got)
	}
	var zero Secret
	if zero.Reveal() != "" || !zero.IsZero() || NewSecret("x").IsZero() {
		t.Error("zero Secret is not empty, or a set one reports empty")
	}
	if got := fmt.Sprintf("%q|%#v|%5.2s|", NewSecret("v"), NewSecret("v"), NewSecret("v")); got != `"[REDACTED]"|secret.Secret("[REDACTED]")|   [R|` {
		t.Errorf("formatting = %s", got)
	}
}

func TestRedact(t *testing.T) {
	key := NewSecret("k3y")
	sas := NewSecret(sasToken)
	for _, tc := range []struct {
		name    string
		in      string
		secrets []Secret
		want    string
	}{
		{"no secrets", "plain k3y", nil, "plain k3y"},
		{"empty secret", "plain", []Secret{{}}, "plain"},
		{"every occurrence", "k3y and k3y", []Secret{key}, "[REDACTED] and [REDACTED]"},
		{"in a URL, query-escaped", "GET https://a.blob.core.windows.net/c?sv=2024-11-04&sig=" + url.QueryEscape("Zm9v+YmFy/YmF6==") + " failed",
			[]Secret{NewSecret("Zm9v+YmFy/YmF6==")}, "GET https://a.blob.core.windows.net/c?sv=2024-11-04&sig=[REDACTED] failed"},
		{"raw SAS", "token " + sasToken, []Secret{sas}, "token [REDACTED]"},
		{"longest first", "abcdef", []Secret{NewSecret("abc"), NewSecret("abcdef")}, "[REDACTED]"},
		{"two secrets", "k3y:" + sasToken, []Secret{key, sas}, "[REDACTED]:[REDACTED]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Redact(tc.in, tc.secrets...); got != tc.want {
				t.Errorf("Redact = %q, want %q", got, tc.want)
			}
		})
	}
}
