package video

import (
	"encoding/binary"
	"fmt"
)

// Bounds of the parameter set cache. Real SPS are tens of bytes and PPS a
// few; the bounds keep a hostile source from making the cache (and the STAP-A
// built from it) exceed one packet.
const (
	MaxSPSSize = 256
	MaxPPSSize = 128
)

// ParamSets caches the latest SPS and PPS of one source, copied out of its
// packets into fixed arrays so that the cache neither allocates nor keeps a
// reference to a packet buffer. A receiver that switches to the source gets
// them as one STAP-A before the first IDR, so that it can decode even when
// the source sent them long ago or only in SDP (sprop-parameter-sets).
// Only one SPS and one PPS are kept, the most recent of each.
type ParamSets struct {
	sps    [MaxSPSSize]byte
	pps    [MaxPPSSize]byte
	spsLen int
	ppsLen int
}

// SetSPS stores a copy of the SPS NAL unit nal (header byte included).
func (c *ParamSets) SetSPS(nal []byte) error {
	if len(nal) < 2 || NALType(nal[0]&0x1f) != NALSPS || nal[0]&0x80 != 0 {
		return fmt.Errorf("storing SPS of %d bytes: %w", len(nal), ErrShortPacket)
	}
	if len(nal) > MaxSPSSize {
		return fmt.Errorf("storing SPS of %d bytes: %w", len(nal), ErrParamSetTooLarge)
	}
	c.spsLen = copy(c.sps[:], nal)
	return nil
}

// SetPPS stores a copy of the PPS NAL unit nal (header byte included).
func (c *ParamSets) SetPPS(nal []byte) error {
	if len(nal) < 2 || NALType(nal[0]&0x1f) != NALPPS || nal[0]&0x80 != 0 {
		return fmt.Errorf("storing PPS of %d bytes: %w", len(nal), ErrShortPacket)
	}
	if len(nal) > MaxPPSSize {
		return fmt.Errorf("storing PPS of %d bytes: %w", len(nal), ErrParamSetTooLarge)
	}
	c.ppsLen = copy(c.pps[:], nal)
	return nil
}

// Update copies any SPS and PPS carried whole in the RTP payload p (single
// NAL unit or STAP-A). Fragmented parameter sets are not cached: they never
// need fragmenting at any real MTU. Oversized or malformed units are
// skipped; the first problem is returned after the rest was processed.
func (c *ParamSets) Update(p []byte) error {
	if len(p) == 0 {
		return fmt.Errorf("caching parameter sets: %w", ErrEmptyPayload)
	}
	switch NALType(p[0] & 0x1f) {
	case NALSPS:
		return c.SetSPS(p)
	case NALPPS:
		return c.SetPPS(p)
	case NALSTAPA:
		var first error
		it := NewSTAPAIterator(p)
		for nal, ok := it.Next(); ok; nal, ok = it.Next() {
			var err error
			switch NALType(nal[0] & 0x1f) {
			case NALSPS:
				err = c.SetSPS(nal)
			case NALPPS:
				err = c.SetPPS(nal)
			}
			if err != nil && first == nil {
				first = err
			}
		}
		if err := it.Err(); err != nil && first == nil {
			first = fmt.Errorf("caching parameter sets: %w", err)
		}
		return first
	}
	return nil
}

// Complete reports whether both an SPS and a PPS are cached.
func (c *ParamSets) Complete() bool { return c.spsLen > 0 && c.ppsLen > 0 }

// SPS returns the cached SPS; the slice aliases the cache.
func (c *ParamSets) SPS() []byte { return c.sps[:c.spsLen] }

// PPS returns the cached PPS; the slice aliases the cache.
func (c *ParamSets) PPS() []byte { return c.pps[:c.ppsLen] }

// Reset forgets the cached parameter sets (the source changed its stream).
func (c *ParamSets) Reset() { c.spsLen, c.ppsLen = 0, 0 }

// STAPASize is the size of the STAP-A payload AppendSTAPA would write, or 0
// when the cache is not complete.
func (c *ParamSets) STAPASize() int {
	if !c.Complete() {
		return 0
	}
	return 1 + 2 + c.spsLen + 2 + c.ppsLen
}

// AppendSTAPA appends to dst a STAP-A payload (RFC 6184 §5.7.1) carrying the
// cached SPS then PPS, and returns the extended slice. Its NRI is the
// highest of the two units', as §5.7.1 requires. With an incomplete cache
// dst is returned unchanged.
func (c *ParamSets) AppendSTAPA(dst []byte) []byte {
	if !c.Complete() {
		return dst
	}
	nri := max(c.sps[0]&0x60, c.pps[0]&0x60)
	dst = append(dst, nri|byte(NALSTAPA))
	dst = binary.BigEndian.AppendUint16(dst, uint16(c.spsLen))
	dst = append(dst, c.sps[:c.spsLen]...)
	dst = binary.BigEndian.AppendUint16(dst, uint16(c.ppsLen))
	dst = append(dst, c.pps[:c.ppsLen]...)
	return dst
}
