package mlops

import (
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/tideline-ml/tideline/secret"
)

// knownSecrets are the secret values a Client has handed to providers: the
// secret environment variables of the jobs it submitted and the read grants
// it minted. Whatever the Client returns or writes — errors, job messages,
// what its hooks see — has these exact values (and their URL and JSON
// escapings) redacted, besides whatever looks like a credential, because a
// provider error or a job's own output may echo them.
//
// The values are kept as secret.Secret, never as plain strings or map keys,
// so that printing a TrainJob (which points to its Client) with %v or a
// debug dumper cannot show them.
type knownSecrets struct {
	mu   sync.Mutex
	vals []knownSecret
}

type knownSecret struct {
	s     secret.Secret
	until time.Time // when it stops mattering; zero: never
}

// add remembers secrets; until, when not zero, is when they expire (a read
// grant), after which they are forgotten.
func (k *knownSecrets) add(now, until time.Time, ss ...secret.Secret) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.vals = slices.DeleteFunc(k.vals, func(v knownSecret) bool { return !v.until.IsZero() && v.until.Before(now) })
next:
	for _, s := range ss {
		v := s.Reveal()
		if v == "" {
			continue
		}
		for i, old := range k.vals {
			if old.s.Reveal() == v {
				if !old.until.IsZero() && (until.IsZero() || until.After(old.until)) {
					k.vals[i].until = until
				}
				continue next
			}
		}
		k.vals = append(k.vals, knownSecret{s: s, until: until})
	}
}

func (k *knownSecrets) list() []secret.Secret {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]secret.Secret, len(k.vals))
	for i, v := range k.vals {
		out[i] = v.s
	}
	return out
}

// redact removes every secret the Client knows of, and whatever looks like
// a credential, from s.
func (c *Client) redact(s string, more ...secret.Secret) string {
	if s == "" {
		return s
	}
	return secret.Redact(secret.Scrub(s), append(c.secrets.list(), more...)...)
}

// redactError returns err with a message that carries no secret. The
// result keeps err's code and matches what err matches (errors.Is and
// errors.As see through it); only its text changes.
func (c *Client) redactError(err error, more ...secret.Secret) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := c.redact(msg, more...)
	if clean == msg {
		return err
	}
	var dry *DryRunResult
	if errors.As(err, &dry) {
		return err
	}
	return &redactedError{msg: clean, err: err}
}

// redactedError is an error whose text had secrets removed.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }

// Unwrap returns the original error, for errors.Is and errors.As. Its own
// text is the unredacted one: print e, not what it wraps.
func (e *redactedError) Unwrap() error { return e.err }

// ErrorCode returns the code of the original error.
func (e *redactedError) ErrorCode() ErrorCode { return Code(e.err) }
