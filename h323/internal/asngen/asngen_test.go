package main

import (
	"strings"
	"testing"

	"github.com/roomgate/roomgate/h323/per"
)

const sample = `
Demo DEFINITIONS AUTOMATIC TAGS ::=
BEGIN
IMPORTS Other FROM Elsewhere;
Digits ::= IA5String (SIZE (1..128)) (FROM ("0123456789#*,")) -- comment -- 
Msg ::= SEQUENCE   -- a message
{
	seq     INTEGER (1..65535),
	name    BMPString (SIZE(1..256)) OPTIONAL,
	kind    ENUMERATED { a, b (1), ..., c },
	list    SEQUENCE SIZE (0..4) OF Digits,
	more    SEQUENCE (SIZE (1..8, ...)) OF INTEGER (0..255, ...),
	...,
	sig     IA5String (SIZE (1) ^ FROM ("0123456789#*ABCD!")),
	wrapped Wrap { Digits }
}
Wrap { T } ::= SEQUENCE { inner T, any TYPE-IDENTIFIER.&Type (Digits) }
Big ::= INTEGER (1..MAX)
END
`

func TestParseAndBuild(t *testing.T) {
	m, err := parseModule(sample)
	if err != nil {
		t.Fatal(err)
	}
	b := newBuilder([]*module{m})
	msg, err := b.namedType(&scope{mod: m}, &node{kind: "REF", ref: "Msg"})
	if err != nil {
		t.Fatal(err)
	}
	if msg.Kind != per.KindSequence || !msg.Ext || msg.Root != 5 || len(msg.Fields) != 7 {
		t.Fatalf("Msg = %+v", msg)
	}
	f := func(name string) *per.Type { return msg.Fields[msg.FieldIndex(name)].Type }
	if s := f("seq"); s.Lb != 1 || s.Ub != 65535 || !s.HasUb {
		t.Errorf("seq = %+v", s)
	}
	if !msg.Fields[1].Optional || f("name").Str != per.BMPString || f("name").Ub != 256 {
		t.Errorf("name = %+v", msg.Fields[1])
	}
	if k := f("kind"); k.Root != 2 || !k.Ext || strings.Join(k.Names, ",") != "a,b,c" {
		t.Errorf("kind = %+v", k)
	}
	if l := f("list"); l.Kind != per.KindSequenceOf || l.Ub != 4 || l.Elem.Alphabet != "#*,0123456789" || l.Elem.Name != "Digits" {
		t.Errorf("list = %+v", l)
	}
	if mo := f("more"); !mo.Ext || mo.Ub != 8 || !mo.Elem.Ext || mo.Elem.Ub != 255 {
		t.Errorf("more = %+v / %+v", mo, mo.Elem)
	}
	if s := f("sig"); s.Lb != 1 || s.Ub != 1 || s.Alphabet != "!#*0123456789ABCD" {
		t.Errorf("sig = %+v", s)
	}
	w := f("wrapped")
	if w.Name != "Wrap{Digits}" || w.Fields[0].Type.Name != "Digits" || w.Fields[1].Type.Kind != per.KindOpenType || w.Fields[1].Type.Elem == nil {
		t.Errorf("wrapped = %+v", w)
	}
	big, err := b.namedType(&scope{mod: m}, &node{kind: "REF", ref: "Big"})
	if err != nil || !big.HasLb || big.HasUb {
		t.Errorf("Big = %+v, %v", big, err)
	}
	if _, err := b.namedType(&scope{mod: m}, &node{kind: "REF", ref: "Other"}); err == nil {
		t.Error("reference into a missing module resolved")
	}
}

func TestRejectsUnsupported(t *testing.T) {
	for _, src := range []string{
		"M DEFINITIONS ::= BEGIN A ::= SEQUENCE { a INTEGER DEFAULT 1 } END",
		"M DEFINITIONS ::= BEGIN A ::= SET { a INTEGER } END",
		"M DEFINITIONS ::= BEGIN a INTEGER ::= 5 END",
		"M DEFINITIONS ::= BEGIN A ::= ENUMERATED { x (3) } END",
		"M DEFINITIONS ::= BEGIN A ::= REAL END",
		`M DEFINITIONS ::= BEGIN A ::= IA5String (FROM ("x END`,
	} {
		if _, err := parseModule(src); err == nil {
			t.Errorf("accepted %q", src)
		}
	}
}
