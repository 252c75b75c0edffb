package bridge

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/pion/rtcp"

	"github.com/roomgate/roomgate/bridge/video"
)

// bandwidthRepeat is how often an unchanged bandwidth limit is asked of a
// source again, in case the request was lost (REMB is sent about once a
// second by browsers; a few seconds is plenty for room systems).
const bandwidthRepeat = 5 * time.Second

// handleRTCP parses one compound RTCP datagram from the peer and hands the
// feedback about the stream we send it to the router. RTCP is rare next to
// media, so parsing may allocate.
func (l *VideoLeg) handleRTCP(pkt []byte, from netip.AddrPort) {
	if len(pkt) > maxDatagram {
		l.dropMalformed.Add(1)
		return
	}
	pkts, err := rtcp.Unmarshal(pkt)
	if err != nil {
		l.dropMalformed.Add(1)
		l.log.Debug("dropping video RTCP", "from", from, "err", err)
		return
	}
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	l.mu.Lock()
	if l.latched && from.Addr() != l.latchTo.Addr() {
		// RTCP must come from the host that sends the media.
		l.mu.Unlock()
		l.dropWrong.Add(1)
		return
	}
	l.rtcpFrom = from
	for _, p := range pkts {
		if sr, ok := p.(*rtcp.SenderReport); ok && sr.SSRC == l.latchSrc {
			l.rx.lastSR = uint32(sr.NTPTime >> 16)
			l.rx.lastSRAt = l.b.clk.Now().Sub(l.epoch).Nanoseconds()
		}
	}
	vr := l.room
	l.mu.Unlock()
	if vr == nil {
		return
	}
	wantKeyframe := false
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			l.kfReceived.Add(1)
			wantKeyframe = true
		case *rtcp.TransportLayerNack:
			l.nacksIn.Add(1)
			if _, _, err := vr.rt.HandleNack(l.id, p); err != nil {
				l.log.Debug("answering NACK", "err", err)
			}
		case *rtcp.ReceiverEstimatedMaximumBitrate:
			if bps, ok := video.LimitFromRTCP(p); ok {
				l.setLimit(vr, bps)
			}
		case *rtcp.RawPacket:
			// pion/rtcp leaves TMMBR raw. Only a request about our stream
			// counts; it is acknowledged with a TMMBN (RFC 5104 §4.2.2).
			if t, err := video.ParseTMMBR(*p); err == nil && t.SSRC == l.ssrc {
				l.ackTMMBR(*p)
				if t.Bitrate > 0 {
					l.setLimit(vr, t.Bitrate)
				}
			}
		case *rtcp.Goodbye:
			l.log.Debug("peer sent RTCP BYE on video", "reason", p.Reason)
		}
	}
	if wantKeyframe {
		// PLI and FIR together in one compound packet are one request.
		if _, err := vr.rt.RequestFromReceiver(l.id); err != nil {
			l.log.Debug("forwarding keyframe request", "err", err)
		}
	}
}

// ackTMMBR answers a TMMBR (validated by video.ParseTMMBR) with a TMMBN
// whose bounding set is that request alone: we forward one stream per
// receiver, so each receiver's own request is the set that bounds it.
func (l *VideoLeg) ackTMMBR(req []byte) {
	var b [20]byte
	n := append(b[:0], 0x80|4, byte(rtcp.TypeTransportSpecificFeedback), 0, 4)
	n = binary.BigEndian.AppendUint32(n, l.ssrc)
	n = binary.BigEndian.AppendUint32(n, 0)                                // media source: 0 in TMMBN
	n = binary.BigEndian.AppendUint32(n, binary.BigEndian.Uint32(req[4:])) // the requester
	n = append(n, req[16:20]...)                                           // its exponent, mantissa, overhead
	l.mu.Lock()
	dst := l.rtcpDest()
	if dst.IsValid() {
		if err := l.rtcpOut.send(n, dst); err != nil {
			l.sendErrors.Add(1)
		}
	}
	l.mu.Unlock()
}

// setLimit records a bandwidth limit the peer asked for (REMB, TMMBR).
func (l *VideoLeg) setLimit(vr *videoRoom, bps uint64) {
	l.mu.Lock()
	l.limitIn = bps
	limit := l.receiverLimit()
	l.mu.Unlock()
	if err := vr.rt.SetReceiverBandwidth(l.id, limit); err != nil {
		l.log.Debug("setting receiver bandwidth", "err", err)
	}
}

// askBandwidth asks the peer's encoder to stay under bps, by REMB or TMMBR
// as negotiated, when the limit changed or was last asked long ago.
func (l *VideoLeg) askBandwidth(bps uint64, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fb := l.params.Feedback
	if bps == 0 || !l.latched || !(fb.REMB || fb.TMMBR) {
		return
	}
	if bps == l.sentLimit && now.Sub(l.sentLimitAt) < bandwidthRepeat {
		return
	}
	var pkt []byte
	if fb.REMB {
		b, err := (&rtcp.ReceiverEstimatedMaximumBitrate{
			SenderSSRC: l.ssrc, Bitrate: float32(bps), SSRCs: []uint32{l.latchSrc},
		}).Marshal()
		if err != nil {
			l.log.Warn("building REMB", "err", err)
			return
		}
		pkt = b
	} else {
		pkt = appendTMMBR(nil, l.ssrc, l.latchSrc, bps)
	}
	dst := l.rtcpDest()
	if !dst.IsValid() {
		return
	}
	if err := l.rtcpOut.send(pkt, dst); err != nil {
		l.sendErrors.Add(1)
		return
	}
	l.sentLimit, l.sentLimitAt = bps, now
	l.log.Debug("asked video source for a bit rate", "bps", bps, "remb", fb.REMB)
}

// appendTMMBR appends an RTCP TMMBR (RFC 5104 §4.2.1) asking media sender
// ssrc for at most bps: the rate as a 17-bit mantissa and 6-bit exponent,
// overhead 0.
func appendTMMBR(dst []byte, sender, ssrc uint32, bps uint64) []byte {
	exp := uint32(0)
	for bps >= 1<<17 && exp < 63 {
		bps >>= 1
		exp++
	}
	dst = append(dst, 0x80|3, byte(rtcp.TypeTransportSpecificFeedback), 0, 4)
	dst = binary.BigEndian.AppendUint32(dst, sender)
	dst = binary.BigEndian.AppendUint32(dst, 0) // media source: 0 in TMMBR
	dst = binary.BigEndian.AppendUint32(dst, ssrc)
	return binary.BigEndian.AppendUint32(dst, exp<<26|uint32(bps)<<9)
}

// report sends our RTCP receiver report about the peer's video when one is
// due (every 2.5–7.5 s, RFC 3550 §6.3.1): an RR with a reception report block
// once the peer sent something, and an SDES CNAME. It allocates nothing.
func (l *VideoLeg) report(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.started || now.Before(l.reportAt) {
		return
	}
	l.reportAt = nextReport(now)
	dst := l.rtcpDest()
	if !dst.IsValid() {
		return
	}
	pkt := l.appendReport(l.rtcpBuf[:0], now)
	if err := l.rtcpOut.send(pkt, dst); err != nil {
		l.sendErrors.Add(1)
	}
}

// appendReport appends an RR and an SDES CNAME chunk (RFC 3550 §6.4.2,
// §6.5). l.mu must be held.
func (l *VideoLeg) appendReport(b []byte, now time.Time) []byte {
	blocks := byte(0)
	if l.latched && l.rx.started {
		blocks = 1
	}
	b = append(b, 0x80|blocks, byte(rtcp.TypeReceiverReport))
	b = binary.BigEndian.AppendUint16(b, uint16(1+6*int(blocks)))
	b = binary.BigEndian.AppendUint32(b, l.ssrc)
	if blocks == 1 {
		b = binary.BigEndian.AppendUint32(b, l.latchSrc)
		b = binary.BigEndian.AppendUint32(b, uint32(l.rx.interval())<<24|uint32(min(l.rx.lost(), 0x7fffff)))
		b = binary.BigEndian.AppendUint32(b, l.rx.extMax())
		b = binary.BigEndian.AppendUint32(b, uint32(l.rx.jitter))
		b = binary.BigEndian.AppendUint32(b, l.rx.lastSR)
		var dlsr uint32
		if l.rx.lastSR != 0 {
			// Delay since the last SR in units of 1/65536 s.
			dlsr = uint32((now.Sub(l.epoch).Nanoseconds() - l.rx.lastSRAt) * 65536 / int64(time.Second))
		}
		b = binary.BigEndian.AppendUint32(b, dlsr)
	}
	cname := l.b.cname[:min(len(l.b.cname), 255)]
	chunk := 4 + 2 + len(cname) // SSRC, CNAME item header and text
	pad := 4 - chunk%4          // the item list ends with at least one null octet
	b = append(b, 0x81, byte(rtcp.TypeSourceDescription))
	b = binary.BigEndian.AppendUint16(b, uint16((chunk+pad)/4))
	b = binary.BigEndian.AppendUint32(b, l.ssrc)
	b = append(b, 1, byte(len(cname)))
	b = append(b, cname...)
	for range pad {
		b = append(b, 0)
	}
	return b
}
