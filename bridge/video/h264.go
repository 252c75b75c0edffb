package video

import (
	"encoding/binary"
	"fmt"
)

// NALType is the 5-bit nal_unit_type of an H.264 NAL unit header
// (ITU-T H.264 Table 7-1), extended by RFC 6184 §5.2 with the payload
// structures 24–29 used only inside RTP.
type NALType uint8

// NAL unit types the router cares about.
const (
	NALSlice  NALType = 1  // coded slice of a non-IDR picture
	NALIDR    NALType = 5  // coded slice of an IDR picture
	NALSEI    NALType = 6  // supplemental enhancement information
	NALSPS    NALType = 7  // sequence parameter set
	NALPPS    NALType = 8  // picture parameter set
	NALAUD    NALType = 9  // access unit delimiter
	NALSTAPA  NALType = 24 // single-time aggregation packet (RFC 6184 §5.7.1)
	NALSTAPB  NALType = 25 // STAP-B, packetization-mode 2 only
	NALMTAP16 NALType = 26 // MTAP16, packetization-mode 2 only
	NALMTAP24 NALType = 27 // MTAP24, packetization-mode 2 only
	NALFUA    NALType = 28 // fragmentation unit A (RFC 6184 §5.8)
	NALFUB    NALType = 29 // FU-B, packetization-mode 2 only
)

// PayloadInfo describes one H.264 RTP payload: how it is packetized and what
// the NAL units it carries (or starts) are. It is a value type so that
// inspection allocates nothing.
type PayloadInfo struct {
	// Packetization is the payload's own type: 1–23 for a single NAL unit
	// packet, NALSTAPA or NALFUA.
	Packetization NALType
	// First is the type of the first NAL unit carried; for an FU-A, the
	// original type of the fragmented unit.
	First NALType
	// FUStart and FUEnd are the S and E bits of an FU-A; both are true for
	// single NAL unit and STAP-A packets, which carry whole units.
	FUStart, FUEnd bool
	// HasSPS, HasPPS, HasIDR: a unit of that type is carried or, for an
	// FU-A, fragmented.
	HasSPS, HasPPS, HasIDR bool
	// HasSlice: a coded slice (types 1–5) is carried or fragmented.
	HasSlice bool
	// IDRStart: the packet carries the beginning of an IDR slice whose
	// first_mb_in_slice is 0, i.e. the first slice of an IDR picture.
	IDRStart bool
}

// InspectPayload reads the H.264 RTP payload p (RFC 6184 packetization-mode
// 0 or 1) without copying. Malformed input returns an error wrapping one of
// ErrEmptyPayload, ErrForbiddenBit, ErrBadAggregate, ErrShortPacket or
// ErrUnsupportedNAL; it never panics.
func InspectPayload(p []byte) (PayloadInfo, error) {
	var info PayloadInfo
	if len(p) == 0 {
		return info, fmt.Errorf("inspecting H.264 payload: %w", ErrEmptyPayload)
	}
	if p[0]&0x80 != 0 {
		return info, fmt.Errorf("inspecting H.264 payload: %w", ErrForbiddenBit)
	}
	t := NALType(p[0] & 0x1f)
	info.Packetization = t
	switch {
	case t >= 1 && t <= 23:
		info.First = t
		info.FUStart, info.FUEnd = true, true
		info.note(p)
	case t == NALSTAPA:
		info.FUStart, info.FUEnd = true, true
		it := NewSTAPAIterator(p)
		first := true
		for nal, ok := it.Next(); ok; nal, ok = it.Next() {
			if first {
				info.First = NALType(nal[0] & 0x1f)
				first = false
			}
			info.note(nal)
		}
		if err := it.Err(); err != nil {
			return PayloadInfo{}, fmt.Errorf("inspecting STAP-A: %w", err)
		}
		if first {
			return PayloadInfo{}, fmt.Errorf("inspecting STAP-A without units: %w", ErrBadAggregate)
		}
	case t == NALFUA:
		if len(p) < 3 {
			return PayloadInfo{}, fmt.Errorf("inspecting FU-A of %d bytes: %w", len(p), ErrShortPacket)
		}
		fu := p[1]
		info.FUStart = fu&0x80 != 0
		info.FUEnd = fu&0x40 != 0
		ot := NALType(fu & 0x1f)
		info.First = ot
		info.HasSlice = ot >= 1 && ot <= 5
		info.HasSPS = ot == NALSPS
		info.HasPPS = ot == NALPPS
		info.HasIDR = ot == NALIDR
		// The fragment after the FU header starts with the slice header
		// when S is set; ue(v) 0 is the single bit 1.
		info.IDRStart = info.FUStart && ot == NALIDR && p[2]&0x80 != 0
	case t == 0 || t >= 30:
		return PayloadInfo{}, fmt.Errorf("inspecting H.264 payload: reserved type %d: %w", t, ErrUnsupportedNAL)
	default:
		return PayloadInfo{}, fmt.Errorf("inspecting H.264 payload: type %d: %w", t, ErrUnsupportedNAL)
	}
	return info, nil
}

// note records one whole NAL unit (header included) in info.
func (info *PayloadInfo) note(nal []byte) {
	t := NALType(nal[0] & 0x1f)
	switch t {
	case NALSPS:
		info.HasSPS = true
	case NALPPS:
		info.HasPPS = true
	case NALIDR:
		info.HasIDR = true
		if len(nal) > 1 && nal[1]&0x80 != 0 {
			info.IDRStart = true
		}
	}
	if t >= 1 && t <= 5 {
		info.HasSlice = true
	}
}

// IsKeyframeStart reports whether the H.264 RTP payload p can begin a
// decodable access unit: it starts with an SPS or PPS (which encoders send
// right before an IDR), or it carries the start of an IDR picture's first
// slice. Malformed payloads are not keyframe starts.
func IsKeyframeStart(p []byte) bool {
	info, err := InspectPayload(p)
	if err != nil {
		return false
	}
	if !info.FUStart {
		return false
	}
	return info.First == NALSPS || info.First == NALPPS || info.IDRStart
}

// STAPAIterator walks the NAL units of a STAP-A payload (RFC 6184 §5.7.1)
// in place. Each unit is preceded by a 16-bit size; a zero size or a size
// that runs past the payload stops the walk with ErrBadAggregate.
type STAPAIterator struct {
	b   []byte
	err error
}

// NewSTAPAIterator returns an iterator over the STAP-A payload p, whose
// first byte is the STAP-A NAL header.
func NewSTAPAIterator(p []byte) STAPAIterator {
	if len(p) == 0 {
		return STAPAIterator{err: ErrEmptyPayload}
	}
	return STAPAIterator{b: p[1:]}
}

// Next returns the next aggregated NAL unit, or false at the end or on error.
func (it *STAPAIterator) Next() ([]byte, bool) {
	if it.err != nil || len(it.b) == 0 {
		return nil, false
	}
	if len(it.b) < 2 {
		it.err = fmt.Errorf("STAP-A size field cut short: %w", ErrBadAggregate)
		return nil, false
	}
	n := int(binary.BigEndian.Uint16(it.b))
	if n == 0 || 2+n > len(it.b) {
		it.err = fmt.Errorf("STAP-A unit of %d bytes with %d left: %w", n, len(it.b)-2, ErrBadAggregate)
		return nil, false
	}
	nal := it.b[2 : 2+n]
	it.b = it.b[2+n:]
	if nal[0]&0x80 != 0 {
		it.err = fmt.Errorf("STAP-A unit: %w", ErrForbiddenBit)
		return nil, false
	}
	return nal, true
}

// Err returns the error that stopped the walk, if any.
func (it *STAPAIterator) Err() error { return it.err }
