package per

// Value is a decoded (or to-be-encoded) ASN.1 value of a Type. One struct serves every kind so
// that a whole PDU decodes into a few contiguous slabs instead of thousands of small objects.
//
// Field use by kind:
//   - BOOLEAN: Int 0 or 1. NULL: nothing.
//   - INTEGER: Int. ENUMERATED: Int is the item index (root items, then additions; an index past
//     the known items is an unknown addition, kept so it re-encodes).
//   - BIT STRING: Bytes (MSB first) and Bits. OCTET STRING: Bytes.
//   - OBJECT IDENTIFIER: Bytes holds the BER contents octets (see ParseOID / FormatOID).
//   - character strings: Bytes holds one octet per character, except BMPString, which holds two
//     octets per character, big-endian (as on the wire).
//   - SEQUENCE: Elems[i] is component i of T.Fields; an absent component has a nil T. Unknown
//     extension additions are kept verbatim in Ext; ExtLen is the extension bitmap length seen
//     on the wire (0 when the extension bit was clear), kept so that re-encoding is byte exact.
//   - CHOICE: Int is the alternative index and Elems[0] its value; for an unknown extension
//     alternative Int is its index and Bytes its open-type contents.
//   - SEQUENCE OF: Elems are the elements.
//   - open type: Elems[0] is the contained value when T.Elem is known, else Bytes is the raw
//     encoding.
//
// Values produced by a Decoder alias the input and the Decoder's buffers; see Decoder.Decode.
type Value struct {
	T      *Type
	Int    int64
	Bytes  []byte
	Bits   int
	Elems  []Value
	Ext    []RawAddition
	ExtLen int
}

// RawAddition is an extension addition of a SEQUENCE that the schema does not know, kept as its
// open-type contents so that a gateway can pass it on unchanged.
type RawAddition struct {
	Index int // position in the extension bitmap
	Raw   []byte
}

// Present reports whether the value is present (an absent OPTIONAL component has a nil T).
func (v *Value) Present() bool { return v != nil && v.T != nil }

// Field returns the component called name of a SEQUENCE value, or nil if the type has no such
// component or it is absent.
func (v *Value) Field(name string) *Value {
	if v == nil || v.T == nil || v.T.Kind != KindSequence {
		return nil
	}
	i := v.T.FieldIndex(name)
	if i < 0 || i >= len(v.Elems) || v.Elems[i].T == nil {
		return nil
	}
	return &v.Elems[i]
}

// Choice returns the name and value of the chosen alternative of a CHOICE value; ok is false for
// other kinds and for unknown extension alternatives.
func (v *Value) Choice() (name string, alt *Value, ok bool) {
	if v == nil || v.T == nil || v.T.Kind != KindChoice || len(v.Elems) == 0 || int(v.Int) >= len(v.T.Fields) {
		return "", nil, false
	}
	return v.T.Fields[v.Int].Name, &v.Elems[0], true
}

// Inner returns the contained value of an open type, or v itself for other kinds.
func (v *Value) Inner() *Value {
	if v != nil && v.T != nil && v.T.Kind == KindOpenType && len(v.Elems) == 1 {
		return &v.Elems[0]
	}
	return v
}

// Str returns a character string value as Go text (BMPString code units become runes).
func (v *Value) Str() string {
	if v == nil || v.T == nil {
		return ""
	}
	if v.T.Kind == KindString && v.T.Str == BMPString {
		rs := make([]rune, 0, len(v.Bytes)/2)
		for i := 0; i+1 < len(v.Bytes); i += 2 {
			rs = append(rs, rune(v.Bytes[i])<<8|rune(v.Bytes[i+1]))
		}
		return string(rs)
	}
	rs := make([]rune, len(v.Bytes))
	for i, c := range v.Bytes {
		rs[i] = rune(c)
	}
	return string(rs)
}
