package tpkt

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestSplitAppend(t *testing.T) {
	b, err := Append(nil, []byte{0x08, 0x02, 0x00, 0x01})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = Append(b, nil) // keep-alive
	want := []byte{3, 0, 0, 8, 0x08, 0x02, 0x00, 0x01, 3, 0, 0, 4}
	if !bytes.Equal(b, want) {
		t.Fatalf("Append = %x, want %x", b, want)
	}
	p, rest, err := Split(b)
	if err != nil || !bytes.Equal(p, want[4:8]) {
		t.Fatalf("Split = %x, %v", p, err)
	}
	p, rest, err = Split(rest)
	if err != nil || len(p) != 0 || len(rest) != 0 {
		t.Fatalf("keep-alive Split = %x %x %v", p, rest, err)
	}
}

func TestSplitErrors(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want error
	}{
		{[]byte{3, 0, 0}, ErrTruncated},
		{[]byte{4, 0, 0, 4}, ErrVersion},
		{[]byte{3, 0, 0, 3}, ErrLength},
		{[]byte{3, 0, 0, 9, 1}, ErrTruncated},
	} {
		if _, _, err := Split(tc.in); !errors.Is(err, tc.want) {
			t.Errorf("Split(%x) = %v, want %v", tc.in, err, tc.want)
		}
	}
	if _, err := Append(nil, make([]byte, MaxPayload+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Append oversized = %v", err)
	}
}

func TestReaderSkipsKeepAlivesAndReservedOctet(t *testing.T) {
	stream := []byte{3, 0, 0, 4, 3, 0x55, 0, 6, 0xAA, 0xBB, 3, 0, 0, 4}
	r := NewReader(bytes.NewReader(stream))
	p, err := r.Next()
	if err != nil || !bytes.Equal(p, []byte{0xAA, 0xBB}) {
		t.Fatalf("Next = %x, %v", p, err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next at end = %v, want EOF", err)
	}
	if r.KeepAlives != 2 {
		t.Fatalf("KeepAlives = %d", r.KeepAlives)
	}
	r = NewReader(bytes.NewReader([]byte{3, 0, 0, 9, 1, 2}))
	if _, err := r.Next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated Next = %v", err)
	}
}

func FuzzSplit(f *testing.F) {
	f.Add([]byte{3, 0, 0, 8, 8, 2, 0, 1})
	f.Add([]byte{3, 0, 0, 4})
	f.Add([]byte{3, 0, 0xFF, 0xFF})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, rest, err := Split(b)
		if err != nil {
			return
		}
		if len(p)+len(rest)+HeaderLen != len(b) {
			t.Fatalf("lengths do not add up")
		}
		out, err := Append(nil, p)
		if err != nil || !bytes.Equal(out[4:], p) {
			t.Fatalf("re-append failed")
		}
		r := NewReader(bytes.NewReader(b))
		for i := 0; i < 100; i++ {
			if _, err := r.Next(); err != nil {
				break
			}
		}
	})
}

func BenchmarkSplit(b *testing.B) {
	frame, _ := Append(nil, make([]byte, 300))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Split(frame); err != nil {
			b.Fatal(err)
		}
	}
}
