package per

// Kind is the ASN.1 built-in type a Type describes.
type Kind uint8

// The ASN.1 types H.225.0, H.245 and H.235 use.
const (
	KindInvalid Kind = iota
	KindBoolean
	KindNull
	KindInteger
	KindEnumerated
	KindBitString
	KindOctetString
	KindObjectID
	KindString // a restricted character string, see StrKind
	KindSequence
	KindChoice
	KindSequenceOf
	KindOpenType // an open type (TYPE-IDENTIFIER.&Type); Elem names the contained type if known
)

var kindNames = [...]string{"invalid", "BOOLEAN", "NULL", "INTEGER", "ENUMERATED", "BIT STRING",
	"OCTET STRING", "OBJECT IDENTIFIER", "string", "SEQUENCE", "CHOICE", "SEQUENCE OF", "open type"}

// String returns the ASN.1 name of the kind.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind?"
}

// StrKind is the restricted character string type of a KindString Type.
type StrKind uint8

// Character string types. GeneralString is not a known-multiplier type and is encoded as octets.
const (
	IA5String StrKind = iota + 1
	BMPString
	NumericString
	PrintableString
	VisibleString
	GeneralString
)

// Type describes one ASN.1 type as PER needs it. Types form a graph (recursive types point back
// at their ancestors) and are immutable once built; the schema package generates them from the
// ITU-T modules.
type Type struct {
	Name string // "Module.TypeName" for named types, "" for inline ones
	Kind Kind

	// Lb/Ub is the INTEGER value range, or the SIZE range of strings and SEQUENCE OF.
	Lb, Ub       int64
	HasLb, HasUb bool
	// Ext is true when the type has an extension marker (SEQUENCE, CHOICE, ENUMERATED) or its
	// PER-visible constraint is extensible (INTEGER value, SIZE).
	Ext bool

	Str      StrKind // KindString only
	Alphabet string  // KindString: permitted alphabet sorted by code, "" for the whole character set

	// Fields are the components of a SEQUENCE or the alternatives of a CHOICE, root first; Root
	// is how many belong to the root (the rest are extension additions, in order).
	Fields []Field
	Root   int
	// Names are the ENUMERATED items, root first; Root counts the root items.
	Names []string

	Elem *Type // SEQUENCE OF element type, or the contained type of an open type
}

// Field is one SEQUENCE component or CHOICE alternative.
type Field struct {
	Name     string
	Type     *Type
	Optional bool // SEQUENCE root component marked OPTIONAL (additions are always optional)
}

// FieldIndex returns the index of the field called name, or -1.
func (t *Type) FieldIndex(name string) int {
	for i := range t.Fields {
		if t.Fields[i].Name == name {
			return i
		}
	}
	return -1
}

// constrained reports whether an INTEGER or SIZE is bounded on both sides.
func (t *Type) constrained() bool { return t.HasLb && t.HasUb }

// charInfo returns the bits per character in the ALIGNED variant, the alphabet size, and whether
// characters are encoded as indexes into the permitted alphabet (X.691 30.5.4).
func (t *Type) charInfo() (bitsPerChar int, indexed bool) {
	var n, maxCode int
	if t.Alphabet != "" {
		n = len([]rune(t.Alphabet))
		for _, c := range t.Alphabet {
			maxCode = max(maxCode, int(c))
		}
	} else {
		switch t.Str {
		case BMPString:
			return 16, false
		case NumericString:
			return 4, true
		case PrintableString, VisibleString, IA5String:
			return 8, false
		default:
			return 8, false
		}
	}
	b := bitsFor(uint64(n - 1))
	switch {
	case b <= 1:
		b = 1
	case b <= 2:
		b = 2
	case b <= 4:
		b = 4
	case b <= 8:
		b = 8
	case b <= 16:
		b = 16
	default:
		b = 32
	}
	return b, maxCode >= 1<<uint(b)
}

// alphabet returns the effective permitted alphabet for indexed encodings.
func (t *Type) alphabet() string {
	if t.Alphabet != "" {
		return t.Alphabet
	}
	if t.Str == NumericString {
		return " 0123456789"
	}
	return ""
}
