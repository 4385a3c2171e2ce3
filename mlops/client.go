package mlops

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/residency"

	"github.com/tideline-ml/tideline/internal/uuidtext"
)

// Providers names the providers a Client drives. The names are the client's
// own ("azure", "coreweave", "lab"); they appear in Locations, job ids,
// errors and audit records.
type Providers map[string]provider.Provider

// Principal is who acts: a user, a service or a pipeline identity.
//
// A principal enters a Client in two places, ClientOptions.Principal and
// WithPrincipal, and is normalised there, so that rules which compare
// principals (SeparateDuties, GPUQuota) see one spelling per person:
//
//   - white space around ID and Team is trimmed;
//   - an ID or Team that is not UTF-8, or that holds white space inside,
//     control characters, format characters (zero-width space and joiner,
//     byte order mark, bidirectional controls) or other invisible (Hangul
//     fillers, variation selectors, the blank Braille pattern) or
//     unassigned code points, is refused with InvalidArgument;
//   - an ID that contains '@' (an e-mail address or an Entra ID user
//     principal name) or that is a GUID (an Entra object id) is
//     case-folded, since those compare case-insensitively;
//     "Alice@Example.com" becomes "alice@example.com". Other IDs (service
//     and pipeline names) and teams keep their case.
//
// Look-alike letters of other scripts and Unicode canonical equivalents
// (a precomposed "é" against "e" and a combining accent) are not unified:
// IDs should be spelt as the identity provider issues them.
type Principal struct {
	// ID identifies the principal ("alice@example.com", an Entra object id).
	ID string
	// Team is the principal's team, for rules that count per team.
	Team string
}

// normalize applies the rules in Principal's doc comment.
func (p Principal) normalize() (Principal, error) {
	id, err := cleanIdentity("principal ID", p.ID)
	if err != nil {
		return Principal{}, err
	}
	if id == "" {
		return Principal{}, errorf(InvalidArgument, "principal ID %q is only white space; give the ID the identity provider issues (\"alice@example.com\", an Entra object id)", p.ID)
	}
	team, err := cleanIdentity("principal team", p.Team)
	if err != nil {
		return Principal{}, err
	}
	if foldsCase(id) {
		id = foldCase(id)
	}
	return Principal{ID: id, Team: team}, nil
}

// cleanIdentity trims s and refuses what would let one person pass for two.
func cleanIdentity(field, s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", errorf(InvalidArgument, "%s %q is not valid UTF-8", field, s)
	}
	t := strings.TrimSpace(s)
	for i, r := range t {
		if what := invisible(r); what != "" {
			return "", errorf(InvalidArgument, "%s %q contains %s (%U) at byte %d; principal IDs and teams may hold only visible characters, so that one person cannot pass for two", field, s, what, r, i+len(s)-len(strings.TrimLeftFunc(s, unicode.IsSpace)))
		}
	}
	return t, nil
}

// invisible describes r when it may not appear in a principal ID or team,
// and returns "" when it may.
func invisible(r rune) string {
	switch {
	case unicode.IsSpace(r):
		return "white space"
	case unicode.Is(unicode.Cc, r):
		return "a control character"
	case unicode.Is(unicode.Cf, r):
		return "an invisible format character"
	case unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r), unicode.Is(unicode.Variation_Selector, r), r == '\u2800':
		return "an invisible character"
	case !unicode.IsPrint(r):
		return "a non-printing character"
	}
	return ""
}

// foldsCase reports whether id compares case-insensitively: an e-mail
// address or user principal name, or a GUID.
func foldsCase(id string) bool {
	return strings.Contains(id, "@") || uuidtext.Valid(id)
}

// foldCase maps every letter to one form per case-insensitive class: the
// lower case of its upper case, so that 'K', 'k' and the Kelvin sign, or
// 'σ' and the final 'ς', meet.
func foldCase(s string) string {
	return strings.Map(func(r rune) rune { return unicode.ToLower(unicode.ToUpper(r)) }, s)
}

// samePrincipal reports whether two principal IDs name the same principal.
// Recorded IDs come from provider metadata that older clients or other
// tools may have written, so both are brought to the form normalize gives,
// with invisible characters dropped where normalize would refuse them: IDs
// that normalize would make one compare as one.
func samePrincipal(a, b string) bool {
	ka, kb := comparableID(a), comparableID(b)
	return ka != "" && ka == kb
}

func comparableID(id string) string {
	id = strings.ToValidUTF8(id, "\uFFFD")
	id = strings.Map(func(r rune) rune {
		if invisible(r) != "" {
			return -1
		}
		return r
	}, id)
	if foldsCase(id) {
		id = foldCase(id)
	}
	return id
}

func (p Principal) String() string {
	if p.Team == "" {
		return p.ID
	}
	return p.ID + " (" + p.Team + ")"
}

type principalKey struct{}

// WithPrincipal returns a context whose calls act as p, overriding the
// Client's default principal. A call on that context normalises p as
// Principal says and fails with InvalidArgument when p's ID or team is
// refused.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// Location says where something lives or runs: a provider, by the name the
// Client knows it under, and one of that provider's regions.
type Location struct {
	Provider string
	Region   string
}

func (l Location) String() string { return l.Region + " (" + l.Provider + ")" }

// ClientOptions configures a Client. The zero value is usable; nil means the
// zero value.
type ClientOptions struct {
	// Principal acts for calls whose context carries none (WithPrincipal).
	// A mutating call with no principal at all fails with InvalidArgument.
	Principal Principal

	// Policy decides every mutating call, after the residency rules. Nil
	// means DefaultPolicy(): approved models before traffic, separation of
	// duties, images pinned by digest. Permissive() relaxes it, on the
	// record.
	Policy *Policy

	// Catalog resolves the providers' regions to countries and
	// jurisdictions. Nil means residency.DefaultCatalog(): every Azure and
	// CoreWeave region. A region the catalog does not know is never allowed
	// to hold or process data.
	Catalog *residency.Catalog

	// Rules map classifications to where data may live. Nil means
	// residency.DefaultRules(): restricted data in the EU/EEA, confidential
	// data in the EU/EEA, the UK and Switzerland, the rest anywhere.
	Rules *residency.Rules

	// Hooks see every governed call before the provider is called and after
	// it returns, in order. The audit log and the lineage recorder are hooks.
	// A call on confidential or restricted data needs an AuditHook among
	// them (NewAuditHook; NewMemoryAuditHook in tests): without one it
	// fails with FailedPrecondition and nothing is done.
	Hooks []Hook

	// Retry bounds the retries of a provider call that failed with
	// Unavailable or ResourceExhausted. Zero values mean the defaults.
	Retry RetryOptions

	// PollInterval is the first delay between two reads of a job or
	// deployment when the provider offers no watch; it doubles up to
	// MaxPollInterval. Defaults 1 s and 30 s.
	PollInterval, MaxPollInterval time.Duration

	// NewID returns a fresh id for operations and idempotency tokens.
	// Default: 16 random hex digits. Tests inject a deterministic source.
	NewID func() string

	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// RetryOptions bounds retries of transient provider failures.
type RetryOptions struct {
	// MaxAttempts counts the first call; default 4. 1 disables retries.
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the delay; defaults 100 ms and 5 s.
	MinBackoff, MaxBackoff time.Duration
}

// Client is the one door through which a pipeline program reaches its
// providers. Every mutating call is validated, decided by the Policy, shown
// to the Hooks and only then passed to a provider.
//
// A Client is safe for concurrent use. It keeps no state of its own beyond
// its configuration, the GPUs of job submissions in flight (see GPUQuota),
// which auto-numbered creates are in flight, the secret values it handed
// to providers (so that it can redact them) and a cache of parsed residency
// constraints (a pure function of their stored text): everything it knows
// lives in the providers, so a second Client in another process over the
// same providers sees the same world.
type Client struct {
	providers Providers
	names     []string // sorted provider names
	opts      ClientOptions
	versions  versionLocks
	secrets   knownSecrets
	gpus      gpuLedger
	groups    groupCache // residency origins parsed, by their stored text
}

// NewClient returns a Client over the given providers.
func NewClient(providers Providers, opts *ClientOptions) (*Client, error) {
	if len(providers) == 0 {
		return nil, errorf(InvalidArgument, "providers is empty: give NewClient at least one provider, for example memprovider.New(nil)")
	}
	c := &Client{providers: make(Providers, len(providers)), gpus: newGPULedger()}
	for name, p := range providers {
		if p == nil {
			return nil, errorf(InvalidArgument, "provider %q is nil", name)
		}
		if err := provider.ValidateName("provider name", name); err != nil {
			return nil, err
		}
		if len(p.Regions()) == 0 {
			return nil, errorf(InvalidArgument, "provider %q (%s) reports no regions", name, p.Kind())
		}
		c.providers[name] = p
		c.names = append(c.names, name)
	}
	slices.Sort(c.names)
	if opts != nil {
		c.opts = *opts
		c.opts.Hooks = slices.Clone(opts.Hooks)
	}
	o := &c.opts
	if o.Principal.ID == "" && o.Principal.Team != "" {
		return nil, errorf(InvalidArgument, "principal has a team (%q) but no ID", o.Principal.Team)
	}
	if o.Principal.ID != "" {
		p, err := o.Principal.normalize()
		if err != nil {
			return nil, err
		}
		o.Principal = p
	}
	for i, h := range o.Hooks {
		if h == nil {
			return nil, errorf(InvalidArgument, "hook %d is nil", i)
		}
	}
	if o.Retry.MaxAttempts < 0 || o.Retry.MinBackoff < 0 || o.Retry.MaxBackoff < 0 {
		return nil, errorf(InvalidArgument, "retry options must not be negative: %+v", o.Retry)
	}
	if o.PollInterval < 0 || o.MaxPollInterval < 0 {
		return nil, errorf(InvalidArgument, "poll intervals must not be negative")
	}
	if o.Retry.MaxAttempts == 0 {
		o.Retry.MaxAttempts = 4
	}
	if o.Retry.MinBackoff == 0 {
		o.Retry.MinBackoff = 100 * time.Millisecond
	}
	if o.Retry.MaxBackoff == 0 {
		o.Retry.MaxBackoff = 5 * time.Second
	}
	if o.PollInterval == 0 {
		o.PollInterval = time.Second
	}
	if o.MaxPollInterval == 0 {
		o.MaxPollInterval = 30 * time.Second
	}
	if o.MaxPollInterval < o.PollInterval {
		o.MaxPollInterval = o.PollInterval
	}
	if o.NewID == nil {
		o.NewID = randomID
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Policy == nil {
		o.Policy = DefaultPolicy()
	}
	if o.Catalog == nil {
		o.Catalog = residency.DefaultCatalog()
	}
	if o.Rules == nil {
		rules := residency.DefaultRules()
		o.Rules = &rules
	}
	for _, cl := range []residency.Classification{residency.Public, residency.Internal, residency.Confidential, residency.Restricted} {
		if _, err := o.Rules.For(cl); err != nil {
			return nil, errorf(InvalidArgument, "residency rules have no rule for %s: build them with residency.NewRules or start from residency.DefaultRules", cl)
		}
	}
	return c, nil
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// ProviderNames returns the names of the Client's providers, sorted.
func (c *Client) ProviderNames() []string { return slices.Clone(c.names) }

// Provider returns the named provider, for capabilities and escape hatches
// the portable API does not cover.
func (c *Client) Provider(name string) (provider.Provider, bool) {
	p, ok := c.providers[name]
	return p, ok
}

// principal returns the acting principal, or an error when there is none.
func (c *Client) principal(ctx context.Context) (Principal, error) {
	if p, ok := ctx.Value(principalKey{}).(Principal); ok && p.ID != "" {
		return p.normalize()
	}
	if c.opts.Principal.ID != "" {
		return c.opts.Principal, nil
	}
	return Principal{}, errorf(InvalidArgument, "no principal: set ClientOptions.Principal or use mlops.WithPrincipal(ctx, ...) so that the call can be attributed")
}

// capable finds the providers offering a capability, via the type assertion
// in has.
func (c *Client) capable(has func(provider.Provider) bool) []string {
	var out []string
	for _, n := range c.names {
		if has(c.providers[n]) {
			out = append(out, n)
		}
	}
	return out
}

// resolveLocation fills in a Location's defaults and checks it: the
// provider must exist and offer the capability, and the region must be one
// of its regions.
func (c *Client) resolveLocation(field string, loc Location, capName provider.Capability, has func(provider.Provider) bool) (Location, error) {
	name, err := c.resolveProvider(field+".Provider", loc.Provider, capName, has)
	if err != nil {
		return loc, err
	}
	loc.Provider = name
	regions := c.providers[name].Regions()
	if loc.Region == "" {
		if len(regions) != 1 {
			return loc, errorf(InvalidArgument, "%s.Region is empty and provider %q acts in %d regions (%s); name one", field, name, len(regions), regionNames(regions))
		}
		loc.Region = regions[0].Name
	}
	if _, ok := provider.HasRegion(c.providers[name], loc.Region); !ok {
		return loc, errorf(InvalidArgument, "%s.Region %q is not a region of provider %q; it acts in %s", field, loc.Region, name, regionNames(regions))
	}
	return loc, nil
}

// resolveProvider picks the provider for a capability: the named one, which
// must offer it, or the only one that does.
func (c *Client) resolveProvider(field, name string, capName provider.Capability, has func(provider.Provider) bool) (string, error) {
	if name == "" {
		offering := c.capable(has)
		switch len(offering) {
		case 0:
			return "", errorf(Unimplemented, "no provider of this client offers %s; add one that does", capName)
		case 1:
			return offering[0], nil
		default:
			return "", errorf(InvalidArgument, "%s is empty and several providers offer %s (%s); name one", field, capName, strings.Join(offering, ", "))
		}
	}
	p, ok := c.providers[name]
	if !ok {
		return "", errorf(InvalidArgument, "%s %q is not a provider of this client (%s)", field, name, strings.Join(c.names, ", "))
	}
	if !has(p) {
		return "", errorf(Unimplemented, "provider %q (%s) does not offer %s", name, p.Kind(), capName)
	}
	return name, nil
}

func regionNames(rs []provider.Region) string {
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = r.Name
	}
	return strings.Join(names, ", ")
}

func hasDataStore(p provider.Provider) bool { _, ok := p.(provider.DataStore); return ok }
func hasTrainer(p provider.Provider) bool   { _, ok := p.(provider.Trainer); return ok }
func hasRegistry(p provider.Provider) bool  { _, ok := p.(provider.Registry); return ok }
func hasServing(p provider.Provider) bool   { _, ok := p.(provider.Serving); return ok }

func (c *Client) dataStore(name string) (provider.DataStore, error) {
	ds, ok := c.providers[name].(provider.DataStore)
	if !ok {
		return nil, errorf(Unimplemented, "provider %q does not store datasets", name)
	}
	return ds, nil
}

func (c *Client) trainer(name string) (provider.Trainer, error) {
	t, ok := c.providers[name].(provider.Trainer)
	if !ok {
		return nil, errorf(Unimplemented, "provider %q does not run training jobs", name)
	}
	return t, nil
}

func (c *Client) registry(name string) (provider.Registry, error) {
	r, ok := c.providers[name].(provider.Registry)
	if !ok {
		return nil, errorf(Unimplemented, "provider %q has no model registry", name)
	}
	return r, nil
}

func (c *Client) serving(name string) (provider.Serving, error) {
	s, ok := c.providers[name].(provider.Serving)
	if !ok {
		return nil, errorf(Unimplemented, "provider %q does not serve models", name)
	}
	return s, nil
}

// cloudOf returns the region catalog of a location's region.
func (c *Client) cloudOf(loc Location) string {
	if p, ok := c.providers[loc.Provider]; ok {
		if r, ok := provider.HasRegion(p, loc.Region); ok {
			return r.Cloud
		}
	}
	return ""
}

// fmtTarget formats a target for messages and audit records.
func fmtTarget(kind, name string, version ...string) string {
	if len(version) > 0 && version[0] != "" {
		return fmt.Sprintf("%s %s@%s", kind, name, version[0])
	}
	return kind + " " + name
}
