package per

import (
	"bytes"
	"errors"
	"testing"
)

func TestConstrainedWholeNumber(t *testing.T) {
	// Expected encodings follow X.691 11.5.7 (ALIGNED); each case starts after one '1' bit so
	// that alignment is visible.
	for _, tc := range []struct {
		v, lb, ub int64
		want      []byte
	}{
		{5, 5, 5, []byte{0x80}},                             // range 1: no bits
		{3, 0, 7, []byte{0xB0}},                             // 3 bits: 1 011
		{200, 0, 255, []byte{0x80, 200}},                    // range 256: aligned octet
		{1, 1, 65535, []byte{0x80, 0, 0}},                   // range 65535: two aligned octets
		{300, 0, 65535, []byte{0x80, 0x01, 0x2C}},           // range 64K
		{1, 1, 4294967295, []byte{0x80, 0x00}},              // 2-bit length (1 octet) then aligned octet
		{70000, 0, 4294967295, []byte{0xC0, 1, 0x11, 0x70}}, // length 3 as 2 bits "10"
	} {
		var w Writer
		w.WriteBit(true)
		if err := w.WriteConstrained(tc.v, tc.lb, tc.ub); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(w.Bytes(), tc.want) {
			t.Errorf("WriteConstrained(%d, %d..%d) = %x, want %x", tc.v, tc.lb, tc.ub, w.Bytes(), tc.want)
			continue
		}
		r := NewReader(tc.want)
		r.ReadBit()
		got, err := r.ReadConstrained(tc.lb, tc.ub)
		if err != nil || got != tc.v {
			t.Errorf("ReadConstrained(%x) = %d, %v; want %d", tc.want, got, err, tc.v)
		}
	}
	var w Writer
	if err := w.WriteConstrained(9, 0, 7); !errors.Is(err, ErrConstraint) {
		t.Errorf("out of range: %v", err)
	}
	// A 3-bit field holding 6 for a range of 0..4 is above the range.
	if _, err := NewReader([]byte{0xC0}).ReadConstrained(0, 4); !errors.Is(err, ErrConstraint) {
		t.Errorf("above range: %v", err)
	}
}

func TestUnconstrainedAndSemiConstrained(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 127, 128, -128, -129, 1 << 40, -1 << 62} {
		var w Writer
		w.WriteUnconstrained(v)
		got, err := NewReader(w.Bytes()).ReadUnconstrained()
		if err != nil || got != v {
			t.Errorf("unconstrained %d: got %d, %v (%x)", v, got, err, w.Bytes())
		}
	}
	var w Writer
	w.WriteUnconstrained(-129)
	if !bytes.Equal(w.Bytes(), []byte{2, 0xFF, 0x7F}) {
		t.Errorf("-129 = %x", w.Bytes())
	}
	w.Reset(nil)
	w.WriteSemiConstrained(256, 1)
	if !bytes.Equal(w.Bytes(), []byte{1, 0xFF}) {
		t.Errorf("semi 256 from 1 = %x", w.Bytes())
	}
	if _, err := NewReader([]byte{9, 1, 2, 3, 4, 5, 6, 7, 8, 9}).ReadUnconstrained(); !errors.Is(err, ErrTooLarge) {
		t.Errorf("9-octet integer: %v", err)
	}
}

func TestLengthDeterminant(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want []byte
		more bool
	}{
		{0, []byte{0}, false},
		{127, []byte{127}, false},
		{128, []byte{0x80, 0x80}, false},
		{16383, []byte{0xBF, 0xFF}, false},
		{16384, []byte{0xC1}, true},
		{70000, []byte{0xC4}, true},
	} {
		var w Writer
		w.WriteLength(tc.n)
		if !bytes.Equal(w.Bytes(), tc.want) {
			t.Errorf("WriteLength(%d) = %x, want %x", tc.n, w.Bytes(), tc.want)
		}
		n, more, err := NewReader(tc.want).ReadLength()
		if err != nil || more != tc.more || (!more && n != tc.n) {
			t.Errorf("ReadLength(%x) = %d %v %v", tc.want, n, more, err)
		}
	}
	if _, _, err := NewReader([]byte{0xC5}).ReadLength(); !errors.Is(err, ErrConstraint) {
		t.Errorf("fragment multiplier 5: %v", err)
	}
}

func TestBitsReaderWriter(t *testing.T) {
	var w Writer
	w.WriteBits(0x5, 3)
	w.WriteBits(0x1FF, 9)
	w.WriteBit(true)
	w.WriteOctets([]byte{0xAB})
	w.WriteBitString([]byte{0xF0}, 4)
	want := []byte{0xBF, 0xF8, 0xAB, 0xF0}
	if !bytes.Equal(w.Bytes(), want) {
		t.Fatalf("writer = %x, want %x", w.Bytes(), want)
	}
	r := NewReader(want)
	a, _ := r.ReadBits(3)
	b, _ := r.ReadBits(9)
	c, _ := r.ReadBit()
	o, _ := r.ReadOctets(1)
	s, _ := r.ReadBitString(nil, 4)
	if a != 5 || b != 0x1FF || !c || o[0] != 0xAB || s[0] != 0xF0 {
		t.Fatalf("reader got %x %x %v %x %x", a, b, c, o, s)
	}
	if _, err := r.ReadBits(5); !errors.Is(err, ErrTruncated) {
		t.Fatalf("read past end: %v", err)
	}
	if _, err := r.ReadOctets(1); !errors.Is(err, ErrTruncated) {
		t.Fatalf("octets past end: %v", err)
	}
}

func TestOID(t *testing.T) {
	b, err := ParseOID("0.0.8.2250.0.4")
	if err != nil || !bytes.Equal(b, []byte{0x00, 0x08, 0x91, 0x4a, 0x00, 0x04}) {
		t.Fatalf("ParseOID = %x, %v", b, err)
	}
	s, err := FormatOID(b)
	if err != nil || s != "0.0.8.2250.0.4" {
		t.Fatalf("FormatOID = %q, %v", s, err)
	}
	for _, bad := range []string{"1", "3.1", "0.40", "0.x", ""} {
		if _, err := ParseOID(bad); err == nil {
			t.Errorf("ParseOID(%q) accepted", bad)
		}
	}
	if _, err := FormatOID([]byte{0x81}); err == nil {
		t.Error("FormatOID accepted an unterminated arc")
	}
}
