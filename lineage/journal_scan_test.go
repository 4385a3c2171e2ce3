package lineage

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// asJournalRecord converts a scanned record to the type encoding/json
// decodes a line into, so the two can be compared.
func asJournalRecord(rec *scanRecord) journalRecord {
	jr := journalRecord{Format: string(rec.format), Version: rec.version, Op: string(rec.op), ID: string(rec.id)}
	if rec.hasNode {
		n := &Node{Kind: rec.node.kind, ID: string(rec.node.id), Live: rec.node.live}
		if rec.node.hasAttrs {
			n.Attrs = make(map[string]string)
			for j := 0; j < len(rec.node.attrs); j += 2 {
				n.Attrs[string(rec.node.attrs[j])] = string(rec.node.attrs[j+1])
			}
		}
		jr.Node = n
	}
	if rec.hasEdge {
		jr.Edge = &Edge{From: string(rec.edge.from), To: string(rec.edge.to), Kind: rec.edge.kind}
	}
	return jr
}

// checkScanMatchesJSON fails t unless scanLine and encoding/json agree on
// whether line is a record and, when it is, on its values.
func checkScanMatchesJSON(t *testing.T, line []byte) {
	t.Helper()
	var want journalRecord
	jerr := json.Unmarshal(line, &want)
	var rec scanRecord
	serr := scanLine(line, &rec)
	if (jerr == nil) != (serr == nil) {
		t.Fatalf("line %q: encoding/json says %v, the scanner %v", line, jerr, serr)
	}
	if jerr != nil {
		return
	}
	if got := asJournalRecord(&rec); !reflect.DeepEqual(got, want) {
		t.Fatalf("line %q:\nscanner       %+v (node %+v, edge %+v)\nencoding/json %+v (node %+v, edge %+v)",
			line, got, got.Node, got.Edge, want, want.Node, want.Edge)
	}
}

// scanCases are lines where a hand-written decoder could part from
// encoding/json; each is also a fuzz seed.
var scanCases = []string{
	`{"format":"tideline-lineage-journal","version":1}`,
	`{"op":"node","node":{"kind":"dataset","id":"dataset:a@1","attrs":{"digest":"sha256:1","region":"westeurope"}}}`,
	`{"op":"edge","edge":{"from":"dataset:a@1","to":"job:j","kind":"consumed"}}`,
	`{"op":"node","node":{"kind":"deployment","id":"deployment:d","live":true}}`,
	`{"op":"retire","id":"deployment:d"}`,
	` { "op" : "retire" , "id" : "deployment:d" } `,
	`null`, `nul`, `"op"`, `1`, `[]`, `true`, `{}`, `{`, `{"op":}`, `{"op":"node",}`, `{"op" "node"}`,
	`{"op":"node"}{}`, `{"op":"node"} x`,
	// Field names match without regard to case, Unicode folding included.
	`{"OP":"retire","Id":"deployment:d"}`,
	`{"op":"node","node":{"\u212aind":"job","id":"job:k"}}`,
	"{\"op\":\"node\",\"node\":{\"\u212aind\":\"job\",\"id\":\"job:k\"}}",
	`{"ver\u017fion":1,"format":"tideline-lineage-journal"}`,
	`{"op":"node","node":{"kind":"job","ID":"job:a","Id":"job:b"}}`,
	// Escapes, surrogates and invalid UTF-8.
	`{"op":"retire","id":"deployment:\u00e9\ud83d\ude00\/\"\\\b\f\n\r\t"}`,
	`{"op":"retire","id":"deployment:\ud800"}`,
	`{"op":"retire","id":"deployment:\ud800\u0041"}`,
	`{"op":"retire","id":"deployment:\udc00\ud800"}`,
	`{"op":"retire","id":"deployment:\ud83d\ude0"}`,
	"{\"op\":\"retire\",\"id\":\"deployment:\xff\xfe\"}",
	"{\"op\":\"retire\",\"id\":\"deployment:\xed\xa0\x80\"}",
	"{\"op\":\"retire\",\"id\":\"a\tb\"}",
	`{"op":"retire","id":"\x"}`, `{"op":"retire","id":"\u12"}`, `{"op":"retire","id":"abc`,
	// null, duplicates and merging.
	`{"op":"retire","id":"deployment:d","id":null}`,
	`{"op":"node","node":{"kind":"job","id":"job:a"},"node":{"live":true}}`,
	`{"op":"node","node":{"kind":"job","id":"job:a"},"node":null}`,
	`{"op":"node","node":null,"node":{"id":"job:a"}}`,
	`{"op":"node","node":{"kind":"dataset","attrs":{"a":"1","a":"2"},"attrs":{"b":"3"}}}`,
	`{"op":"node","node":{"attrs":{"a":"1"},"attrs":null,"attrs":{}}}`,
	`{"op":"node","node":{"attrs":{"a":null}}}`,
	`{"op":"node","node":{"kind":null,"live":null,"id":null,"attrs":null}}`,
	`{"op":"node","node":{"kind":"job","kind":null}}`,
	`{"op":"edge","edge":{"from":"a"},"edge":{"to":"b","kind":"derived"}}`,
	// Wrong types.
	`{"version":"1"}`, `{"version":1.5}`, `{"version":1e2}`, `{"version":-0}`, `{"version":9223372036854775807}`,
	`{"version":9223372036854775808}`, `{"version":01}`, `{"version":-}`, `{"version":1.}`, `{"version":1e}`,
	`{"op":1}`, `{"op":true}`, `{"op":{}}`, `{"op":[]}`, `{"node":"x"}`, `{"node":[]}`, `{"node":1}`, `{"node":true}`,
	`{"op":"node","node":{"kind":"pipeline"}}`, `{"op":"node","node":{"kind":""}}`, `{"op":"node","node":{"kind":1}}`,
	`{"op":"node","node":{"kind":"Job"}}`, `{"op":"node","node":{"live":"true"}}`, `{"op":"node","node":{"live":1}}`,
	`{"op":"node","node":{"attrs":{"a":1}}}`, `{"op":"node","node":{"attrs":[]}}`, `{"op":"node","node":{"attrs":"x"}}`,
	`{"op":"edge","edge":{"kind":"produces"}}`, `{"op":"edge","edge":{"kind":null}}`, `{"edge":[1]}`,
	// Unknown fields of every shape are checked and skipped.
	`{"x":[1,-2.5e+3,"s",true,false,null,{"y":[]},[]],"op":"retire","id":"deployment:d"}`,
	`{"x":[1,]}`, `{"x":[1 2]}`, `{"x":{"a" 1}}`, `{"x":tru}`, `{"x":+1}`, `{"x":.5}`, `{"x":0x1}`, `{"x":"\u00zz"}`,
	`{"node":{"x":{"y":{"z":[[[]]]}},"kind":"job"}}`,
}

func TestScanLineMatchesJSON(t *testing.T) {
	for _, line := range scanCases {
		checkScanMatchesJSON(t, []byte(line))
	}
	// encoding/json refuses nesting deeper than 10000 levels.
	for _, depth := range []int{9999, 10000, 10001} {
		for _, open := range []string{"[", `{"a":`} {
			inner := depth - 1 // the record itself is one level
			closer := "]"
			if open != "[" {
				closer = "}"
			}
			line := `{"x":` + strings.Repeat(open, inner) + "1" + strings.Repeat(closer, inner) + "}"
			checkScanMatchesJSON(t, []byte(line))
		}
	}
}

// FuzzScanRecordMatchesJSON is the differential test of the journal
// scanner: on any input it must accept what encoding/json accepts when
// decoding into a journalRecord, refuse what it refuses, and decode the
// same values. It must never panic.
func FuzzScanRecordMatchesJSON(f *testing.F) {
	for _, line := range scanCases {
		f.Add([]byte(line))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		checkScanMatchesJSON(t, line)
	})
}

// FuzzAppendRecordMatchesJSON: the journal writer writes exactly the bytes
// json.Marshal wrote for the same record before it, so journals do not
// depend on which version wrote them, and the scanner reads them back.
func FuzzAppendRecordMatchesJSON(f *testing.F) {
	f.Add(uint8(1), "dataset:a@1", "digest", "sha256:1", "b", "x", false, "job:j")
	f.Add(uint8(4), "deployment:<b>&\u2028\u2029", "k\"\\", "\x00\x1f\x7f\t\n", "k", "\xff\xfe", true, "model:m@1")
	f.Fuzz(func(t *testing.T, kind uint8, id, k1, v1, k2, v2 string, live bool, other string) {
		kind = kind%4 + 1
		var attrs map[string]string
		if k1 != "" || k2 != "" {
			attrs = map[string]string{k1: v1, k2: v2}
		}
		n := Node{Kind: Kind(kind), ID: id, Attrs: attrs, Live: live}
		e := Edge{From: id, To: other, Kind: EdgeKind(kind)}
		cases := []struct {
			op  batchOp
			rec journalRecord
		}{
			{batchOp{kind: opNode, node: specOf(n)}, journalRecord{Op: "node", Node: &n}},
			{batchOp{kind: opEdge, from: e.From, to: e.To, edgeKind: e.Kind}, journalRecord{Op: "edge", Edge: &e}},
			{batchOp{kind: opRetire, id: id}, journalRecord{Op: "retire", ID: id}},
		}
		for _, c := range cases {
			if c.op.kind == opRetire && id == "" {
				continue // never written: a retirement names a recorded deployment
			}
			want, err := json.Marshal(c.rec)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, '\n')
			if got := appendRecord(nil, &c.op); string(got) != string(want) {
				t.Fatalf("appendRecord wrote\n%s\nencoding/json writes\n%s", got, want)
			}
			var rec scanRecord
			if err := scanLine(want[:len(want)-1], &rec); err != nil {
				t.Fatalf("the scanner refuses a written line: %v\n%s", err, want)
			}
		}
	})
}
