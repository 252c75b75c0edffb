package cameramedia

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pion/rtp"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/bridge/codec"
	"github.com/roomgate/roomgate/bridge/video"
	"github.com/roomgate/roomgate/rtsp"
)

// factory makes camera media in one bridge.
type factory struct {
	b   *bridge.Bridge
	log *slog.Logger
}

// New returns the MediaFactory that puts cameras' media into b; log (nil
// for none) is used when the options bring no logger.
func New(b *bridge.Bridge, log *slog.Logger) rtsp.MediaFactory {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &factory{b: b, log: log}
}

// legs are a camera's current bridge legs; either may be nil. A value is
// never changed once published: UpdateTracks publishes a new one.
type legs struct {
	audio *bridge.InjectedLeg
	// split cuts long G.711 packets for the audio leg; nil for Opus.
	split  *g711Splitter
	video  *bridge.InjectedVideoLeg
	tracks rtsp.Tracks
}

// media is one camera's media: rtsp.CameraMedia.
type media struct {
	f    *factory
	opts rtsp.CameraMediaOptions
	log  *slog.Logger

	cur   atomic.Pointer[legs] // read per packet without locks
	muted atomic.Bool

	mu     sync.Mutex // serialises UpdateTracks, SetMuted and Close
	closed bool
}

// NewCameraMedia creates the legs for opts.Tracks in room opts.ConferenceID.
func (f *factory) NewCameraMedia(opts rtsp.CameraMediaOptions) (rtsp.CameraMedia, error) {
	if opts.ConferenceID == "" || opts.LegID == "" {
		return nil, fmt.Errorf("creating camera media: conference %q, leg %q: %w", opts.ConferenceID, opts.LegID, ErrBadOptions)
	}
	log := opts.Logger
	if log == nil {
		log = f.log.With("conf", opts.ConferenceID, "leg", opts.LegID)
	}
	m := &media{f: f, opts: opts, log: log.With("component", "cameramedia")}
	l, err := m.build(&legs{}, opts.Tracks)
	if err != nil {
		return nil, fmt.Errorf("creating media of camera %s: %w", opts.Name, err)
	}
	m.cur.Store(l)
	m.log.Info("camera media created", "name", opts.Name, "audio", l.audio != nil, "video", l.video != nil)
	return m, nil
}

// build makes the legs for t, reusing, reconfiguring or closing those of
// old. On error, what it created is closed and old is untouched. m.mu must
// be held (or m not yet shared).
func (m *media) build(old *legs, t rtsp.Tracks) (*legs, error) {
	var ap *bridge.StreamParams
	var vp *bridge.VideoParams
	if t.Audio != nil {
		p, err := audioParams(*t.Audio)
		if err != nil {
			return nil, err
		}
		ap = &p
	}
	if t.Video != nil {
		p, err := videoParams(*t.Video)
		if err != nil {
			return nil, err
		}
		vp = &p
	}
	if ap == nil && vp == nil {
		return nil, fmt.Errorf("camera offered %s: %w", offered(t), ErrNoMedia)
	}
	nl := &legs{tracks: t}
	if ap != nil && (t.Audio.Codec == rtsp.CodecPCMU || t.Audio.Codec == rtsp.CodecPCMA) {
		// The camera's numbering continues across a reconnection, and so
		// does the splitter's.
		nl.split = old.split
		if nl.split == nil {
			nl.split = &g711Splitter{}
		}
	}
	var created []func()
	undo := func() {
		for _, c := range created {
			c()
		}
	}
	switch {
	case ap != nil && old.audio != nil:
		if !sameFormat(old.tracks.Audio, t.Audio) {
			if err := old.audio.Update(*ap); err != nil {
				return nil, fmt.Errorf("reconfiguring camera audio for %s: %w", t.Audio, err)
			}
		}
		nl.audio = old.audio
	case ap != nil:
		// The bridge's own logger: it adds conf and leg itself.
		a, err := m.f.b.NewInjectedLeg(bridge.LegOptions{ID: m.opts.LegID, Room: m.opts.ConferenceID}, *ap)
		if err != nil {
			return nil, fmt.Errorf("creating camera audio for %s: %w", t.Audio, err)
		}
		a.SetMuted(m.muted.Load())
		nl.audio = a
		created = append(created, func() { a.Close(ErrClosed) })
	}
	switch {
	case vp != nil && old.video != nil:
		if !sameFormat(old.tracks.Video, t.Video) {
			if err := old.video.Update(*vp); err != nil {
				undo()
				return nil, fmt.Errorf("reconfiguring camera video for %s: %w", t.Video, err)
			}
		}
		nl.video = old.video
	case vp != nil:
		v, err := m.f.b.NewInjectedVideoLeg(bridge.VideoLegOptions{
			ID: m.opts.LegID, Room: m.opts.ConferenceID,
			OnKeyframeRequest: m.keyframe,
		}, *vp)
		if err != nil {
			undo()
			return nil, fmt.Errorf("creating camera video for %s: %w", t.Video, err)
		}
		nl.video = v
	}
	// Streams the camera no longer has.
	if old.audio != nil && nl.audio == nil {
		old.audio.Close(fmt.Errorf("camera audio gone: %w", ErrClosed))
	}
	if old.video != nil && nl.video == nil {
		old.video.Close(fmt.Errorf("camera video gone: %w", ErrClosed))
	}
	return nl, nil
}

// keyframe passes the video router's keyframe request to the camera.
func (m *media) keyframe(bool) {
	if m.opts.RequestKeyframe != nil {
		m.opts.RequestKeyframe()
	}
}

// audioParams maps a camera's audio track to the bridge's stream.
func audioParams(f rtsp.Format) (bridge.StreamParams, error) {
	switch f.Codec {
	case rtsp.CodecPCMU, rtsp.CodecPCMA, rtsp.CodecOpus:
	default:
		return bridge.StreamParams{}, fmt.Errorf("audio %s: %w", f, ErrUnsupportedCodec)
	}
	info, err := codec.Lookup(f.Codec)
	if err != nil {
		return bridge.StreamParams{}, fmt.Errorf("audio %s: %w: %w", f, ErrUnsupportedCodec, err)
	}
	if f.ClockRate != info.ClockRate {
		return bridge.StreamParams{}, fmt.Errorf("audio %s at %d Hz, want %d: %w", f, f.ClockRate, info.ClockRate, ErrUnsupportedCodec)
	}
	return bridge.StreamParams{Codec: info, PayloadType: f.PayloadType, EventPayloadType: -1}, nil
}

// videoParams maps a camera's H.264 track to the bridge's video stream.
func videoParams(f rtsp.Format) (bridge.VideoParams, error) {
	if f.Codec != rtsp.CodecH264 {
		return bridge.VideoParams{}, fmt.Errorf("video %s: %w", f, ErrUnsupportedCodec)
	}
	fmtp, err := video.ParseH264Fmtp(f.Fmtp)
	if err != nil {
		return bridge.VideoParams{}, fmt.Errorf("video %s fmtp %q: %w", f, f.Fmtp, err)
	}
	return bridge.VideoParams{PayloadType: f.PayloadType, Fmtp: fmtp}, nil
}

// sameFormat reports whether a leg configured for a takes b's packets.
func sameFormat(a, b *rtsp.Format) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Codec == b.Codec && a.PayloadType == b.PayloadType && a.ClockRate == b.ClockRate && a.Fmtp == b.Fmtp
}

// offered names the camera's streams for an error.
func offered(t rtsp.Tracks) string {
	if len(t.Offered) == 0 {
		return "nothing"
	}
	return strings.Join(t.Offered, ", ")
}

// VideoRTP hands a video packet to the video leg; without one, it is
// dropped. It allocates nothing.
func (m *media) VideoRTP(pkt *rtp.Packet) {
	if l := m.cur.Load(); l != nil && l.video != nil {
		l.video.InjectRTP(pkt)
	}
}

// AudioRTP hands an audio packet to the audio leg, G.711 cut into 20 ms
// packets; without a leg, it is dropped. It allocates nothing.
func (m *media) AudioRTP(pkt *rtp.Packet) {
	l := m.cur.Load()
	switch {
	case l == nil || l.audio == nil:
	case l.split != nil:
		l.split.split(pkt, l.audio)
	default:
		l.audio.InjectRTP(pkt)
	}
}

// UpdateTracks reconfigures the legs for the streams of a reconnection.
// On error the old legs stay; rtsp then hangs the camera up.
func (m *media) UpdateTracks(t rtsp.Tracks) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("updating camera media: %w", ErrClosed)
	}
	old := m.cur.Load()
	nl, err := m.build(old, t)
	if err != nil {
		return fmt.Errorf("updating media of camera %s: %w", m.opts.Name, err)
	}
	m.cur.Store(nl)
	m.log.Info("camera media updated", "audio", fmtOrNone(t.Audio), "video", fmtOrNone(t.Video))
	return nil
}

// fmtOrNone is a format for logs.
func fmtOrNone(f *rtsp.Format) string {
	if f == nil {
		return "none"
	}
	return f.String()
}

// Stats are the audio leg's counters (talking, jitter, loss, drops), with
// the video leg's drops and, for a camera without audio, its loss and
// jitter.
func (m *media) Stats() bridge.LegStats {
	var s bridge.LegStats
	l := m.cur.Load()
	if l == nil {
		return s
	}
	if l.audio != nil {
		s = l.audio.Stats()
	}
	if l.video != nil {
		v := l.video.Stats()
		if l.audio == nil {
			s.Codec, s.Lost, s.JitterMs = v.Codec, v.Lost, v.JitterMs
			s.PacketsIn, s.BytesIn = v.PacketsIn, v.BytesIn
		}
		s.DroppedWrongSource += v.DroppedWrongSource
		s.DroppedUnknownPT += v.DroppedUnknownPT
		s.DroppedMalformed += v.DroppedMalformed
	}
	return s
}

// SetMuted keeps the camera's audio out of the mix (conf's mute); it holds
// across a reconnection that brings a new audio leg.
func (m *media) SetMuted(muted bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.muted.Store(muted)
	if l := m.cur.Load(); l != nil && l.audio != nil {
		l.audio.SetMuted(muted)
	}
}

// VideoStats is the video leg's state (its picture's size, whether it is
// on screen); ok is false while the camera has no video stream.
func (m *media) VideoStats() (bridge.VideoLegStats, bool) {
	if l := m.cur.Load(); l != nil && l.video != nil {
		return l.video.Stats(), true
	}
	return bridge.VideoLegStats{}, false
}

// PinVideo pins room's picture to the bridge leg id: conf reaches a
// conference's video router through any of its legs, a camera's too, so
// that a conference of cameras and audio-only phones can be switched.
func (m *media) PinVideo(room, id string) error {
	if err := m.f.b.PinVideo(room, id); err != nil {
		return fmt.Errorf("pinning video through camera %s: %w", m.opts.Name, err)
	}
	return nil
}

// UnpinVideo returns room's picture to the speaker.
func (m *media) UnpinVideo(room string) { m.f.b.UnpinVideo(room) }

// VideoPin returns the leg room's picture is pinned to, "" for none.
func (m *media) VideoPin(room string) string { return m.f.b.VideoPin(room) }

// The camera is pinnable and listed with its picture through this.
var _ rtsp.CameraVideo = (*media)(nil)

// Close ends both legs; idempotent.
func (m *media) Close(cause error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.closed = true
	if cause == nil {
		cause = ErrClosed
	}
	l := m.cur.Load()
	if l.audio != nil {
		l.audio.Close(cause)
	}
	if l.video != nil {
		l.video.Close(cause)
	}
	var reordered uint64
	if l.split != nil {
		reordered = l.split.droppedPackets()
	}
	m.log.Info("camera media closed", "cause", cause, "reordered_dropped", reordered)
}
