package rtsp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"github.com/roomgate/roomgate/conf"
)

// Sink receives a camera's RTP packets, undecoded. The packet is only
// valid during the call (the RTSP client reuses nothing today, but the
// contract leaves it free to): copy what must outlive it. Calls come from
// the session's reader goroutines, video and audio possibly concurrently,
// and must not block.
type Sink interface {
	VideoRTP(pkt *rtp.Packet)
	AudioRTP(pkt *rtp.Packet)
}

// State is where a puller is in its life.
type State int

// Puller states, reported through PullerOptions.OnEvent.
const (
	StateIdle         State = iota // created, not started
	StateConnecting                // first connection (and its retries)
	StatePlaying                   // packets flow
	StateReconnecting              // the stream was lost; waiting to connect again
	StateFailed                    // gave up; Err says why
	StateClosed                    // Close was called
)

func (s State) String() string {
	switch s {
	case StateIdle:
		return "idle"
	case StateConnecting:
		return "connecting"
	case StatePlaying:
		return "playing"
	case StateReconnecting:
		return "reconnecting"
	case StateFailed:
		return "failed"
	case StateClosed:
		return "closed"
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// Event is a change of a puller's state.
type Event struct {
	State State
	// Attempt numbers the attempts of StateConnecting (0 first) and
	// StateReconnecting (1 first); Delay is the wait before it.
	Attempt int
	Delay   time.Duration
	// Err is why: the failure of StateFailed, the loss or last failure of
	// StateReconnecting, the cause of StateClosed, a retried failure of
	// StateConnecting.
	Err error
	// Tracks is what StatePlaying plays.
	Tracks Tracks
}

// PullerOptions are a puller's collaborators.
type PullerOptions struct {
	Config Config
	// Logger gets component=rtsp and camera attributes added; the caller
	// adds conf and leg.
	Logger *slog.Logger
	// OnEvent, when set, is called on every state change, one call at a
	// time. It must not block and must not call Close (which waits for
	// the goroutine calling it): hand over to another goroutine, or watch
	// Done.
	OnEvent func(Event)
	// Rand returns uniform numbers in [0, 1) for the backoff jitter;
	// default math/rand/v2.
	Rand func() float64
}

// Stats are a puller's counters.
type Stats struct {
	State                      State
	VideoPackets, AudioPackets uint64
	Bytes                      uint64 // RTP payload bytes
	Lost                       uint64 // sequence gaps the client saw
	Reconnects                 uint64 // successful reconnections
	Transport                  string
}

// Puller pulls one camera for as long as it lives: it connects, plays,
// and when the stream is lost reconnects with backoff, so that the leg
// built on it keeps its identity across camera restarts. Packets go to
// the Sink as one continuous stream per track: after a reconnection the
// SSRC stays that of the first session and sequence numbers and
// timestamps continue (the timestamp gap follows the wall clock), so the
// bridge's jitter buffers and the video router see a pause, not a new
// source.
type Puller struct {
	target  conf.Target
	cfg     Config
	sink    Sink
	log     *slog.Logger
	onEvent func(Event)
	rnd     func() float64
	conn    connector

	ctx    context.Context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup
	done   chan struct{}
	doneMu sync.Once

	mu      sync.Mutex
	state   State
	started bool
	closed  bool
	cur     session
	tracks  Tracks
	err     error

	params       videoParams
	vcont, acont continuity
	videoPackets atomic.Uint64
	audioPackets atomic.Uint64
	bytes        atomic.Uint64
	lost         atomic.Uint64
	reconnects   atomic.Uint64
}

// NewPuller prepares a puller of target t; nothing is sent until Start.
func NewPuller(t conf.Target, sink Sink, opts PullerOptions) (*Puller, error) {
	cfg := opts.Config.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if sink == nil {
		return nil, fmt.Errorf("creating puller: nil sink: %w", ErrBadConfig)
	}
	u, err := targetURL(t)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "rtsp", "camera", t.Display)
	p := newPuller(t, cfg, sink, log, opts, &clientConnector{url: u, cfg: cfg, log: log})
	return p, nil
}

func newPuller(t conf.Target, cfg Config, sink Sink, log *slog.Logger, opts PullerOptions, c connector) *Puller {
	p := &Puller{
		target: t, cfg: cfg, sink: sink, log: log, onEvent: opts.OnEvent, rnd: opts.Rand, conn: c,
		done: make(chan struct{}),
	}
	if p.rnd == nil {
		p.rnd = rand.Float64
	}
	p.ctx, p.cancel = context.WithCancelCause(context.Background())
	p.vcont.clock = 90000
	return p
}

// Start connects and starts playing, retrying as Config.Retries says, and
// returns the tracks played. ctx bounds only this first connection; the
// puller then lives until Close or until it gives up (Done). A puller
// whose Start failed is finished: Err says why.
func (p *Puller) Start(ctx context.Context) (Tracks, error) {
	p.mu.Lock()
	if p.started || p.closed {
		p.mu.Unlock()
		return Tracks{}, fmt.Errorf("starting puller: %w", ErrClosed)
	}
	p.started = true
	p.mu.Unlock()

	// The attempt ends with ctx or with Close.
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(p.ctx, func() { cancel(context.Cause(p.ctx)) })
	defer stop()

	for attempt := 0; ; attempt++ {
		if attempt == 0 {
			p.setState(Event{State: StateConnecting})
		}
		s, err := p.conn.connect(cctx, p.handlers())
		if err == nil {
			t := s.tracks()
			p.params.seed(t.SPS, t.PPS)
			if !p.adopt(s, t, true) {
				s.close()
				return Tracks{}, p.finishStart(fmt.Errorf("starting puller: %w", ErrClosed))
			}
			p.log.Info("camera playing", "transport", t.Transport, "video", fmtOrNone(t.Video), "audio", fmtOrNone(t.Audio),
				"width", t.Width, "height", t.Height, "session_timeout", t.SessionTimeout, "audio_note", t.AudioNote)
			go p.supervise(s)
			return t, nil
		}
		if cctx.Err() != nil || attempt >= p.cfg.Retries || (permanent(err) && !p.cfg.RetryPermanent) {
			return Tracks{}, p.finishStart(err)
		}
		delay := p.cfg.Backoff.Delay(attempt+1, p.rnd())
		p.log.Info("camera not reached, retrying", "err", err, "attempt", attempt+1, "delay", delay)
		p.setState(Event{State: StateConnecting, Attempt: attempt + 1, Delay: delay, Err: err})
		if !sleepCtx(cctx, delay) {
			return Tracks{}, p.finishStart(fmt.Errorf("%w (while waiting to retry after: %w)", context.Cause(cctx), err))
		}
	}
}

// finishStart marks a puller whose first connection failed as finished.
func (p *Puller) finishStart(err error) error {
	p.fail(err)
	p.closeDone()
	return err
}

// adopt makes s the current session unless the puller was closed; first
// counts the supervisor about to start, under the lock that Close takes
// before it waits.
func (p *Puller) adopt(s session, t Tracks, first bool) bool {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return false
	}
	if first {
		p.wg.Add(1)
	}
	p.cur, p.tracks = s, t
	p.state = StatePlaying
	p.mu.Unlock()
	p.emit(Event{State: StatePlaying, Tracks: t})
	return true
}

// supervise waits for the session to end and reconnects with backoff as
// configured, until Close or until it gives up.
func (p *Puller) supervise(s session) {
	defer p.wg.Done()
	defer p.closeDone()
	for {
		err := s.wait()
		s.close()
		if p.ctx.Err() != nil {
			return
		}
		if !errors.Is(err, ErrStreamLost) {
			err = fmt.Errorf("%w: %w", ErrStreamLost, err)
		}
		p.log.Warn("camera stream lost", "err", err)
		if s = p.reconnect(err); s == nil {
			return
		}
	}
}

// reconnect tries until a session plays, the attempts run out, the
// camera refuses the credentials, or the puller is closed (nil).
func (p *Puller) reconnect(lost error) session {
	if p.cfg.Reconnects < 0 {
		p.fail(fmt.Errorf("reconnection disabled: %w", lost))
		return nil
	}
	last := lost
	for attempt := 1; ; attempt++ {
		if p.cfg.Reconnects > 0 && attempt > p.cfg.Reconnects {
			p.fail(fmt.Errorf("%w after %d attempts: %w", ErrRetriesExhausted, p.cfg.Reconnects, last))
			return nil
		}
		delay := p.cfg.Backoff.Delay(attempt, p.rnd())
		p.setState(Event{State: StateReconnecting, Attempt: attempt, Delay: delay, Err: last})
		if !sleepCtx(p.ctx, delay) {
			return nil
		}
		// No session runs now: the packet handlers are idle and the
		// continuity state may be touched.
		p.vcont.fresh, p.acont.fresh = true, true
		s, err := p.conn.connect(p.ctx, p.handlers())
		if err != nil {
			if p.ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, ErrUnauthorized) {
				p.fail(err)
				return nil
			}
			p.log.Info("camera reconnection failed", "err", err, "attempt", attempt)
			last = err
			continue
		}
		t := s.tracks()
		p.mu.Lock()
		prev := p.tracks
		p.mu.Unlock()
		if !prev.sameMedia(t) {
			p.log.Warn("camera came back with other streams", "video", fmtOrNone(t.Video), "audio", fmtOrNone(t.Audio))
		}
		p.params.seed(t.SPS, t.PPS)
		if !p.adopt(s, t, false) {
			s.close()
			return nil
		}
		p.reconnects.Add(1)
		p.log.Info("camera reconnected", "attempt", attempt, "transport", t.Transport)
		return s
	}
}

// handlers are the packet callbacks: count, watch the parameter sets,
// make the stream continuous, hand over. They allocate nothing.
func (p *Puller) handlers() handlers {
	return handlers{setup: p.onSetup, video: p.onVideo, audio: p.onAudio, lost: p.onLost}
}

// onSetup runs before a session's first packet.
func (p *Puller) onSetup(t Tracks) {
	if t.Audio != nil {
		p.acont.clock = uint32(t.Audio.ClockRate)
	}
}

func (p *Puller) onVideo(pkt *rtp.Packet) {
	p.videoPackets.Add(1)
	p.bytes.Add(uint64(len(pkt.Payload)))
	p.params.observe(pkt.Payload)
	p.vcont.rewrite(pkt, time.Now())
	p.sink.VideoRTP(pkt)
}

func (p *Puller) onAudio(pkt *rtp.Packet) {
	p.audioPackets.Add(1)
	p.bytes.Add(uint64(len(pkt.Payload)))
	p.acont.rewrite(pkt, time.Now())
	p.sink.AudioRTP(pkt)
}

func (p *Puller) onLost(n uint64) { p.lost.Add(n) }

// fail records the puller's end and ends its context.
func (p *Puller) fail(err error) {
	p.mu.Lock()
	if p.closed || p.state == StateFailed {
		p.mu.Unlock()
		return
	}
	p.state, p.err = StateFailed, err
	p.mu.Unlock()
	p.log.Warn("camera given up", "err", err)
	p.emit(Event{State: StateFailed, Err: err})
	p.cancel(err)
}

func (p *Puller) setState(e Event) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.state = e.State
	p.mu.Unlock()
	p.emit(e)
}

func (p *Puller) emit(e Event) {
	if p.onEvent != nil {
		p.onEvent(e)
	}
}

func (p *Puller) closeDone() { p.doneMu.Do(func() { close(p.done) }) }

// Close stops pulling (TEARDOWN) with cause and waits for the puller's
// goroutines; no Sink call happens after it returns. Idempotent.
func (p *Puller) Close(cause error) {
	if cause == nil {
		cause = ErrClosed
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.wg.Wait()
		return
	}
	p.closed = true
	failed := p.state == StateFailed
	if !failed {
		p.state, p.err = StateClosed, cause
	}
	s := p.cur
	p.mu.Unlock()
	p.cancel(cause)
	if s != nil {
		s.close()
	}
	p.wg.Wait()
	p.closeDone()
	if !failed {
		p.log.Info("camera pull stopped", "cause", cause)
		p.emit(Event{State: StateClosed, Err: cause})
	}
}

// Done is closed when the puller stopped for good: closed, failed to
// start, or gave up reconnecting.
func (p *Puller) Done() <-chan struct{} { return p.done }

// Err says why the puller stopped, nil while it runs.
func (p *Puller) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// State is the puller's current state.
func (p *Puller) State() State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state
}

// Tracks is what the current (or last) session plays.
func (p *Puller) Tracks() Tracks {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tracks
}

// VideoInfo is the latest H.264 parameter sets and picture size, from the
// SDP or in band.
func (p *Puller) VideoInfo() VideoInfo { return p.params.snapshot() }

// RequestKeyframe asks the camera for an IDR picture (RTCP PLI); the
// video router calls it when it switches to the camera.
func (p *Puller) RequestKeyframe() {
	p.mu.Lock()
	s := p.cur
	ok := p.state == StatePlaying
	p.mu.Unlock()
	if ok && s != nil {
		s.requestKeyframe()
	}
}

// Stats snapshots the counters.
func (p *Puller) Stats() Stats {
	p.mu.Lock()
	st, s := p.state, p.cur
	p.mu.Unlock()
	out := Stats{
		State:        st,
		VideoPackets: p.videoPackets.Load(),
		AudioPackets: p.audioPackets.Load(),
		Bytes:        p.bytes.Load(),
		Lost:         p.lost.Load(),
		Reconnects:   p.reconnects.Load(),
	}
	if st == StatePlaying && s != nil {
		out.Transport = s.transport()
	}
	return out
}

// sleepCtx waits d or until ctx ends; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func fmtOrNone(f *Format) string {
	if f == nil {
		return "none"
	}
	return f.String()
}

// continuity makes one track's packets a single RTP stream across
// sessions: the first session's SSRC, sequence numbers and timestamps
// continuing from the last packet sent. One goroutine at a time uses it:
// the reader of the track's session, or the supervisor between sessions.
type continuity struct {
	clock   uint32 // Hz
	started bool
	fresh   bool   // the next packet starts a new session
	inSSRC  uint32 // the camera's SSRC in the current session
	ssrc    uint32
	seqOff  uint16
	tsOff   uint32
	lastSeq uint16
	lastTS  uint32
	lastAt  time.Time
}

// rewrite maps pkt onto the continuous stream. A new session (fresh) or a
// new SSRC within one (the client's switch from UDP to TCP sets up a new
// camera session) starts a new offset.
func (c *continuity) rewrite(pkt *rtp.Packet, now time.Time) {
	if c.started && pkt.SSRC != c.inSSRC {
		c.fresh = true
	}
	c.inSSRC = pkt.SSRC
	switch {
	case !c.started:
		c.started, c.ssrc = true, pkt.SSRC
		c.lastSeq, c.lastTS, c.lastAt = pkt.SequenceNumber-1, pkt.Timestamp, now
	case c.fresh:
		c.seqOff = c.lastSeq + 1 - pkt.SequenceNumber
		ticks := uint32(1)
		if el := now.Sub(c.lastAt); el > 0 && c.clock > 0 {
			ticks = max(1, uint32(el.Seconds()*float64(c.clock)))
		}
		c.tsOff = c.lastTS + ticks - pkt.Timestamp
	}
	c.fresh = false
	pkt.SSRC = c.ssrc
	pkt.SequenceNumber += c.seqOff
	pkt.Timestamp += c.tsOff
	if int16(pkt.SequenceNumber-c.lastSeq) > 0 {
		c.lastSeq, c.lastTS, c.lastAt = pkt.SequenceNumber, pkt.Timestamp, now
	}
}
