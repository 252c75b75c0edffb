package bridge

import (
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/pion/rtp"
)

// readRTP reads the leg's RTP socket until it is closed.
func (l *Leg) readRTP() {
	defer l.readers.Done()
	for {
		n, from, err := l.ports.rtp.ReadFromUDPAddrPort(l.rbuf[:])
		if err != nil {
			if l.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			l.log.Debug("reading RTP", "err", err)
			continue
		}
		l.handleRTP(l.rbuf[:n], from, l.b.clk.Now())
	}
}

// parseRTP parses the fixed header, CSRCs and extension of pkt into h and
// returns the payload without padding. It does not allocate once h has seen
// the largest CSRC list and extension count. Errors are the package's
// sentinels, unwrapped, so that a flood of garbage costs no allocations.
func parseRTP(h *rtp.Header, pkt []byte) ([]byte, error) {
	if len(pkt) < 12 {
		return nil, ErrRTPTruncated
	}
	if pkt[0]>>6 != 2 {
		return nil, ErrRTPVersion
	}
	n, err := h.Unmarshal(pkt)
	if err != nil || n > len(pkt) {
		return nil, ErrRTPTruncated
	}
	payload := pkt[n:]
	if h.Padding {
		if len(payload) == 0 {
			return nil, ErrRTPPadding
		}
		pad := int(payload[len(payload)-1])
		if pad == 0 || pad > len(payload) {
			return nil, ErrRTPPadding
		}
		payload = payload[:len(payload)-pad]
	}
	return payload, nil
}

// isRTCP reports whether a datagram on the RTP port is RTCP multiplexed onto
// it (RFC 5761 §4: packet types 192..223 in the second byte).
func isRTCP(pkt []byte) bool { return len(pkt) >= 2 && pkt[1] >= 192 && pkt[1] <= 223 }

// handleRTP processes one datagram received on the RTP port at now. It
// allocates nothing in steady state.
func (l *Leg) handleRTP(pkt []byte, from netip.AddrPort, now time.Time) {
	m := l.b.metrics
	if len(pkt) > maxDatagram {
		l.dropMalformed.Add(1)
		m.dropOversized.Inc()
		l.traceDrop(dropOversized, from, len(pkt))
		return
	}
	if isRTCP(pkt) {
		l.handleRTCP(pkt, from, now)
		return
	}
	payload, err := parseRTP(&l.hdr, pkt)
	if err != nil {
		l.dropMalformed.Add(1)
		m.dropMalformed.Inc()
		l.traceDrop(dropMalformed, from, len(pkt))
		return
	}
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	h := &l.hdr
	var ev Event
	haveEv := false

	l.mu.Lock()
	if !l.started {
		l.mu.Unlock()
		l.dropPT.Add(1)
		m.dropNotStarted.Inc()
		l.traceDrop(dropNotStarted, from, len(pkt))
		return
	}
	audio := h.PayloadType == l.params.PayloadType
	event := !audio && l.params.EventPayloadType >= 0 && int(h.PayloadType) == l.params.EventPayloadType
	if !audio && !event {
		l.mu.Unlock()
		l.dropPT.Add(1)
		m.dropUnknownPT.Inc()
		l.traceDrop(dropUnknownPT, from, len(pkt))
		return
	}
	if l.latched && from != l.latchTo && h.SSRC == l.latchSrc {
		l.mu.Unlock()
		l.dropWrong.Add(1)
		m.dropWrongSource.Inc()
		l.traceDrop(dropWrongSource, from, len(pkt))
		return
	}
	if !l.latched || h.SSRC != l.latchSrc {
		if l.latched {
			// A new SSRC is a new stream (the peer restarted or moved).
			l.play.reset()
			l.rx = rxStats{}
			l.dtmf.reset()
		}
		l.latched, l.latchTo, l.latchSrc = true, from, h.SSRC
	}
	l.rx.update(h.SequenceNumber, h.Timestamp, l.arrival(now))
	l.activity = now
	// A muted leg's audio is still buffered when it may carry in-band DTMF:
	// the mixer scans it for digits without mixing it.
	mixing := l.params.Direction == SendRecv && (!l.muted || l.params.EventPayloadType < 0)
	if audio {
		if mixing {
			switch l.play.jb.insert(h.SequenceNumber, h.Timestamp, payload, false) {
			case insertLate:
				l.dropLate.Add(1)
				m.dropLate.Inc()
			case insertDuplicate:
				l.dropDup.Add(1)
				m.dropDuplicate.Inc()
			case insertOverflow:
				m.dropOverflow.Inc()
			case insertTooBig:
				l.dropMalformed.Add(1)
				m.dropOversized.Inc()
			}
			l.play.jitter = l.rx.jitter
		}
	} else {
		if mixing {
			l.play.jb.insert(h.SequenceNumber, h.Timestamp, nil, true)
		}
		if te, err := parseTelephoneEvent(payload); err != nil {
			l.dropMalformed.Add(1)
			m.dropMalformed.Inc()
		} else if d, ok := l.dtmf.feed(h.Timestamp, te); ok {
			ev, haveEv = Event{Kind: EventDTMF, Digit: d, Source: SourceRFC4733, At: now}, true
		}
	}
	l.mu.Unlock()

	l.packetsIn.Add(1)
	l.bytesIn.Add(uint64(len(pkt)))
	m.packetsIn.Inc()
	m.bytesIn.Add(float64(len(pkt)))
	if l.trace.Load() {
		l.log.Log(l.ctx, LevelTrace, "RTP in", "from", from, "pt", h.PayloadType, "seq", h.SequenceNumber,
			"ts", h.Timestamp, "ssrc", h.SSRC, "marker", h.Marker, "bytes", len(pkt))
	}
	if haveEv {
		m.dtmfEvents.Inc()
		l.emit(ev)
	}
}

// arrival converts now into the RTP clock of the current codec, for the
// interarrival jitter of RFC 3550 A.8. l.mu must be held.
func (l *Leg) arrival(now time.Time) uint32 {
	us := now.Sub(l.epoch).Microseconds()
	return uint32(us * int64(l.info.ClockRate) / 1e6)
}
