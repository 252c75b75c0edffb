package cameramedia

import (
	"sync"

	"github.com/pion/rtp"
)

// g711Frame is 20 ms of G.711: one byte per 8 kHz sample.
const g711Frame = 160

// maxGap bounds the sequence number gap emitted for lost packets.
const maxGap = 1000

// injector takes packets; *bridge.InjectedLeg is one.
type injector interface {
	InjectRTP(pkt *rtp.Packet)
}

// g711Splitter cuts G.711 payloads longer than 20 ms into packets of 20 ms
// before the bridge sees them. Cameras packetise audio as their encoder
// delivers it: GStreamer's default is 1024 samples (128 ms) per packet and
// some cameras send up to an MTU's worth (175 ms), more than the bridge's
// decoders take (codec.MaxPacketDuration) and more than a jitter buffer slot
// holds. G.711 has no frames, so any cut is a valid payload (RFC 3551 §4.5.14).
//
// The packets it emits carry their own dense sequence numbers, so that the
// jitter buffer sees each chunk as one packet: a gap in the camera's numbers
// becomes a gap of as many chunks as the last packet had, which the bridge
// conceals; a packet older than the last (reordered or duplicated, rare on
// a camera's link) is dropped, since its chunks' numbers are already used.
// Timestamps advance by the samples before each chunk; the marker bit stays
// on the first chunk. It allocates nothing.
type g711Splitter struct {
	mu      sync.Mutex // AudioRTP may be called from two goroutines
	started bool
	lastIn  uint16 // the camera's last sequence number
	outSeq  uint16 // the next sequence number we emit
	chunks  uint16 // chunks of the last packet, the length of a lost one
	dropped uint64 // reordered or duplicated packets
	pkt     rtp.Packet
}

// split emits in as one or more packets of at most 20 ms into to.
func (s *g711Splitter) split(in *rtp.Packet, to injector) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		d := int16(in.SequenceNumber - s.lastIn)
		if d <= 0 {
			s.dropped++
			return
		}
		// d-1 packets were lost: leave room for their chunks, at most
		// maxGap (beyond which the jitter buffer starts afresh anyway), so
		// that the jump stays forward in 16-bit arithmetic.
		s.outSeq += uint16(min(int(d-1)*int(s.chunks), maxGap))
	}
	s.started = true
	s.lastIn = in.SequenceNumber

	p := &s.pkt
	p.Header = in.Header
	p.Header.Padding, p.Header.PaddingSize, p.PaddingSize = false, 0, 0
	payload := in.Payload
	n := uint16(0)
	for off := 0; off < len(payload) || n == 0; off += g711Frame {
		end := min(off+g711Frame, len(payload))
		p.SequenceNumber = s.outSeq
		p.Timestamp = in.Timestamp + uint32(off)
		p.Marker = in.Marker && off == 0
		p.Payload = payload[off:end]
		to.InjectRTP(p)
		s.outSeq++
		n++
	}
	s.chunks = n
}

// droppedPackets is how many packets split dropped as out of order.
func (s *g711Splitter) droppedPackets() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}
