package video

import (
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"fmt"
	"io"
	"math"

	"github.com/pion/rtcp"
)

// KeyframeFeedback builds the RTCP keyframe requests a leg sends to one video
// source: PLI (RFC 4585 §6.3.1) and FIR (RFC 5104 §4.3.1). It keeps the FIR
// command sequence number, which must change with every new request so the
// sender does not take a repeat for a retransmission. Not safe for
// concurrent use; one per source leg.
type KeyframeFeedback struct {
	// SenderSSRC is our SSRC towards the source.
	SenderSSRC uint32
	// MediaSSRC is the source's video SSRC.
	MediaSSRC uint32
	firSeq    uint8
}

// PLI returns a Picture Loss Indication for the source.
func (k *KeyframeFeedback) PLI() *rtcp.PictureLossIndication {
	return &rtcp.PictureLossIndication{SenderSSRC: k.SenderSSRC, MediaSSRC: k.MediaSSRC}
}

// FIR returns a Full Intra Request for the source with the next command
// sequence number.
func (k *KeyframeFeedback) FIR() *rtcp.FullIntraRequest {
	k.firSeq++
	return &rtcp.FullIntraRequest{
		SenderSSRC: k.SenderSSRC,
		MediaSSRC:  k.MediaSSRC,
		FIR:        []rtcp.FIREntry{{SSRC: k.MediaSSRC, SequenceNumber: k.firSeq}},
	}
}

// Marshal returns a PLI followed by a FIR as one RTCP payload, for sources
// that negotiated both "nack pli" and "ccm fir" (send only what the peer
// offered: pass pli or fir false to leave one out).
func (k *KeyframeFeedback) Marshal(pli, fir bool) ([]byte, error) {
	var pkts []rtcp.Packet
	if pli {
		pkts = append(pkts, k.PLI())
	}
	if fir {
		pkts = append(pkts, k.FIR())
	}
	if len(pkts) == 0 {
		return nil, nil
	}
	b, err := rtcp.Marshal(pkts)
	if err != nil {
		return nil, fmt.Errorf("marshalling keyframe request for SSRC %d: %w", k.MediaSSRC, err)
	}
	return b, nil
}

// MediaControlContentType is the SIP Content-Type of a video fast update
// request sent by SIP INFO (RFC 5168).
const MediaControlContentType = "application/media_control+xml"

// PictureFastUpdateBody is the RFC 5168 §3 body that asks an endpoint for a
// full intra picture, for peers that do not use RTCP feedback.
const PictureFastUpdateBody = `<?xml version="1.0" encoding="utf-8" ?>
<media_control>
  <vc_primitive>
    <to_encoder>
      <picture_fast_update/>
    </to_encoder>
  </vc_primitive>
</media_control>
`

// MediaControl is what a received media_control body asks for.
type MediaControl struct {
	// PictureFastUpdate: the peer asks us for a keyframe.
	PictureFastUpdate bool
	// StreamIDs are the stream_id values the request names, if any.
	StreamIDs []string
	// GeneralError is the text of a general_error element (a peer telling
	// us it does not understand media_control).
	GeneralError string
}

// maxMediaControlSize bounds a body; real ones are a few hundred bytes.
const maxMediaControlSize = 8192

type xmlMediaControl struct {
	XMLName      xml.Name `xml:"media_control"`
	VCPrimitives []struct {
		ToEncoder *struct {
			PictureFastUpdate *struct{} `xml:"picture_fast_update"`
		} `xml:"to_encoder"`
		StreamIDs []string `xml:"stream_id"`
	} `xml:"vc_primitive"`
	GeneralError string `xml:"general_error"`
}

// ParseMediaControl parses an RFC 5168 media_control XML body from a SIP
// INFO. Bodies over 8 KiB, bodies that are not XML and bodies whose root is
// not media_control are errors wrapping ErrBadMediaControl.
func ParseMediaControl(body []byte) (MediaControl, error) {
	var mc MediaControl
	if len(body) > maxMediaControlSize {
		return mc, fmt.Errorf("media_control body of %d bytes: %w", len(body), ErrBadMediaControl)
	}
	var x xmlMediaControl
	dec := xml.NewDecoder(io.LimitReader(bytes.NewReader(body), maxMediaControlSize))
	// Charsets other than UTF-8 and ASCII are not decoded; treat them as UTF-8.
	dec.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	if err := dec.Decode(&x); err != nil {
		return mc, fmt.Errorf("parsing media_control body: %w: %w", ErrBadMediaControl, err)
	}
	for _, p := range x.VCPrimitives {
		if p.ToEncoder != nil && p.ToEncoder.PictureFastUpdate != nil {
			mc.PictureFastUpdate = true
		}
		mc.StreamIDs = append(mc.StreamIDs, p.StreamIDs...)
	}
	mc.GeneralError = x.GeneralError
	return mc, nil
}

// TMMBR is one entry of a Temporary Maximum Media Stream Bit Rate Request
// (RFC 5104 §4.2.1): the bit rate limit a receiver asks of the media sender
// with SSRC.
type TMMBR struct {
	SSRC     uint32
	Bitrate  uint64 // bit/s
	Overhead uint16 // measured per-packet overhead, bytes
}

// ParseTMMBR reads the first FCI entry of an RTCP TMMBR packet (RTPFB,
// FMT 3), which pion/rtcp decodes only as raw bytes. pkt is the whole RTCP
// packet, header included.
func ParseTMMBR(pkt []byte) (TMMBR, error) {
	var t TMMBR
	if len(pkt) < 20 {
		return t, fmt.Errorf("TMMBR of %d bytes: %w", len(pkt), ErrBadTMMBR)
	}
	if pkt[0]>>6 != 2 || rtcp.PacketType(pkt[1]) != rtcp.TypeTransportSpecificFeedback || pkt[0]&0x1f != 3 {
		return t, fmt.Errorf("not a TMMBR (type %d fmt %d): %w", pkt[1], pkt[0]&0x1f, ErrBadTMMBR)
	}
	if n := 4 * (int(binary.BigEndian.Uint16(pkt[2:])) + 1); n < 20 || n > len(pkt) {
		return t, fmt.Errorf("TMMBR length %d of %d bytes: %w", n, len(pkt), ErrBadTMMBR)
	}
	t.SSRC = binary.BigEndian.Uint32(pkt[12:])
	v := binary.BigEndian.Uint32(pkt[16:])
	exp := v >> 26
	mantissa := uint64(v>>9) & 0x1ffff
	if mantissa != 0 && exp > 63-17 {
		// Would overflow 64 bits: no real link is that fast.
		t.Bitrate = math.MaxUint64
	} else {
		t.Bitrate = mantissa << exp
	}
	t.Overhead = uint16(v & 0x1ff)
	return t, nil
}
