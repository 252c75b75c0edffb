package bridge

// rxStats keeps the receive statistics of one incoming RTP stream as RFC 3550
// Appendix A.3 (sequence and loss) and A.8 (interarrival jitter) define them.
// The probation step of A.1 is left out: the leg already accepts only the
// negotiated payload type from the latched source.
type rxStats struct {
	started  bool
	baseSeq  uint16
	maxSeq   uint16
	cycles   uint32 // count of sequence number wrap-arounds, shifted by 16
	received uint64

	expectedPrior uint64
	receivedPrior uint64

	transit  int64
	jitter   float64 // in RTP clock units
	lastSR   uint32  // middle 32 bits of the NTP timestamp of the last SR received
	lastSRAt int64   // when it arrived, monotonic nanoseconds
}

// maxDropout and maxMisorder are RFC 3550 A.1's limits for a sequence jump
// that still counts as the same stream.
const (
	maxDropout  = 3000
	maxMisorder = 100
)

// update records one received packet; arrival is the arrival time in RTP
// clock units.
func (s *rxStats) update(seq uint16, ts uint32, arrival uint32) {
	if !s.started {
		*s = rxStats{started: true, baseSeq: seq, maxSeq: seq, received: 1, transit: int64(int32(arrival - ts))}
		return
	}
	udelta := seq - s.maxSeq
	switch {
	case udelta < maxDropout:
		if seq < s.maxSeq {
			s.cycles += 1 << 16
		}
		s.maxSeq = seq
	case udelta <= 65535-maxMisorder:
		// A very large jump: the sender restarted. Start over from here.
		*s = rxStats{started: true, baseSeq: seq, maxSeq: seq, received: 1, transit: int64(int32(arrival - ts))}
		return
	default:
		// Duplicate or reordered packet.
	}
	s.received++
	transit := int64(int32(arrival - ts))
	d := transit - s.transit
	s.transit = transit
	if d < 0 {
		d = -d
	}
	s.jitter += (float64(d) - s.jitter) / 16
}

// extMax is the extended highest sequence number received.
func (s *rxStats) extMax() uint32 { return s.cycles + uint32(s.maxSeq) }

// expected is the number of packets expected so far.
func (s *rxStats) expected() uint64 {
	if !s.started {
		return 0
	}
	return uint64(s.extMax()) - uint64(s.baseSeq) + 1
}

// lost is the cumulative number of packets lost (never negative here,
// although RFC 3550 allows duplicates to drive it below zero on the wire).
func (s *rxStats) lost() uint64 {
	e := s.expected()
	if s.received >= e {
		return 0
	}
	return e - s.received
}

// interval returns the fraction lost since the last call, in the 8-bit
// fixed point of a reception report block, and starts a new interval.
func (s *rxStats) interval() uint8 {
	e := s.expected()
	expInt := e - s.expectedPrior
	recvInt := s.received - s.receivedPrior
	s.expectedPrior, s.receivedPrior = e, s.received
	if expInt == 0 || recvInt >= expInt {
		return 0
	}
	return uint8(min(((expInt-recvInt)<<8)/expInt, 255))
}
