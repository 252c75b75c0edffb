package video

import (
	"errors"
	"fmt"
)

// SPSInfo is what the participant list shows of a source's sequence
// parameter set: the picture size and the profile and level it was coded
// with.
type SPSInfo struct {
	ProfileIDC uint8
	LevelIDC   uint8
	// Width and Height are the displayed picture size in pixels, after the
	// SPS's frame cropping.
	Width, Height int
}

// errSPSBits is the internal end-of-data condition of the bit reader; it is
// reported wrapped in ErrBadSPS.
var errSPSBits = errors.New("SPS ends early")

// spsReader reads the RBSP of a NAL unit bit by bit, skipping the
// emulation-prevention bytes (H.264 §7.4.1: a 0x03 after two zero bytes) on
// the fly, so that parsing needs no copy of the unit.
type spsReader struct {
	b     []byte
	pos   int // next byte of b
	cur   byte
	nbits int // bits left in cur
	zeros int // zero bytes just read, for emulation prevention
	err   error
}

func (r *spsReader) bit() uint32 {
	if r.nbits == 0 {
		if r.pos >= len(r.b) {
			r.err = errSPSBits
			return 0
		}
		c := r.b[r.pos]
		r.pos++
		if r.zeros >= 2 && c == 3 {
			r.zeros = 0
			if r.pos >= len(r.b) {
				r.err = errSPSBits
				return 0
			}
			c = r.b[r.pos]
			r.pos++
		}
		if c == 0 {
			r.zeros++
		} else {
			r.zeros = 0
		}
		r.cur, r.nbits = c, 8
	}
	r.nbits--
	return uint32(r.cur>>r.nbits) & 1
}

func (r *spsReader) bits(n int) uint32 {
	var v uint32
	for range n {
		v = v<<1 | r.bit()
	}
	return v
}

// ue reads an Exp-Golomb coded unsigned value (H.264 §9.1). Codes longer
// than 31 bits are invalid in an SPS and stop the parse.
func (r *spsReader) ue() uint32 {
	lz := 0
	for r.bit() == 0 {
		if r.err != nil {
			return 0
		}
		lz++
		if lz > 31 {
			r.err = errSPSBits
			return 0
		}
	}
	return (1<<lz - 1) + r.bits(lz)
}

// se reads a signed Exp-Golomb value (H.264 §9.1.1).
func (r *spsReader) se() int32 {
	k := r.ue()
	if k&1 == 1 {
		return int32((k + 1) / 2)
	}
	return -int32(k / 2)
}

// maxPicDimension bounds a decoded picture side in pixels; level 6.2 stays
// far below it, so anything larger is a corrupt SPS.
const maxPicDimension = 16384

// ParseSPS reads the profile, level and picture size out of an SPS NAL unit
// (header byte included, ITU-T H.264 §7.3.2.1.1) in place, without
// allocating. A unit that is not an SPS, ends early or describes an
// impossible picture returns an error wrapping ErrBadSPS; it never panics.
func ParseSPS(nal []byte) (SPSInfo, error) {
	var info SPSInfo
	if len(nal) < 4 || nal[0]&0x80 != 0 || NALType(nal[0]&0x1f) != NALSPS {
		return info, fmt.Errorf("parsing SPS of %d bytes: %w", len(nal), ErrBadSPS)
	}
	r := spsReader{b: nal[1:]}
	info.ProfileIDC = uint8(r.bits(8))
	r.bits(8) // constraint flags
	info.LevelIDC = uint8(r.bits(8))
	r.ue() // seq_parameter_set_id
	chroma := uint32(1)
	separate := false
	switch info.ProfileIDC {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		chroma = r.ue()
		if chroma > 3 {
			return info, fmt.Errorf("parsing SPS: chroma_format_idc %d: %w", chroma, ErrBadSPS)
		}
		if chroma == 3 {
			separate = r.bit() == 1
		}
		r.ue()  // bit_depth_luma_minus8
		r.ue()  // bit_depth_chroma_minus8
		r.bit() // qpprime_y_zero_transform_bypass_flag
		// seq_scaling_matrix_present_flag:
		if r.bit() == 1 {
			lists := 8
			if chroma == 3 {
				lists = 12
			}
			for i := range lists {
				if r.bit() == 0 {
					continue
				}
				size := 16
				if i >= 6 {
					size = 64
				}
				last, next := int32(8), int32(8)
				for range size {
					if next != 0 {
						next = (last + r.se() + 256) % 256
					}
					if next != 0 {
						last = next
					}
					if r.err != nil {
						break
					}
				}
			}
		}
	}
	r.ue() // log2_max_frame_num_minus4
	switch poc := r.ue(); poc {
	case 0:
		r.ue() // log2_max_pic_order_cnt_lsb_minus4
	case 1:
		r.bit() // delta_pic_order_always_zero_flag
		r.se()  // offset_for_non_ref_pic
		r.se()  // offset_for_top_to_bottom_field
		n := r.ue()
		if n > 255 {
			return info, fmt.Errorf("parsing SPS: %d reference frames in POC cycle: %w", n, ErrBadSPS)
		}
		for range n {
			r.se()
		}
	case 2:
	default:
		return info, fmt.Errorf("parsing SPS: pic_order_cnt_type %d: %w", poc, ErrBadSPS)
	}
	r.ue()  // max_num_ref_frames
	r.bit() // gaps_in_frame_num_value_allowed_flag
	wMBs := r.ue() + 1
	hMaps := r.ue() + 1
	frameMBsOnly := r.bit()
	if frameMBsOnly == 0 {
		r.bit() // mb_adaptive_frame_field_flag
	}
	r.bit() // direct_8x8_inference_flag
	var cl, cr, ct, cb uint32
	if r.bit() == 1 {
		cl, cr, ct, cb = r.ue(), r.ue(), r.ue(), r.ue()
	}
	if r.err != nil {
		return info, fmt.Errorf("parsing SPS: %w: %w", ErrBadSPS, r.err)
	}
	if wMBs > maxPicDimension/16 || hMaps > maxPicDimension/16 {
		return info, fmt.Errorf("parsing SPS: %dx%d macroblocks: %w", wMBs, hMaps, ErrBadSPS)
	}
	// Crop units (H.264 §7.4.2.1.1, Table 6-1).
	unitX, unitY := uint32(1), 2-frameMBsOnly
	if chroma != 0 && !separate {
		subW, subH := uint32(2), uint32(2)
		switch chroma {
		case 2:
			subH = 1
		case 3:
			subW, subH = 1, 1
		}
		unitX, unitY = subW, subH*(2-frameMBsOnly)
	}
	w := int64(wMBs) * 16
	h := int64(hMaps) * 16 * int64(2-frameMBsOnly)
	w -= int64(unitX) * (int64(cl) + int64(cr))
	h -= int64(unitY) * (int64(ct) + int64(cb))
	if w <= 0 || h <= 0 {
		return info, fmt.Errorf("parsing SPS: cropping leaves %dx%d: %w", w, h, ErrBadSPS)
	}
	info.Width, info.Height = int(w), int(h)
	return info, nil
}

// FindSPS returns the first whole SPS NAL unit in an H.264 RTP payload
// (single NAL unit packet or STAP-A), aliasing p, or false.
func FindSPS(p []byte) ([]byte, bool) {
	if len(p) == 0 || p[0]&0x80 != 0 {
		return nil, false
	}
	switch NALType(p[0] & 0x1f) {
	case NALSPS:
		return p, true
	case NALSTAPA:
		it := NewSTAPAIterator(p)
		for nal, ok := it.Next(); ok; nal, ok = it.Next() {
			if NALType(nal[0]&0x1f) == NALSPS {
				return nal, true
			}
		}
	}
	return nil, false
}
