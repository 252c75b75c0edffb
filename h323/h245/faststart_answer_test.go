package h245

import (
	"errors"
	"net/netip"
	"testing"
)

// The fastStart answer elements have the shape h323plus sends in its Connect
// (captured h323plus-fast-tunnel frame 10): the accepted transmit proposal
// with our receive address in forward parameters, and our transmit channel in
// reverse parameters with only our RTCP address.
func TestFastStartAnswer(t *testing.T) {
	rtp := netip.MustParseAddrPort("127.0.0.1:5004")
	rtcp := netip.MustParseAddrPort("127.0.0.1:5005")
	a := AudioCap{Codec: G711Alaw, Frames: 20}

	b, err := FastStartAnswer(Channel{Number: 101, SessionID: 1, Audio: &a, Media: rtp, MediaControl: rtcp})
	if err != nil {
		t.Fatal(err)
	}
	o, err := ParseOLC(b)
	if err != nil {
		t.Fatal(err)
	}
	if o.Reverse || o.Number != 101 || o.Codec != "g711Alaw64k" || o.Media != rtp || o.MediaControl != rtcp || o.SessionID != 1 {
		t.Errorf("forward answer %+v", o)
	}

	b, err = FastStartAnswer(Channel{Number: 7, SessionID: 1, Audio: &a, Reverse: true, MediaControl: rtcp})
	if err != nil {
		t.Fatal(err)
	}
	o, err = ParseOLC(b)
	if err != nil {
		t.Fatal(err)
	}
	if !o.Reverse || o.Number != 7 || o.Codec != "g711Alaw64k" || o.Media.IsValid() || o.MediaControl != rtcp {
		t.Errorf("reverse answer %+v", o)
	}

	if _, err := FastStartAnswer(Channel{Number: 1, SessionID: 1, Audio: &a, MediaControl: rtcp}); !errors.Is(err, ErrParam) {
		t.Errorf("forward answer without media address: %v", err)
	}
	if _, err := FastStartAnswer(Channel{Number: 0, SessionID: 1, Audio: &a, Media: rtp, MediaControl: rtcp}); !errors.Is(err, ErrParam) {
		t.Errorf("channel 0: %v", err)
	}
}
