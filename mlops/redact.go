package mlops

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
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
// debug dumper cannot show them. They are found again by an HMAC of the
// value under a random key of the Client's own, so that adding a secret
// costs the same however many are known, and the index shows nothing a
// reader could test a guess against.
type knownSecrets struct {
	mu    sync.Mutex
	key   []byte
	index map[[sha256.Size]byte]int // HMAC of a value → its place in vals
	vals  []knownSecret
	// nextExpiry is the earliest expiry among vals, zero when none
	// expires: nothing need be forgotten before then.
	nextExpiry time.Time
}

type knownSecret struct {
	s     secret.Secret
	until time.Time // when it stops mattering; zero: never
}

func (k *knownSecrets) mac(v string) (sum [sha256.Size]byte) {
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte(v))
	m.Sum(sum[:0])
	return sum
}

// add remembers secrets; until, when not zero, is when they expire (a read
// grant), after which they are forgotten.
func (k *knownSecrets) add(now, until time.Time, ss ...secret.Secret) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.key == nil {
		k.key = make([]byte, 32)
		_, _ = rand.Read(k.key) // crypto/rand.Read never fails on supported platforms
		k.index = make(map[[sha256.Size]byte]int)
	}
	if !k.nextExpiry.IsZero() && !now.Before(k.nextExpiry) {
		k.forget(now)
	}
	for _, s := range ss {
		v := s.Reveal()
		if v == "" {
			continue
		}
		sum := k.mac(v)
		if i, ok := k.index[sum]; ok {
			if old := k.vals[i].until; !old.IsZero() && (until.IsZero() || until.After(old)) {
				k.vals[i].until = until
			}
			continue
		}
		k.index[sum] = len(k.vals)
		k.vals = append(k.vals, knownSecret{s: s, until: until})
		if !until.IsZero() && (k.nextExpiry.IsZero() || until.Before(k.nextExpiry)) {
			k.nextExpiry = until
		}
	}
}

// forget drops the secrets that expired by now and rebuilds the index.
func (k *knownSecrets) forget(now time.Time) {
	k.vals = slices.DeleteFunc(k.vals, func(v knownSecret) bool { return !v.until.IsZero() && v.until.Before(now) })
	clear(k.index)
	k.nextExpiry = time.Time{}
	for i, v := range k.vals {
		k.index[k.mac(v.s.Reveal())] = i
		if !v.until.IsZero() && (k.nextExpiry.IsZero() || v.until.Before(k.nextExpiry)) {
			k.nextExpiry = v.until
		}
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
