package per

import (
	"bytes"
	"errors"
	"testing"
)

var (
	tBool   = &Type{Kind: KindBoolean}
	tNull   = &Type{Kind: KindNull}
	tSmall  = &Type{Kind: KindInteger, Lb: 0, Ub: 7, HasLb: true, HasUb: true}
	tSeqNum = &Type{Kind: KindInteger, Lb: 1, Ub: 65535, HasLb: true, HasUb: true}
	tDigits = &Type{Kind: KindString, Str: IA5String, Lb: 1, Ub: 128, HasLb: true, HasUb: true, Alphabet: "#*,0123456789"}
	tH323ID = &Type{Kind: KindString, Str: BMPString, Lb: 1, Ub: 256, HasLb: true, HasUb: true}
	tSignal = &Type{Kind: KindString, Str: IA5String, Lb: 1, Ub: 1, HasLb: true, HasUb: true, Alphabet: "!#*0123456789ABCD"}
	tGUID   = &Type{Kind: KindOctetString, Lb: 16, Ub: 16, HasLb: true, HasUb: true}
	tOctets = &Type{Kind: KindOctetString}
	tOID    = &Type{Kind: KindObjectID}
	tAlias  = &Type{Kind: KindChoice, Name: "Alias", Ext: true, Root: 2, Fields: []Field{
		{Name: "dialedDigits", Type: tDigits}, {Name: "h323-ID", Type: tH323ID}, {Name: "flag", Type: tBool}}}
	// tMsg has a root OPTIONAL component and two extension additions.
	tMsg = &Type{Kind: KindSequence, Name: "Msg", Ext: true, Root: 3, Fields: []Field{
		{Name: "seq", Type: tSeqNum}, {Name: "alias", Type: tAlias, Optional: true}, {Name: "small", Type: tSmall},
		{Name: "added", Type: tBool}, {Name: "id", Type: tGUID}}}
	tList = &Type{Kind: KindSequenceOf, Elem: tBool}
)

func roundTrip(t *testing.T, typ *Type, v *Value, want []byte) Value {
	t.Helper()
	var e Encoder
	got, err := e.Encode(nil, typ, v)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	if want != nil && !bytes.Equal(got, want) {
		t.Fatalf("encode = %x, want %x", got, want)
	}
	var d Decoder
	back, err := d.Decode(typ, got)
	if err != nil {
		t.Fatalf("decode %x: %v", got, err)
	}
	again, err := e.Encode(nil, typ, &back)
	if err != nil || !bytes.Equal(again, got) {
		t.Fatalf("re-encode = %x, %v; want %x", again, err, got)
	}
	return back
}

func TestPermittedAlphabetStrings(t *testing.T) {
	// dialedDigits "2098": 7-bit length 3, aligned, then 4-bit indexes into "#*,0123456789".
	v := Value{T: tDigits, Bytes: []byte("2098")}
	roundTrip(t, tDigits, &v, []byte{0x06, 0x53, 0xCB})
	// NumericString alphabet " 0123456789" is indexed too.
	num := &Type{Kind: KindString, Str: NumericString, Lb: 1, Ub: 4, HasLb: true, HasUb: true}
	nv := Value{T: num, Bytes: []byte("1 9")}
	roundTrip(t, num, &nv, []byte{0x88, 0x28}) // ub*b = 16: not aligned
	// H.245 signalType: 17 characters → 8 bits, codes not indexes, SIZE(1) → no length.
	sv := Value{T: tSignal, Bytes: []byte("#")}
	roundTrip(t, tSignal, &sv, []byte{'#'})
	// h323-ID BMPString: length in one aligned octet (range 256), 16 bits per character.
	hv := Value{T: tH323ID, Bytes: []byte{0, 'a', 0x04, 0x10}}
	got := roundTrip(t, tH323ID, &hv, []byte{0x01, 0, 'a', 0x04, 0x10})
	if got.Str() != "aА" {
		t.Errorf("Str = %q", got.Str())
	}
	bad := Value{T: tDigits, Bytes: []byte("12a")}
	var e Encoder
	if _, err := e.Encode(nil, tDigits, &bad); !errors.Is(err, ErrConstraint) {
		t.Errorf("letter in dialedDigits: %v", err)
	}
	var d Decoder
	// Index 14 is outside the 13-character alphabet.
	if _, err := d.Decode(tDigits, []byte{0x00, 0xE0}); !errors.Is(err, ErrConstraint) {
		t.Errorf("index outside alphabet: %v", err)
	}
}

func TestSequenceExtensionsKeptRaw(t *testing.T) {
	v := Value{T: tMsg, Elems: []Value{
		{T: tSeqNum, Int: 7},
		{T: tAlias, Int: 1, Elems: []Value{{T: tH323ID, Bytes: []byte{0, 'x'}}}},
		{T: tSmall, Int: 5},
		{T: tBool, Int: 1},
		{},
	}}
	enc := roundTrip(t, tMsg, &v, nil)
	if enc.ExtLen != 2 || enc.Field("added") == nil || enc.Field("id") != nil {
		t.Fatalf("decoded extensions wrong: %+v", enc)
	}
	// A peer with a newer schema sends a third addition: the decoder keeps it raw and
	// re-encodes it byte for byte; an old peer's shorter bitmap is kept too.
	var e Encoder
	v.Ext = []RawAddition{{Index: 2, Raw: []byte{0xDE, 0xAD}}}
	v.ExtLen = 3
	wire, err := e.Encode(nil, tMsg, &v)
	if err != nil {
		t.Fatal(err)
	}
	var d Decoder
	got, err := d.Decode(tMsg, wire)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Ext) != 1 || got.Ext[0].Index != 2 || !bytes.Equal(got.Ext[0].Raw, []byte{0xDE, 0xAD}) || got.ExtLen != 3 {
		t.Fatalf("unknown addition not kept: %+v", got.Ext)
	}
	again, _ := e.Encode(nil, tMsg, &got)
	if !bytes.Equal(again, wire) {
		t.Fatalf("re-encode %x, want %x", again, wire)
	}
	// Missing mandatory component.
	v.Elems[0] = Value{}
	if _, err := e.Encode(nil, tMsg, &v); !errors.Is(err, ErrBadValue) {
		t.Errorf("missing mandatory: %v", err)
	}
}

func TestChoiceUnknownAlternative(t *testing.T) {
	v := Value{T: tAlias, Int: 5, Bytes: []byte{0x42}}
	got := roundTrip(t, tAlias, &v, []byte{0x83, 0x01, 0x42})
	if _, _, ok := got.Choice(); ok || got.Int != 5 {
		t.Fatalf("unknown alternative decoded as %+v", got)
	}
	known := Value{T: tAlias, Int: 2, Elems: []Value{{T: tBool, Int: 1}}}
	got = roundTrip(t, tAlias, &known, []byte{0x80, 0x01, 0x80})
	if name, alt, ok := got.Choice(); !ok || name != "flag" || alt.Int != 1 {
		t.Fatalf("Choice = %q %+v %v", name, alt, ok)
	}
}

func TestFragmentation(t *testing.T) {
	big := bytes.Repeat([]byte{0x5A}, 3*k16+5)
	v := Value{T: tOctets, Bytes: big}
	var e Encoder
	wire, err := e.Encode(nil, tOctets, &v)
	if err != nil {
		t.Fatal(err)
	}
	if wire[0] != 0xC3 || wire[1+3*k16] != 5 {
		t.Fatalf("fragment headers %x %x", wire[0], wire[1+3*k16])
	}
	got := roundTrip(t, tOctets, &v, wire)
	if !bytes.Equal(got.Bytes, big) {
		t.Fatal("fragmented octets differ")
	}
	exact := Value{T: tOctets, Bytes: big[:k16]}
	wire, _ = e.Encode(nil, tOctets, &exact)
	if wire[0] != 0xC1 || wire[len(wire)-1] != 0 || len(wire) != k16+2 {
		t.Fatalf("16K exactly: header %x, tail %x, len %d", wire[0], wire[len(wire)-1], len(wire))
	}
	list := Value{T: tList, Elems: make([]Value, k16+3)}
	for i := range list.Elems {
		list.Elems[i] = Value{T: tBool, Int: int64(i % 2)}
	}
	got = roundTrip(t, tList, &list, nil)
	if len(got.Elems) != k16+3 || got.Elems[k16+1].Int != 1 {
		t.Fatalf("fragmented SEQUENCE OF: %d elements", len(got.Elems))
	}
}

func TestObjectIdentifierValue(t *testing.T) {
	b, _ := ParseOID("0.0.8.2250.0.4")
	v := Value{T: tOID, Bytes: b}
	roundTrip(t, tOID, &v, append([]byte{6}, b...))
}

func TestHostileInput(t *testing.T) {
	var d Decoder
	nulls := &Type{Kind: KindSequenceOf, Elem: tNull}
	// 1000 NULLs are fine (zero bits each); a claimed 16K×4 fragment is not.
	if _, err := d.Decode(nulls, []byte{0x83, 0xE8}); err != nil {
		t.Errorf("1000 NULLs: %v", err)
	}
	if _, err := d.Decode(nulls, []byte{0xC4}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("65536 NULLs: %v", err)
	}
	bools := &Type{Kind: KindSequenceOf, Elem: tBool}
	if _, err := d.Decode(bools, []byte{0x8F, 0xFF, 0x00}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("4095 booleans in 8 bits: %v", err)
	}
	if _, err := d.Decode(tOctets, []byte{0xBF, 0xFF, 1, 2}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("huge octet string: %v", err)
	}
	// Recursion: Node ::= CHOICE { leaf NULL, nest Node }; every '1' bit nests one level.
	node := &Type{Kind: KindChoice, Name: "Node", Root: 2}
	node.Fields = []Field{{Name: "leaf", Type: tNull}, {Name: "nest", Type: node}}
	if _, err := d.Decode(node, []byte{0xFF, 0x7F}); err != nil {
		t.Errorf("15 levels: %v", err)
	}
	deep := bytes.Repeat([]byte{0xFF}, 20)
	_, err := d.Decode(node, deep)
	if !errors.Is(err, ErrTooDeep) {
		t.Fatalf("160 levels: %v", err)
	}
	var pe *PathError
	if !errors.As(err, &pe) || len(pe.Path) < DefaultMaxDepth {
		t.Errorf("error does not name the path: %v", err)
	}
	if _, err := d.Decode(tMsg, nil); !errors.Is(err, ErrTruncated) {
		t.Errorf("empty input: %v", err)
	}
	if _, err := d.Decode(tSeqNum, []byte{0, 1, 0xFF}); !errors.Is(err, ErrTrailing) {
		t.Errorf("trailing octet: %v", err)
	}
}

func TestDecoderReuseDoesNotAllocate(t *testing.T) {
	v := Value{T: tMsg, Elems: []Value{{T: tSeqNum, Int: 9},
		{T: tAlias, Int: 0, Elems: []Value{{T: tDigits, Bytes: []byte("1234")}}}, {T: tSmall, Int: 1},
		{T: tBool, Int: 1}, {T: tGUID, Bytes: make([]byte, 16)}}}
	var e Encoder
	wire, err := e.Encode(nil, tMsg, &v)
	if err != nil {
		t.Fatal(err)
	}
	var d Decoder
	var w Writer
	allocs := testing.AllocsPerRun(100, func() {
		got, err := d.Decode(tMsg, wire)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.EncodeTo(&w, tMsg, &got); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("decode+encode allocates %.1f times per run", allocs)
	}
}

func TestEncodeAppends(t *testing.T) {
	var e Encoder
	v := Value{T: tSmall, Int: 3}
	got, err := e.Encode([]byte{0xAA}, tSmall, &v)
	if err != nil || !bytes.Equal(got, []byte{0xAA, 0x60}) {
		t.Fatalf("Encode with prefix = %x, %v", got, err)
	}
	null := Value{T: tNull}
	got, _ = e.Encode([]byte{0xAA}, tNull, &null)
	if !bytes.Equal(got, []byte{0xAA, 0x00}) {
		t.Fatalf("empty encoding with prefix = %x", got)
	}
	var d Decoder
	if _, err := d.Decode(tNull, []byte{0}); err != nil {
		t.Fatalf("decode of an empty encoding: %v", err)
	}
}
