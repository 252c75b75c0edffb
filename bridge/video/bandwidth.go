package video

import (
	"fmt"
	"math"

	"github.com/pion/rtcp"
)

// LowestLimit returns the lowest non-zero bit rate in limits, or 0 when none
// is set: a switched source must fit the narrowest receiver that sees it,
// since there is no transcoding to serve the others better.
func LowestLimit(limits []uint64) uint64 {
	var low uint64
	for _, l := range limits {
		if l != 0 && (low == 0 || l < low) {
			low = l
		}
	}
	return low
}

// LimitFromRTCP extracts a receiver's bit rate limit from an RTCP packet:
// REMB (draft-alvestrand-rmcat-remb) decoded by pion/rtcp. TMMBR, which
// pion/rtcp leaves raw, is read with ParseTMMBR. ok is false for other
// packets.
func LimitFromRTCP(p rtcp.Packet) (bps uint64, ok bool) {
	remb, isREMB := p.(*rtcp.ReceiverEstimatedMaximumBitrate)
	if !isREMB {
		return 0, false
	}
	if remb.Bitrate <= 0 || math.IsNaN(float64(remb.Bitrate)) {
		return 0, false
	}
	if float64(remb.Bitrate) >= math.MaxUint64 {
		return math.MaxUint64, true
	}
	return uint64(remb.Bitrate), true
}

// SetReceiverBandwidth records the latest bit rate limit a receiver asked
// for (REMB, TMMBR, or b=AS/b=TIAS from its SDP); 0 clears it.
func (rt *Router) SetReceiverBandwidth(receiverID string, bps uint64) error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	r, ok := rt.receivers[receiverID]
	if !ok {
		return fmt.Errorf("setting bandwidth of video receiver %q: %w", receiverID, ErrUnknownReceiver)
	}
	r.bandwidth = bps
	return nil
}

// SourceBandwidth returns the bit rate limit to ask of source sourceID (by
// TMMBR or REMB towards it, or b=AS in a re-INVITE): the lowest limit among
// the receivers that see it or are switching to it; 0 means no limit.
func (rt *Router) SourceBandwidth(sourceID string) (uint64, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	s, ok := rt.sources[sourceID]
	if !ok {
		return 0, fmt.Errorf("bandwidth of video source %q: %w", sourceID, ErrUnknownSource)
	}
	var low uint64
	for _, r := range rt.rcvList {
		if r.cur == s || r.pending == s {
			low = LowestLimit([]uint64{low, r.bandwidth})
		}
	}
	return low, nil
}
