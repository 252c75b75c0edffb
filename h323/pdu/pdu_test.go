package pdu

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/roomgate/roomgate/h323/internal/vectors"
	"github.com/roomgate/roomgate/h323/per"
)

// roundTrip decodes b, sends the JSON view through encoding/json, and encodes it again.
func roundTrip(kind string, b []byte) ([]byte, []byte, error) {
	j, err := Decode(kind, b)
	if err != nil {
		return nil, nil, err
	}
	text, err := json.Marshal(j)
	if err != nil {
		return nil, nil, err
	}
	var back any
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	if err := dec.Decode(&back); err != nil {
		return nil, nil, err
	}
	out, err := Encode(kind, back)
	return out, text, err
}

// TestVectors is the proof on real traffic: every vector tshark decodes cleanly decodes here,
// survives a trip through JSON, and re-encodes to the same bytes; the malformed ones are
// rejected with an error.
func TestVectors(t *testing.T) {
	all := vectors.Load(t)
	type count struct{ ok, rejected int }
	counts := map[string]*count{}
	for _, v := range all {
		c := counts[v.Kind]
		if c == nil {
			c = &count{}
			counts[v.Kind] = c
		}
		out, text, err := roundTrip(v.Kind, v.Data)
		if v.Malformed() && v.Kind != KindQ931 {
			if err == nil {
				t.Errorf("%s: malformed vector (%s) decoded without error", v.Name(), v.Info)
			}
			c.rejected++
			continue
		}
		if v.Malformed() && err != nil {
			// The Q.931 framing of a malformed frame is fine; its User-user PER is not.
			c.rejected++
			continue
		}
		if err != nil {
			t.Errorf("%s (%s): %v", v.Name(), v.Info, err)
			continue
		}
		if !bytes.Equal(out, v.Data) {
			t.Errorf("%s: re-encode differs\n got %x\nwant %x\njson %s", v.Name(), out, v.Data, text)
			continue
		}
		c.ok++
	}
	total := 0
	for k, c := range counts {
		t.Logf("%-5s %3d decoded and re-encoded byte-exact through JSON, %d malformed rejected", k, c.ok, c.rejected)
		total += c.ok + c.rejected
	}
	if total != len(all) || len(all) != 308 {
		t.Errorf("accounted for %d of %d vectors (want 308)", total, len(all))
	}
}

// TestVectorsDirect checks the Value path call legs use (no JSON) on every PER vector.
func TestVectorsDirect(t *testing.T) {
	var d per.Decoder
	var e per.Encoder
	n := 0
	for _, v := range vectors.Load(t, KindRAS, KindUUIE, KindH245) {
		typ, _ := TypeOf(v.Kind)
		val, err := d.Decode(typ, v.Data)
		if v.Malformed() {
			if err == nil {
				t.Errorf("%s: malformed vector decoded", v.Name())
			}
			var pe *per.PathError
			if !errors.As(err, &pe) || len(pe.Path) < 2 {
				t.Errorf("%s: error does not say where decoding stopped: %v", v.Name(), err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", v.Name(), err)
			continue
		}
		out, err := e.Encode(nil, typ, &val)
		if err != nil || !bytes.Equal(out, v.Data) {
			t.Errorf("%s: re-encode mismatch: %v", v.Name(), err)
			continue
		}
		n++
	}
	t.Logf("%d PER vectors decoded and re-encoded byte-exact", n)
}

func TestDecodeContent(t *testing.T) {
	// The hand-checked GRQ from the test data README.
	j, err := Decode(KindRAS, mustHex(t, "00000000060008914a0004007f00000106b70000"))
	if err != nil {
		t.Fatal(err)
	}
	text, _ := json.Marshal(j)
	for _, want := range []string{`"gatekeeperRequest"`, `"requestSeqNum":1`, `"protocolIdentifier":"0.0.8.2250.0.4"`,
		`"ip":"7f000001"`, `"port":1719`} {
		if !strings.Contains(string(text), want) {
			t.Errorf("GRQ JSON lacks %s: %s", want, text)
		}
	}
	// fastStart proposals and tunnelled H.245 are decoded in place.
	for _, v := range vectors.Load(t, KindUUIE) {
		if v.Capture == "h323plus-fast-h245insetup.pcapng" && v.Frame == "4" {
			j, err := Decode(KindUUIE, v.Data)
			if err != nil {
				t.Fatal(err)
			}
			text, _ := json.Marshal(j)
			for _, want := range []string{`"$type":"OpenLogicalChannel"`, `"$type":"MultimediaSystemControlMessage"`,
				`"terminalCapabilitySet"`, `"g711Alaw64k"`, `"productId":"48333233506c75732073696d706c65`} {
				if !strings.Contains(string(text), want) {
					t.Errorf("Setup JSON lacks %s", want)
				}
			}
		}
	}
}

func TestBadInput(t *testing.T) {
	if _, err := Decode("sdp", []byte{0}); !errors.Is(err, ErrKind) {
		t.Errorf("unknown kind: %v", err)
	}
	for _, kind := range []string{KindRAS, KindUUIE, KindH245, KindQ931} {
		if _, err := Decode(kind, nil); err == nil {
			t.Errorf("%s: empty input decoded", kind)
		}
	}
	// A huge length: OCTET STRING claiming 16K fragments in a tiny buffer.
	if _, err := Decode(KindH245, []byte{0x00, 0x0f, 0xc4, 0x00}); err == nil {
		t.Error("hostile length decoded")
	}
	if _, err := Encode(KindRAS, map[string]any{"noSuchMessage": nil}); !errors.Is(err, per.ErrBadValue) {
		t.Errorf("bad JSON: %v", err)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	var b []byte
	for i := 0; i+1 < len(s); i += 2 {
		var c byte
		for _, x := range s[i : i+2] {
			c <<= 4
			switch {
			case x >= '0' && x <= '9':
				c |= byte(x - '0')
			case x >= 'a' && x <= 'f':
				c |= byte(x - 'a' + 10)
			default:
				t.Fatalf("bad hex %q", s)
			}
		}
		b = append(b, c)
	}
	return b
}

func toText(j any) string {
	b, _ := json.Marshal(j)
	return string(b)
}
