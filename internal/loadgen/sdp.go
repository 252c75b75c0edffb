package loadgen

import (
	"fmt"
	"net/netip"
	"strconv"

	"github.com/pion/sdp/v3"
)

// Codec is a G.711 variant a leg can offer.
type Codec struct {
	Name        string // PCMU or PCMA
	PayloadType uint8  // static payload type, RFC 3551
}

// PCMU is G.711 µ-law, static payload type 0.
var PCMU = Codec{Name: "PCMU", PayloadType: 0}

// Offer renders the SDP offer (RFC 4566, RFC 3264) of one leg: one
// sendrecv audio stream with codec at the given local RTP address, plus
// telephone-event (RFC 4733) as every room system and softphone offers it;
// without it the server would scan each leg's audio for in-band DTMF, which
// is not the load being measured.
func Offer(rtp netip.AddrPort, sessionID uint64, codec Codec) []byte {
	ipv := "IP4"
	if rtp.Addr().Is6() {
		ipv = "IP6"
	}
	addr := rtp.Addr().String()
	return fmt.Appendf(nil, "v=0\r\n"+
		"o=roomload %d 1 IN %s %s\r\n"+
		"s=roomload\r\n"+
		"c=IN %s %s\r\n"+
		"t=0 0\r\n"+
		"m=audio %d RTP/AVP %d 101\r\n"+
		"a=rtpmap:%d %s/8000\r\n"+
		"a=rtpmap:101 telephone-event/8000\r\n"+
		"a=fmtp:101 0-15\r\n"+
		"a=ptime:20\r\n"+
		"a=sendrecv\r\n",
		sessionID, ipv, addr, ipv, addr, rtp.Port(), codec.PayloadType, codec.PayloadType, codec.Name)
}

// ParseAnswer extracts from an SDP answer the address the server wants our
// RTP sent to. The answer must accept the offered payload type on its first
// active audio stream.
func ParseAnswer(body []byte, codec Codec) (netip.AddrPort, error) {
	var s sdp.SessionDescription
	if err := s.Unmarshal(body); err != nil {
		return netip.AddrPort{}, fmt.Errorf("parsing SDP answer: %w", err)
	}
	for _, m := range s.MediaDescriptions {
		if m.MediaName.Media != "audio" || m.MediaName.Port.Value == 0 {
			continue
		}
		if m.MediaName.Port.Value < 0 || m.MediaName.Port.Value > 65535 {
			return netip.AddrPort{}, fmt.Errorf("SDP answer audio port %d: %w", m.MediaName.Port.Value, ErrNoAudio)
		}
		accepted := false
		want := strconv.Itoa(int(codec.PayloadType))
		for _, f := range m.MediaName.Formats {
			if f == want {
				accepted = true
				break
			}
		}
		if !accepted {
			return netip.AddrPort{}, fmt.Errorf("answer formats %v, offered %s: %w", m.MediaName.Formats, want, ErrCodecRejected)
		}
		ci := m.ConnectionInformation
		if ci == nil {
			ci = s.ConnectionInformation
		}
		if ci == nil || ci.Address == nil {
			return netip.AddrPort{}, fmt.Errorf("SDP answer has no connection address: %w", ErrNoAudio)
		}
		ip, err := netip.ParseAddr(ci.Address.Address)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("SDP answer connection address %q: %w", ci.Address.Address, err)
		}
		return netip.AddrPortFrom(ip.Unmap(), uint16(m.MediaName.Port.Value)), nil
	}
	return netip.AddrPort{}, ErrNoAudio
}
