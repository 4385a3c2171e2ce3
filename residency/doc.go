// Package residency decides where data may live. It knows where cloud
// regions are, how sensitive data is, and where data of each sensitivity may
// be stored and processed; it answers "may this data go to that region?"
// with a yes, or with an error that says why not.
//
// It uses the standard library alone, imports nothing else of the project
// and does no I/O, so that any process — another team's service reading an
// artifact's metadata — can enforce the same decisions.
//
// # Regions
//
// A [Catalog] resolves a provider's spelling of a region to a [Region]: its
// canonical name, display name, country (ISO 3166-1 alpha-2), provider
// geography, CoreWeave super region and zones, and whether Azure commits to
// Microsoft's EU Data Boundary there. [DefaultCatalog] knows the 58 Azure
// public-cloud regions and the CoreWeave regions and zones; [Catalog.Add]
// adds private regions or corrects an entry. [Catalog.Lookup] takes the
// provider kind and the name as the provider spells it — "westeurope",
// "West Europe", "EU-SOUTH-03", "eu-south-03b" — and refuses names it does
// not know: an unknown region is never allowed anywhere.
//
// A region's country puts it in [Jurisdiction]s: EU, EEA, EFTA, UK, CH, US,
// and, for Azure regions in the EU and EFTA, EUDB. Geographies are not
// jurisdictions: CoreWeave's "EU" geo includes regions in the United Kingdom
// and Norway, and Azure's "Europe" geography spans Ireland and the
// Netherlands.
//
// # Constraints
//
// A [Constraint] is a set of places where data may be: jurisdictions,
// countries and named regions. [Constraint.Allows] and [Constraint.Check]
// test a region; [Constraint.Intersect] combines the constraints of every
// dataset upstream of a model, and may leave nowhere at all;
// [Constraint.Tighten] lets a dataset narrow its constraint but never widen
// it. The operations are exact whatever mix of place types they meet (see
// the table on [Constraint]).
//
// A constraint travels with the artifact it governs as text:
// [Constraint.Encode] (also MarshalText) writes a canonical, compact form of
// printable ASCII without spaces, such as "EEA,GB,CH", which fits blob
// metadata, Kubernetes annotations and Azure ML tags; [ParseConstraint]
// reads it back. [Constraint.String] is the form for people: "EU/EEA, UK,
// CH".
//
// # Classifications and rules
//
// A [Classification] — [Public], [Internal], [Confidential], [Restricted] —
// says how sensitive data is, and [Rules] map each to the constraint data of
// that class starts with. [DefaultRules] keep restricted data in the EU/EEA,
// let confidential data also go to the UK and Switzerland, and place
// internal and public data anywhere. Each [Rule] has a name, such as
// "restricted→EU/EEA", for the messages that cite it.
//
// # Errors
//
// Errors match a sentinel with errors.Is and say what to do about them:
//
//   - [ErrUnknownRegion]: Lookup, or a constraint's text, named a region the
//     catalog does not know. The message names the provider and the
//     spelling.
//   - [ErrNotAllowed]: Check found the region outside the constraint; the
//     error is a [*Violation] holding both, and its message says where the
//     region is and which places are allowed, or that the constraint allows
//     nowhere.
//   - [ErrLoosened]: Tighten was given a looser constraint; the error is a
//     [*LooseningError] listing the places that were added.
//   - [ErrInvalid]: text that does not parse, a region the catalog refuses,
//     an unclassified dataset, an incomplete or inconsistent rule set.
//
// # Concurrency
//
// Constraint, Classification, Region, Rule and Rules are values: copy and
// share them freely. A Catalog is safe for concurrent use, Add included.
// Reads never lock, and Lookup does not allocate: Add publishes a new index
// atomically (copy-on-write) and serialises with other Adds, and a read
// concurrent with an Add sees the catalog either before or after it.
//
// The package has no mutable package-level state: its tables are computed
// once and never written, and DefaultCatalog and DefaultRules return new
// values on every call.
//
// # Testing
//
// A lookup by a provider's spelling followed by a constraint check takes well
// under a microsecond and allocates nothing (BenchmarkLookupAndCheck).
// The tests check every entry of the project's region reference (the copy
// of its facts in internal/fixtures) against the built-in catalog.
package residency
