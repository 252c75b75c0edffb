package pdu

import (
	"bytes"
	"testing"

	"github.com/roomgate/roomgate/h323/internal/vectors"
)

// fuzzKind checks one top-level PDU kind: Decode never panics, and whatever decodes encodes
// back from its JSON view to an encoding that is a fixed point.
func fuzzKind(f *testing.F, kind string) {
	for _, v := range vectors.Load(f, kind) {
		f.Add(v.Data)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out, _, err := roundTrip(kind, b)
		if err != nil {
			if _, derr := Decode(kind, b); derr == nil {
				t.Fatalf("decoded but did not re-encode: %v", err)
			}
			return
		}
		again, _, err := roundTrip(kind, out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("re-encoding is not a fixed point: %x vs %x (%v)", out, again, err)
		}
	})
}

func FuzzRAS(f *testing.F)  { fuzzKind(f, KindRAS) }
func FuzzUUIE(f *testing.F) { fuzzKind(f, KindUUIE) }
func FuzzH245(f *testing.F) { fuzzKind(f, KindH245) }
func FuzzQ931(f *testing.F) { fuzzKind(f, KindQ931) }
