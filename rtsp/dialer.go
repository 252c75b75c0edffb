package rtsp

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pion/rtp"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/conf"
	"github.com/roomgate/roomgate/internal/callleg"
)

// CameraMediaOptions is what the bridge needs to give a camera its media:
// the streams to expect, and how to ask for a keyframe.
type CameraMediaOptions struct {
	ConferenceID string
	// LegID names the camera's media in the bridge ("rtsp-…"); use it
	// for both the audio leg and the video source, so that the mixer's
	// loudest talker names the video source to switch to.
	LegID string
	// Name is the camera's participant name, for the bridge's logs.
	Name string
	// Tracks are the streams of the first session; UpdateTracks tells of
	// later changes.
	Tracks Tracks
	// RequestKeyframe asks the camera for an IDR picture; the video router
	// calls it when it switches to the camera. It does not block.
	RequestKeyframe func()
	Logger          *slog.Logger
}

// CameraMedia is a camera's media in the bridge: an audio leg and a video
// source fed with the camera's packets, without sockets. It receives every
// packet through Sink, already continuous across reconnections (one SSRC,
// sequence numbers and timestamps continue). A camera receives nothing:
// the bridge sends it no mix and no video.
type CameraMedia interface {
	Sink
	// UpdateTracks says that the camera came back from a reconnection
	// with other streams (another codec or payload type); the packets
	// that follow are of t. It must not block. An error hangs the leg up.
	UpdateTracks(t Tracks) error
	// Stats are the bridge's counters of the leg (talking, jitter, drops);
	// the leg adds its own packet counters.
	Stats() bridge.LegStats
	// Close ends the media; idempotent.
	Close(cause error)
}

// CameraVideo is what camera media with a bridge's video router adds to
// CameraMedia: the video leg's state, and the switching of the room it is
// in. A camera leg whose media implements it is pinnable like a video
// phone: conf names it by CameraMediaOptions.LegID, reads its picture's
// state, and reaches the room's router through it (a conference of
// cameras and audio-only phones has no other leg to reach it by). Media
// without it (fakes, a bridge without video) leave the camera audio-only
// towards conf.
type CameraVideo interface {
	// VideoStats is the video leg's state; ok is false while the camera
	// has no video stream.
	VideoStats() (st bridge.VideoLegStats, ok bool)
	conf.VideoRouter
}

// MediaFactory makes camera media; the bridge's implementation lives with
// the bridge, tests use fakes.
type MediaFactory interface {
	NewCameraMedia(opts CameraMediaOptions) (CameraMedia, error)
}

// Dialer implements conf.Dialer for rtsp:// and #rtsp:// call strings: it
// pulls the camera and joins it to the conference as a dialled leg of
// protocol rtsp. It decides nothing: conf admits the leg or not.
type Dialer struct {
	confs callleg.Conferences
	media MediaFactory
	cfg   Config
	log   *slog.Logger

	mu     sync.Mutex
	closed bool
	legs   map[*cameraLeg]struct{}
	wg     sync.WaitGroup
}

// NewDialer makes a Dialer that joins cameras through confs with media
// from media.
func NewDialer(confs callleg.Conferences, media MediaFactory, cfg Config, log *slog.Logger) (*Dialer, error) {
	if confs == nil || media == nil {
		return nil, fmt.Errorf("creating RTSP dialer: conferences and media are required: %w", ErrBadConfig)
	}
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("creating RTSP dialer: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Dialer{confs: confs, media: media, cfg: cfg, log: log, legs: make(map[*cameraLeg]struct{})}, nil
}

// Schemes is the rtsp scheme; conf parses #rtsp:// to the same scheme.
func (d *Dialer) Schemes() []string { return []string{conf.SchemeRTSP} }

// Dial pulls req.Target and, once it plays, joins it to the conference.
// ctx bounds the connection and the join; the leg then lives until it is
// hung up, removed, or the camera is given up.
func (d *Dialer) Dial(ctx context.Context, req conf.DialRequest) (conf.DialResult, error) {
	t := req.Target
	if t.Kind != conf.TargetAddress || t.Scheme != conf.SchemeRTSP {
		return conf.DialResult{}, fmt.Errorf("dialling %q: not an rtsp address: %w", t.Display, ErrBadTarget)
	}
	tag := "rtsp-" + strings.ToLower(rand.Text()[:16])
	log := d.log.With("conf", req.ConferenceID, "leg", tag)
	l := &cameraLeg{d: d, id: tag, name: CameraName(t), remote: remoteOf(t), done: make(chan struct{}), broken: make(chan error, 1), log: log.With("component", "rtsp")}
	p, err := NewPuller(t, l, PullerOptions{Config: d.cfg, Logger: log, OnEvent: l.onEvent})
	if err != nil {
		return conf.DialResult{}, fmt.Errorf("dialling camera %s: %w", t.Display, err)
	}
	l.puller = p
	tracks, err := p.Start(ctx)
	if err != nil {
		return conf.DialResult{}, fmt.Errorf("dialling camera %s: %w", t.Display, err)
	}
	l.status.Store(&LegStatus{State: StatePlaying, Note: tracks.AudioNote})
	m, err := d.media.NewCameraMedia(CameraMediaOptions{
		ConferenceID: req.ConferenceID, LegID: tag, Name: l.name, Tracks: tracks,
		RequestKeyframe: p.RequestKeyframe, Logger: log,
	})
	if err != nil {
		p.Close(err)
		return conf.DialResult{}, fmt.Errorf("dialling camera %s: creating its media: %w", t.Display, err)
	}
	l.media.Store(&mediaRef{m: m, tracks: tracks})
	// From here on the leg cleans up after itself: watch hangs it up
	// when the puller gives up, Hangup stops everything.
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		p.Close(ErrClosed)
		m.Close(ErrClosed)
		return conf.DialResult{}, fmt.Errorf("dialling camera %s: dialler closed: %w", t.Display, ErrClosed)
	}
	d.legs[l] = struct{}{}
	d.wg.Add(1)
	d.mu.Unlock()
	go l.watch()
	part, err := d.confs.Join(ctx, conf.JoinRequest{
		ConferenceID: req.ConferenceID, DisplayName: l.name, Protocol: conf.ProtocolRTSP,
		Remote: l.remote, Leg: l,
	})
	if err != nil {
		l.Hangup(err)
		return conf.DialResult{}, fmt.Errorf("dialling camera %s: joining conference %s: %w", t.Display, req.ConferenceID, err)
	}
	l.mu.Lock()
	if l.ended {
		// Hung up (camera given up) while joining: leave now.
		cause := l.cause
		l.mu.Unlock()
		d.confs.Leave(part, cause)
		return conf.DialResult{}, fmt.Errorf("dialling camera %s: ended while joining: %w", t.Display, cause)
	}
	l.part = part
	l.mu.Unlock()
	l.admitted.Store(true)
	l.log.Info("camera joined", "participant", part.ID(), "name", l.name, "remote", l.remote,
		"video", fmtOrNone(tracks.Video), "audio", fmtOrNone(tracks.Audio), "audio_note", tracks.AudioNote)
	return conf.DialResult{ParticipantID: part.ID(), Remote: l.remote}, nil
}

// Close hangs up every camera leg with cause and waits for them; later
// dials fail. For server shutdown, after conf's StopDialing.
func (d *Dialer) Close(cause error) {
	d.mu.Lock()
	d.closed = true
	legs := make([]*cameraLeg, 0, len(d.legs))
	for l := range d.legs {
		legs = append(legs, l)
	}
	d.mu.Unlock()
	for _, l := range legs {
		l.Hangup(cause)
	}
	d.wg.Wait()
}

// CameraName is a camera's participant name: host and path of its call
// string ("cam.example.com/stream1"), never the credentials.
// DialRequest.DisplayName is the conference's own name, shown to parties
// we call, so it does not name the camera.
func CameraName(t conf.Target) string {
	name := t.Host
	if strings.IndexByte(name, ':') >= 0 {
		name = "[" + name + "]"
	}
	if t.Port != 0 && t.Port != DefaultPort {
		name += ":" + strconv.Itoa(t.Port)
	}
	path, _, _ := strings.Cut(t.Path, "?")
	if path = strings.TrimRight(path, "/"); path != "" {
		name += path
	}
	return name
}

func remoteOf(t conf.Target) string {
	port := t.Port
	if port == 0 {
		port = DefaultPort
	}
	return net.JoinHostPort(t.Host, strconv.Itoa(port))
}

// LegStatus is a camera leg's state for the participant list: playing,
// reconnecting (with why), and what it left out (NoteAACNeedsCgo).
type LegStatus struct {
	State State
	Note  string
	Err   error
}

type mediaRef struct {
	m      CameraMedia
	tracks Tracks
}

// cameraLeg is a camera in a conference: conf.DialledLeg towards conf, the
// puller's Sink towards the camera.
type cameraLeg struct {
	d      *Dialer
	id     string // the media's leg ID in the bridge (audio and video)
	name   string
	remote string
	log    *slog.Logger
	puller *Puller
	media  atomic.Pointer[mediaRef]
	status atomic.Pointer[LegStatus]
	early  atomic.Uint64 // packets dropped before the media existed, or audio before admission
	// admitted is set once conf admitted the camera: its mute on join
	// (Conference.MuteCameraAudio) is in place, so its audio may be mixed.
	admitted atomic.Bool

	// broken carries a media failure to watch, which hangs up: onEvent
	// runs on the puller's goroutine and must not close the puller.
	broken chan error

	mu       sync.Mutex
	part     callleg.Participant
	ended    bool
	cause    error
	done     chan struct{}
	hangOnce sync.Once
}

// Dialled: the server called the camera, so internal conferences admit it.
func (l *cameraLeg) Dialled() bool { return true }

// VideoRTP hands a packet to the media; before it exists, packets are
// dropped (they are the first of a GOP whose keyframe the media will ask
// for anyway).
func (l *cameraLeg) VideoRTP(pkt *rtp.Packet) {
	if r := l.media.Load(); r != nil {
		r.m.VideoRTP(pkt)
		return
	}
	l.early.Add(1)
}

// AudioRTP hands a packet to the media once conf admitted the camera:
// before, the room would hear a camera that conf may still refuse or
// mute on join. Video is not held back: nobody sees it before its audio
// makes it the speaker or a moderator pins the admitted camera.
func (l *cameraLeg) AudioRTP(pkt *rtp.Packet) {
	if r := l.media.Load(); r != nil && l.admitted.Load() {
		r.m.AudioRTP(pkt)
		return
	}
	l.early.Add(1)
}

// onEvent follows the puller: it keeps the status and reconfigures the
// media when a reconnection brought other streams.
func (l *cameraLeg) onEvent(e Event) {
	st := &LegStatus{State: e.State, Err: e.Err}
	if prev := l.status.Load(); prev != nil {
		st.Note = prev.Note
	}
	if e.State == StatePlaying {
		st.Note = e.Tracks.AudioNote
		if r := l.media.Load(); r != nil && !r.tracks.sameMedia(e.Tracks) {
			if err := r.m.UpdateTracks(e.Tracks); err != nil {
				l.log.Warn("camera media cannot take the new streams", "err", err)
				select {
				case l.broken <- fmt.Errorf("reconfiguring camera media: %w", err):
				default:
				}
			} else {
				l.media.Store(&mediaRef{m: r.m, tracks: e.Tracks})
			}
		}
	}
	l.status.Store(st)
}

// Status is the leg's state, e.g. playing with "audio AAC needs the cgo
// build", or reconnecting with the loss.
func (l *cameraLeg) Status() LegStatus {
	if s := l.status.Load(); s != nil {
		return *s
	}
	return LegStatus{State: StateConnecting}
}

// LegState is Status in plain strings ("reconnecting", "audio AAC needs
// the cgo build"), for conf to show through an interface of its own
// without importing this package.
func (l *cameraLeg) LegState() (state, note string) {
	s := l.Status()
	note = s.Note
	if s.Err != nil && s.State != StatePlaying {
		if note != "" {
			note += "; "
		}
		note += s.Err.Error()
	}
	return s.State.String(), note
}

// watch hangs the leg up when the puller gives up.
func (l *cameraLeg) watch() {
	defer l.d.wg.Done()
	select {
	case <-l.puller.Done():
		err := l.puller.Err()
		if err == nil || errors.Is(err, ErrClosed) {
			err = ErrHungUp
		} else {
			err = fmt.Errorf("%w: %w", ErrHungUp, err)
		}
		l.Hangup(err)
	case err := <-l.broken:
		l.Hangup(fmt.Errorf("%w: %w", ErrHungUp, err))
	case <-l.done:
	}
}

// Hangup stops the pull (TEARDOWN), closes the media and leaves the
// conference. Idempotent; it waits only for the RTSP client to close.
func (l *cameraLeg) Hangup(cause error) {
	l.hangOnce.Do(func() {
		l.mu.Lock()
		l.ended, l.cause = true, cause
		part := l.part
		l.mu.Unlock()
		close(l.done)
		l.puller.Close(cause)
		if r := l.media.Load(); r != nil {
			r.m.Close(cause)
		}
		if part != nil {
			l.d.confs.Leave(part, cause)
		}
		l.d.mu.Lock()
		delete(l.d.legs, l)
		l.d.mu.Unlock()
		l.log.Info("camera left", "cause", cause, "dropped_before_media", l.early.Load())
	})
}

// Stats are the puller's packet counters with the media's own.
func (l *cameraLeg) Stats() bridge.LegStats {
	var st bridge.LegStats
	r := l.media.Load()
	if r != nil {
		st = r.m.Stats()
	}
	ps := l.puller.Stats()
	st.PacketsIn = ps.VideoPackets + ps.AudioPackets
	st.PacketsOut = 0
	st.BytesIn = ps.Bytes
	st.Lost = ps.Lost
	if r != nil {
		st.Codec = codecLabel(r.tracks)
	}
	if ap, err := netip.ParseAddrPort(l.remote); err == nil {
		st.Remote = ap
	}
	return st
}

// codecLabel is the participant list's codec column: "H264+PCMU".
func codecLabel(t Tracks) string {
	var parts []string
	if t.Video != nil {
		parts = append(parts, t.Video.Codec)
	}
	if t.Audio != nil {
		parts = append(parts, t.Audio.Codec)
	}
	return strings.Join(parts, "+")
}

// SetMuted keeps the camera's audio out of the mix (conf.MutableLeg); the
// media keeps the setting across reconnections.
func (l *cameraLeg) SetMuted(muted bool) {
	if r := l.media.Load(); r != nil {
		if m, ok := r.m.(interface{ SetMuted(bool) }); ok {
			m.SetMuted(muted)
		}
	}
}

// MediaID is the ID of the camera's legs in the bridge, by which the
// bridge names the speaker and conf pins its picture.
func (l *cameraLeg) MediaID() string { return l.id }

// video returns the media's video side, or nil when it has none.
func (l *cameraLeg) video() CameraVideo {
	if r := l.media.Load(); r != nil {
		if v, ok := r.m.(CameraVideo); ok {
			return v
		}
	}
	return nil
}

// VideoStats is the camera's picture for the participant list; ok is
// false for a camera without video.
func (l *cameraLeg) VideoStats() (bridge.VideoLegStats, bool) {
	if v := l.video(); v != nil {
		return v.VideoStats()
	}
	return bridge.VideoLegStats{}, false
}

// PinVideo pins room's picture to the bridge leg mediaID: conf reaches a
// conference's video router through any live leg that has one, the
// camera included.
func (l *cameraLeg) PinVideo(room, mediaID string) error {
	v := l.video()
	if v == nil {
		return fmt.Errorf("pinning video in %s through camera %s: %w", room, l.name, ErrNoVideoRouter)
	}
	if err := v.PinVideo(room, mediaID); err != nil {
		return fmt.Errorf("pinning video in %s: %w", room, err)
	}
	return nil
}

// UnpinVideo returns room's picture to the speaker.
func (l *cameraLeg) UnpinVideo(room string) {
	if v := l.video(); v != nil {
		v.UnpinVideo(room)
	}
}

// VideoPin returns the leg room's picture is pinned to, "" for none.
func (l *cameraLeg) VideoPin(room string) string {
	if v := l.video(); v != nil {
		return v.VideoPin(room)
	}
	return ""
}

// Compile-time checks: conf mutes, names, pins and lists a camera through
// these.
var (
	_ conf.MutableLeg      = (*cameraLeg)(nil)
	_ conf.MediaIdentified = (*cameraLeg)(nil)
	_ conf.VideoStatsLeg   = (*cameraLeg)(nil)
	_ conf.VideoRouterLeg  = (*cameraLeg)(nil)
)
