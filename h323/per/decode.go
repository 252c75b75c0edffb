package per

import (
	"fmt"
)

// DefaultMaxDepth caps type nesting while decoding; H.245 PDUs seen in the field nest about 20
// deep, so 64 leaves room without letting hostile recursion exhaust the stack.
const DefaultMaxDepth = 64

// maxZeroSizeItems bounds SEQUENCE OF counts whose elements may encode in zero bits, where the
// count cannot be checked against the remaining input.
const maxZeroSizeItems = 1024

const slabSize = 256

// Decoder decodes ALIGNED PER by interpreting a Type graph. It keeps its value slabs and scratch
// buffers between calls, so decoding the same kind of PDU repeatedly does not allocate. A
// Decoder is not safe for concurrent use.
type Decoder struct {
	// MaxDepth caps nesting; zero means DefaultMaxDepth.
	MaxDepth int

	r     Reader
	depth int

	slabs   [][]Value
	slab    int
	scratch [][]byte
	scr     int
}

// Decode decodes one complete encoding of t from b. Every length is checked against the input
// before anything is allocated. The returned Value aliases b and the Decoder's buffers: it is
// valid until the next call to Decode on this Decoder and while b is unchanged (use Clone to
// keep it longer).
func (d *Decoder) Decode(t *Type, b []byte) (Value, error) {
	for i := 0; i <= d.slab && i < len(d.slabs); i++ {
		clear(d.slabs[i])
		d.slabs[i] = d.slabs[i][:0]
	}
	for i := 0; i <= d.scr && i < len(d.scratch); i++ {
		d.scratch[i] = d.scratch[i][:0]
	}
	d.slab, d.scr, d.depth = 0, 0, 0
	d.r.Reset(b)
	var v Value
	if err := d.decode(t, &v); err != nil {
		return Value{}, err
	}
	if err := d.finish(); err != nil {
		return Value{}, wrapPath(err, typeLabel(t), d.r.BitPos())
	}
	return v, nil
}

// finish checks that only padding remains after a complete encoding. A value that encodes in
// zero bits is sent as one zero octet (X.691 11.1).
func (d *Decoder) finish() error {
	if d.r.BitPos() == 0 && len(d.r.buf) == 1 {
		d.r.pos = 8
		return nil
	}
	d.r.Align()
	if d.r.Remaining() != 0 {
		return fmt.Errorf("%d octets after the value: %w", d.r.Remaining()/8, ErrTrailing)
	}
	return nil
}

func (d *Decoder) alloc(n int) []Value {
	if n == 0 {
		return nil
	}
	for {
		if d.slab < len(d.slabs) {
			s := d.slabs[d.slab]
			if cap(s)-len(s) >= n {
				d.slabs[d.slab] = s[:len(s)+n]
				return s[len(s) : len(s)+n : len(s)+n]
			}
			if d.slab+1 < len(d.slabs) {
				d.slab++
				continue
			}
		}
		d.slabs = append(d.slabs, make([]Value, 0, max(n, slabSize)))
		d.slab = len(d.slabs) - 1
	}
}

// bytesBuf returns a scratch byte slice with room for n bytes, valid until the next Decode.
func (d *Decoder) bytesBuf(n int) []byte {
	for {
		if d.scr < len(d.scratch) {
			s := d.scratch[d.scr]
			if cap(s)-len(s) >= n {
				d.scratch[d.scr] = s[:len(s)+n]
				return s[len(s) : len(s) : len(s)+n]
			}
			if d.scr+1 < len(d.scratch) {
				d.scr++
				continue
			}
		}
		d.scratch = append(d.scratch, make([]byte, 0, max(n, 4096)))
		d.scr = len(d.scratch) - 1
	}
}

func typeLabel(t *Type) string {
	if t.Name != "" {
		return t.Name
	}
	return t.Kind.String()
}

func (d *Decoder) decode(t *Type, v *Value) error {
	maxDepth := d.MaxDepth
	if maxDepth == 0 {
		maxDepth = DefaultMaxDepth
	}
	if d.depth >= maxDepth {
		return &PathError{Path: []string{typeLabel(t)}, BitPos: d.r.BitPos(), Err: ErrTooDeep}
	}
	d.depth++
	start := d.r.BitPos()
	err := d.decodeBody(t, v)
	d.depth--
	if err != nil {
		if t.Name != "" {
			return wrapPath(err, t.Name, start)
		}
		if _, ok := err.(*PathError); !ok {
			return &PathError{Path: []string{typeLabel(t)}, BitPos: d.r.BitPos(), Err: err}
		}
		return err
	}
	return nil
}

func (d *Decoder) decodeBody(t *Type, v *Value) error {
	r := &d.r
	v.T = t
	switch t.Kind {
	case KindBoolean:
		b, err := r.ReadBit()
		if b {
			v.Int = 1
		}
		return err
	case KindNull:
		return nil
	case KindInteger:
		return d.decodeInteger(t, v)
	case KindEnumerated:
		if t.Ext {
			ext, err := r.ReadBit()
			if err != nil {
				return err
			}
			if ext {
				n, err := r.ReadNormallySmall()
				v.Int = int64(t.Root) + n
				return err
			}
		}
		n, err := r.ReadConstrained(0, int64(t.Root-1))
		v.Int = n
		return err
	case KindBitString:
		return d.decodeBitString(t, v)
	case KindOctetString:
		return d.decodeOctets(t, v)
	case KindString:
		return d.decodeString(t, v)
	case KindObjectID:
		b, err := d.readUnconstrainedOctets()
		if err != nil {
			return err
		}
		if err := checkOID(b); err != nil {
			return err
		}
		v.Bytes = b
		return nil
	case KindSequence:
		return d.decodeSequence(t, v)
	case KindChoice:
		return d.decodeChoice(t, v)
	case KindSequenceOf:
		return d.decodeSequenceOf(t, v)
	case KindOpenType:
		raw, err := d.readOpen()
		if err != nil {
			return err
		}
		if t.Elem == nil {
			v.Bytes = raw
			return nil
		}
		v.Elems = d.alloc(1)
		return d.decodeOpenInner(t.Elem, raw, &v.Elems[0])
	}
	return fmt.Errorf("type kind %v: %w", t.Kind, ErrUnsupported)
}

func (d *Decoder) decodeInteger(t *Type, v *Value) error {
	r := &d.r
	if t.Ext {
		ext, err := r.ReadBit()
		if err != nil {
			return err
		}
		if ext {
			v.Int, err = r.ReadUnconstrained()
			return err
		}
	}
	var err error
	switch {
	case t.constrained():
		v.Int, err = r.ReadConstrained(t.Lb, t.Ub)
	case t.HasLb:
		v.Int, err = r.ReadSemiConstrained(t.Lb)
	default:
		v.Int, err = r.ReadUnconstrained()
	}
	return err
}

// readSize reads the length of a size-constrained type. ok is false when the length is a
// general length determinant that the caller must read itself (possibly fragmented).
func (d *Decoder) readSize(t *Type) (n int, general bool, err error) {
	if t.Ext {
		ext, err := d.r.ReadBit()
		if err != nil {
			return 0, false, err
		}
		if ext {
			return 0, true, nil
		}
	}
	if t.HasUb && t.Ub < k64 {
		lb := int64(0)
		if t.HasLb {
			lb = t.Lb
		}
		if lb == t.Ub {
			return int(lb), false, nil
		}
		m, err := d.r.ReadConstrained(lb, t.Ub)
		return int(m), false, err
	}
	return 0, true, nil
}

// checkSize enforces a root size constraint on a decoded length.
func checkSize(t *Type, n int) error {
	if t.Ext {
		return nil
	}
	if (t.HasLb && int64(n) < t.Lb) || (t.HasUb && int64(n) > t.Ub) {
		return fmt.Errorf("size %d outside %d..%d: %w", n, t.Lb, t.Ub, ErrConstraint)
	}
	return nil
}

// readUnconstrainedOctets reads octets preceded by general length determinants, joining
// fragments into scratch space when needed.
func (d *Decoder) readUnconstrainedOctets() ([]byte, error) {
	n, more, err := d.r.ReadLength()
	if err != nil {
		return nil, err
	}
	if n > d.r.Remaining()/8 {
		return nil, fmt.Errorf("length %d octets with %d left: %w", n, d.r.Remaining()/8, ErrTooLarge)
	}
	first, err := d.r.ReadOctets(n)
	if err != nil || !more {
		return first, err
	}
	out := append(d.bytesBuf(len(first)), first...)
	for more {
		n, more, err = d.r.ReadLength()
		if err != nil {
			return nil, err
		}
		if n > d.r.Remaining()/8 {
			return nil, fmt.Errorf("fragment of %d octets with %d left: %w", n, d.r.Remaining()/8, ErrTooLarge)
		}
		frag, _ := d.r.ReadOctets(n)
		out = append(out, frag...)
	}
	return out, nil
}

func (d *Decoder) readOpen() ([]byte, error) {
	b, err := d.readUnconstrainedOctets()
	if err != nil {
		return nil, fmt.Errorf("open type: %w", err)
	}
	return b, nil
}

// decodeOpenInner decodes the complete encoding raw of t into v using a nested reader.
func (d *Decoder) decodeOpenInner(t *Type, raw []byte, v *Value) error {
	saved := d.r
	d.r.Reset(raw)
	err := d.decode(t, v)
	if err == nil {
		err = d.finish()
	}
	d.r = saved
	return err
}

func (d *Decoder) decodeOctets(t *Type, v *Value) error {
	n, general, err := d.readSize(t)
	if err != nil {
		return err
	}
	if general {
		v.Bytes, err = d.readUnconstrainedOctets()
		if err == nil {
			err = checkSize(t, len(v.Bytes))
		}
		return err
	}
	if n > d.r.Remaining()/8 {
		return fmt.Errorf("octet string of %d with %d octets left: %w", n, d.r.Remaining()/8, ErrTooLarge)
	}
	fixed := t.HasLb && t.Lb == t.Ub
	switch {
	case n == 0:
		v.Bytes = nil
	case fixed && n <= 2:
		b := d.bytesBuf(n)
		v.Bytes, err = d.r.ReadBitString(b, n*8)
	default:
		v.Bytes, err = d.r.ReadOctets(n)
	}
	return err
}

func (d *Decoder) decodeBitString(t *Type, v *Value) error {
	n, general, err := d.readSize(t)
	if err != nil {
		return err
	}
	if general {
		// Bit counts in general length determinants; fragmentation of bit strings is not used
		// by H.323 and is rejected rather than misread.
		m, more, err := d.r.ReadLength()
		if err != nil {
			return err
		}
		if more {
			return fmt.Errorf("fragmented bit string: %w", ErrUnsupported)
		}
		n = m
		if err := checkSize(t, n); err != nil {
			return err
		}
	}
	if n > d.r.Remaining() {
		return fmt.Errorf("bit string of %d bits with %d left: %w", n, d.r.Remaining(), ErrTooLarge)
	}
	fixed := !general && t.HasLb && t.Lb == t.Ub
	if n > 0 && !(fixed && n <= 16) {
		d.r.Align()
	}
	v.Bits = n
	v.Bytes, err = d.r.ReadBitString(d.bytesBuf((n+7)/8), n)
	return err
}

func (d *Decoder) decodeString(t *Type, v *Value) error {
	if t.Str == GeneralString {
		b, err := d.readUnconstrainedOctets()
		v.Bytes = b
		return err
	}
	bpc, indexed := t.charInfo()
	n, general, err := d.readSize(t)
	if err != nil {
		return err
	}
	if general {
		m, more, err := d.r.ReadLength()
		if err != nil {
			return err
		}
		if more {
			return fmt.Errorf("fragmented character string: %w", ErrUnsupported)
		}
		n = m
		if err := checkSize(t, n); err != nil {
			return err
		}
	}
	if n*bpc > d.r.Remaining() {
		return fmt.Errorf("string of %d characters with %d bits left: %w", n, d.r.Remaining(), ErrTooLarge)
	}
	if n == 0 {
		v.Bytes = nil
		return nil
	}
	if general || !t.HasUb || t.Ub*int64(bpc) > 16 {
		d.r.Align()
	}
	width := 1
	if t.Str == BMPString {
		width = 2
	}
	if !indexed && bpc == 8*width && d.r.BitPos()&7 == 0 {
		v.Bytes, err = d.r.ReadOctets(n * width)
		return err
	}
	out := d.bytesBuf(n * width)
	alpha := t.alphabet()
	for i := 0; i < n; i++ {
		c, err := d.r.ReadBits(bpc)
		if err != nil {
			return err
		}
		if indexed {
			if c >= uint64(len(alpha)) {
				return fmt.Errorf("character index %d outside alphabet %q: %w", c, alpha, ErrConstraint)
			}
			c = uint64(alpha[c])
		}
		if width == 2 {
			out = append(out, byte(c>>8), byte(c))
		} else {
			if c > 0xFF {
				return fmt.Errorf("character %d: %w", c, ErrConstraint)
			}
			out = append(out, byte(c))
		}
	}
	v.Bytes = out
	return nil
}

func (d *Decoder) decodeSequence(t *Type, v *Value) error {
	r := &d.r
	ext := false
	if t.Ext {
		var err error
		if ext, err = r.ReadBit(); err != nil {
			return err
		}
	}
	nOpt := 0
	for i := 0; i < t.Root; i++ {
		if t.Fields[i].Optional {
			nOpt++
		}
	}
	if nOpt > 64 {
		return fmt.Errorf("%d optional components: %w", nOpt, ErrUnsupported)
	}
	bitmap, err := r.ReadBits(nOpt)
	if err != nil {
		return err
	}
	v.Elems = d.alloc(len(t.Fields))
	opt := nOpt
	for i := 0; i < t.Root; i++ {
		f := &t.Fields[i]
		if f.Optional {
			opt--
			if bitmap>>uint(opt)&1 == 0 {
				continue
			}
		}
		if err := d.decode(f.Type, &v.Elems[i]); err != nil {
			return wrapPath(err, f.Name, r.BitPos())
		}
	}
	if !ext {
		return nil
	}
	n, err := d.readSmallLength()
	if err != nil {
		return err
	}
	if n > r.Remaining() {
		return fmt.Errorf("extension bitmap of %d bits: %w", n, ErrTooLarge)
	}
	v.ExtLen = n
	bitmapPos := r.BitPos()
	r.pos += n
	for i := 0; i < n; i++ {
		if r.buf[(bitmapPos+i)>>3]>>(7-uint((bitmapPos+i)&7))&1 == 0 {
			continue
		}
		raw, err := d.readOpen()
		if err != nil {
			return fmt.Errorf("extension addition %d: %w", i, err)
		}
		fi := t.Root + i
		if fi < len(t.Fields) {
			if err := d.decodeOpenInner(t.Fields[fi].Type, raw, &v.Elems[fi]); err != nil {
				return wrapPath(err, t.Fields[fi].Name, r.BitPos())
			}
			continue
		}
		v.Ext = append(v.Ext, RawAddition{Index: i, Raw: raw})
	}
	return nil
}

// readSmallLength reads a normally small length (X.691 11.9.3.4), used for extension bitmaps.
func (d *Decoder) readSmallLength() (int, error) {
	big, err := d.r.ReadBit()
	if err != nil {
		return 0, err
	}
	if !big {
		n, err := d.r.ReadBits(6)
		return int(n) + 1, err
	}
	n, more, err := d.r.ReadLength()
	if err != nil {
		return 0, err
	}
	if more || n == 0 {
		return 0, fmt.Errorf("extension bitmap length %d: %w", n, ErrUnsupported)
	}
	return n, nil
}

func (d *Decoder) decodeChoice(t *Type, v *Value) error {
	r := &d.r
	ext := false
	if t.Ext {
		var err error
		if ext, err = r.ReadBit(); err != nil {
			return err
		}
	}
	if !ext {
		if t.Root == 0 {
			return fmt.Errorf("choice without root alternatives: %w", ErrConstraint)
		}
		idx, err := r.ReadConstrained(0, int64(t.Root-1))
		if err != nil {
			return err
		}
		v.Int = idx
		v.Elems = d.alloc(1)
		f := &t.Fields[idx]
		if err := d.decode(f.Type, &v.Elems[0]); err != nil {
			return wrapPath(err, f.Name, r.BitPos())
		}
		return nil
	}
	n, err := r.ReadNormallySmall()
	if err != nil {
		return err
	}
	raw, err := d.readOpen()
	if err != nil {
		return err
	}
	idx := int64(t.Root) + n
	v.Int = idx
	if idx >= int64(len(t.Fields)) {
		v.Bytes = raw
		return nil
	}
	v.Elems = d.alloc(1)
	f := &t.Fields[idx]
	if err := d.decodeOpenInner(f.Type, raw, &v.Elems[0]); err != nil {
		return wrapPath(err, f.Name, r.BitPos())
	}
	return nil
}

// zeroable reports whether values of t may encode in zero bits (so counts of them cannot be
// checked against the remaining input). Conservative: unknown depth answers true.
func zeroable(t *Type, depth int) bool {
	if depth > 4 {
		return true
	}
	switch t.Kind {
	case KindNull:
		return true
	case KindInteger:
		return !t.Ext && t.constrained() && t.Lb == t.Ub
	case KindEnumerated:
		return !t.Ext && t.Root <= 1
	case KindChoice:
		return !t.Ext && t.Root == 1 && zeroable(t.Fields[0].Type, depth+1)
	case KindSequence:
		if t.Ext {
			return false
		}
		for i := 0; i < t.Root; i++ {
			if t.Fields[i].Optional || !zeroable(t.Fields[i].Type, depth+1) {
				return false
			}
		}
		return true
	case KindOctetString, KindBitString, KindString, KindSequenceOf:
		return !t.Ext && t.HasUb && t.Ub == 0
	}
	return false
}

func (d *Decoder) decodeSequenceOf(t *Type, v *Value) error {
	n, general, err := d.readSize(t)
	if err != nil {
		return err
	}
	zero := zeroable(t.Elem, 0)
	if !general {
		if err := d.checkCount(n, zero); err != nil {
			return err
		}
		v.Elems = d.alloc(n)
		for i := range v.Elems {
			if err := d.decode(t.Elem, &v.Elems[i]); err != nil {
				return wrapPath(err, fmt.Sprintf("[%d]", i), d.r.BitPos())
			}
		}
		return nil
	}
	var all []Value
	for more := true; more; {
		var m int
		m, more, err = d.r.ReadLength()
		if err != nil {
			return err
		}
		if err := d.checkCount(m, zero); err != nil {
			return err
		}
		if zero && len(all)+m > maxZeroSizeItems {
			return fmt.Errorf("%d items of a zero-size type: %w", len(all)+m, ErrTooLarge)
		}
		var elems []Value
		if all == nil && !more {
			elems = d.alloc(m)
		} else {
			elems = make([]Value, m)
		}
		for i := range elems {
			if err := d.decode(t.Elem, &elems[i]); err != nil {
				return wrapPath(err, fmt.Sprintf("[%d]", len(all)+i), d.r.BitPos())
			}
		}
		if all == nil && !more {
			all = elems
		} else {
			all = append(all, elems...)
		}
	}
	v.Elems = all
	return checkSize(t, len(all))
}

func (d *Decoder) checkCount(n int, zero bool) error {
	if zero {
		if n > maxZeroSizeItems {
			return fmt.Errorf("%d items of a zero-size type: %w", n, ErrTooLarge)
		}
		return nil
	}
	if n > d.r.Remaining() {
		return fmt.Errorf("%d items with %d bits left: %w", n, d.r.Remaining(), ErrTooLarge)
	}
	return nil
}
