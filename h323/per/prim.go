package per

import (
	"fmt"
	"math"
	"math/bits"
)

// Primitive encodings of X.691 (ALIGNED variant) that the schema interpreter composes.

const (
	k16  = 16384
	k64  = 65536
	frag = 4 // maximum fragment multiplier, X.691 11.9.3.8
)

// bitsFor returns the number of bits needed to hold v (0 for v == 0).
func bitsFor(v uint64) int { return bits.Len64(v) }

// octetsFor returns the number of octets needed to hold v (at least 1).
func octetsFor(v uint64) int {
	n := (bits.Len64(v) + 7) / 8
	if n == 0 {
		n = 1
	}
	return n
}

// ReadConstrained reads a constrained whole number in lb..ub (X.691 11.5.7, ALIGNED).
func (r *Reader) ReadConstrained(lb, ub int64) (int64, error) {
	rng := uint64(ub-lb) + 1
	switch {
	case ub < lb:
		return 0, fmt.Errorf("range %d..%d: %w", lb, ub, ErrConstraint)
	case rng == 1:
		return lb, nil
	case rng <= 255:
		v, err := r.ReadBits(bitsFor(rng - 1))
		if err != nil {
			return 0, err
		}
		if v >= rng {
			return 0, fmt.Errorf("value %d above range %d..%d: %w", int64(v)+lb, lb, ub, ErrConstraint)
		}
		return lb + int64(v), nil
	case rng == 256:
		r.Align()
		v, err := r.ReadBits(8)
		return lb + int64(v), err
	case rng <= k64:
		r.Align()
		v, err := r.ReadBits(16)
		if err != nil {
			return 0, err
		}
		if v >= rng {
			return 0, fmt.Errorf("value %d above range %d..%d: %w", int64(v)+lb, lb, ub, ErrConstraint)
		}
		return lb + int64(v), nil
	}
	// Indefinite-length case (11.5.7.4): octet count as a constrained number, then the octets.
	maxOct := octetsFor(rng - 1)
	n, err := r.ReadBits(bitsFor(uint64(maxOct - 1)))
	if err != nil {
		return 0, err
	}
	nOct := int(n) + 1
	if nOct > maxOct {
		return 0, fmt.Errorf("integer of %d octets in range %d..%d: %w", nOct, lb, ub, ErrConstraint)
	}
	r.Align()
	v, err := r.ReadBits(nOct * 8)
	if err != nil {
		return 0, err
	}
	if v > rng-1 {
		return 0, fmt.Errorf("value above range %d..%d: %w", lb, ub, ErrConstraint)
	}
	return lb + int64(v), nil
}

// WriteConstrained writes v as a constrained whole number in lb..ub.
func (w *Writer) WriteConstrained(v, lb, ub int64) error {
	if v < lb || v > ub {
		return fmt.Errorf("value %d outside %d..%d: %w", v, lb, ub, ErrConstraint)
	}
	rng := uint64(ub-lb) + 1
	off := uint64(v - lb)
	switch {
	case rng == 1:
	case rng <= 255:
		w.WriteBits(off, bitsFor(rng-1))
	case rng == 256:
		w.Align()
		w.WriteBits(off, 8)
	case rng <= k64:
		w.Align()
		w.WriteBits(off, 16)
	default:
		maxOct := octetsFor(rng - 1)
		n := octetsFor(off)
		w.WriteBits(uint64(n-1), bitsFor(uint64(maxOct-1)))
		w.Align()
		w.WriteBits(off, n*8)
	}
	return nil
}

// ReadNormallySmall reads a normally small non-negative whole number (X.691 11.6).
func (r *Reader) ReadNormallySmall() (int64, error) {
	big, err := r.ReadBit()
	if err != nil {
		return 0, err
	}
	if !big {
		v, err := r.ReadBits(6)
		return int64(v), err
	}
	return r.ReadSemiConstrained(0)
}

// WriteNormallySmall writes a normally small non-negative whole number.
func (w *Writer) WriteNormallySmall(v int64) {
	if v < 64 {
		w.WriteBit(false)
		w.WriteBits(uint64(v), 6)
		return
	}
	w.WriteBit(true)
	w.WriteSemiConstrained(v, 0)
}

// ReadLength reads a general length determinant (X.691 11.9.3.5–8, ALIGNED: octet-aligned).
// more reports a fragment (the value is a multiple of 16K and another length follows the fragment).
func (r *Reader) ReadLength() (n int, more bool, err error) {
	r.Align()
	b, err := r.ReadBits(8)
	if err != nil {
		return 0, false, err
	}
	switch {
	case b&0x80 == 0:
		return int(b), false, nil
	case b&0xC0 == 0x80:
		lo, err := r.ReadBits(8)
		if err != nil {
			return 0, false, err
		}
		return int(b&0x3F)<<8 | int(lo), false, nil
	}
	m := int(b & 0x3F)
	if m < 1 || m > frag {
		return 0, false, fmt.Errorf("fragment multiplier %d: %w", m, ErrConstraint)
	}
	return m * k16, true, nil
}

// WriteLength writes a general length determinant for n < 16K, or a fragment header when n ≥ 16K;
// it returns how many items the caller must write before the next WriteLength call.
func (w *Writer) WriteLength(n int) int {
	w.Align()
	switch {
	case n < 128:
		w.WriteBits(uint64(n), 8)
		return n
	case n < k16:
		w.WriteBits(uint64(0x8000|n), 16)
		return n
	}
	m := n / k16
	if m > frag {
		m = frag
	}
	w.WriteBits(uint64(0xC0|m), 8)
	return m * k16
}

// ReadSemiConstrained reads a semi-constrained whole number ≥ lb (X.691 11.7).
func (r *Reader) ReadSemiConstrained(lb int64) (int64, error) {
	n, more, err := r.ReadLength()
	if err != nil {
		return 0, err
	}
	if more || n < 1 || n > 8 {
		return 0, fmt.Errorf("semi-constrained integer of %d octets: %w", n, ErrTooLarge)
	}
	v, err := r.ReadBits(n * 8)
	if err != nil {
		return 0, err
	}
	if v > math.MaxInt64 || (lb > 0 && int64(v) > math.MaxInt64-lb) {
		return 0, fmt.Errorf("semi-constrained integer overflows int64: %w", ErrTooLarge)
	}
	return lb + int64(v), nil
}

// WriteSemiConstrained writes v ≥ lb as a semi-constrained whole number.
func (w *Writer) WriteSemiConstrained(v, lb int64) {
	off := uint64(v - lb)
	n := octetsFor(off)
	w.WriteLength(n)
	w.WriteBits(off, n*8)
}

// ReadUnconstrained reads an unconstrained (two's complement) whole number (X.691 11.8).
func (r *Reader) ReadUnconstrained() (int64, error) {
	n, more, err := r.ReadLength()
	if err != nil {
		return 0, err
	}
	if more || n < 1 || n > 8 {
		return 0, fmt.Errorf("unconstrained integer of %d octets: %w", n, ErrTooLarge)
	}
	v, err := r.ReadBits(n * 8)
	if err != nil {
		return 0, err
	}
	shift := uint(64 - n*8)
	return int64(v<<shift) >> shift, nil
}

// WriteUnconstrained writes v as an unconstrained whole number in the minimum octets.
func (w *Writer) WriteUnconstrained(v int64) {
	n := 1
	for n < 8 {
		shift := uint(64 - n*8)
		if int64(uint64(v)<<shift)>>shift == v {
			break
		}
		n++
	}
	w.WriteLength(n)
	w.WriteBits(uint64(v), n*8)
}
