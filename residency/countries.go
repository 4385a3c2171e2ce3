package residency

import (
	"math/bits"
	"strings"
)

// A country is held as its index in the 26×26 grid of two-letter codes, so a
// set of countries is a fixed-size bitset: set algebra is a few word
// operations and membership tests never allocate.
const gridSize = 26 * 26

type countrySet [(gridSize + 63) / 64]uint64

func (s *countrySet) add(i int)                 { s[i>>6] |= 1 << (i & 63) }
func (s countrySet) has(i int) bool             { return s[i>>6]&(1<<(i&63)) != 0 }
func (s countrySet) isEmpty() bool              { return s == countrySet{} }
func (s countrySet) subsetOf(o countrySet) bool { return s.minus(o).isEmpty() }

func (s countrySet) and(o countrySet) countrySet {
	for i := range s {
		s[i] &= o[i]
	}
	return s
}

func (s countrySet) or(o countrySet) countrySet {
	for i := range s {
		s[i] |= o[i]
	}
	return s
}

func (s countrySet) minus(o countrySet) countrySet {
	for i := range s {
		s[i] &^= o[i]
	}
	return s
}

func (s countrySet) len() int {
	n := 0
	for _, w := range s {
		n += bits.OnesCount64(w)
	}
	return n
}

// codes returns the members as upper-case codes in alphabetical order.
func (s countrySet) codes() []string {
	out := make([]string, 0, s.len())
	for i := range gridSize {
		if s.has(i) {
			out = append(out, countryCode(i))
		}
	}
	return out
}

func countryCode(i int) string {
	return string([]byte{byte('A' + i/26), byte('A' + i%26)})
}

// gridIndex maps a two-letter code, in either case, to its grid index. It
// does not check that the code is assigned.
func gridIndex(code string) (int, bool) {
	if len(code) != 2 {
		return 0, false
	}
	a, b := upperASCII(code[0]), upperASCII(code[1])
	if a < 'A' || a > 'Z' || b < 'A' || b > 'Z' {
		return 0, false
	}
	return int(a-'A')*26 + int(b-'A'), true
}

// countryIndex is gridIndex restricted to officially assigned codes.
func countryIndex(code string) (int, bool) {
	i, ok := gridIndex(code)
	if !ok || !tables.assigned.has(i) {
		return 0, false
	}
	return i, true
}

func upperASCII(b byte) byte {
	if 'a' <= b && b <= 'z' {
		return b - ('a' - 'A')
	}
	return b
}

// The code lists below are facts, written out so that a reader can check
// them against their sources.

// iso3166 lists the 249 officially assigned ISO 3166-1 alpha-2 codes.
// Exceptionally reserved codes (EU, UK, EL…) and user-assigned codes (XK…)
// are not countries here: "EU" names a jurisdiction, and "UK" is accepted in
// constraints as another spelling of GB.
const iso3166 = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ " +
	"BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ " +
	"CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ " +
	"DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR " +
	"GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY " +
	"HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP " +
	"KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY " +
	"MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ " +
	"NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY " +
	"QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ " +
	"TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ " +
	"VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW"

// euMembers lists the 27 member states of the European Union (Austria,
// Belgium, Bulgaria, Croatia, Cyprus, Czechia, Denmark, Estonia, Finland,
// France, Germany, Greece, Hungary, Ireland, Italy, Latvia, Lithuania,
// Luxembourg, Malta, Netherlands, Poland, Portugal, Romania, Slovakia,
// Slovenia, Spain, Sweden). Greece is GR, not the EU's own "EL".
const euMembers = "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE"

// eftaMembers lists the European Free Trade Association: Iceland,
// Liechtenstein, Norway and Switzerland.
const eftaMembers = "IS LI NO CH"

// eeaEFTAMembers are the EFTA states that are also in the European Economic
// Area (Switzerland is not): the EEA is the EU plus these three.
const eeaEFTAMembers = "IS LI NO"

// tables holds the sets derived from the lists above. It is computed once at
// package initialisation and never written afterwards.
var tables = buildTables()

type countryTables struct {
	assigned, eu, eea, efta, eudb countrySet
	gb, ch, us                    int
}

func buildTables() countryTables {
	var t countryTables
	t.assigned = setOf(iso3166)
	t.eu = setOf(euMembers)
	t.efta = setOf(eftaMembers)
	t.eea = t.eu.or(setOf(eeaEFTAMembers))
	// Microsoft defines the EU Data Boundary as the EU and EFTA countries;
	// the United Kingdom is not in it.
	t.eudb = t.eu.or(t.efta)
	t.gb, _ = gridIndex("GB")
	t.ch, _ = gridIndex("CH")
	t.us, _ = gridIndex("US")
	return t
}

func setOf(list string) countrySet {
	var s countrySet
	for _, c := range strings.Fields(list) {
		i, ok := gridIndex(c)
		if !ok {
			panic("residency: bad country code in table: " + c)
		}
		s.add(i)
	}
	return s
}

// Jurisdiction names a group of places that residency rules are written in.
// A country is always a place of its own as well (see Region.Country); the
// jurisdictions are the groups above countries plus the three single-country
// names that policies commonly use.
type Jurisdiction string

// The jurisdictions a region can be in.
const (
	// EU is the 27 member states of the European Union.
	EU Jurisdiction = "EU"
	// EEA is the European Economic Area: the EU plus Iceland, Liechtenstein
	// and Norway. Constraints write it "EU/EEA" in explanations.
	EEA Jurisdiction = "EEA"
	// EFTA is Iceland, Liechtenstein, Norway and Switzerland.
	EFTA Jurisdiction = "EFTA"
	// EUDB is Microsoft's EU Data Boundary: a commitment, made for Azure,
	// to store and process data within the EU and EFTA countries. It is a
	// property of a provider's region (Region.EUDataBoundary), not of a
	// country: a CoreWeave region in Spain is in the EU but not in the EUDB.
	EUDB Jurisdiction = "EUDB"
	// UK is the United Kingdom (country code GB).
	UK Jurisdiction = "UK"
	// CH is Switzerland.
	CH Jurisdiction = "CH"
	// US is the United States.
	US Jurisdiction = "US"
)

// jurisdictionOrder is the order in which Region.Jurisdictions lists them.
var jurisdictionOrder = [...]Jurisdiction{EU, EEA, EFTA, EUDB, UK, CH, US}

// Countries returns the ISO 3166-1 alpha-2 codes of the countries in j, in
// alphabetical order; nil for a name that is not a jurisdiction. For EUDB
// these are the countries where a region may be in the boundary; whether it
// is depends on its provider.
func (j Jurisdiction) Countries() []string {
	s, ok := jurisdictionSet(j)
	if !ok {
		return nil
	}
	return s.codes()
}

func jurisdictionSet(j Jurisdiction) (countrySet, bool) {
	var s countrySet
	switch j {
	case EU:
		return tables.eu, true
	case EEA:
		return tables.eea, true
	case EFTA:
		return tables.efta, true
	case EUDB:
		return tables.eudb, true
	case UK:
		s.add(tables.gb)
	case CH:
		s.add(tables.ch)
	case US:
		s.add(tables.us)
	default:
		return s, false
	}
	return s, true
}

// countryLabel is how explanations write a country: by its code, except that
// GB is written UK, the name policies use.
func countryLabel(i int) string {
	if i == tables.gb {
		return string(UK)
	}
	return countryCode(i)
}
