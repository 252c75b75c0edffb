package bridge

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"github.com/roomgate/roomgate/bridge/codec"
)

// maxDatagram is the largest RTP or RTCP datagram accepted; anything larger
// is dropped as oversized (a 1500-byte Ethernet MTU bounds real media).
const maxDatagram = 1500

// eventQueue bounds the events waiting for a leg's OnEvent callback.
const eventQueue = 32

// Leg is one participant's audio stream: a pair of RTP/RTCP sockets, a
// jitter buffer and decoder for what it sends us, and an encoder and RTP
// sender for the mix it hears. Signalling creates it with NewLeg, configures
// it with Start and Update, and ends it with Close.
//
// Each leg runs one goroutine per socket reading packets and, when OnEvent is
// set, one delivering events, so that a slow callback never stalls media and
// a callback may itself call Close. The room's mixer goroutine pulls audio
// from the leg and sends the mix on its socket.
type Leg struct {
	b        *Bridge
	id       string
	roomName string // guarded by Bridge.mu
	log      *slog.Logger
	onEvent  func(Event)
	ports    portPair
	rtpOut   *udpSender // used by the mixer goroutine only
	rtcpOut  *udpSender // used by the mixer goroutine only
	ssrc     uint32     // our SSRC, fixed for the leg's life
	epoch    time.Time  // origin of arrival times for jitter

	ctx       context.Context
	cancel    context.CancelCauseFunc
	readers   sync.WaitGroup
	closeOnce sync.Once
	closed    chan struct{}
	events    chan Event

	inRoom *room // guarded by Bridge.mu

	// mxMu hands mx between mixers: a mixer holds it (TryLock, never
	// waiting) while it works on the leg in a tick; SetRoom and join hold it
	// to move the leg.
	mxMu sync.Mutex

	mu       sync.Mutex // guards the fields below
	started  bool
	params   StreamParams
	gen      uint64     // bumped when the codec changes
	info     codec.Info // the decoder's canonical Info
	dec      codec.Decoder
	enc      codec.Encoder
	play     playout
	latched  bool
	latchTo  netip.AddrPort
	latchSrc uint32
	rtcpFrom netip.AddrPort
	rx       rxStats
	dtmf     dtmfDetector
	muted    bool      // SetMuted: received audio is not mixed
	activity time.Time // last RTP packet, or Start/Update
	timedOut bool
	rLost    uint64
	rJitter  float64
	rBye     bool

	// Prompts, volume and DTMF out (leg_play.go, gain.go, leg_digits.go).
	playCur              *playReq   // the request playing, nil for none
	playQ                []*playReq // the requests after it
	listenGain, talkGain int        // steps of 3 dB
	passQ                [maxPassDigits]rune
	passN                int
	evOut                eventSender

	packetsIn, bytesIn, packetsOut, bytesOut atomic.Uint64
	dropWrong, dropPT, dropMalformed         atomic.Uint64
	dropLate, dropDup                        atomic.Uint64
	talking                                  atomic.Bool
	trace                                    atomic.Bool // SetTrace

	hdr  rtp.Header            // the RTP reader's scratch header
	rbuf [maxDatagram + 1]byte // the RTP reader's buffer
	cbuf [maxDatagram + 1]byte // the RTCP reader's buffer

	mx legMix // owned by the room's mixer goroutine

	// inj is set for a socketless leg fed by InjectedLeg (leg_inject.go).
	inj *injectState
}

// NewLeg allocates an RTP/RTCP port pair and starts reading it. The leg joins
// its room on Start. Packets that arrive before Start are dropped.
func (b *Bridge) NewLeg(opts LegOptions) (*Leg, error) {
	if opts.Room == "" {
		return nil, fmt.Errorf("creating leg %q: %w: empty room name", opts.ID, ErrBadParams)
	}
	pp, err := b.ports.allocate()
	if err != nil {
		return nil, fmt.Errorf("creating leg %q: %w", opts.ID, err)
	}
	log := opts.Logger
	if log == nil {
		log = b.log
	}
	log = log.With("conf", opts.Room, "leg", opts.ID)
	l := &Leg{
		b:        b,
		id:       opts.ID,
		roomName: opts.Room,
		log:      log,
		onEvent:  opts.OnEvent,
		ports:    pp,
		ssrc:     nonZeroRand(),
		epoch:    b.clk.Now(),
		closed:   make(chan struct{}),
	}
	if l.rtpOut, err = newUDPSender(pp.rtp); err == nil {
		l.rtcpOut, err = newUDPSender(pp.rtcp)
	}
	if err != nil {
		pp.close()
		b.ports.release(pp.port)
		return nil, fmt.Errorf("creating leg %q: %w", opts.ID, err)
	}
	l.mx.init(l.ssrc)

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		pp.close()
		b.ports.release(pp.port)
		return nil, fmt.Errorf("creating leg %q: %w", opts.ID, ErrClosed)
	}
	l.ctx, l.cancel = context.WithCancelCause(b.ctx)
	b.legs[l] = struct{}{}
	if l.onEvent != nil {
		l.events = make(chan Event, eventQueue)
		b.wg.Go(l.deliverEvents)
	}
	b.mu.Unlock()

	l.readers.Add(2)
	go l.readRTP()
	go l.readRTCP()
	b.metrics.legs.Inc()
	log.Debug("leg created", "rtp_port", pp.port)
	return l, nil
}

// nonZeroRand returns a random non-zero 32-bit value (an SSRC).
func nonZeroRand() uint32 {
	for {
		if v := rand.Uint32(); v != 0 {
			return v
		}
	}
}

// LocalPort is the leg's RTP port; its RTCP port is LocalPort()+1.
func (l *Leg) LocalPort() int { return l.ports.port }

// Start applies the first negotiated stream and puts the leg into its room.
func (l *Leg) Start(p StreamParams) error {
	dec, enc, err := l.b.newCodecs(p)
	if err != nil {
		return fmt.Errorf("starting leg %q: %w", l.id, err)
	}
	l.mu.Lock()
	if l.ctx.Err() != nil {
		l.mu.Unlock()
		return fmt.Errorf("starting leg %q: %w", l.id, ErrClosed)
	}
	if l.started {
		l.mu.Unlock()
		return fmt.Errorf("starting leg %q: %w", l.id, ErrAlreadyStarted)
	}
	l.started = true
	l.apply(p, dec, enc)
	l.mu.Unlock()
	if err := l.b.join(l); err != nil {
		return fmt.Errorf("starting leg %q: %w", l.id, err)
	}
	l.log.Info("leg started", "codec", p.Codec.Name, "pt", p.PayloadType, "remote", p.Remote, "direction", p.Direction)
	return nil
}

// Update applies renegotiated media (re-INVITE, UPDATE): a hold or resume is
// a direction change, a new remote address re-latches, a new codec replaces
// the decoder and encoder and resets the jitter buffer. RTP sequence numbers
// and timestamps of what we send continue across all of these. The media
// timeout restarts.
func (l *Leg) Update(p StreamParams) error {
	l.mu.Lock()
	same := l.started && sameCodec(l.params, p)
	l.mu.Unlock()
	var dec codec.Decoder
	var enc codec.Encoder
	if !same {
		var err error
		if dec, enc, err = l.b.newCodecs(p); err != nil {
			return fmt.Errorf("updating leg %q: %w", l.id, err)
		}
	} else if err := validParams(p); err != nil {
		return fmt.Errorf("updating leg %q: %w", l.id, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ctx.Err() != nil {
		return fmt.Errorf("updating leg %q: %w", l.id, ErrClosed)
	}
	if !l.started {
		return fmt.Errorf("updating leg %q: %w", l.id, ErrNotStarted)
	}
	if same && !sameCodec(l.params, p) { // changed meanwhile by a concurrent Update
		return fmt.Errorf("updating leg %q: concurrent update: %w", l.id, ErrBadParams)
	}
	if same {
		dec, enc = l.dec, l.enc
	}
	l.apply(p, dec, enc)
	l.log.Info("leg updated", "codec", p.Codec.Name, "pt", p.PayloadType, "remote", p.Remote, "direction", p.Direction)
	return nil
}

// SetRoom moves the leg into another room (from an IVR lobby into the
// conference, or between conferences) without touching its media: the ports,
// SSRC, sequence numbers and codecs stay. Before Start it only changes the
// room Start will join. It waits at most for the current tick of the old
// room's mixer.
func (l *Leg) SetRoom(name string) error {
	if name == "" {
		return fmt.Errorf("moving leg %q: %w: empty room name", l.id, ErrBadParams)
	}
	l.mxMu.Lock()
	defer l.mxMu.Unlock()
	b := l.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || l.ctx.Err() != nil {
		return fmt.Errorf("moving leg %q: %w", l.id, ErrClosed)
	}
	if l.roomName == name {
		return nil
	}
	from := l.roomName
	l.roomName = name
	if l.inRoom == nil {
		return nil // not started yet
	}
	b.removeFromRoom(l)
	b.addToRoom(l, name)
	// Forget the old room's state: its shared encoder and talker seat.
	l.mx.group = nil
	if l.mx.spk.talking {
		l.talking.Store(false)
		l.emit(Event{Kind: EventTalking, Talking: false, At: b.clk.Now()})
	}
	l.mx.spk = speaker{}
	l.log.Info("leg moved", "from", from, "to", name)
	return nil
}

// SetMuted keeps the leg's audio out of the mix (muted by a moderator, by
// itself, or a listener in a lecture) while it goes on hearing the room and
// sending DTMF. Unmuting starts its jitter buffer afresh, so it is not heard
// with stale audio.
func (l *Leg) SetMuted(muted bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.muted == muted {
		return
	}
	l.muted = muted
	if !muted {
		l.play.reset()
	}
	l.log.Info("leg mute changed", "muted", muted)
}

// Muted reports whether SetMuted(true) is in force.
func (l *Leg) Muted() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.muted
}

// LevelTrace is the slog level of per-packet traces (below Debug).
const LevelTrace = slog.Level(-8)

// SetTrace turns per-packet tracing of this leg on or off: every received
// packet and every drop is logged at LevelTrace. It is meant for debugging
// one troublesome call; with tracing off it costs one atomic load per packet.
func (l *Leg) SetTrace(on bool) { l.trace.Store(on) }

// traceDrop logs a dropped packet when tracing is on.
func (l *Leg) traceDrop(reason string, from netip.AddrPort, size int) {
	if l.trace.Load() {
		l.log.Log(l.ctx, LevelTrace, "RTP dropped", "reason", reason, "from", from, "bytes", size)
	}
}

// sameCodec reports whether a and b describe the same decoder and encoder.
func sameCodec(a, b StreamParams) bool {
	return a.Codec.Name == b.Codec.Name && a.Codec.ClockRate == b.Codec.ClockRate &&
		a.Codec.SampleRate == b.Codec.SampleRate && a.Codec.Channels == b.Codec.Channels &&
		a.Codec.Fmtp == b.Codec.Fmtp
}

// validParams checks the parts of StreamParams that are not the codec.
func validParams(p StreamParams) error {
	if p.PayloadType > 127 {
		return fmt.Errorf("%w: payload type %d", ErrBadParams, p.PayloadType)
	}
	if p.EventPayloadType < -1 || p.EventPayloadType > 127 || p.EventPayloadType == int(p.PayloadType) {
		return fmt.Errorf("%w: telephone-event payload type %d", ErrBadParams, p.EventPayloadType)
	}
	if p.Direction > Inactive {
		return fmt.Errorf("%w: direction %d", ErrBadParams, p.Direction)
	}
	return nil
}

// apply installs p; l.mu must be held.
func (l *Leg) apply(p StreamParams, dec codec.Decoder, enc codec.Encoder) {
	old := l.params
	if dec != l.dec {
		l.dec, l.enc = dec, enc
		l.info = dec.Info()
		l.play.configure(dec)
		l.gen++
		l.rx = rxStats{}
	} else if p.Direction == SendRecv && old.Direction != SendRecv {
		l.play.reset() // resumed: whatever was buffered is stale
	}
	if p.EventPayloadType < 0 {
		p.EventPayloadType = -1
	}
	l.params = p
	// Symmetric RTP: after an Update, latch again to where packets come from.
	l.latched = false
	l.rtcpFrom = netip.AddrPort{}
	l.dtmf.reset()
	l.activity = l.b.clk.Now()
	l.timedOut = false
}

// Stats returns a snapshot of the leg's counters.
func (l *Leg) Stats() LegStats {
	l.mu.Lock()
	s := LegStats{
		Codec:          l.info.Name,
		Remote:         l.rtpDest(),
		LocalPort:      l.ports.port,
		Lost:           l.rx.lost(),
		RemoteLost:     l.rLost,
		RemoteJitterMs: l.rJitter,
	}
	if cr := l.info.ClockRate; cr > 0 {
		s.JitterMs = l.rx.jitter * 1000 / float64(cr)
	}
	l.mu.Unlock()
	s.PacketsIn = l.packetsIn.Load()
	s.PacketsOut = l.packetsOut.Load()
	s.BytesIn = l.bytesIn.Load()
	s.BytesOut = l.bytesOut.Load()
	s.Talking = l.talking.Load()
	s.DroppedWrongSource = l.dropWrong.Load()
	s.DroppedUnknownPT = l.dropPT.Load()
	s.DroppedMalformed = l.dropMalformed.Load()
	return s
}

// rtpDest is where RTP goes: the latched source, else the signalled address.
// l.mu must be held.
func (l *Leg) rtpDest() netip.AddrPort {
	if l.latched {
		return l.latchTo
	}
	if r := l.params.Remote; r.Addr().IsValid() && !r.Addr().IsUnspecified() && r.Port() != 0 {
		return netip.AddrPortFrom(r.Addr().Unmap(), r.Port())
	}
	return netip.AddrPort{}
}

// rtcpDest is where RTCP goes: where the peer's RTCP comes from, else the
// signalled RTCP address, else the RTP destination's port + 1 (RFC 3550 §11).
// l.mu must be held.
func (l *Leg) rtcpDest() netip.AddrPort {
	if l.rtcpFrom.IsValid() {
		return l.rtcpFrom
	}
	if r := l.params.RemoteRTCP; r.Addr().IsValid() && !r.Addr().IsUnspecified() && r.Port() != 0 {
		return netip.AddrPortFrom(r.Addr().Unmap(), r.Port())
	}
	if d := l.rtpDest(); d.IsValid() && d.Port() < 65535 {
		return netip.AddrPortFrom(d.Addr(), d.Port()+1)
	}
	return netip.AddrPort{}
}

// Close ends the leg: it stops its goroutines, leaves the room and releases
// the ports. cause (ErrLegClosed when nil) becomes Cause(). Close is
// idempotent, and every call returns only once the leg is fully closed. It
// may be called from OnEvent.
func (l *Leg) Close(cause error) {
	l.closeOnce.Do(func() {
		if cause == nil {
			cause = ErrLegClosed
		}
		l.cancel(cause)
		l.ports.close()
		l.readers.Wait()
		l.b.leave(l)
		l.mu.Lock()
		l.stopPromptsLocked()
		l.mu.Unlock()
		l.b.ports.release(l.ports.port)
		l.b.metrics.legs.Dec()
		l.log.Info("leg closed", "cause", context.Cause(l.ctx))
		close(l.closed)
	})
	<-l.closed
}

// Done is closed when the leg ends (Close, media timeout, bridge closed).
func (l *Leg) Done() <-chan struct{} { return l.ctx.Done() }

// Cause says why the leg ended, or nil while it runs.
func (l *Leg) Cause() error { return context.Cause(l.ctx) }

// emit queues an event for OnEvent without ever blocking; when the queue is
// full the event is dropped and logged.
func (l *Leg) emit(ev Event) {
	if l.events == nil {
		return
	}
	select {
	case l.events <- ev:
	default:
		l.log.Warn("leg event dropped: OnEvent is not keeping up", "kind", ev.Kind)
	}
}

// deliverEvents runs OnEvent for queued events until the leg ends, then
// delivers what is still queued.
func (l *Leg) deliverEvents() {
	for {
		select {
		case ev := <-l.events:
			l.onEvent(ev)
		case <-l.ctx.Done():
			for {
				select {
				case ev := <-l.events:
					l.onEvent(ev)
				default:
					return
				}
			}
		}
	}
}
