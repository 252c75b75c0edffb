package loadgen

import (
	"errors"
	"net/netip"
	"testing"
)

func TestOfferAnswer(t *testing.T) {
	local := netip.MustParseAddrPort("127.0.0.1:40000")
	offer := Offer(local, 7, PCMU)
	// Our own offer parses as an answer to itself.
	got, err := ParseAnswer(offer, PCMU)
	if err != nil || got != local {
		t.Fatalf("offer round trip: %v %v\n%s", got, err, offer)
	}
	v6 := netip.MustParseAddrPort("[::1]:40002")
	if got, err := ParseAnswer(Offer(v6, 1, PCMU), PCMU); err != nil || got != v6 {
		t.Errorf("IPv6: %v %v", got, err)
	}

	// A typical answer: session-level c=, a rejected video line first,
	// telephone-event alongside PCMU.
	answer := "v=0\r\no=roomgate 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=video 0 RTP/AVP 96\r\n" +
		"m=audio 20002 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
	got, err = ParseAnswer([]byte(answer), PCMU)
	if err != nil || got != netip.MustParseAddrPort("127.0.0.1:20002") {
		t.Errorf("answer: %v %v", got, err)
	}

	for name, c := range map[string]struct {
		sdp  string
		want error
	}{
		"PCMA only": {"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 20002 RTP/AVP 8\r\n", ErrCodecRejected},
		"rejected":  {"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n", ErrNoAudio},
		"no c=":     {"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 20002 RTP/AVP 0\r\n", ErrNoAudio},
	} {
		if _, err := ParseAnswer([]byte(c.sdp), PCMU); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", name, err, c.want)
		}
	}
	if _, err := ParseAnswer([]byte("garbage"), PCMU); err == nil {
		t.Error("garbage accepted")
	}
}

func FuzzParseAnswer(f *testing.F) {
	f.Add(Offer(netip.MustParseAddrPort("127.0.0.1:40000"), 7, PCMU))
	f.Add([]byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 20002 RTP/AVP 8\r\n"))
	f.Add([]byte("v=0\r\no=- 1 1 IN IP4 x\r\ns=-\r\nt=0 0\r\nm=audio 70000 RTP/AVP 0\r\nc=IN IP4 ::ffff:1.2.3.4\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ap, err := ParseAnswer(b, PCMU)
		if err == nil && (!ap.IsValid() || ap.Port() == 0) {
			t.Fatalf("accepted invalid address %v", ap)
		}
	})
}
