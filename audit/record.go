package audit

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tideline-ml/tideline/secret"
)

// Decision is the policy verdict a record reports. The empty Decision marks
// a record that does not report a policy decision (an outcome record, say).
type Decision string

// The decisions a record may carry.
const (
	DecisionNone      Decision = ""
	DecisionAllow     Decision = "allow"
	DecisionDeny      Decision = "deny"
	DecisionWouldDeny Decision = "would-deny" // audit-only mode: a denial that did not block
)

// Outcome says how the audited operation ended. The empty Outcome marks a
// record for which no outcome applies.
type Outcome string

// The outcomes a record may carry.
const (
	OutcomeNone    Outcome = ""
	OutcomePending Outcome = "pending" // recorded before the operation ran
	OutcomeOK      Outcome = "ok"
	OutcomeError   Outcome = "error" // Record.Error says what went wrong
)

// A Reason is one ground for a policy decision: the rule that fired and a
// message a person can act on.
type Reason struct {
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

// A Record is one entry of the audit log.
//
// The caller fills the descriptive fields; [Log.Append] sets Seq, Time, Prev
// and Hash and ignores whatever they held. The JSON tags name the fields as
// the canonical encoding does, but encoding/json does not produce the
// canonical encoding (see the package documentation); hash only what this
// package encodes.
type Record struct {
	Seq       uint64            `json:"seq"`
	Time      time.Time         `json:"time"`
	Principal string            `json:"principal"`
	Action    string            `json:"action"` // required, e.g. "dataset.create", "job.submit"
	Target    string            `json:"target"`
	Provider  string            `json:"provider"`
	Region    string            `json:"region"`
	Decision  Decision          `json:"decision"`
	Reasons   []Reason          `json:"reasons"`
	Outcome   Outcome           `json:"outcome"`
	Error     string            `json:"error"` // set exactly when Outcome is OutcomeError
	RequestID string            `json:"request_id"`
	TraceID   string            `json:"trace_id"`
	Attrs     map[string]string `json:"attrs"`
	Prev      string            `json:"prev"` // Hash of the previous record, or Genesis
	Hash      string            `json:"hash"`
}

// A Checkpoint names one record of a chain by sequence number and hash. Kept
// outside the log (another store, a ticket, a signed message), it lets
// [Verify] detect that records at or before it were cut off or rewritten.
type Checkpoint struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// Genesis is the Prev of the first record of every chain: 64 zeros, the hex
// encoding of 32 zero bytes.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// MaxRecordSize bounds the length of one encoded record, newline included.
// Append rejects larger records and readers treat longer lines as malformed,
// which bounds the memory a damaged or hostile file can make them use.
const MaxRecordSize = 1 << 20

// ErrInvalidRecord is wrapped by Append's error when the record itself is
// unacceptable; the message lists every problem.
var ErrInvalidRecord = errors.New("audit: invalid record")

// validate checks what Append requires of a caller's record, except what
// the encoder checks on its way, UTF-8 and attrs keys (see
// encodingProblems). It allocates only when it has something to report.
func (r *Record) validate() error {
	var problems []string
	add := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	if r.Action == "" {
		add(`action is empty; name the operation, e.g. "job.submit"`)
	}
	switch r.Decision {
	case DecisionNone, DecisionAllow, DecisionDeny, DecisionWouldDeny:
	default:
		add("decision %q is not one of %q, %q, %q or empty", r.Decision, DecisionAllow, DecisionDeny, DecisionWouldDeny)
	}
	switch r.Outcome {
	case OutcomeNone, OutcomePending, OutcomeOK, OutcomeError:
	default:
		add("outcome %q is not one of %q, %q, %q or empty", r.Outcome, OutcomePending, OutcomeOK, OutcomeError)
	}
	if r.Outcome == OutcomeError && r.Error == "" {
		add("outcome is %q but the error message is empty; say what failed", OutcomeError)
	}
	if r.Error != "" && r.Outcome != OutcomeError {
		add("an error message is set but outcome is %q; set outcome to %q", r.Outcome, OutcomeError)
	}
	if problems == nil {
		return nil
	}
	return invalid(append(problems, r.encodingProblems()...))
}

// encodingProblems names the problems appendFields notices while it
// encodes: an empty attrs key, and text that is not valid UTF-8.
func (r *Record) encodingProblems() []string {
	var problems []string
	if _, ok := r.Attrs[""]; ok {
		problems = append(problems, "attrs has an empty key")
	}
	return append(problems, r.utf8Problems()...)
}

// utf8Problems names the fields that are not valid UTF-8.
func (r *Record) utf8Problems() []string {
	var problems []string
	for _, f := range [...]struct{ name, v string }{
		{"principal", r.Principal}, {"action", r.Action}, {"target", r.Target},
		{"provider", r.Provider}, {"region", r.Region}, {"decision", string(r.Decision)},
		{"outcome", string(r.Outcome)}, {"error", r.Error}, {"request id", r.RequestID},
		{"trace id", r.TraceID},
	} {
		if !utf8.ValidString(f.v) {
			problems = append(problems, f.name+" is not valid UTF-8")
		}
	}
	for i, rs := range r.Reasons {
		if !utf8.ValidString(rs.Rule) || !utf8.ValidString(rs.Message) {
			problems = append(problems, fmt.Sprintf("reason %d is not valid UTF-8", i))
		}
	}
	var attrs []string
	for k, v := range r.Attrs {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			attrs = append(attrs, fmt.Sprintf("attr %q is not valid UTF-8", k))
		}
	}
	slices.Sort(attrs) // map order would make the message vary
	return append(problems, attrs...)
}

func invalid(problems []string) error {
	return fmt.Errorf("%w: %s", ErrInvalidRecord, strings.Join(problems, "; "))
}

// Redact returns a copy of r in which every occurrence of a secret's value
// (and of its URL-escaped forms) in a text field is replaced by "[REDACTED]".
// Seq, Time, Prev and Hash are copied unchanged. Use it on records built from
// error messages or URLs that may embed a credential:
//
//	log.Append(ctx, rec.Redact(grant))
func (r Record) Redact(secrets ...secret.Secret) Record {
	rp := secret.NewRedactor(secrets...)
	if rp == nil {
		return r
	}
	s := rp.Redact
	r.Principal, r.Action, r.Target = s(r.Principal), s(r.Action), s(r.Target)
	r.Provider, r.Region, r.Error = s(r.Provider), s(r.Region), s(r.Error)
	r.RequestID, r.TraceID = s(r.RequestID), s(r.TraceID)
	r.Decision, r.Outcome = Decision(s(string(r.Decision))), Outcome(s(string(r.Outcome)))
	if r.Reasons != nil {
		reasons := make([]Reason, len(r.Reasons))
		for i, rs := range r.Reasons {
			reasons[i] = Reason{Rule: s(rs.Rule), Message: s(rs.Message)}
		}
		r.Reasons = reasons
	}
	if r.Attrs != nil {
		attrs := make(map[string]string, len(r.Attrs))
		for k, v := range r.Attrs {
			attrs[s(k)] = s(v)
		}
		r.Attrs = attrs
	}
	return r
}
