package per

import "fmt"

// Encoder encodes Values in ALIGNED PER by interpreting their Type graph. It keeps its buffers
// between calls, so encoding repeatedly does not allocate. Not safe for concurrent use.
type Encoder struct {
	// MaxDepth caps nesting; zero means DefaultMaxDepth.
	MaxDepth int

	w     *Writer
	depth int
	subs  []Writer // one scratch writer per open-type nesting level
	sub   int
}

// Encode appends the complete encoding of v (of type t) to dst and returns the result. An empty
// encoding becomes one zero octet (X.691 11.1).
func (e *Encoder) Encode(dst []byte, t *Type, v *Value) ([]byte, error) {
	w := Writer{buf: dst, pos: len(dst) * 8}
	e.w, e.depth, e.sub = &w, 0, 0
	if err := e.encode(t, v); err != nil {
		return dst, err
	}
	if len(w.buf) == len(dst) {
		w.buf = append(w.buf, 0)
	}
	return w.buf, nil
}

// EncodeTo is like Encode but reuses w's buffer (w is reset first); the result aliases it.
func (e *Encoder) EncodeTo(w *Writer, t *Type, v *Value) ([]byte, error) {
	w.Reset(nil)
	e.w, e.depth, e.sub = w, 0, 0
	if err := e.encode(t, v); err != nil {
		return nil, err
	}
	if len(w.buf) == 0 {
		w.buf = append(w.buf, 0)
	}
	return w.buf, nil
}

func (e *Encoder) encode(t *Type, v *Value) error {
	maxDepth := e.MaxDepth
	if maxDepth == 0 {
		maxDepth = DefaultMaxDepth
	}
	if e.depth >= maxDepth {
		return &PathError{Path: []string{typeLabel(t)}, BitPos: e.w.pos, Err: ErrTooDeep}
	}
	e.depth++
	err := e.encodeBody(t, v)
	e.depth--
	if err != nil {
		if t.Name != "" {
			return wrapPath(err, t.Name, e.w.pos)
		}
		if _, ok := err.(*PathError); !ok {
			return &PathError{Path: []string{typeLabel(t)}, BitPos: e.w.pos, Err: err}
		}
	}
	return err
}

func (e *Encoder) encodeBody(t *Type, v *Value) error {
	w := e.w
	switch t.Kind {
	case KindBoolean:
		w.WriteBit(v.Int != 0)
		return nil
	case KindNull:
		return nil
	case KindInteger:
		if t.Ext {
			in := (!t.HasLb || v.Int >= t.Lb) && (!t.HasUb || v.Int <= t.Ub)
			w.WriteBit(!in)
			if !in {
				w.WriteUnconstrained(v.Int)
				return nil
			}
		}
		switch {
		case t.constrained():
			return w.WriteConstrained(v.Int, t.Lb, t.Ub)
		case t.HasLb:
			if v.Int < t.Lb {
				return fmt.Errorf("value %d below %d: %w", v.Int, t.Lb, ErrConstraint)
			}
			w.WriteSemiConstrained(v.Int, t.Lb)
		default:
			w.WriteUnconstrained(v.Int)
		}
		return nil
	case KindEnumerated:
		if v.Int < 0 {
			return fmt.Errorf("enumeration index %d: %w", v.Int, ErrConstraint)
		}
		if t.Ext {
			ext := v.Int >= int64(t.Root)
			w.WriteBit(ext)
			if ext {
				w.WriteNormallySmall(v.Int - int64(t.Root))
				return nil
			}
		}
		return w.WriteConstrained(v.Int, 0, int64(t.Root-1))
	case KindBitString:
		return e.encodeBitString(t, v)
	case KindOctetString:
		return e.encodeOctets(t, v)
	case KindString:
		return e.encodeString(t, v)
	case KindObjectID:
		if err := checkOID(v.Bytes); err != nil {
			return err
		}
		e.writeUnconstrainedOctets(v.Bytes)
		return nil
	case KindSequence:
		return e.encodeSequence(t, v)
	case KindChoice:
		return e.encodeChoice(t, v)
	case KindSequenceOf:
		return e.encodeSequenceOf(t, v)
	case KindOpenType:
		if t.Elem == nil || len(v.Elems) == 0 {
			e.writeUnconstrainedOctets(v.Bytes)
			return nil
		}
		return e.encodeOpen(t.Elem, &v.Elems[0])
	}
	return fmt.Errorf("type kind %v: %w", t.Kind, ErrUnsupported)
}

// writeUnconstrainedOctets writes general length determinant(s) and octets, fragmenting ≥16K.
func (e *Encoder) writeUnconstrainedOctets(b []byte) {
	for {
		n := e.w.WriteLength(len(b))
		if n > 0 {
			e.w.WriteOctets(b[:n])
		}
		b = b[n:]
		if n < k16 {
			return
		}
	}
}

// encodeOpen encodes v as an open type: its complete encoding wrapped in octets.
func (e *Encoder) encodeOpen(t *Type, v *Value) error {
	if e.sub == len(e.subs) {
		e.subs = append(e.subs, Writer{})
	}
	sw := &e.subs[e.sub]
	sw.Reset(nil)
	e.sub++
	outer := e.w
	e.w = sw
	err := e.encode(t, v)
	e.w = outer
	e.sub--
	if err != nil {
		return err
	}
	if len(sw.buf) == 0 {
		sw.buf = append(sw.buf, 0)
	}
	e.writeUnconstrainedOctets(sw.buf)
	return nil
}

// writeSize writes the length of a size-constrained type; general reports that the caller must
// write a general length determinant instead.
func (e *Encoder) writeSize(t *Type, n int) (general bool, err error) {
	inRoot := (!t.HasLb || int64(n) >= t.Lb) && (!t.HasUb || int64(n) <= t.Ub)
	if t.Ext {
		e.w.WriteBit(!inRoot)
		if !inRoot {
			return true, nil
		}
	} else if !inRoot {
		return false, fmt.Errorf("size %d outside %d..%d: %w", n, t.Lb, t.Ub, ErrConstraint)
	}
	if t.HasUb && t.Ub < k64 {
		lb := int64(0)
		if t.HasLb {
			lb = t.Lb
		}
		if lb == t.Ub {
			return false, nil
		}
		return false, e.w.WriteConstrained(int64(n), lb, t.Ub)
	}
	return true, nil
}

func (e *Encoder) encodeOctets(t *Type, v *Value) error {
	n := len(v.Bytes)
	general, err := e.writeSize(t, n)
	if err != nil {
		return err
	}
	switch {
	case general:
		e.writeUnconstrainedOctets(v.Bytes)
	case n == 0:
	case t.HasLb && t.Lb == t.Ub && n <= 2:
		e.w.WriteBitString(v.Bytes, n*8)
	default:
		e.w.WriteOctets(v.Bytes)
	}
	return nil
}

func (e *Encoder) encodeBitString(t *Type, v *Value) error {
	n := v.Bits
	if n < 0 || (n+7)/8 > len(v.Bytes) {
		return fmt.Errorf("bit string of %d bits in %d octets: %w", n, len(v.Bytes), ErrBadValue)
	}
	general, err := e.writeSize(t, n)
	if err != nil {
		return err
	}
	if general {
		if n >= k16 {
			return fmt.Errorf("bit string of %d bits needs fragmentation: %w", n, ErrUnsupported)
		}
		e.w.WriteLength(n)
	}
	fixed := !general && t.HasLb && t.Lb == t.Ub
	if n > 0 && !(fixed && n <= 16) {
		e.w.Align()
	}
	e.w.WriteBitString(v.Bytes, n)
	return nil
}

func (e *Encoder) encodeString(t *Type, v *Value) error {
	if t.Str == GeneralString {
		e.writeUnconstrainedOctets(v.Bytes)
		return nil
	}
	width := 1
	if t.Str == BMPString {
		width = 2
	}
	if len(v.Bytes)%width != 0 {
		return fmt.Errorf("BMPString of %d octets: %w", len(v.Bytes), ErrBadValue)
	}
	n := len(v.Bytes) / width
	bpc, indexed := t.charInfo()
	general, err := e.writeSize(t, n)
	if err != nil {
		return err
	}
	if general {
		if n >= k16 {
			return fmt.Errorf("string of %d characters needs fragmentation: %w", n, ErrUnsupported)
		}
		e.w.WriteLength(n)
	}
	if n == 0 {
		return nil
	}
	if general || !t.HasUb || t.Ub*int64(bpc) > 16 {
		e.w.Align()
	}
	alpha := t.alphabet()
	for i := 0; i < n; i++ {
		var c uint64
		if width == 2 {
			c = uint64(v.Bytes[2*i])<<8 | uint64(v.Bytes[2*i+1])
		} else {
			c = uint64(v.Bytes[i])
		}
		if indexed {
			idx := -1
			for j := 0; j < len(alpha); j++ {
				if uint64(alpha[j]) == c {
					idx = j
					break
				}
			}
			if idx < 0 {
				return fmt.Errorf("character %q not in alphabet %q: %w", rune(c), alpha, ErrConstraint)
			}
			c = uint64(idx)
		} else if c >= 1<<uint(bpc) {
			return fmt.Errorf("character %d does not fit %d bits: %w", c, bpc, ErrConstraint)
		}
		e.w.WriteBits(c, bpc)
	}
	return nil
}

func (e *Encoder) encodeSequence(t *Type, v *Value) error {
	w := e.w
	elem := func(i int) *Value {
		if i < len(v.Elems) && v.Elems[i].T != nil {
			return &v.Elems[i]
		}
		return nil
	}
	nAdd := len(t.Fields) - t.Root
	extLen := 0
	if t.Ext {
		last := -1
		for i := 0; i < nAdd; i++ {
			if elem(t.Root+i) != nil {
				last = i
			}
		}
		for _, u := range v.Ext {
			last = max(last, u.Index)
		}
		if last >= 0 || v.ExtLen > 0 {
			extLen = v.ExtLen
			if extLen == 0 {
				extLen = nAdd
			}
			if extLen < last+1 {
				return fmt.Errorf("extension bitmap of %d bits cannot hold addition %d: %w", extLen, last, ErrBadValue)
			}
		}
		w.WriteBit(extLen > 0)
	}
	for i := 0; i < t.Root; i++ {
		if t.Fields[i].Optional {
			w.WriteBit(elem(i) != nil)
		}
	}
	for i := 0; i < t.Root; i++ {
		f := &t.Fields[i]
		ev := elem(i)
		if ev == nil {
			if f.Optional {
				continue
			}
			return &PathError{Path: []string{f.Name}, BitPos: w.pos, Err: fmt.Errorf("mandatory component missing: %w", ErrBadValue)}
		}
		if err := e.encode(f.Type, ev); err != nil {
			return wrapPath(err, f.Name, w.pos)
		}
	}
	if extLen == 0 {
		return nil
	}
	// Normally small length of the bitmap (X.691 11.9.3.4), then the bitmap.
	if extLen <= 64 {
		w.WriteBit(false)
		w.WriteBits(uint64(extLen-1), 6)
	} else {
		w.WriteBit(true)
		w.WriteLength(extLen)
	}
	for i := 0; i < extLen; i++ {
		present := i < nAdd && elem(t.Root+i) != nil
		if !present {
			for _, u := range v.Ext {
				if u.Index == i {
					present = true
					break
				}
			}
		}
		w.WriteBit(present)
	}
	for i := 0; i < extLen; i++ {
		if i < nAdd {
			if ev := elem(t.Root + i); ev != nil {
				f := &t.Fields[t.Root+i]
				if err := e.encodeOpen(f.Type, ev); err != nil {
					return wrapPath(err, f.Name, w.pos)
				}
				continue
			}
		}
		for _, u := range v.Ext {
			if u.Index == i {
				e.writeUnconstrainedOctets(u.Raw)
				break
			}
		}
	}
	return nil
}

func (e *Encoder) encodeChoice(t *Type, v *Value) error {
	w := e.w
	idx := v.Int
	if idx < 0 {
		return fmt.Errorf("alternative %d: %w", idx, ErrBadValue)
	}
	ext := idx >= int64(t.Root)
	if t.Ext {
		w.WriteBit(ext)
	} else if ext {
		return fmt.Errorf("alternative %d of %d: %w", idx, t.Root, ErrBadValue)
	}
	if !ext {
		if err := w.WriteConstrained(idx, 0, int64(t.Root-1)); err != nil {
			return err
		}
		if len(v.Elems) == 0 {
			return fmt.Errorf("alternative %s has no value: %w", t.Fields[idx].Name, ErrBadValue)
		}
		f := &t.Fields[idx]
		if err := e.encode(f.Type, &v.Elems[0]); err != nil {
			return wrapPath(err, f.Name, w.pos)
		}
		return nil
	}
	w.WriteNormallySmall(idx - int64(t.Root))
	if idx >= int64(len(t.Fields)) || len(v.Elems) == 0 {
		e.writeUnconstrainedOctets(v.Bytes)
		return nil
	}
	f := &t.Fields[idx]
	if err := e.encodeOpen(f.Type, &v.Elems[0]); err != nil {
		return wrapPath(err, f.Name, w.pos)
	}
	return nil
}

func (e *Encoder) encodeSequenceOf(t *Type, v *Value) error {
	n := len(v.Elems)
	general, err := e.writeSize(t, n)
	if err != nil {
		return err
	}
	if !general {
		for i := range v.Elems {
			if err := e.encode(t.Elem, &v.Elems[i]); err != nil {
				return wrapPath(err, fmt.Sprintf("[%d]", i), e.w.pos)
			}
		}
		return nil
	}
	rest := v.Elems
	for {
		m := e.w.WriteLength(len(rest))
		for i := range rest[:m] {
			if err := e.encode(t.Elem, &rest[i]); err != nil {
				return wrapPath(err, fmt.Sprintf("[%d]", n-len(rest)+i), e.w.pos)
			}
		}
		rest = rest[m:]
		if m < k16 {
			return nil
		}
	}
}
