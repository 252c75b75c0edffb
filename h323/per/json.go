package per

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode/utf8"
)

// JSONOptions tunes the JSON view of values; the zero value is valid.
type JSONOptions struct {
	// Nested, when set, names the type whose complete encoding an OCTET STRING holds (for
	// H.323: fastStart and h245Control carry H.245 PDUs). field is the name of the nearest
	// enclosing component. Contents that fail to decode stay hex.
	Nested func(field string) *Type
	// Resolve finds a type by the name written in "$type" when converting back from JSON.
	Resolve func(name string) *Type
}

// ToJSON returns a JSON-able view of v (maps, slices, strings, numbers, booleans, nil):
// SEQUENCE → object (absent components omitted; unknown additions under "_ext"), CHOICE →
// single-key object, ENUMERATED → item name, OCTET STRING → hex, BIT STRING → {"bits","hex"},
// OBJECT IDENTIFIER → dotted text, character strings → text, NULL → null. FromJSON inverts it.
func ToJSON(v *Value, opts *JSONOptions) (any, error) {
	if opts == nil {
		opts = &JSONOptions{}
	}
	return toJSON(v, opts, "", 0)
}

func toJSON(v *Value, opts *JSONOptions, field string, depth int) (any, error) {
	if depth > DefaultMaxDepth*2 {
		return nil, ErrTooDeep
	}
	t := v.T
	if t == nil {
		return nil, fmt.Errorf("absent value: %w", ErrBadValue)
	}
	switch t.Kind {
	case KindBoolean:
		return v.Int != 0, nil
	case KindNull:
		return nil, nil
	case KindInteger:
		return v.Int, nil
	case KindEnumerated:
		if v.Int >= 0 && v.Int < int64(len(t.Names)) {
			return t.Names[v.Int], nil
		}
		return map[string]any{"_index": v.Int}, nil
	case KindBitString:
		return map[string]any{"bits": v.Bits, "hex": hex.EncodeToString(v.Bytes)}, nil
	case KindOctetString:
		if opts.Nested != nil {
			if nt := opts.Nested(field); nt != nil {
				var d Decoder
				if inner, err := d.Decode(nt, v.Bytes); err == nil {
					j, err := toJSON(&inner, opts, "", depth+1)
					if err == nil {
						return map[string]any{"$type": nt.Name, "value": j}, nil
					}
				}
			}
		}
		return hex.EncodeToString(v.Bytes), nil
	case KindObjectID:
		return FormatOID(v.Bytes)
	case KindString:
		return v.Str(), nil
	case KindSequence:
		m := make(map[string]any, len(v.Elems))
		for i := range v.Elems {
			if v.Elems[i].T == nil || i >= len(t.Fields) {
				continue
			}
			j, err := toJSON(&v.Elems[i], opts, t.Fields[i].Name, depth+1)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", t.Fields[i].Name, err)
			}
			m[t.Fields[i].Name] = j
		}
		if len(v.Ext) > 0 {
			ext := make([]any, len(v.Ext))
			for i, u := range v.Ext {
				ext[i] = map[string]any{"index": u.Index, "hex": hex.EncodeToString(u.Raw)}
			}
			m["_ext"] = ext
		}
		if v.ExtLen != 0 && v.ExtLen != defaultExtLen(t, v) {
			m["_extLen"] = v.ExtLen
		}
		return m, nil
	case KindChoice:
		if v.Int >= int64(len(t.Fields)) || len(v.Elems) == 0 {
			return map[string]any{"_unknown": map[string]any{"index": v.Int, "hex": hex.EncodeToString(v.Bytes)}}, nil
		}
		name := t.Fields[v.Int].Name
		j, err := toJSON(&v.Elems[0], opts, name, depth+1)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return map[string]any{name: j}, nil
	case KindSequenceOf:
		out := make([]any, len(v.Elems))
		for i := range v.Elems {
			j, err := toJSON(&v.Elems[i], opts, field, depth+1)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = j
		}
		return out, nil
	case KindOpenType:
		if len(v.Elems) == 1 {
			return toJSON(&v.Elems[0], opts, field, depth+1)
		}
		return hex.EncodeToString(v.Bytes), nil
	}
	return nil, fmt.Errorf("kind %v: %w", t.Kind, ErrUnsupported)
}

// defaultExtLen is the bitmap length the encoder uses when Value.ExtLen is zero; it is 0 when
// nothing would set the extension bit.
func defaultExtLen(t *Type, v *Value) int {
	present := len(v.Ext) > 0
	for i := t.Root; i < len(v.Elems); i++ {
		if v.Elems[i].T != nil {
			present = true
		}
	}
	if !present {
		return 0
	}
	return len(t.Fields) - t.Root
}

// FromJSON builds a Value of type t from the JSON view produced by ToJSON (also after a trip
// through encoding/json: numbers may be float64 or json.Number).
func FromJSON(t *Type, j any, opts *JSONOptions) (Value, error) {
	if opts == nil {
		opts = &JSONOptions{}
	}
	var v Value
	err := fromJSON(t, j, opts, &v, 0)
	return v, err
}

func jsonInt(j any) (int64, error) {
	switch n := j.(type) {
	case int64:
		return n, nil
	case int:
		return int64(n), nil
	case float64:
		if n != math.Trunc(n) || math.Abs(n) > 1<<53 {
			return 0, fmt.Errorf("number %v is not an integer: %w", n, ErrBadValue)
		}
		return int64(n), nil
	case json.Number:
		i, err := n.Int64()
		if err != nil {
			return 0, fmt.Errorf("number %v: %w", n, ErrBadValue)
		}
		return i, nil
	}
	return 0, fmt.Errorf("want a number, got %T: %w", j, ErrBadValue)
}

func jsonHex(j any) ([]byte, error) {
	s, ok := j.(string)
	if !ok {
		return nil, fmt.Errorf("want a hex string, got %T: %w", j, ErrBadValue)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("hex %q: %w", s, ErrBadValue)
	}
	return b, nil
}

func fromJSON(t *Type, j any, opts *JSONOptions, v *Value, depth int) error {
	if depth > DefaultMaxDepth*2 {
		return ErrTooDeep
	}
	v.T = t
	switch t.Kind {
	case KindBoolean:
		b, ok := j.(bool)
		if !ok {
			return fmt.Errorf("want a boolean, got %T: %w", j, ErrBadValue)
		}
		if b {
			v.Int = 1
		}
	case KindNull:
		if j != nil {
			return fmt.Errorf("want null, got %T: %w", j, ErrBadValue)
		}
	case KindInteger:
		n, err := jsonInt(j)
		v.Int = n
		return err
	case KindEnumerated:
		if m, ok := j.(map[string]any); ok {
			n, err := jsonInt(m["_index"])
			v.Int = n
			return err
		}
		s, _ := j.(string)
		for i, name := range t.Names {
			if name == s {
				v.Int = int64(i)
				return nil
			}
		}
		return fmt.Errorf("enumeration item %v not in %s: %w", j, strings.Join(t.Names, ","), ErrBadValue)
	case KindBitString:
		m, ok := j.(map[string]any)
		if !ok {
			return fmt.Errorf("want {bits,hex}, got %T: %w", j, ErrBadValue)
		}
		n, err := jsonInt(m["bits"])
		if err != nil {
			return err
		}
		b, err := jsonHex(m["hex"])
		if err != nil {
			return err
		}
		if n < 0 || (n+7)/8 != int64(len(b)) {
			return fmt.Errorf("%d bits in %d octets: %w", n, len(b), ErrBadValue)
		}
		v.Bytes, v.Bits = b, int(n)
	case KindOctetString:
		if m, ok := j.(map[string]any); ok {
			name, _ := m["$type"].(string)
			var nt *Type
			if opts.Resolve != nil {
				nt = opts.Resolve(name)
			}
			if nt == nil {
				return fmt.Errorf("nested type %q unknown: %w", name, ErrBadValue)
			}
			var inner Value
			if err := fromJSON(nt, m["value"], opts, &inner, depth+1); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			var e Encoder
			b, err := e.Encode(nil, nt, &inner)
			if err != nil {
				return err
			}
			v.Bytes = b
			return nil
		}
		b, err := jsonHex(j)
		v.Bytes = b
		return err
	case KindObjectID:
		s, ok := j.(string)
		if !ok {
			return fmt.Errorf("want an OID string, got %T: %w", j, ErrBadValue)
		}
		b, err := ParseOID(s)
		v.Bytes = b
		return err
	case KindString:
		s, ok := j.(string)
		if !ok {
			return fmt.Errorf("want a string, got %T: %w", j, ErrBadValue)
		}
		if !utf8.ValidString(s) {
			return fmt.Errorf("string is not UTF-8: %w", ErrBadValue)
		}
		for _, r := range s {
			switch {
			case t.Str == BMPString && r <= 0xFFFF:
				v.Bytes = append(v.Bytes, byte(r>>8), byte(r))
			case t.Str != BMPString && r <= 0xFF:
				v.Bytes = append(v.Bytes, byte(r))
			default:
				return fmt.Errorf("character %q does not fit the string type: %w", r, ErrConstraint)
			}
		}
	case KindSequence:
		m, ok := j.(map[string]any)
		if !ok {
			return fmt.Errorf("want an object, got %T: %w", j, ErrBadValue)
		}
		v.Elems = make([]Value, len(t.Fields))
		for k, fj := range m {
			switch k {
			case "_ext":
				list, ok := fj.([]any)
				if !ok {
					return fmt.Errorf("_ext: %w", ErrBadValue)
				}
				for _, e := range list {
					em, _ := e.(map[string]any)
					idx, err := jsonInt(em["index"])
					if err != nil {
						return fmt.Errorf("_ext: %w", err)
					}
					raw, err := jsonHex(em["hex"])
					if err != nil {
						return fmt.Errorf("_ext: %w", err)
					}
					if idx < int64(len(t.Fields)-t.Root) || idx > 1<<16 {
						return fmt.Errorf("_ext index %d is a known addition: %w", idx, ErrBadValue)
					}
					v.Ext = append(v.Ext, RawAddition{Index: int(idx), Raw: raw})
				}
				sort.Slice(v.Ext, func(a, b int) bool { return v.Ext[a].Index < v.Ext[b].Index })
				continue
			case "_extLen":
				n, err := jsonInt(fj)
				if err != nil || n < 1 || n > 1<<16 {
					return fmt.Errorf("_extLen: %w", ErrBadValue)
				}
				v.ExtLen = int(n)
				continue
			}
			i := t.FieldIndex(k)
			if i < 0 {
				return fmt.Errorf("unknown component %q: %w", k, ErrBadValue)
			}
			if err := fromJSON(t.Fields[i].Type, fj, opts, &v.Elems[i], depth+1); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
		}
	case KindChoice:
		m, ok := j.(map[string]any)
		if !ok || len(m) != 1 {
			return fmt.Errorf("want a one-key object, got %T: %w", j, ErrBadValue)
		}
		for k, aj := range m {
			if k == "_unknown" {
				um, _ := aj.(map[string]any)
				idx, err := jsonInt(um["index"])
				if err != nil {
					return err
				}
				if idx < int64(len(t.Fields)) || !t.Ext {
					return fmt.Errorf("unknown alternative %d: %w", idx, ErrBadValue)
				}
				v.Int = idx
				v.Bytes, err = jsonHex(um["hex"])
				return err
			}
			i := t.FieldIndex(k)
			if i < 0 {
				return fmt.Errorf("unknown alternative %q: %w", k, ErrBadValue)
			}
			v.Int = int64(i)
			v.Elems = make([]Value, 1)
			if err := fromJSON(t.Fields[i].Type, aj, opts, &v.Elems[0], depth+1); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
		}
	case KindSequenceOf:
		list, ok := j.([]any)
		if !ok {
			return fmt.Errorf("want an array, got %T: %w", j, ErrBadValue)
		}
		v.Elems = make([]Value, len(list))
		for i, e := range list {
			if err := fromJSON(t.Elem, e, opts, &v.Elems[i], depth+1); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
	case KindOpenType:
		if t.Elem == nil {
			b, err := jsonHex(j)
			v.Bytes = b
			return err
		}
		v.Elems = make([]Value, 1)
		return fromJSON(t.Elem, j, opts, &v.Elems[0], depth+1)
	default:
		return fmt.Errorf("kind %v: %w", t.Kind, ErrUnsupported)
	}
	return nil
}
