package video

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Clock is the router's view of time, injected so that tests drive hold
// times, camera timeouts and keyframe request repetition without sleeping.
type Clock interface {
	Now() time.Time
}

type wallClock struct{}

// Now returns the wall-clock time.
func (wallClock) Now() time.Time { return time.Now() }

// Sink receives the packets of one receiver's outgoing video stream. pkt is a
// complete RTP packet, already rewritten; it is valid only during the call
// (it lives in the receiver's retransmission cache). WriteRTP is called with
// the router's lock held, so it must not block and must not call back into
// the Router: a UDP send or a bounded queue with drop-oldest is right.
type Sink interface {
	WriteRTP(pkt []byte) error
}

// Config configures a Router. Zero values take the documented defaults.
type Config struct {
	// Hold is how long a new speaker must stay the reported speaker before
	// the picture switches to them. Default 2 s.
	Hold time.Duration
	// SourceTimeout: a source that sent no packet for this long counts as
	// camera off and is skipped. Default 3 s.
	SourceTimeout time.Duration
	// KeyframeRepeat is the interval between repeated keyframe requests
	// while receivers wait for an IDR. Default 300 ms.
	KeyframeRepeat time.Duration
	// KeyframeRetries bounds the requests sent for one switch or join.
	// Default 10.
	KeyframeRetries int
	// ReceiverRequestInterval rate-limits receivers' PLI/FIR turned into
	// requests to their source, per source. Default 500 ms.
	ReceiverRequestInterval time.Duration
	// NackHistory is the number of packets kept per receiver stream for
	// retransmission. Default 512.
	NackHistory int
	// MaxPacketSize is the largest RTP packet forwarded. Default 1500.
	MaxPacketSize int
	// RequestKeyframe is called, without the router's lock, when a source
	// must send a keyframe; the source's leg sends PLI and/or FIR (see
	// KeyframeFeedback) or a SIP INFO picture_fast_update, whatever its
	// peer negotiated. Required.
	RequestKeyframe func(sourceID string)
	// OnSpeakerChange, if set, is called (without the lock) when the
	// switched speaker changes, for the conference's event stream.
	OnSpeakerChange func(speakerID string)
	// Clock defaults to the wall clock.
	Clock Clock
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Frame interval bounds at 90 kHz: 100 fps to 5 fps. A new source's first
// frame is placed one interval after the last frame sent.
const (
	defaultFrameInterval = 3000
	minFrameInterval     = 900
	maxFrameInterval     = 18000
	speakerHistoryLen    = 8
	// sourceRingSize packets of each source are kept so that a receiver
	// can be cut over to an IDR that began while the old source was still
	// in the middle of a frame: the IDR's packets wait here until the old
	// frame's last packet is out.
	sourceRingSize = 128
	// maxCutDelay bounds that wait (the old frame's end may be lost).
	maxCutDelay = 100 * time.Millisecond
)

func (c *Config) setDefaults() {
	if c.Hold <= 0 {
		c.Hold = 2 * time.Second
	}
	if c.SourceTimeout <= 0 {
		c.SourceTimeout = 3 * time.Second
	}
	if c.KeyframeRepeat <= 0 {
		c.KeyframeRepeat = 300 * time.Millisecond
	}
	if c.KeyframeRetries <= 0 {
		c.KeyframeRetries = 10
	}
	if c.ReceiverRequestInterval <= 0 {
		c.ReceiverRequestInterval = 500 * time.Millisecond
	}
	if c.NackHistory <= 0 {
		c.NackHistory = 512
	}
	if c.MaxPacketSize <= 0 {
		c.MaxPacketSize = 1500
	}
	c.MaxPacketSize = min(c.MaxPacketSize, 65535)
	if c.Clock == nil {
		c.Clock = wallClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Router switches the video of one conference: every receiver gets one
// source at a time, chosen by pin, active speaker and camera state, as one
// continuous RTP stream of its own. All methods are safe for concurrent use.
type Router struct {
	cfg Config
	log *slog.Logger

	mu        sync.Mutex
	sources   map[string]*source
	srcOrder  []*source
	receivers map[string]*receiver
	rcvList   []*receiver

	speaker        string
	history        []string // previous speakers, most recent first
	candidate      string
	candidateSince time.Time
	pinned         string
}

type source struct {
	id         string
	enabled    bool
	seen       bool
	lastPacket time.Time
	ssrc       uint32
	params     ParamSets
	ring       *NackCache // last packets as received, by source sequence number
	maxSeq     uint16
	haveSeq    bool

	haveTS        bool
	lastTS        uint32
	frameInterval uint32

	kfWanted     bool
	kfAsked      time.Time
	kfTries      int
	lastRcvReq   time.Time
	lastRcvValid bool

	packetsIn, framesIn, keyframesIn, malformed, kfRequests uint64
}

type receiver struct {
	id    string
	ssrc  uint32
	pt    uint8
	sink  Sink
	cache *NackCache

	cur, pending *source
	started      bool
	seqOffset    uint16
	tsOffset     uint32
	cutSeq       uint16 // first forwarded sequence number of cur, source numbering
	lastSeq      uint16
	lastTS       uint32
	lastInterval uint32
	midFrame     bool // the last packet sent did not end a frame

	// holding: the pending source's IDR started (at holdFrom, source
	// numbering) while cur was mid-frame; the cut waits for cur's frame end.
	holding   bool
	holdFrom  uint16
	holdSince time.Time

	bandwidth uint64

	packetsOut, framesOut, switches, retransmits, sendErrors uint64
}

// NewRouter returns a router with no sources or receivers.
func NewRouter(cfg Config) (*Router, error) {
	if cfg.RequestKeyframe == nil {
		return nil, fmt.Errorf("creating video router: RequestKeyframe callback missing: %w", ErrBadConfig)
	}
	cfg.setDefaults()
	return &Router{
		cfg:       cfg,
		log:       cfg.Logger.With("component", "video"),
		sources:   make(map[string]*source),
		receivers: make(map[string]*receiver),
	}, nil
}

// AddSource registers a leg that sends video. It becomes selectable once its
// packets flow (and while enabled). fmtp, when not nil, seeds its SPS/PPS
// cache from sprop-parameter-sets.
func (rt *Router) AddSource(id string, fmtp *H264Fmtp) error {
	rt.mu.Lock()
	if _, ok := rt.sources[id]; ok {
		rt.mu.Unlock()
		return fmt.Errorf("adding video source %q: %w", id, ErrDuplicate)
	}
	s := &source{id: id, enabled: true, frameInterval: defaultFrameInterval, ring: NewNackCache(sourceRingSize, rt.cfg.MaxPacketSize)}
	var seedErr error
	if fmtp != nil {
		seedErr = fmtp.SeedParamSets(&s.params)
	}
	rt.sources[id] = s
	rt.srcOrder = append(rt.srcOrder, s)
	rt.mu.Unlock()
	if seedErr != nil {
		rt.log.Warn("ignoring bad sprop-parameter-sets", "leg", id, "err", seedErr)
	}
	return nil
}

// RemoveSource forgets a source; its receivers switch to another one.
func (rt *Router) RemoveSource(id string) error {
	rt.mu.Lock()
	s, ok := rt.sources[id]
	if !ok {
		rt.mu.Unlock()
		return fmt.Errorf("removing video source %q: %w", id, ErrUnknownSource)
	}
	delete(rt.sources, id)
	for i, o := range rt.srcOrder {
		if o == s {
			rt.srcOrder = append(rt.srcOrder[:i], rt.srcOrder[i+1:]...)
			break
		}
	}
	for _, r := range rt.rcvList {
		if r.pending == s {
			r.setPending(nil)
		}
		if r.cur == s {
			r.cur = nil
			if r.holding {
				rt.flush(r) // nothing left to wait for
			}
		}
	}
	reqs := rt.reselect(rt.cfg.Clock.Now(), nil)
	rt.mu.Unlock()
	rt.fire(reqs, "")
	return nil
}

// SetSourceEnabled says whether a source's camera is on as far as signalling
// knows (video direction sendrecv/sendonly from the peer versus
// recvonly/inactive, or a video mute). Disabled sources are skipped.
func (rt *Router) SetSourceEnabled(id string, enabled bool) error {
	rt.mu.Lock()
	s, ok := rt.sources[id]
	if !ok {
		rt.mu.Unlock()
		return fmt.Errorf("enabling video source %q: %w", id, ErrUnknownSource)
	}
	s.enabled = enabled
	reqs := rt.reselect(rt.cfg.Clock.Now(), nil)
	rt.mu.Unlock()
	rt.fire(reqs, "")
	return nil
}

// ReceiverConfig describes one receiver's outgoing video stream.
type ReceiverConfig struct {
	// SSRC of the stream we send to this receiver.
	SSRC uint32
	// PayloadType negotiated with the receiver for H.264.
	PayloadType uint8
	// InitialSequence and InitialTimestamp start the stream; pass random
	// values (RFC 3550 §5.1).
	InitialSequence  uint16
	InitialTimestamp uint32
	// Sink gets the packets.
	Sink Sink
}

// AddReceiver registers a leg that receives video, selects its source and
// asks that source for a keyframe.
func (rt *Router) AddReceiver(id string, rc ReceiverConfig) error {
	if rc.Sink == nil {
		return fmt.Errorf("adding video receiver %q: nil sink: %w", id, ErrBadConfig)
	}
	r := &receiver{
		id:           id,
		ssrc:         rc.SSRC,
		pt:           rc.PayloadType & 0x7f,
		sink:         rc.Sink,
		cache:        NewNackCache(rt.cfg.NackHistory, rt.cfg.MaxPacketSize),
		lastSeq:      rc.InitialSequence - 1,
		lastTS:       rc.InitialTimestamp,
		lastInterval: defaultFrameInterval,
	}
	rt.mu.Lock()
	if _, ok := rt.receivers[id]; ok {
		rt.mu.Unlock()
		return fmt.Errorf("adding video receiver %q: %w", id, ErrDuplicate)
	}
	rt.receivers[id] = r
	rt.rcvList = append(rt.rcvList, r)
	reqs := rt.reselect(rt.cfg.Clock.Now(), nil)
	rt.mu.Unlock()
	rt.fire(reqs, "")
	return nil
}

// RemoveReceiver forgets a receiver and its retransmission cache.
func (rt *Router) RemoveReceiver(id string) error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	r, ok := rt.receivers[id]
	if !ok {
		return fmt.Errorf("removing video receiver %q: %w", id, ErrUnknownReceiver)
	}
	delete(rt.receivers, id)
	for i, o := range rt.rcvList {
		if o == r {
			rt.rcvList = append(rt.rcvList[:i], rt.rcvList[i+1:]...)
			break
		}
	}
	return nil
}

// SetSpeaker reports the current active speaker from audio talker detection
// ("" for silence). The picture switches to a new speaker only after they
// stayed the reported speaker for Config.Hold; call Tick regularly so that
// the switch happens even when reports come only on change.
func (rt *Router) SetSpeaker(id string) {
	rt.mu.Lock()
	now := rt.cfg.Clock.Now()
	switch {
	case id == "" || id == rt.speaker:
		rt.candidate = ""
	case id != rt.candidate:
		rt.candidate, rt.candidateSince = id, now
	}
	reqs, changed := rt.commitSpeaker(now)
	rt.mu.Unlock()
	rt.fire(reqs, changed)
}

// commitSpeaker makes the candidate the speaker once it held the floor for
// Hold (at once when there is no speaker yet). Called with mu held; returns
// the keyframe requests to fire and the new speaker, if it changed.
func (rt *Router) commitSpeaker(now time.Time) ([]string, string) {
	if rt.candidate == "" {
		return nil, ""
	}
	if rt.speaker != "" && now.Sub(rt.candidateSince) < rt.cfg.Hold {
		return nil, ""
	}
	if rt.speaker != "" {
		h := rt.history[:0:0]
		h = append(h, rt.speaker)
		for _, id := range rt.history {
			if id != rt.speaker && id != rt.candidate && len(h) < speakerHistoryLen {
				h = append(h, id)
			}
		}
		rt.history = h
	}
	rt.speaker, rt.candidate = rt.candidate, ""
	rt.log.Debug("video speaker switched", "speaker", rt.speaker)
	return rt.reselect(now, nil), rt.speaker
}

// Speaker returns the speaker the picture currently follows.
func (rt *Router) Speaker() string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.speaker
}

// Pin makes source id the picture everyone sees (its own leg sees the
// speaker), overriding the speaker, until Unpin.
func (rt *Router) Pin(id string) error {
	rt.mu.Lock()
	if _, ok := rt.sources[id]; !ok {
		rt.mu.Unlock()
		return fmt.Errorf("pinning video source %q: %w", id, ErrUnknownSource)
	}
	rt.pinned = id
	reqs := rt.reselect(rt.cfg.Clock.Now(), nil)
	rt.mu.Unlock()
	rt.fire(reqs, "")
	return nil
}

// Unpin returns to voice-activated switching.
func (rt *Router) Unpin() {
	rt.mu.Lock()
	rt.pinned = ""
	reqs := rt.reselect(rt.cfg.Clock.Now(), nil)
	rt.mu.Unlock()
	rt.fire(reqs, "")
}

// Tick runs the router's timers: the speaker hold time, camera-off
// detection and keyframe request repetition. Call it every 50–100 ms (Run
// does).
func (rt *Router) Tick() {
	rt.mu.Lock()
	now := rt.cfg.Clock.Now()
	reqs, changed := rt.commitSpeaker(now)
	reqs = rt.reselect(now, reqs)
	for _, r := range rt.rcvList {
		if r.holding && now.Sub(r.holdSince) >= maxCutDelay {
			rt.flush(r)
		}
	}
	for _, s := range rt.srcOrder {
		if !s.kfWanted || now.Sub(s.kfAsked) < rt.cfg.KeyframeRepeat {
			continue
		}
		if !rt.awaited(s) {
			s.kfWanted = false
			continue
		}
		if s.kfTries >= rt.cfg.KeyframeRetries {
			s.kfWanted = false
			rt.log.Warn("video source sent no keyframe; giving up asking", "leg", s.id, "requests", s.kfTries)
			continue
		}
		s.kfTries++
		s.kfAsked = now
		s.kfRequests++
		reqs = append(reqs, s.id)
	}
	rt.mu.Unlock()
	rt.fire(reqs, changed)
}

// Run calls Tick every interval until ctx is done.
func (rt *Router) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rt.Tick()
		}
	}
}

// awaited reports whether some receiver waits for a keyframe from s.
func (rt *Router) awaited(s *source) bool {
	for _, r := range rt.rcvList {
		if r.pending == s {
			return true
		}
	}
	return false
}

func (rt *Router) fire(reqs []string, speaker string) {
	for _, id := range reqs {
		rt.cfg.RequestKeyframe(id)
	}
	if speaker != "" && rt.cfg.OnSpeakerChange != nil {
		rt.cfg.OnSpeakerChange(speaker)
	}
}

func (rt *Router) active(s *source, now time.Time) bool {
	return s != nil && s.enabled && s.seen && now.Sub(s.lastPacket) < rt.cfg.SourceTimeout
}

// target chooses what receiver r should see: the pinned source, else the
// speaker, else the most recent previous speaker, else the longest-present
// source; never r's own video, never a source whose camera is off.
func (rt *Router) target(r *receiver, now time.Time) *source {
	try := func(id string) *source {
		if id == "" || id == r.id {
			return nil
		}
		if s := rt.sources[id]; rt.active(s, now) {
			return s
		}
		return nil
	}
	if s := try(rt.pinned); s != nil {
		return s
	}
	if s := try(rt.speaker); s != nil {
		return s
	}
	for _, id := range rt.history {
		if s := try(id); s != nil {
			return s
		}
	}
	for _, s := range rt.srcOrder {
		if s.id != r.id && rt.active(s, now) {
			return s
		}
	}
	return nil
}

// reselect re-evaluates every receiver's source and appends to reqs the
// sources that must be asked for a keyframe. Called with mu held.
func (rt *Router) reselect(now time.Time, reqs []string) []string {
	for _, r := range rt.rcvList {
		t := rt.target(r, now)
		switch {
		case t == nil || t == r.pending:
		case t == r.cur:
			r.setPending(nil)
		default:
			r.setPending(t)
			r.switches++
			rt.log.Debug("video switch pending keyframe", "leg", r.id, "source", t.id)
			if !t.kfWanted {
				t.kfWanted, t.kfTries, t.kfAsked = true, 1, now
				t.kfRequests++
				reqs = append(reqs, t.id)
			}
		}
	}
	return reqs
}

// RequestFromReceiver turns a receiver's PLI, FIR or picture_fast_update
// into a keyframe request to the source it sees, at most once per
// Config.ReceiverRequestInterval per source. It reports whether a request
// was made.
func (rt *Router) RequestFromReceiver(receiverID string) (bool, error) {
	rt.mu.Lock()
	r, ok := rt.receivers[receiverID]
	if !ok {
		rt.mu.Unlock()
		return false, fmt.Errorf("keyframe request from video receiver %q: %w", receiverID, ErrUnknownReceiver)
	}
	s := r.cur
	now := rt.cfg.Clock.Now()
	if r.pending != nil || s == nil || (s.lastRcvValid && now.Sub(s.lastRcvReq) < rt.cfg.ReceiverRequestInterval) {
		// A switch already asks (and repeats), or nothing is seen, or
		// rate-limited.
		rt.mu.Unlock()
		return false, nil
	}
	s.lastRcvReq, s.lastRcvValid = now, true
	s.kfRequests++
	rt.mu.Unlock()
	rt.cfg.RequestKeyframe(s.id)
	return true, nil
}
