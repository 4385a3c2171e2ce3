package audit

import (
	"strings"
	"testing"

	"github.com/tideline-ml/tideline/secret"
)

// sasToken looks like an Azure SAS: its characters need URL escaping.
const sasToken = "sv=2024-11-04&sig=Zm9v+YmFy/YmF6=="

// TestRecordRedact puts the secret into every text field and checks that
// the canonical encoding — everything the log stores — no longer holds it.
func TestRecordRedact(t *testing.T) {
	sas := secret.NewSecret(sasToken)
	v := "with " + sasToken
	r := Record{
		Principal: v, Action: v, Target: v, Provider: v, Region: v, Decision: Decision(v),
		Reasons: []Reason{{Rule: v, Message: v}}, Outcome: Outcome(v), Error: v,
		RequestID: v, TraceID: v, Attrs: map[string]string{v: v}, Prev: Genesis,
	}
	got := r.Redact(sas)
	if enc := string(canonical(nil, &got)); strings.Contains(enc, "Zm9v") || strings.Count(enc, secret.Placeholder) != 14 {
		t.Errorf("secret.Placeholder record still holds the secret or lost a field: %s", enc)
	}
	if r.Reasons[0].Rule != v || r.Attrs[v] != v {
		t.Error("Redact changed the original record")
	}
	if same := r.Redact(); same.Principal != v {
		t.Error("Redact without secrets changed the record")
	}
}
