package rtsp

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"github.com/roomgate/roomgate/bridge/video"
)

// Codec names of Format.Codec, as SDP's rtpmap spells them (RFC 3551,
// RFC 6184, RFC 7587).
const (
	CodecH264 = "H264"
	CodecPCMU = "PCMU"
	CodecPCMA = "PCMA"
	CodecOpus = "opus"
)

// NoteAACNeedsCgo is the leg's audio note when the camera offers only AAC:
// decoding AAC for the mixer needs a cgo codec this pure-Go build lacks,
// so the camera joins video-only.
const NoteAACNeedsCgo = "audio AAC needs the cgo build"

// Format is one negotiated RTP stream, everything the bridge needs to
// configure a leg for it without reading SDP.
type Format struct {
	Codec       string // CodecH264, CodecPCMU, CodecPCMA or CodecOpus
	PayloadType uint8
	ClockRate   int
	Channels    int // audio channels (Opus: as signalled, decoding is 48 kHz stereo anyway)
	// Fmtp is the a=fmtp value, parameters sorted by name; for H.264 it
	// carries packetization-mode and, when the camera sent them,
	// sprop-parameter-sets.
	Fmtp string
}

// String is the rtpmap form, "H264/90000".
func (f Format) String() string {
	if f.Channels > 1 {
		return fmt.Sprintf("%s/%d/%d", f.Codec, f.ClockRate, f.Channels)
	}
	return fmt.Sprintf("%s/%d", f.Codec, f.ClockRate)
}

// Tracks is what a camera session plays: at most one video and one audio
// stream, and what was left out.
type Tracks struct {
	Video *Format // nil: no H.264 video
	Audio *Format // nil: no audio we can forward; AudioNote says why when the camera had some
	// SPS and PPS are the parameter sets of sprop-parameter-sets (NAL
	// units, header byte included), nil when the SDP had none; in-band
	// ones are in the puller's VideoInfo.
	SPS, PPS []byte
	// Width and Height come from the SDP's SPS; 0 until one is known.
	Width, Height int
	// AudioNote says why the camera's audio is not forwarded
	// (NoteAACNeedsCgo), empty otherwise.
	AudioNote string
	// Offered lists every stream the camera described ("video H265/90000"),
	// for logs and for the error when nothing is usable.
	Offered []string
	// Transport is "UDP" or "TCP" once playing.
	Transport string
	// SessionTimeout is the camera's session timeout (RFC 2326 §12.37,
	// 60 s when its Session header names none); keep-alives go 5 s before
	// it runs out.
	SessionTimeout time.Duration
}

// sameMedia reports whether t and u carry the same streams, so that a
// bridge configured for t can take u's packets unchanged (parameter sets
// may differ: they travel in band).
func (t Tracks) sameMedia(u Tracks) bool {
	eq := func(a, b *Format) bool {
		if a == nil || b == nil {
			return a == b
		}
		return a.Codec == b.Codec && a.PayloadType == b.PayloadType && a.ClockRate == b.ClockRate && a.Channels == b.Channels
	}
	return eq(t.Video, u.Video) && eq(t.Audio, u.Audio)
}

// selection is the chosen medias and formats of a description.
type selection struct {
	tracks     Tracks
	videoMedia *description.Media
	videoForma format.Format
	audioMedia *description.Media
	audioForma format.Format
}

// audioRank orders the audio codecs we forward, best first: Opus is
// wideband, G.711 is what every camera has.
func audioRank(f format.Format) (Format, int, bool) {
	switch f := f.(type) {
	case *format.Opus:
		ch := f.ChannelCount
		if ch == 0 {
			ch = 2
		}
		return Format{Codec: CodecOpus, PayloadType: f.PayloadType(), ClockRate: 48000, Channels: ch, Fmtp: fmtpString(f.FMTP())}, 0, true
	case *format.G711:
		// The bridge's G.711 is the 8 kHz mono of RFC 3551; other rates
		// and channel counts are rare enough to leave out.
		if f.SampleRate != 8000 || f.ChannelCount != 1 {
			return Format{}, 0, false
		}
		c, rank := CodecPCMA, 2
		if f.MULaw {
			c, rank = CodecPCMU, 1
		}
		return Format{Codec: c, PayloadType: f.PayloadType(), ClockRate: 8000, Channels: 1}, rank, true
	}
	return Format{}, 0, false
}

// isAAC reports whether f is MPEG-4 audio (AAC), generic or LATM.
func isAAC(f format.Format) bool {
	switch f.(type) {
	case *format.MPEG4Audio, *format.MPEG4AudioLATM:
		return true
	}
	return false
}

// selectTracks picks the first H.264 video stream (packetization-mode 0 or
// 1: the bridge does not handle mode 2's interleaving) and the best audio
// stream of desc. Back channels (ONVIF audio to the camera) are skipped:
// a camera leg receives nothing. It fails with ErrNoUsableTrack when
// neither is there.
func selectTracks(desc *description.Session) (selection, error) {
	var sel selection
	bestAudio := -1
	sawAAC := false
	for _, m := range desc.Medias {
		for _, f := range m.Formats {
			sel.tracks.Offered = append(sel.tracks.Offered, fmt.Sprintf("%s %s", m.Type, rtpmapOf(f)))
			if m.IsBackChannel {
				continue
			}
			switch m.Type {
			case description.MediaTypeVideo:
				h, ok := f.(*format.H264)
				if !ok || sel.videoMedia != nil || h.PacketizationMode > 1 {
					continue
				}
				sel.videoMedia, sel.videoForma = m, f
				sel.tracks.Video = &Format{Codec: CodecH264, PayloadType: h.PayloadType(), ClockRate: 90000, Fmtp: fmtpString(h.FMTP())}
				sps, pps := h.SafeParams()
				sel.tracks.SPS, sel.tracks.PPS = slices.Clone(sps), slices.Clone(pps)
			case description.MediaTypeAudio:
				if isAAC(f) {
					sawAAC = true
					continue
				}
				af, rank, ok := audioRank(f)
				if !ok || (bestAudio >= 0 && rank >= bestAudio) {
					continue
				}
				bestAudio = rank
				sel.audioMedia, sel.audioForma = m, f
				sel.tracks.Audio = &af
			}
		}
	}
	if sel.tracks.Audio == nil && sawAAC {
		sel.tracks.AudioNote = NoteAACNeedsCgo
	}
	if sel.videoMedia == nil && sel.audioMedia == nil {
		return sel, fmt.Errorf("choosing tracks among [%s]: %w", strings.Join(sel.tracks.Offered, ", "), ErrNoUsableTrack)
	}
	if len(sel.tracks.SPS) > 0 {
		if info, err := video.ParseSPS(sel.tracks.SPS); err == nil {
			sel.tracks.Width, sel.tracks.Height = info.Width, info.Height
		}
	}
	return sel, nil
}

// rtpmapOf names a format for logs even when it has no rtpmap (static
// payload types).
func rtpmapOf(f format.Format) string {
	if r := f.RTPMap(); r != "" {
		return r
	}
	return fmt.Sprintf("pt %d", f.PayloadType())
}

// fmtpString formats fmtp parameters as an a=fmtp value, sorted by name so
// that the same camera gives the same string every time.
func fmtpString(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(m[k])
	}
	return b.String()
}
