package loadgen

import (
	"encoding/binary"
	"fmt"
	"time"
)

// RTPHeader is the part of an RTP fixed header (RFC 3550 section 5.1) the
// tool sends and checks.
type RTPHeader struct {
	PayloadType uint8
	Marker      bool
	Seq         uint16
	Timestamp   uint32
	SSRC        uint32
}

// rtpHeaderLen is the size of the fixed header the tool writes (no CSRC, no
// extension).
const rtpHeaderLen = 12

// PutRTPHeader writes h as a 12-byte RTP header at the start of b, which must
// be at least 12 bytes long.
func PutRTPHeader(b []byte, h RTPHeader) {
	_ = b[rtpHeaderLen-1]
	b[0] = 0x80 // version 2, no padding, no extension, no CSRC
	b[1] = h.PayloadType & 0x7F
	if h.Marker {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], h.Seq)
	binary.BigEndian.PutUint32(b[4:], h.Timestamp)
	binary.BigEndian.PutUint32(b[8:], h.SSRC)
}

// ParseRTP parses an RTP packet received from the network and returns its
// header and payload (without CSRCs, header extension and padding). The
// payload aliases b. It never panics and allocates nothing.
func ParseRTP(b []byte) (RTPHeader, []byte, error) {
	var h RTPHeader
	if len(b) < rtpHeaderLen {
		return h, nil, fmt.Errorf("parsing RTP header of %d bytes: %w", len(b), ErrShortPacket)
	}
	if b[0]>>6 != 2 {
		return h, nil, fmt.Errorf("parsing RTP header: version %d: %w", b[0]>>6, ErrBadRTPVersion)
	}
	h.Marker = b[1]&0x80 != 0
	h.PayloadType = b[1] & 0x7F
	h.Seq = binary.BigEndian.Uint16(b[2:])
	h.Timestamp = binary.BigEndian.Uint32(b[4:])
	h.SSRC = binary.BigEndian.Uint32(b[8:])
	off := rtpHeaderLen + 4*int(b[0]&0x0F)
	if len(b) < off {
		return h, nil, fmt.Errorf("parsing RTP CSRC list: %w", ErrShortPacket)
	}
	if b[0]&0x10 != 0 { // header extension, RFC 3550 section 5.3.1
		if len(b) < off+4 {
			return h, nil, fmt.Errorf("parsing RTP extension header: %w", ErrShortPacket)
		}
		off += 4 + 4*int(binary.BigEndian.Uint16(b[off+2:]))
		if len(b) < off {
			return h, nil, fmt.Errorf("parsing RTP extension body: %w", ErrShortPacket)
		}
	}
	end := len(b)
	if b[0]&0x20 != 0 { // padding: the last byte counts the padding bytes
		pad := int(b[end-1])
		if pad == 0 || end-pad < off {
			return h, nil, fmt.Errorf("parsing RTP padding of %d bytes: %w", pad, ErrShortPacket)
		}
		end -= pad
	}
	return h, b[off:end], nil
}

// RecvStats accounts for one received RTP stream: sequence gaps and lost
// packets (RFC 3550 appendix A.1 and A.3), packets that arrive out of order,
// packets later than a playout threshold, and interarrival jitter (appendix
// A.8). The zero value is ready to use; Update allocates nothing.
//
// RecvStats is not safe for concurrent use.
type RecvStats struct {
	// LateThreshold is how much later than the stream's earliest transit a
	// packet may arrive before it counts as late, in timestamp units (1/8000
	// s). Zero disables lateness accounting.
	LateThreshold int32

	started bool
	ssrc    uint32
	maxSeq  uint16
	cycles  uint64
	baseExt uint64

	received    uint64
	gaps        uint64
	gapPackets  uint64
	reordered   uint64
	duplicates  uint64
	late        uint64
	ssrcChanges uint64
	expectedOld uint64 // expected packets of streams before an SSRC change

	baseTransit uint32
	minRel      int32
	lastTransit uint32
	jitter      float64 // timestamp units
}

// Update accounts for one packet with header h that arrived at arrival,
// expressed in timestamp units (1/8000 s) of a monotonic clock; only
// differences of arrival matter.
func (s *RecvStats) Update(h RTPHeader, arrival uint32) {
	transit := arrival - h.Timestamp
	if !s.started || h.SSRC != s.ssrc {
		if s.started {
			s.ssrcChanges++
			s.expectedOld += s.expectedCurrent()
		}
		s.started = true
		s.ssrc = h.SSRC
		s.maxSeq = h.Seq
		s.cycles = 0
		s.baseExt = uint64(h.Seq)
		s.baseTransit = transit
		s.minRel = 0
		s.lastTransit = transit
		s.received++
		return
	}
	s.received++

	delta := int16(h.Seq - s.maxSeq)
	switch {
	case delta > 0:
		if delta > 1 {
			s.gaps++
			s.gapPackets += uint64(delta - 1)
		}
		if h.Seq < s.maxSeq {
			s.cycles += 1 << 16
		}
		s.maxSeq = h.Seq
	case delta == 0:
		s.duplicates++
	default:
		s.reordered++
	}

	// Interarrival jitter, RFC 3550 A.8: J += (|D| - J) / 16.
	d := int32(transit - s.lastTransit)
	s.lastTransit = transit
	if d < 0 {
		d = -d
	}
	s.jitter += (float64(d) - s.jitter) / 16

	if s.LateThreshold > 0 {
		rel := int32(transit - s.baseTransit)
		if rel < s.minRel {
			s.minRel = rel
		}
		if rel-s.minRel > s.LateThreshold {
			s.late++
		}
	}
}

func (s *RecvStats) expectedCurrent() uint64 {
	if !s.started {
		return 0
	}
	return s.cycles + uint64(s.maxSeq) - s.baseExt + 1
}

// StreamSnapshot is the state of a RecvStats at one instant. Subtracting two
// snapshots with Sub gives the figures of the interval between them.
type StreamSnapshot struct {
	Received    uint64  `json:"received"`
	Expected    uint64  `json:"expected"`
	Gaps        uint64  `json:"gaps"`
	GapPackets  uint64  `json:"gap_packets"`
	Reordered   uint64  `json:"reordered"`
	Duplicates  uint64  `json:"duplicates"`
	Late        uint64  `json:"late"`
	SSRCChanges uint64  `json:"ssrc_changes"`
	JitterMS    float64 `json:"jitter_ms"`
}

// Snapshot returns the current totals and the current jitter estimate.
func (s *RecvStats) Snapshot() StreamSnapshot {
	return StreamSnapshot{
		Received:    s.received,
		Expected:    s.expectedOld + s.expectedCurrent(),
		Gaps:        s.gaps,
		GapPackets:  s.gapPackets,
		Reordered:   s.reordered,
		Duplicates:  s.duplicates,
		Late:        s.late,
		SSRCChanges: s.ssrcChanges,
		JitterMS:    s.jitter * 1000 / SampleRate,
	}
}

// Sub returns the counts of the interval from earlier to s; the jitter is
// s's (the estimate at the end of the interval).
func (s StreamSnapshot) Sub(earlier StreamSnapshot) StreamSnapshot {
	return StreamSnapshot{
		Received:    s.Received - earlier.Received,
		Expected:    s.Expected - earlier.Expected,
		Gaps:        s.Gaps - earlier.Gaps,
		GapPackets:  s.GapPackets - earlier.GapPackets,
		Reordered:   s.Reordered - earlier.Reordered,
		Duplicates:  s.Duplicates - earlier.Duplicates,
		Late:        s.Late - earlier.Late,
		SSRCChanges: s.SSRCChanges - earlier.SSRCChanges,
		JitterMS:    s.JitterMS,
	}
}

// Lost is the number of packets expected but not received (never negative:
// duplicates can make received exceed expected).
func (s StreamSnapshot) Lost() uint64 {
	if s.Received >= s.Expected {
		return 0
	}
	return s.Expected - s.Received
}

// tsUnits converts a monotonic duration to 8 kHz timestamp units modulo 2^32.
func tsUnits(d time.Duration) uint32 {
	return uint32(int64(d) / int64(sampleDur))
}
