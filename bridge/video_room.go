package bridge

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/roomgate/roomgate/bridge/video"
)

// Video rooms. Each room name with at least one started video leg has one
// video.Router and one goroutine that runs the router's timers (speaker hold,
// camera-off detection, keyframe request repetition) on the bridge's clock
// and, once a second, asks each source for the lowest bit rate of the
// receivers that see it and sends the RTCP receiver reports that are due. The room is created by its first video leg's Start
// and stopped when its last video leg closes; audio rooms and video rooms
// of the same name live side by side, linked only by leg IDs (the mixer
// tells the video room its loudest talker, see room.noteVideoSpeaker).

const (
	// videoTick is how often a video room runs its router's timers.
	videoTick = 50 * time.Millisecond
	// videoHousekeepingTicks: bandwidth requests and RTCP reports are
	// looked at every this many ticks (1 s).
	videoHousekeepingTicks = 20
)

// VideoConfig tunes the video switching of rooms created after it is set.
// Zero values take the video package's defaults.
type VideoConfig struct {
	// Hold is how long a new speaker must stay the loudest before the
	// picture switches (default 2 s), so that a cough does not switch.
	Hold time.Duration
	// SourceTimeout: a camera that sent nothing for this long is skipped
	// (default 3 s).
	SourceTimeout time.Duration
	// KeyframeRepeat and KeyframeRetries: how often and how many times a
	// source is asked for a keyframe until it sends one (300 ms, 10).
	KeyframeRepeat  time.Duration
	KeyframeRetries int
	// ReceiverRequestInterval rate-limits receivers' PLI/FIR forwarded to
	// their source (default 500 ms).
	ReceiverRequestInterval time.Duration
	// OnSwitch, if set, is called when a room's picture follows a new
	// speaker, for the conference's event stream. It must not block.
	OnSwitch func(room, legID string)
}

// videoRooms is the bridge's set of video rooms. Its zero value is ready to
// use. mu guards everything, including each room's legs map; it is never
// held while calling into a router, so router callbacks may take it.
type videoRooms struct {
	mu    sync.Mutex
	rooms map[string]*videoRoom
	cfg   VideoConfig
	// pins holds the leg each room is pinned to, by room name, whether or
	// not that leg's video is in the room yet: a pin made before the leg
	// started (a presenter whose video is still being negotiated) takes
	// effect as it joins. It ends with UnpinVideo or when the pinned leg
	// closes.
	pins map[string]string
}

// videoRoom is one conference's video switching.
type videoRoom struct {
	reg    *videoRooms // the set it belongs to; its mu guards legs
	name   string
	rt     *video.Router
	cancel context.CancelFunc
	ctx    context.Context

	// Guarded by videoRooms.mu:
	legs        map[string]*VideoLeg
	lastSpeaker string // last loudest talker reported by the mixer

	scratch []*VideoLeg // the room goroutine's copy of legs
}

// join adds l to its room, creating the room (and starting its goroutine)
// for the first leg. It fails with ErrClosed once the bridge is closing and
// with ErrBadParams when the room already has a video leg with l's ID.
func (v *videoRooms) join(b *Bridge, l *VideoLeg, name string) (*videoRoom, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	vr := v.rooms[name]
	if vr == nil {
		var err error
		if vr, err = v.newRoom(b, name); err != nil {
			return nil, err
		}
	}
	if _, dup := vr.legs[l.id]; dup {
		return nil, fmt.Errorf("joining video room %q: %w: leg ID %q taken", name, ErrBadParams, l.id)
	}
	vr.legs[l.id] = l
	return vr, nil
}

// newRoom creates and starts the video room name. v.mu must be held.
func (v *videoRooms) newRoom(b *Bridge, name string) (*videoRoom, error) {
	vr := &videoRoom{reg: v, name: name, legs: map[string]*VideoLeg{}}
	cfg := v.cfg
	var onSpeaker func(string)
	if cfg.OnSwitch != nil {
		onSpeaker = func(id string) { cfg.OnSwitch(name, id) }
	}
	rt, err := video.NewRouter(video.Config{
		Hold:                    cfg.Hold,
		SourceTimeout:           cfg.SourceTimeout,
		KeyframeRepeat:          cfg.KeyframeRepeat,
		KeyframeRetries:         cfg.KeyframeRetries,
		ReceiverRequestInterval: cfg.ReceiverRequestInterval,
		MaxPacketSize:           maxDatagram,
		RequestKeyframe:         vr.requestKeyframe,
		OnSpeakerChange:         onSpeaker,
		Clock:                   b.clk,
		Logger:                  b.log.With("conf", name),
	})
	if err != nil {
		return nil, fmt.Errorf("creating video room %q: %w", name, err)
	}
	vr.rt = rt
	b.mu.Lock() // lock order: videoRooms.mu, then Bridge.mu
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	vr.ctx, vr.cancel = context.WithCancel(b.ctx)
	b.wg.Go(func() { vr.run(b) })
	if v.rooms == nil {
		v.rooms = map[string]*videoRoom{}
	}
	v.rooms[name] = vr
	b.log.Debug("video room started", "conf", name)
	return vr, nil
}

// leave takes l out of vr's legs and stops the room after its last leg.
func (vr *videoRoom) leave(l *VideoLeg) {
	v := vr.reg
	v.mu.Lock()
	defer v.mu.Unlock()
	if vr.legs[l.id] != l {
		return
	}
	delete(vr.legs, l.id)
	if len(vr.legs) == 0 {
		if v.rooms[vr.name] == vr {
			delete(v.rooms, vr.name)
		}
		vr.cancel()
	}
}

// room returns the running video room name, or nil.
func (v *videoRooms) room(name string) *videoRoom {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.rooms[name]
}

// requestKeyframe is the router's RequestKeyframe: it finds the source's leg
// and has it ask its peer.
func (vr *videoRoom) requestKeyframe(id string) {
	vr.reg.mu.Lock()
	l := vr.legs[id]
	vr.reg.mu.Unlock()
	if l != nil {
		l.requestKeyframe()
	}
}

// addLeg registers l with the router as a source and as a receiver.
func (vr *videoRoom) addLeg(l *VideoLeg, p VideoParams) error {
	fmtp := p.Fmtp
	if err := vr.rt.AddSource(l.id, &fmtp); err != nil {
		return fmt.Errorf("adding video source: %w", err)
	}
	l.mu.Lock()
	camMuted := l.camMuted
	l.mu.Unlock()
	if err := vr.rt.SetSourceEnabled(l.id, receives(p.Direction) && !camMuted); err != nil {
		_ = vr.rt.RemoveSource(l.id)
		return fmt.Errorf("enabling video source: %w", err)
	}
	if err := vr.rt.AddReceiver(l.id, l.receiverConfig(p)); err != nil {
		_ = vr.rt.RemoveSource(l.id)
		return fmt.Errorf("adding video receiver: %w", err)
	}
	if p.MaxBitrate > 0 {
		_ = vr.rt.SetReceiverBandwidth(l.id, p.MaxBitrate)
	}
	return nil
}

// removeLeg unregisters l from the router; its receivers switch to another
// source and no packet is sent to it any more.
func (vr *videoRoom) removeLeg(l *VideoLeg) {
	_ = vr.rt.RemoveReceiver(l.id)
	_ = vr.rt.RemoveSource(l.id)
}

// run drives the room's timers until the room stops or the bridge closes.
func (vr *videoRoom) run(b *Bridge) {
	t := b.clk.NewTimer(videoTick)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-vr.ctx.Done():
			b.log.Debug("video room stopped", "conf", vr.name)
			return
		case <-t.C():
		}
		vr.rt.Tick()
		if n%videoHousekeepingTicks == 0 {
			vr.housekeeping(b.clk.Now())
		}
		t.Reset(videoTick)
	}
}

// housekeeping asks every source for the lowest bit rate limit of its
// receivers and sends the legs' RTCP reports that are due.
func (vr *videoRoom) housekeeping(now time.Time) {
	v := vr.reg
	v.mu.Lock()
	vr.scratch = vr.scratch[:0]
	for _, l := range vr.legs {
		vr.scratch = append(vr.scratch, l)
	}
	v.mu.Unlock()
	for _, l := range vr.scratch {
		if bps, err := vr.rt.SourceBandwidth(l.id); err == nil {
			l.askBandwidth(bps, now)
		}
		l.report(now)
	}
	clear(vr.scratch)
}

// SetVideoConfig sets how the video of rooms created from now on is
// switched; running rooms keep theirs.
func (b *Bridge) SetVideoConfig(c VideoConfig) {
	v := b.videoRooms()
	v.mu.Lock()
	v.cfg = c
	v.mu.Unlock()
}

// SetVideoSpeaker reports the active speaker of room ("" for silence): the
// picture switches to legID's video once it stayed the speaker for the hold
// time. The mixer reports its loudest talker by itself; this is for
// signalling that knows better (a presenter) or for tests. A room without
// video legs ignores it.
func (b *Bridge) SetVideoSpeaker(room, legID string) {
	if vr := b.videoRooms().room(room); vr != nil {
		vr.rt.SetSpeaker(legID)
	}
}

// PinVideo makes legID's video the picture everyone in room sees (legID
// itself sees the speaker), whoever speaks, until UnpinVideo or until that
// leg closes. A leg whose video has not started yet (or is in another room)
// is pinned as soon as it starts in room: signalling may pin a presenter
// before his video is negotiated.
func (b *Bridge) PinVideo(room, legID string) error {
	if room == "" || legID == "" {
		return fmt.Errorf("pinning video of %q in room %q: %w: empty room or leg ID", legID, room, ErrBadParams)
	}
	v := b.videoRooms()
	v.mu.Lock()
	if v.pins == nil {
		v.pins = map[string]string{}
	}
	v.pins[room] = legID
	vr := v.rooms[room]
	present := false
	if vr != nil {
		_, present = vr.legs[legID]
	}
	v.mu.Unlock()
	if vr == nil || !present {
		return nil // applied by applyPin when the leg starts in room
	}
	if err := vr.rt.Pin(legID); err != nil && !errors.Is(err, video.ErrUnknownSource) {
		return fmt.Errorf("pinning video in room %q: %w", room, err)
	}
	return nil
}

// UnpinVideo returns room to voice-activated switching.
func (b *Bridge) UnpinVideo(room string) {
	v := b.videoRooms()
	v.mu.Lock()
	delete(v.pins, room)
	vr := v.rooms[room]
	v.mu.Unlock()
	if vr != nil {
		vr.rt.Unpin()
	}
}

// VideoPin returns the leg room is pinned to, "" when it follows the
// speaker.
func (b *Bridge) VideoPin(room string) string {
	v := b.videoRooms()
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.pins[room]
}

// applyPin pins vr to l when l is the leg its room is waiting for; called
// after l was added to vr's router.
func (vr *videoRoom) applyPin(l *VideoLeg) {
	v := vr.reg
	v.mu.Lock()
	want := v.pins[vr.name] == l.id
	v.mu.Unlock()
	if want {
		if err := vr.rt.Pin(l.id); err != nil {
			l.log.Debug("applying video pin", "err", err)
		}
	}
}

// dropPin ends room's pin when it names legID, which is closing.
func (v *videoRooms) dropPin(room, legID string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.pins[room] == legID {
		delete(v.pins, room)
	}
}

// VideoSnapshot returns the video switching state of room (speaker, pin,
// per-source and per-receiver counters); ok is false when the room has no
// video legs.
func (b *Bridge) VideoSnapshot(room string) (snap video.Snapshot, ok bool) {
	vr := b.videoRooms().room(room)
	if vr == nil {
		return video.Snapshot{}, false
	}
	return vr.rt.Snapshot(), true
}

// videoSpeakerHint passes the mixer's loudest talker of room to its video
// router when it changed. It allocates nothing.
func (b *Bridge) videoSpeakerHint(room, legID string) {
	v := b.videoRooms()
	v.mu.Lock()
	vr := v.rooms[room]
	if vr == nil || vr.lastSpeaker == legID {
		v.mu.Unlock()
		return
	}
	vr.lastSpeaker = legID
	v.mu.Unlock()
	vr.rt.SetSpeaker(legID)
}

// noteVideoSpeaker tells the room's video router which of the talkers
// selected this tick is the loudest ("" when nobody talks). The mixer calls
// it right after selectTalkers; the router's hold time turns this per-tick
// report into a calm picture.
func (r *room) noteVideoSpeaker() {
	var loudest *Leg
	for _, l := range r.active {
		if s := &l.mx.spk; s.talking && (loudest == nil || s.level > loudest.mx.spk.level) {
			loudest = l
		}
	}
	id := ""
	if loudest != nil {
		id = loudest.id
	}
	r.b.videoSpeakerHint(r.name, id)
}
