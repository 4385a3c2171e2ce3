package lineage

import "unicode/utf8"

// appendRecord appends op's journal line, newline included. The bytes are
// those json.Marshal gives for the matching journalRecord (field order,
// sorted attribute keys, escaping), so that journals read the same whoever
// wrote them; FuzzAppendRecordMatchesJSON holds it to that. op has been
// checked, so its kinds are valid.
func appendRecord(b []byte, op *batchOp) []byte {
	switch op.kind {
	case opNode:
		n := &op.node
		b = append(b, `{"op":"node","node":{"kind":"`...)
		b = append(b, kindNames[n.kind]...)
		b = append(b, `","id":`...)
		b = appendJSONString(b, n.id)
		if len(n.attrs) > 0 {
			b = append(b, `,"attrs":{`...)
			for j := 0; j < len(n.attrs); j += 2 {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendJSONString(b, n.attrs[j])
				b = append(b, ':')
				b = appendJSONString(b, n.attrs[j+1])
			}
			b = append(b, '}')
		}
		if n.live {
			b = append(b, `,"live":true`...)
		}
		b = append(b, "}}\n"...)
	case opEdge:
		b = append(b, `{"op":"edge","edge":{"from":`...)
		b = appendJSONString(b, op.from)
		b = append(b, `,"to":`...)
		b = appendJSONString(b, op.to)
		b = append(b, `,"kind":"`...)
		b = append(b, edgeKindNames[op.edgeKind]...)
		b = append(b, "\"}}\n"...)
	case opRetire:
		b = append(b, `{"op":"retire","id":`...)
		b = appendJSONString(b, op.id)
		b = append(b, "}\n"...)
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s quoted as encoding/json quotes it by default:
// quotation mark, backslash and control characters escaped, <, > and &
// escaped for HTML, invalid UTF-8 as \ufffd, U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= ' ' && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
