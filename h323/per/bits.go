package per

import "fmt"

// Reader reads bit fields MSB first from a byte slice, as X.691 lays them out. It never panics:
// every read checks the remaining input and returns ErrTruncated.
type Reader struct {
	buf []byte
	pos int // bit position
}

// NewReader returns a Reader over b. The Reader does not copy b.
func NewReader(b []byte) *Reader { return &Reader{buf: b} }

// Reset makes r read b from the start, so one Reader can be reused without allocating.
func (r *Reader) Reset(b []byte) { r.buf, r.pos = b, 0 }

// BitPos returns the current bit offset from the start of the input.
func (r *Reader) BitPos() int { return r.pos }

// Remaining returns the number of unread bits.
func (r *Reader) Remaining() int { return len(r.buf)*8 - r.pos }

// Align skips to the next octet boundary (ALIGNED variant padding).
func (r *Reader) Align() {
	r.pos = (r.pos + 7) &^ 7
	if r.pos > len(r.buf)*8 {
		r.pos = len(r.buf) * 8
	}
}

// ReadBit reads one bit.
func (r *Reader) ReadBit() (bool, error) {
	if r.pos >= len(r.buf)*8 {
		return false, ErrTruncated
	}
	b := r.buf[r.pos>>3]>>(7-uint(r.pos&7))&1 == 1
	r.pos++
	return b, nil
}

// ReadBits reads an n-bit unsigned field (n ≤ 64).
func (r *Reader) ReadBits(n int) (uint64, error) {
	if n < 0 || n > 64 {
		return 0, fmt.Errorf("read %d bits: %w", n, ErrUnsupported)
	}
	if n > r.Remaining() {
		return 0, ErrTruncated
	}
	var v uint64
	for n > 0 {
		off := r.pos & 7
		avail := 8 - off
		take := avail
		if take > n {
			take = n
		}
		cur := uint64(r.buf[r.pos>>3]>>(uint(avail-take))) & (1<<uint(take) - 1)
		v = v<<uint(take) | cur
		r.pos += take
		n -= take
	}
	return v, nil
}

// ReadOctets aligns and returns the next n octets as a sub-slice of the input (no copy).
func (r *Reader) ReadOctets(n int) ([]byte, error) {
	r.Align()
	if n < 0 || n > r.Remaining()/8 {
		return nil, ErrTruncated
	}
	start := r.pos >> 3
	r.pos += n * 8
	return r.buf[start : start+n : start+n], nil
}

// ReadBitString reads n bits without alignment into dst (MSB first, zero padded) and returns it.
func (r *Reader) ReadBitString(dst []byte, n int) ([]byte, error) {
	if n > r.Remaining() {
		return nil, ErrTruncated
	}
	if r.pos&7 == 0 {
		nb := (n + 7) / 8
		start := r.pos >> 3
		dst = append(dst, r.buf[start:start+nb]...)
		if n&7 != 0 {
			dst[len(dst)-1] &= 0xFF << uint(8-n&7)
		}
		r.pos += n
		return dst, nil
	}
	for n > 0 {
		take := 8
		if take > n {
			take = n
		}
		v, _ := r.ReadBits(take)
		dst = append(dst, byte(v<<uint(8-take)))
		n -= take
	}
	return dst, nil
}

// Writer appends bit fields MSB first. The zero value is ready to use; Reset reuses its buffer.
type Writer struct {
	buf []byte
	pos int // bits used
}

// Reset empties w and makes it append to dst[:0] (pass nil to keep the current buffer).
func (w *Writer) Reset(dst []byte) {
	if dst != nil {
		w.buf = dst[:0]
	} else {
		w.buf = w.buf[:0]
	}
	w.pos = 0
}

// BitLen returns the number of bits written.
func (w *Writer) BitLen() int { return w.pos }

// Bytes returns the encoding padded to whole octets. The slice aliases w's buffer.
func (w *Writer) Bytes() []byte { return w.buf }

// Align pads with zero bits to the next octet boundary.
func (w *Writer) Align() { w.pos = len(w.buf) * 8 }

// WriteBit appends one bit.
func (w *Writer) WriteBit(b bool) {
	if w.pos == len(w.buf)*8 {
		w.buf = append(w.buf, 0)
	}
	if b {
		w.buf[w.pos>>3] |= 0x80 >> uint(w.pos&7)
	}
	w.pos++
}

// WriteBits appends the low n bits of v (n ≤ 64), MSB first.
func (w *Writer) WriteBits(v uint64, n int) {
	for n > 0 {
		if w.pos == len(w.buf)*8 {
			w.buf = append(w.buf, 0)
		}
		off := w.pos & 7
		avail := 8 - off
		take := avail
		if take > n {
			take = n
		}
		chunk := byte(v>>uint(n-take)) & byte(1<<uint(take)-1)
		w.buf[w.pos>>3] |= chunk << uint(avail-take)
		w.pos += take
		n -= take
	}
}

// WriteOctets aligns and appends b.
func (w *Writer) WriteOctets(b []byte) {
	w.Align()
	w.buf = append(w.buf, b...)
	w.pos = len(w.buf) * 8
}

// WriteBitString appends the first n bits of b without alignment.
func (w *Writer) WriteBitString(b []byte, n int) {
	if w.pos&7 == 0 && n&7 == 0 {
		w.buf = append(w.buf, b[:n/8]...)
		w.pos += n
		return
	}
	for i := 0; n > 0; i++ {
		take := 8
		if take > n {
			take = n
		}
		w.WriteBits(uint64(b[i]>>uint(8-take)), take)
		n -= take
	}
}
