package per_test

import (
	"bytes"
	"testing"

	"github.com/roomgate/roomgate/h323/internal/vectors"
	"github.com/roomgate/roomgate/h323/per"
	"github.com/roomgate/roomgate/h323/schema"
)

var fuzzTypes = []*per.Type{schema.RasMessage, schema.H323UserInformation,
	schema.MultimediaSystemControlMessage, schema.OpenLogicalChannel}

// FuzzDecode feeds arbitrary bytes to the interpreter for each top-level type. Decoding must
// never panic; whatever decodes must encode, and the encoding must be a fixed point.
func FuzzDecode(f *testing.F) {
	for _, v := range vectors.Load(f, "ras", "uuie", "h245") {
		sel := map[string]byte{"ras": 0, "uuie": 1, "h245": 2}[v.Kind]
		f.Add(sel, v.Data)
	}
	f.Add(byte(3), []byte{0x00})
	f.Fuzz(func(t *testing.T, sel byte, b []byte) {
		typ := fuzzTypes[int(sel)%len(fuzzTypes)]
		var d per.Decoder
		v, err := d.Decode(typ, b)
		if err != nil {
			return
		}
		var e per.Encoder
		out, err := e.Encode(nil, typ, &v)
		if err != nil {
			t.Fatalf("decoded value does not encode: %v", err)
		}
		var d2 per.Decoder
		v2, err := d2.Decode(typ, out)
		if err != nil {
			t.Fatalf("re-encoding %x does not decode: %v", out, err)
		}
		out2, err := e.Encode(nil, typ, &v2)
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("encoding is not a fixed point: %x vs %x (%v)", out, out2, err)
		}
	})
}

// TestVectorsThroughSchema checks that every well-formed PER vector re-encodes byte-exactly;
// it lives here too so the codec package proves itself on real traffic without pdu.
func TestVectorsThroughSchema(t *testing.T) {
	var d per.Decoder
	var e per.Encoder
	n := 0
	for _, v := range vectors.Load(t, "ras", "uuie", "h245") {
		typ := map[string]*per.Type{"ras": schema.RasMessage, "uuie": schema.H323UserInformation,
			"h245": schema.MultimediaSystemControlMessage}[v.Kind]
		val, err := d.Decode(typ, v.Data)
		if v.Malformed() {
			if err == nil {
				t.Errorf("%s: malformed vector decoded", v.Name())
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", v.Name(), err)
			continue
		}
		out, err := e.Encode(nil, typ, &val)
		if err != nil || !bytes.Equal(out, v.Data) {
			t.Errorf("%s: re-encode mismatch (%v)", v.Name(), err)
			continue
		}
		n++
	}
	if n != 199 {
		t.Errorf("%d vectors round-tripped, want 199", n)
	}
}
