package video

import (
	"fmt"
	"time"

	"github.com/pion/rtcp"
)

// Forward takes one RTP packet of source sourceID's video stream and sends it,
// rewritten, to every receiver that sees this source, and cuts over the
// receivers waiting for this source when it starts an IDR picture. The
// packet is copied, so pkt may be reused once Forward returns. Malformed
// packets are dropped with an error; Forward allocates nothing.
func (rt *Router) Forward(sourceID string, pkt []byte) error {
	h, err := ParseRTPHeader(pkt)
	if err != nil {
		rt.countMalformed(sourceID)
		return fmt.Errorf("forwarding video from %q: %w", sourceID, err)
	}
	payload := pkt[h.PayloadOffset:h.PayloadEnd]
	if len(payload) == 0 {
		return nil // padding-only probe: nothing to forward
	}
	info, err := InspectPayload(payload)
	if err != nil {
		rt.countMalformed(sourceID)
		return fmt.Errorf("forwarding video from %q: %w", sourceID, err)
	}
	if len(pkt) > rt.cfg.MaxPacketSize {
		return fmt.Errorf("forwarding video from %q: %d bytes: %w", sourceID, len(pkt), ErrPacketTooLarge)
	}

	rt.mu.Lock()
	defer rt.mu.Unlock()
	s, ok := rt.sources[sourceID]
	if !ok {
		return fmt.Errorf("forwarding video from %q: %w", sourceID, ErrUnknownSource)
	}
	now := rt.cfg.Clock.Now()
	s.lastPacket, s.seen = now, true
	s.packetsIn++
	if s.haveTS && h.SSRC != s.ssrc {
		rt.restartSource(s)
	}
	s.ssrc = h.SSRC
	_ = s.ring.Store(h.SequenceNumber, pkt) // cannot fail: size checked above
	if !s.haveSeq || int16(h.SequenceNumber-s.maxSeq) > 0 {
		s.maxSeq, s.haveSeq = h.SequenceNumber, true
	}
	if info.HasSPS || info.HasPPS {
		// Oversized or malformed parameter sets are left out of the cache;
		// the packet itself is still forwarded as received.
		_ = s.params.Update(payload)
	}
	if !s.haveTS || h.Timestamp != s.lastTS {
		if d := h.Timestamp - s.lastTS; s.haveTS && int32(d) > 0 {
			if d >= minFrameInterval && d <= maxFrameInterval {
				s.frameInterval = d
			}
		}
		if !s.haveTS || int32(h.Timestamp-s.lastTS) > 0 {
			s.lastTS = h.Timestamp
		}
		s.haveTS = true
	}
	if h.Marker {
		s.framesIn++
	}
	if info.IDRStart {
		s.keyframesIn++
		s.kfWanted = false
	}
	var withParams bool
	if info.IDRStart && !(info.HasSPS && info.HasPPS) {
		withParams = s.params.Complete()
	}
	for _, r := range rt.rcvList {
		switch {
		case r.pending == s:
			if r.holding {
				// The packet waits in the ring; flush before it could be
				// overwritten.
				if d := h.SequenceNumber - r.holdFrom; int16(d) > 0 && d >= sourceRingSize/2 {
					rt.flush(r)
				}
				continue
			}
			if !info.IDRStart {
				continue
			}
			if r.cur != nil && r.midFrame {
				r.holding, r.holdFrom, r.holdSince = true, h.SequenceNumber, now
				continue
			}
			r.cutOver(s, &h, withParams)
			r.send(pkt, &h, s.frameInterval)
		case r.cur == s:
			if int16(h.SequenceNumber-r.cutSeq) < 0 {
				continue // older than the cut-over: from before the switch
			}
			if r.holding && h.Timestamp+r.tsOffset != r.lastTS {
				// The old frame ended without its marker (lost); cut
				// before the next frame starts.
				rt.flush(r)
				continue
			}
			r.send(pkt, &h, s.frameInterval)
			if d := h.SequenceNumber - r.cutSeq; d > cutWindow {
				// Keep the cut-over mark a bounded distance behind the
				// stream: once a source has been on screen for 32768
				// packets, its numbers would otherwise look older than
				// the cut and be dropped for the next 32768.
				r.cutSeq = h.SequenceNumber - cutWindow
			}
			if r.holding && h.Marker {
				rt.flush(r)
			}
		}
	}
	return nil
}

// cutWindow is how far behind the newest forwarded packet of the current
// source a late packet is still taken for one of this stream rather than
// one from before the switch; far more than any reordering on the way in.
const cutWindow = 1024

// setPending sets the source r switches to next (nil for none) and drops a
// held cut-over to another source.
func (r *receiver) setPending(s *source) {
	r.pending = s
	r.holding = false
}

// flush completes a held cut-over: r switches to its pending source at the
// IDR kept in that source's ring, and everything the source sent since
// follows. If the IDR was already overwritten, r waits for the next one.
func (rt *Router) flush(r *receiver) {
	s := r.pending
	r.holding = false
	if s == nil {
		return
	}
	idr, ok := s.ring.Lookup(r.holdFrom)
	if !ok {
		return
	}
	h, err := ParseRTPHeader(idr)
	if err != nil {
		return
	}
	info, err := InspectPayload(idr[h.PayloadOffset:h.PayloadEnd])
	if err != nil || !info.IDRStart {
		return
	}
	r.cutOver(s, &h, !(info.HasSPS && info.HasPPS) && s.params.Complete())
	end := s.maxSeq + 1
	for seq := r.holdFrom; seq != end; seq++ {
		p, ok := s.ring.Lookup(seq)
		if !ok {
			continue // lost on the way in: a real gap
		}
		ph, err := ParseRTPHeader(p)
		if err != nil {
			continue
		}
		r.send(p, &ph, s.frameInterval)
	}
}

// restartSource handles a source whose SSRC changed (a new encoder stream,
// e.g. after a re-INVITE): its receivers wait for an IDR of the new stream
// and the source is asked for one on the next Tick.
func (rt *Router) restartSource(s *source) {
	s.haveTS, s.haveSeq = false, false
	s.ring.Reset()
	for _, r := range rt.rcvList {
		if r.cur == s {
			r.cur = nil
			switch {
			case r.holding:
				rt.flush(r) // the old stream will not finish its frame
			case r.pending == nil:
				r.setPending(s)
			}
		}
	}
	if rt.awaited(s) && !s.kfWanted {
		s.kfWanted, s.kfTries, s.kfAsked = true, 0, time.Time{}
	}
}

func (rt *Router) countMalformed(sourceID string) {
	rt.mu.Lock()
	if s, ok := rt.sources[sourceID]; ok {
		s.malformed++
	}
	rt.mu.Unlock()
}

// cutOver makes s the receiver's current source at the IDR packet h: the
// sequence numbers continue from the last one sent, the IDR's timestamp is
// one frame interval after the last frame sent, and the cached SPS/PPS go
// first when the packet does not carry them.
func (r *receiver) cutOver(s *source, h *RTPHeader, withParams bool) {
	nextSeq := r.lastSeq + 1
	nextTS := r.lastTS
	if r.started {
		nextTS += min(max(r.lastInterval, minFrameInterval), maxFrameInterval)
	}
	if withParams && 12+s.params.STAPASize() <= len(r.cache.slot(nextSeq)) {
		slot := r.cache.slot(nextSeq)
		writeRTPHeader(slot, false, r.pt, nextSeq, nextTS, r.ssrc)
		n := len(s.params.AppendSTAPA(slot[12:12]))
		out := r.cache.commit(nextSeq, 12+n)
		r.write(out)
		r.lastSeq = nextSeq
		nextSeq++
	}
	r.seqOffset = nextSeq - h.SequenceNumber
	r.tsOffset = nextTS - h.Timestamp
	r.cutSeq = h.SequenceNumber
	r.cur, r.pending = s, nil
	r.started = true
}

// send rewrites pkt into the receiver's cache slot and writes it out.
func (r *receiver) send(pkt []byte, h *RTPHeader, interval uint32) {
	seq := h.SequenceNumber + r.seqOffset
	ts := h.Timestamp + r.tsOffset
	slot := r.cache.slot(seq)
	n := copy(slot, pkt)
	rewriteRTP(slot, seq, ts, r.ssrc)
	slot[1] = slot[1]&0x80 | r.pt
	out := r.cache.commit(seq, n)
	if int16(seq-r.lastSeq) > 0 {
		r.lastSeq = seq
	}
	if int32(ts-r.lastTS) > 0 {
		r.lastTS = ts
	}
	r.lastInterval = interval
	r.midFrame = !h.Marker
	if h.Marker {
		r.framesOut++
	}
	r.write(out)
}

func (r *receiver) write(pkt []byte) {
	r.packetsOut++
	if err := r.sink.WriteRTP(pkt); err != nil {
		r.sendErrors++
	}
}

// HandleNack answers a receiver's Generic NACK (RFC 4585 §6.2.1) from its
// retransmission cache, re-sending the packets as they were first sent.
// It returns how many packets were re-sent and how many were too old.
func (rt *Router) HandleNack(receiverID string, nack *rtcp.TransportLayerNack) (resent, missing int, err error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	r, ok := rt.receivers[receiverID]
	if !ok {
		return 0, 0, fmt.Errorf("answering NACK of video receiver %q: %w", receiverID, ErrUnknownReceiver)
	}
	resent, missing, err = r.cache.Answer(nack, r.sink.WriteRTP)
	r.retransmits += uint64(resent)
	if err != nil {
		return resent, missing, fmt.Errorf("answering NACK of video receiver %q: %w", receiverID, err)
	}
	return resent, missing, nil
}
