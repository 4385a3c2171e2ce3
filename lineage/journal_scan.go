package lineage

import (
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// The journal scanner decodes one journal line without reflection. A line
// has one of a few fixed shapes (the header, node, edge and retire records
// that encodeRecord writes), but the file is input like any other, so the
// scanner accepts exactly what encoding/json would accept when decoding the
// line into a journalRecord, and decodes it to the same values: field names
// match case-insensitively (with Unicode simple folding), unknown fields are
// skipped after being checked for syntax, later duplicates win, null leaves
// a field as it was (and clears the node, edge or attrs), invalid UTF-8 and
// lone surrogates in strings become U+FFFD, nesting beyond 10000 levels is
// refused, and a value of the wrong JSON type fails the line. A
// differential fuzz test (FuzzScanRecordMatchesJSON) holds it to that.
//
// Strings are returned as slices of the line, or of a fresh buffer when they
// held escapes or invalid UTF-8, so scanning a plain line allocates nothing.

// scanRecord is a decoded journal line.
type scanRecord struct {
	format, op, id []byte
	version        int
	hasNode        bool
	node           scanNode
	hasEdge        bool
	edge           scanEdge
}

// scanNode is a decoded node. attrs holds key, value pairs in the order the
// line gave them, duplicates included (the last one wins); hasAttrs
// distinguishes an empty attrs object from none.
type scanNode struct {
	kind     Kind
	id       []byte
	attrs    [][]byte
	hasAttrs bool
	live     bool
}

type scanEdge struct {
	from, to []byte
	kind     EdgeKind
}

// maxScanDepth is encoding/json's limit on nesting, which the scanner keeps
// so that both refuse the same lines.
const maxScanDepth = 10000

// errScan is what the scanner reports for a line encoding/json would refuse;
// the message says where and why.
type scanError struct {
	off int
	msg string
}

func (e *scanError) Error() string { return fmt.Sprintf("%s at byte %d", e.msg, e.off+1) }

// scanner holds the line being decoded. attrs is reused between lines.
type scanner struct {
	b   []byte
	pos int
}

func (s *scanner) fail(msg string) error { return &scanError{off: s.pos, msg: msg} }

// scanLine decodes line into rec, which it resets first (keeping the
// capacity of rec.node.attrs).
func scanLine(line []byte, rec *scanRecord) error {
	attrs := rec.node.attrs[:0]
	*rec = scanRecord{}
	rec.node.attrs = attrs
	s := scanner{b: line}
	s.ws()
	if s.pos == len(s.b) {
		return s.fail("empty line")
	}
	switch s.b[s.pos] {
	case '{':
		if err := s.record(rec); err != nil {
			return err
		}
	case 'n':
		// encoding/json decodes a top-level null into a struct as nothing.
		if err := s.literal("null"); err != nil {
			return err
		}
	default:
		// Any other value is valid JSON of the wrong type, or invalid.
		if err := s.skipValue(0); err != nil {
			return err
		}
		s.ws()
		if s.pos != len(s.b) {
			return s.fail("data after the value")
		}
		return s.fail("a record must be a JSON object")
	}
	s.ws()
	if s.pos != len(s.b) {
		return s.fail("data after the record")
	}
	return nil
}

func (s *scanner) ws() {
	if s.pos < len(s.b) && s.b[s.pos] > ' ' {
		return
	}
	for s.pos < len(s.b) {
		switch s.b[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// object walks an object at s.pos (depth counts it), calling field with
// each unquoted key; field must consume the value.
func (s *scanner) object(depth int, field func(key []byte, depth int) error) error {
	if depth > maxScanDepth {
		return s.fail("nesting too deep")
	}
	s.pos++ // '{'
	s.ws()
	if s.pos < len(s.b) && s.b[s.pos] == '}' {
		s.pos++
		return nil
	}
	for {
		if s.pos >= len(s.b) || s.b[s.pos] != '"' {
			return s.fail("expected a quoted field name")
		}
		key, err := s.str()
		if err != nil {
			return err
		}
		s.ws()
		if s.pos >= len(s.b) || s.b[s.pos] != ':' {
			return s.fail("expected ':' after a field name")
		}
		s.pos++
		s.ws()
		if s.pos >= len(s.b) {
			return s.fail("unexpected end of line")
		}
		if err := field(key, depth); err != nil {
			return err
		}
		s.ws()
		if s.pos >= len(s.b) {
			return s.fail("unexpected end of line")
		}
		switch s.b[s.pos] {
		case ',':
			s.pos++
			s.ws()
		case '}':
			s.pos++
			return nil
		default:
			return s.fail("expected ',' or '}' after a field")
		}
	}
}

func (s *scanner) record(rec *scanRecord) error {
	return s.object(1, func(key []byte, depth int) error {
		switch {
		case string(key) == "op" || foldEq(key, "op"):
			return s.strField(&rec.op)
		case foldEq(key, "format"):
			return s.strField(&rec.format)
		case foldEq(key, "version"):
			return s.intField(&rec.version)
		case foldEq(key, "id"):
			return s.strField(&rec.id)
		case foldEq(key, "node"):
			if s.b[s.pos] == 'n' {
				rec.hasNode = false
				return s.literal("null")
			}
			if s.b[s.pos] != '{' {
				return s.wrongType(depth)
			}
			if !rec.hasNode {
				attrs := rec.node.attrs[:0]
				rec.node = scanNode{attrs: attrs}
				rec.hasNode = true
			}
			return s.node(&rec.node, depth+1)
		case foldEq(key, "edge"):
			if s.b[s.pos] == 'n' {
				rec.hasEdge = false
				return s.literal("null")
			}
			if s.b[s.pos] != '{' {
				return s.wrongType(depth)
			}
			if !rec.hasEdge {
				rec.edge = scanEdge{}
				rec.hasEdge = true
			}
			return s.edgeObj(&rec.edge, depth+1)
		}
		return s.skipValue(depth)
	})
}

func (s *scanner) node(n *scanNode, depth int) error {
	return s.object(depth, func(key []byte, depth int) error {
		switch {
		case foldEq(key, "kind"):
			return s.textField(func(b []byte) error { return n.kind.UnmarshalText(b) })
		case foldEq(key, "id"):
			return s.strField(&n.id)
		case foldEq(key, "live"):
			return s.boolField(&n.live)
		case foldEq(key, "attrs"):
			if s.b[s.pos] == 'n' {
				n.hasAttrs = false
				n.attrs = n.attrs[:0]
				return s.literal("null")
			}
			if s.b[s.pos] != '{' {
				return s.wrongType(depth)
			}
			n.hasAttrs = true
			return s.object(depth+1, func(key []byte, depth int) error {
				var v []byte
				// A null value stores the empty string, as encoding/json
				// does for a map element.
				if err := s.strField(&v); err != nil {
					return err
				}
				n.attrs = append(n.attrs, key, v)
				return nil
			})
		}
		return s.skipValue(depth)
	})
}

func (s *scanner) edgeObj(e *scanEdge, depth int) error {
	return s.object(depth, func(key []byte, depth int) error {
		switch {
		case foldEq(key, "from"):
			return s.strField(&e.from)
		case foldEq(key, "to"):
			return s.strField(&e.to)
		case foldEq(key, "kind"):
			return s.textField(func(b []byte) error { return e.kind.UnmarshalText(b) })
		}
		return s.skipValue(depth)
	})
}

// wrongType skips a value of a type the field cannot hold and reports it.
func (s *scanner) wrongType(depth int) error {
	at := s.pos
	if err := s.skipValue(depth); err != nil {
		return err
	}
	return &scanError{off: at, msg: "value of the wrong type"}
}

// strField reads a string into *dst; null leaves *dst as it was.
func (s *scanner) strField(dst *[]byte) error {
	switch s.b[s.pos] {
	case '"':
		v, err := s.str()
		if err != nil {
			return err
		}
		*dst = v
		return nil
	case 'n':
		return s.literal("null")
	}
	return s.wrongType(0)
}

func (s *scanner) textField(set func([]byte) error) error {
	switch s.b[s.pos] {
	case '"':
		v, err := s.str()
		if err != nil {
			return err
		}
		return set(v)
	case 'n':
		return s.literal("null")
	}
	return s.wrongType(0)
}

func (s *scanner) boolField(dst *bool) error {
	switch s.b[s.pos] {
	case 't':
		*dst = true
		return s.literal("true")
	case 'f':
		*dst = false
		return s.literal("false")
	case 'n':
		return s.literal("null")
	}
	return s.wrongType(0)
}

func (s *scanner) intField(dst *int) error {
	switch c := s.b[s.pos]; {
	case c == 'n':
		return s.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		start := s.pos
		if err := s.number(); err != nil {
			return err
		}
		v, err := strconv.ParseInt(string(s.b[start:s.pos]), 10, strconv.IntSize)
		if err != nil {
			return &scanError{off: start, msg: "not a whole number in range"}
		}
		*dst = int(v)
		return nil
	}
	return s.wrongType(0)
}

func (s *scanner) literal(lit string) error {
	if len(s.b)-s.pos < len(lit) || string(s.b[s.pos:s.pos+len(lit)]) != lit {
		return s.fail("invalid literal")
	}
	s.pos += len(lit)
	return nil
}

// number checks a JSON number at s.pos and moves past it.
func (s *scanner) number() error {
	b, i := s.b, s.pos
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		s.pos = i
		return s.fail("invalid number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			s.pos = i
			return s.fail("invalid number")
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			s.pos = i
			return s.fail("invalid number")
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	s.pos = i
	return nil
}

// skipValue checks any JSON value at s.pos and moves past it; depth is the
// nesting of the value's container.
func (s *scanner) skipValue(depth int) error {
	if s.pos >= len(s.b) {
		return s.fail("unexpected end of line")
	}
	switch c := s.b[s.pos]; {
	case c == '{':
		return s.object(depth+1, func(_ []byte, depth int) error { return s.skipValue(depth) })
	case c == '[':
		if depth+1 > maxScanDepth {
			return s.fail("nesting too deep")
		}
		s.pos++
		s.ws()
		if s.pos < len(s.b) && s.b[s.pos] == ']' {
			s.pos++
			return nil
		}
		for {
			if err := s.skipValue(depth + 1); err != nil {
				return err
			}
			s.ws()
			if s.pos >= len(s.b) {
				return s.fail("unexpected end of line")
			}
			switch s.b[s.pos] {
			case ',':
				s.pos++
				s.ws()
			case ']':
				s.pos++
				return nil
			default:
				return s.fail("expected ',' or ']' in an array")
			}
		}
	case c == '"':
		_, err := s.str()
		return err
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	}
	return s.fail("invalid character")
}

// str reads the string at s.pos and returns its value: a slice of the line
// when it needs no unescaping, a new buffer otherwise.
func (s *scanner) str() ([]byte, error) {
	start := s.pos + 1
	plain := true
	i := start
	for i < len(s.b) && plainByte[s.b[i]] {
		i++
	}
	for {
		if i >= len(s.b) {
			s.pos = i
			return nil, s.fail("unterminated string")
		}
		c := s.b[i]
		switch {
		case c == '"':
			s.pos = i + 1
			if plain {
				return s.b[start:i], nil
			}
			return unescape(s.b[start:i]), nil
		case c < ' ':
			s.pos = i
			return nil, s.fail("control character in a string")
		case c == '\\':
			plain = false
			if i+1 >= len(s.b) {
				s.pos = i
				return nil, s.fail("unterminated string")
			}
			switch s.b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(s.b) || !isHex4(s.b[i+2:i+6]) {
					s.pos = i
					return nil, s.fail("invalid \\u escape")
				}
				i += 6
			default:
				s.pos = i
				return nil, s.fail("invalid escape")
			}
		case c < utf8.RuneSelf:
			i++
		default:
			r, n := utf8.DecodeRune(s.b[i:])
			if r == utf8.RuneError && n == 1 {
				plain = false // replaced by U+FFFD
			}
			i += n
		}
	}
}

// plainByte marks the bytes a string holds as they are: printable ASCII
// other than the quotation mark and the backslash.
var plainByte = func() (t [256]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex4(b []byte) bool {
	for _, c := range b[:4] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// unescape decodes the body of a string str has checked: escapes resolved,
// surrogate pairs joined, and lone surrogates and invalid UTF-8 replaced by
// U+FFFD, as encoding/json does.
func unescape(b []byte) []byte {
	out := make([]byte, 0, len(b)+8)
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '\\':
			switch b[i+1] {
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r := hex4(b[i+2:])
				i += 6
				if utf16.IsSurrogate(r) {
					if i+6 <= len(b) && b[i] == '\\' && b[i+1] == 'u' {
						if dec := utf16.DecodeRune(r, hex4(b[i+2:])); dec != unicode.ReplacementChar {
							out = utf8.AppendRune(out, dec)
							i += 6
							continue
						}
					}
					r = unicode.ReplacementChar
				}
				out = utf8.AppendRune(out, r)
				continue
			default: // '"', '\\', '/'
				out = append(out, b[i+1])
			}
			i += 2
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, n := utf8.DecodeRune(b[i:])
			out = utf8.AppendRune(out, r) // RuneError for an invalid byte
			i += n
		}
	}
	return out
}

// foldEq reports whether key names the field name (lower-case ASCII) as
// encoding/json matches names: ASCII letters in either case, and any rune
// whose simple case folding leads to the name's letter (such as the Kelvin
// sign for k).
func foldEq(key []byte, name string) bool {
	if string(key) == name {
		return true
	}
	j := 0
	for i := 0; i < len(key); {
		if j >= len(name) {
			return false
		}
		want := rune(name[j]) - ('a' - 'A') // name is lower-case ASCII
		if name[j] < 'a' || name[j] > 'z' {
			want = rune(name[j])
		}
		c := key[i]
		var r rune
		if c < utf8.RuneSelf {
			r = rune(c)
			if c >= 'a' && c <= 'z' {
				r -= 'a' - 'A'
			}
			i++
		} else {
			var n int
			r, n = utf8.DecodeRune(key[i:])
			r = foldRune(r)
			i += n
		}
		if r != want {
			return false
		}
		j++
	}
	return j == len(name)
}

// foldRune returns the smallest rune of r's case-folding orbit.
func foldRune(r rune) rune {
	smallest := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		smallest = min(smallest, f)
	}
	return smallest
}
