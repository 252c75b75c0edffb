package bridge

// Injected legs: media from sources that only send and reach us through
// another protocol's client (an RTSP camera pulled by package rtsp), not
// through our own RTP sockets.
//
// Decisions:
//   - An injected audio leg is an ordinary *Leg without ports: its packets
//     take the very path of socket input (handleRTP: payload type check,
//     jitter buffer, decoder, in-band DTMF scan, talker detection, mute), so
//     a camera sounds exactly like a phone. InjectRTP re-serialises the
//     packet into the leg's own receive buffer, which no reader goroutine
//     uses on an injected leg, and allocates nothing.
//   - It is always "receiving" (SendRecv for the mixer) and never sent to:
//     it has no destination, so the mixer skips its encode and its send
//     (tick step 4) and never builds an RTCP report for it.
//   - InjectRTP never waits for a consumer: the packet is copied into the
//     jitter buffer at once, whose ring drops the oldest packets under
//     pressure. It only takes the leg's mutexes, held by others for a copy
//     or one frame's decode.
//   - Its audio is not scanned for in-band DTMF: a camera presses no keys,
//     and the scan would silence room sounds that resemble digits (talk-off)
//     and delay the audio by a frame.
//   - The media timeout is off by default: the source's client knows when
//     the source is gone, and a camera reconnecting, or simply silent, must
//     not be hung up by the bridge. SetMediaTimeout turns it on.
//   - Packets are attributed to no address: LegStats.Remote and LocalPort
//     are zero; the caller adds its own remote.

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/rtp"
)

// injectState is what a Leg fed by InjectRTP has beyond an ordinary leg.
type injectState struct {
	// mu serialises InjectRTP: it guards the leg's receive buffer and
	// scratch header, which a socket leg's reader goroutine owns.
	mu sync.Mutex
	// timeout is the leg's media timeout, 0 for none; guarded by Leg.mu.
	timeout time.Duration
}

// mediaTimeout is how long the leg may receive nothing before it is hung
// up: the bridge's MediaTimeout, or an injected leg's own. l.mu must be held.
func (l *Leg) mediaTimeout() time.Duration {
	if l.inj != nil {
		return l.inj.timeout
	}
	return l.b.cfg.MediaTimeout
}

// InjectedLeg is the audio of a send-only source fed packet by packet
// (InjectRTP) instead of from sockets. It is mixed into its room like any
// other leg and hears nothing.
type InjectedLeg struct {
	l *Leg
}

// NewInjectedLeg creates an audio leg without sockets, configured for p, and
// puts it into opts.Room. p.Remote, p.RemoteRTCP and p.Direction are
// ignored: the leg sends nothing and always receives. p.EventPayloadType
// may name RFC 4733 events the source sends, or be -1.
func (b *Bridge) NewInjectedLeg(opts LegOptions, p StreamParams) (*InjectedLeg, error) {
	if opts.Room == "" {
		return nil, fmt.Errorf("creating injected leg %q: %w: empty room name", opts.ID, ErrBadParams)
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
		ssrc:     nonZeroRand(),
		epoch:    b.clk.Now(),
		closed:   make(chan struct{}),
		inj:      &injectState{},
	}
	l.mx.init(l.ssrc)

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, fmt.Errorf("creating injected leg %q: %w", opts.ID, ErrClosed)
	}
	l.ctx, l.cancel = context.WithCancelCause(b.ctx)
	b.legs[l] = struct{}{}
	if l.onEvent != nil {
		l.events = make(chan Event, eventQueue)
		b.wg.Go(l.deliverEvents)
	}
	b.mu.Unlock()
	b.metrics.legs.Inc()

	if err := l.Start(injectedParams(p)); err != nil {
		l.Close(err)
		return nil, fmt.Errorf("creating injected leg %q: %w", opts.ID, err)
	}
	return &InjectedLeg{l: l}, nil
}

// injectedParams is p as an injected leg uses it: received and mixed,
// never sent to.
func injectedParams(p StreamParams) StreamParams {
	p.Remote, p.RemoteRTCP = netip.AddrPort{}, netip.AddrPort{}
	p.Direction = SendRecv
	return p
}

// ID is the leg's ID.
func (il *InjectedLeg) ID() string { return il.l.id }

// InjectRTP hands the leg one packet of its source, as if it had arrived
// on a socket now. pkt is not retained. It is safe to call from several
// goroutines, never waits for the mixer to consume, and allocates nothing
// in steady state. Packets after Close are dropped.
func (il *InjectedLeg) InjectRTP(pkt *rtp.Packet) {
	l := il.l
	if pkt == nil {
		return
	}
	s := l.inj
	s.mu.Lock()
	defer s.mu.Unlock()
	if l.ctx.Err() != nil {
		return
	}
	n, err := pkt.MarshalTo(l.rbuf[:maxDatagram])
	if err != nil {
		// Larger than any datagram we would accept, or bad padding.
		l.dropMalformed.Add(1)
		l.b.metrics.dropMalformed.Inc()
		l.traceDrop(dropMalformed, netip.AddrPort{}, pkt.MarshalSize())
		return
	}
	l.handleRTP(l.rbuf[:n], netip.AddrPort{}, l.b.clk.Now())
}

// Update reconfigures the leg for a source that came back with another
// codec or payload type; as NewInjectedLeg, it ignores p's addresses and
// direction. The jitter buffer starts afresh on a codec change.
func (il *InjectedLeg) Update(p StreamParams) error {
	if err := il.l.Update(injectedParams(p)); err != nil {
		return fmt.Errorf("updating injected leg: %w", err)
	}
	return nil
}

// SetMediaTimeout hangs the leg up (EventMediaTimeout, then Close with
// ErrMediaTimeout) when no packet was injected for d; 0, the default,
// turns the timeout off. The time counts from now.
func (il *InjectedLeg) SetMediaTimeout(d time.Duration) {
	l := il.l
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inj.timeout = max(d, 0)
	l.activity = l.b.clk.Now()
	l.timedOut = false
}

// Stats returns a snapshot of the leg's counters; PacketsOut and BytesOut
// stay 0.
func (il *InjectedLeg) Stats() LegStats { return il.l.Stats() }

// SetMuted keeps the source's audio out of the mix, as Leg.SetMuted.
func (il *InjectedLeg) SetMuted(muted bool) { il.l.SetMuted(muted) }

// Muted reports whether SetMuted(true) is in force.
func (il *InjectedLeg) Muted() bool { return il.l.Muted() }

// SetGain sets the source's talk volume in 3 dB steps (-4..+4); the leg
// hears nothing, so there is no listen volume.
func (il *InjectedLeg) SetGain(talk int) { il.l.SetGain(0, talk) }

// SetTrace turns per-packet tracing on or off, as Leg.SetTrace.
func (il *InjectedLeg) SetTrace(on bool) { il.l.SetTrace(on) }

// Close ends the leg and takes it out of its room; idempotent, and every
// call returns once the leg is closed. cause (ErrLegClosed when nil)
// becomes Cause().
func (il *InjectedLeg) Close(cause error) { il.l.Close(cause) }

// Done is closed when the leg ends (Close, media timeout, bridge closed).
func (il *InjectedLeg) Done() <-chan struct{} { return il.l.Done() }

// Cause says why the leg ended, or nil while it runs.
func (il *InjectedLeg) Cause() error { return il.l.Cause() }

// InjectedVideoLeg is the video of a send-only source fed packet by packet:
// a video source in its room's router (switched to when its audio leg of
// the same ID is the loudest talker) that is sent nothing.
//
// It is a VideoLeg started RecvOnly without a remote and fed through
// VideoLeg.InjectRTP, whose sockets are closed as soon as it is made, so
// that nobody on the network can feed it; their port pair stays reserved
// until Close. Its keyframe requests go to VideoLegOptions.OnKeyframeRequest
// (with rtcpSent false). It adds to VideoLeg the parsed-packet API of
// InjectedLeg, safe from several goroutines.
type InjectedVideoLeg struct {
	v   *VideoLeg
	mu  sync.Mutex            // serialises InjectRTP over buf
	buf [maxDatagram + 1]byte // the packet being injected
}

// NewInjectedVideoLeg creates a source-only video leg configured for p (its
// payload type and H.264 format parameters; the addresses, feedback and
// direction are ignored) and puts it into opts.Room's video router.
func (b *Bridge) NewInjectedVideoLeg(opts VideoLegOptions, p VideoParams) (*InjectedVideoLeg, error) {
	v, err := b.NewVideoLeg(opts)
	if err != nil {
		return nil, fmt.Errorf("creating injected video leg: %w", err)
	}
	// Nothing may arrive from the network; the readers end at once.
	v.ports.close()
	if err := v.Start(injectedVideoParams(p)); err != nil {
		v.Close(err)
		return nil, fmt.Errorf("creating injected video leg: %w", err)
	}
	return &InjectedVideoLeg{v: v}, nil
}

// injectedVideoParams is p for a source we receive and never send to.
func injectedVideoParams(p VideoParams) VideoParams {
	p.Remote, p.RemoteRTCP = netip.AddrPort{}, netip.AddrPort{}
	p.Direction = RecvOnly
	p.Feedback = VideoFeedback{}
	p.RTCPMux = false
	return p
}

// InjectRTP hands the router one packet of the source, as if it had
// arrived on a socket. pkt is not retained; it is safe to call from several
// goroutines and allocates nothing in steady state.
func (iv *InjectedVideoLeg) InjectRTP(pkt *rtp.Packet) {
	if pkt == nil {
		return
	}
	iv.mu.Lock()
	defer iv.mu.Unlock()
	if iv.v.ctx.Err() != nil {
		return
	}
	n, err := pkt.MarshalTo(iv.buf[:maxDatagram])
	if err != nil {
		iv.v.dropMalformed.Add(1)
		return
	}
	iv.v.InjectRTP(iv.buf[:n])
}

// Update reconfigures the leg for a source that came back with another
// payload type or parameter sets.
func (iv *InjectedVideoLeg) Update(p VideoParams) error {
	if err := iv.v.Update(injectedVideoParams(p)); err != nil {
		return fmt.Errorf("updating injected video leg: %w", err)
	}
	return nil
}

// ID is the leg's ID.
func (iv *InjectedVideoLeg) ID() string { return iv.v.id }

// Stats returns a snapshot of the leg's state and counters.
func (iv *InjectedVideoLeg) Stats() VideoLegStats { return iv.v.Stats() }

// Close takes the source out of the router and ends the leg; idempotent.
func (iv *InjectedVideoLeg) Close(cause error) { iv.v.Close(cause) }

// Done is closed when the leg ends.
func (iv *InjectedVideoLeg) Done() <-chan struct{} { return iv.v.Done() }

// Cause says why the leg ended, or nil while it runs.
func (iv *InjectedVideoLeg) Cause() error { return iv.v.Cause() }

// SetCameraMuted keeps the camera's picture off screen (muted) or lets it
// be switched to again, as for any video leg.
func (iv *InjectedVideoLeg) SetCameraMuted(muted bool) { iv.v.SetCameraMuted(muted) }
