package video

import (
	"encoding/binary"
	"fmt"
)

// RTPHeader is the part of an RTP header (RFC 3550 §5.1) the router needs,
// read in place from a packet without copying, so that the forwarding path
// allocates nothing. PayloadOffset and PayloadEnd index the packet the header
// was parsed from; padding is excluded.
type RTPHeader struct {
	Marker         bool
	PayloadType    uint8
	SequenceNumber uint16
	Timestamp      uint32
	SSRC           uint32
	PayloadOffset  int
	PayloadEnd     int
}

const rtpFixedHeader = 12

// ParseRTPHeader reads the RTP header of pkt. It checks every length the
// header announces (CSRC list, extension, padding) against the packet, and
// returns an error wrapping ErrShortPacket, ErrBadRTPVersion or ErrBadPadding
// instead of reading out of bounds.
func ParseRTPHeader(pkt []byte) (RTPHeader, error) {
	var h RTPHeader
	if len(pkt) < rtpFixedHeader {
		return h, fmt.Errorf("parsing RTP header of %d bytes: %w", len(pkt), ErrShortPacket)
	}
	if pkt[0]>>6 != 2 {
		return h, fmt.Errorf("parsing RTP header: version %d: %w", pkt[0]>>6, ErrBadRTPVersion)
	}
	off := rtpFixedHeader + 4*int(pkt[0]&0x0f)
	if len(pkt) < off {
		return h, fmt.Errorf("parsing RTP CSRC list: %w", ErrShortPacket)
	}
	if pkt[0]&0x10 != 0 {
		if len(pkt) < off+4 {
			return h, fmt.Errorf("parsing RTP extension header: %w", ErrShortPacket)
		}
		off += 4 + 4*int(binary.BigEndian.Uint16(pkt[off+2:]))
		if len(pkt) < off {
			return h, fmt.Errorf("parsing RTP extension of %d bytes: %w", off, ErrShortPacket)
		}
	}
	end := len(pkt)
	if pkt[0]&0x20 != 0 {
		pad := int(pkt[end-1])
		if pad == 0 || end-pad < off {
			return h, fmt.Errorf("parsing RTP padding of %d bytes: %w", pad, ErrBadPadding)
		}
		end -= pad
	}
	h.Marker = pkt[1]&0x80 != 0
	h.PayloadType = pkt[1] & 0x7f
	h.SequenceNumber = binary.BigEndian.Uint16(pkt[2:])
	h.Timestamp = binary.BigEndian.Uint32(pkt[4:])
	h.SSRC = binary.BigEndian.Uint32(pkt[8:])
	h.PayloadOffset = off
	h.PayloadEnd = end
	return h, nil
}

// rewriteRTP writes a new sequence number, timestamp and SSRC into a packet
// whose header has already been validated.
func rewriteRTP(pkt []byte, seq uint16, ts, ssrc uint32) {
	binary.BigEndian.PutUint16(pkt[2:], seq)
	binary.BigEndian.PutUint32(pkt[4:], ts)
	binary.BigEndian.PutUint32(pkt[8:], ssrc)
}

// writeRTPHeader writes a 12-byte RTP header without CSRCs or extension.
func writeRTPHeader(dst []byte, marker bool, pt uint8, seq uint16, ts, ssrc uint32) {
	dst[0] = 0x80
	dst[1] = pt & 0x7f
	if marker {
		dst[1] |= 0x80
	}
	rewriteRTP(dst, seq, ts, ssrc)
}
