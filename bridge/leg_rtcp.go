package bridge

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	"github.com/pion/rtcp"
)

// rtcpInterval is the mean interval between our RTCP reports; each interval
// is drawn from [0.5, 1.5] times it (RFC 3550 §6.3.1) so that legs created
// together do not report in lockstep.
const rtcpInterval = 5 * time.Second

// nextReport returns when to send the report after one sent at now.
func nextReport(now time.Time) time.Time {
	return now.Add(time.Duration((0.5 + rand.Float64()) * float64(rtcpInterval)))
}

// readRTCP reads the leg's RTCP socket until it is closed.
func (l *Leg) readRTCP() {
	defer l.readers.Done()
	for {
		n, from, err := l.ports.rtcp.ReadFromUDPAddrPort(l.cbuf[:])
		if err != nil {
			if l.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			l.log.Debug("reading RTCP", "err", err)
			continue
		}
		l.handleRTCP(l.cbuf[:n], from, l.b.clk.Now())
	}
}

// handleRTCP parses one compound RTCP datagram and keeps what the peer's
// reports say about the stream we send. Unparseable datagrams are counted and
// otherwise ignored. RTCP arrives every few seconds, so parsing may allocate.
func (l *Leg) handleRTCP(pkt []byte, from netip.AddrPort, now time.Time) {
	m := l.b.metrics
	if len(pkt) > maxDatagram {
		m.rtcpErrors.Inc()
		return
	}
	pkts, err := rtcp.Unmarshal(pkt)
	if err != nil {
		m.rtcpErrors.Inc()
		l.log.Debug("dropping RTCP", "from", from, "err", err)
		return
	}
	m.rtcpIn.Inc()
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.latched && from.Addr() != l.latchTo.Addr() {
		// RTCP must come from the host that sends the media.
		m.rtcpErrors.Inc()
		return
	}
	l.rtcpFrom = from
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.SenderReport:
			l.rx.lastSR = uint32(p.NTPTime >> 16)
			l.rx.lastSRAt = now.Sub(l.epoch).Nanoseconds()
			l.noteReports(p.Reports)
		case *rtcp.ReceiverReport:
			l.noteReports(p.Reports)
		case *rtcp.Goodbye:
			if !l.rBye {
				l.log.Info("peer sent RTCP BYE", "reason", p.Reason)
			}
			l.rBye = true
		}
	}
}

// noteReports keeps the reception report about our SSRC. l.mu must be held.
func (l *Leg) noteReports(reports []rtcp.ReceptionReport) {
	for _, r := range reports {
		if r.SSRC != l.ssrc {
			continue
		}
		l.rLost = uint64(r.TotalLost)
		if cr := l.info.ClockRate; cr > 0 {
			l.rJitter = float64(r.Jitter) * 1000 / float64(cr)
		}
	}
}

// buildReport writes our compound RTCP report into mx.rtcpBuf and returns
// it: a sender report when we have sent RTP since the last one (else a
// receiver report), with a reception report block about the peer's stream
// once we have one, and an SDES CNAME (RFC 3550 §6.1). It is marshalled by
// hand into a preallocated buffer so that reports cost no allocations.
// l.mu must be held; mx is the mixer-owned send state.
func (l *Leg) buildReport(now time.Time, mx *legMix) []byte {
	b := mx.rtcpBuf[:0]
	rc := byte(0)
	if l.rx.started {
		rc = 1
	}
	if mx.sentSinceReport {
		b = append(b, 0x80|rc, 200)
		b = binary.BigEndian.AppendUint16(b, uint16(6+6*int(rc)))
		b = binary.BigEndian.AppendUint32(b, l.ssrc)
		b = binary.BigEndian.AppendUint64(b, ntpTime(now))
		b = binary.BigEndian.AppendUint32(b, mx.ts)
		b = binary.BigEndian.AppendUint32(b, mx.packets)
		b = binary.BigEndian.AppendUint32(b, mx.octets)
	} else {
		b = append(b, 0x80|rc, 201)
		b = binary.BigEndian.AppendUint16(b, uint16(1+6*int(rc)))
		b = binary.BigEndian.AppendUint32(b, l.ssrc)
	}
	mx.sentSinceReport = false
	if rc == 1 {
		b = binary.BigEndian.AppendUint32(b, l.latchSrc)
		lost := uint32(min(l.rx.lost(), 0x7fffff))
		b = binary.BigEndian.AppendUint32(b, uint32(l.rx.interval())<<24|lost)
		b = binary.BigEndian.AppendUint32(b, l.rx.extMax())
		b = binary.BigEndian.AppendUint32(b, uint32(l.rx.jitter))
		b = binary.BigEndian.AppendUint32(b, l.rx.lastSR)
		var dlsr uint32
		if l.rx.lastSR != 0 {
			since := now.Sub(l.epoch).Nanoseconds() - l.rx.lastSRAt
			dlsr = uint32(since * 65536 / int64(time.Second))
		}
		b = binary.BigEndian.AppendUint32(b, dlsr)
	}
	// SDES with one chunk: SSRC, CNAME item, then at least one null octet
	// padding the chunk to a 32-bit boundary (RFC 3550 §6.5).
	cname := l.b.cname[:min(len(l.b.cname), 255)]
	chunk := 4 + 2 + len(cname)
	pad := 4 - chunk%4
	words := (chunk + pad) / 4
	b = append(b, 0x81, 202)
	b = binary.BigEndian.AppendUint16(b, uint16(words))
	b = binary.BigEndian.AppendUint32(b, l.ssrc)
	b = append(b, 1, byte(len(cname)))
	b = append(b, cname...)
	for range pad {
		b = append(b, 0)
	}
	return b
}

// ntpTime converts t to the 64-bit NTP timestamp format of RFC 3550 §4.
func ntpTime(t time.Time) uint64 {
	const ntpEpochOffset = 2208988800 // seconds from 1900 to 1970
	secs := uint64(t.Unix()) + ntpEpochOffset
	frac := uint64(t.Nanosecond()) << 32 / uint64(time.Second)
	return secs<<32 | frac
}
