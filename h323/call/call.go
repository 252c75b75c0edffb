package call

import (
	"context"
	"fmt"
	"github.com/roomgate/roomgate/internal/callleg"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/bridge/dtmf"
	"github.com/roomgate/roomgate/h323/h225"
	"github.com/roomgate/roomgate/h323/h245"
	"github.com/roomgate/roomgate/h323/q931"
	"github.com/roomgate/roomgate/h323/ras"
)

// env is what the calls of one Server (or one Dial) share.
type env struct {
	prefs       []audio
	video       VideoFormat // with defaults applied
	media       MediaFactory
	log         *slog.Logger
	vendor      h225.Vendor
	mediaAddr   netip.Addr
	h245Timeout time.Duration
	onDigit     func(Digit)
	m           *metrics
	display     string
	defaultConf string
	// gk admits calls when the server is registered with a gatekeeper.
	gk Gatekeeper
	// refuseFast answers Fast Connect proposals with fastConnectRefused.
	refuseFast bool
	// listen and dial open separate H.245 channels; tests replace them with in-memory ones.
	listen func(ctx context.Context, network, addr string) (net.Listener, error)
	dial   func(ctx context.Context, network, addr string) (net.Conn, error)
}

// withNet fills the network functions of e with the real network.
func (e *env) withNet() *env {
	var lc net.ListenConfig
	e.listen = lc.Listen
	d := net.Dialer{Timeout: e.h245Timeout}
	e.dial = d.DialContext
	return e
}

// call is one H.323 call, either direction. Its state is owned by the loop
// goroutine; other goroutines reach it only through channels.
type call struct {
	env      *env
	id       string
	log      *slog.Logger
	outgoing bool
	conn     net.Conn
	localIP  netip.Addr
	confs    Conferences      // incoming calls only
	admit    callleg.Admitter // incoming calls only
	room     string           // conference ID (incoming) or bridge room (outgoing)

	crv            uint16
	crvKnown       bool
	callID, confID h225.GUID
	peerVendor     h225.Vendor

	events   chan event
	mediaEv  chan bridge.Event
	hangupCh chan error
	cmds     chan func()
	quit     chan struct{}
	readers  sync.WaitGroup
	done     chan struct{}
	// ready is closed once the call is connected with its audio open (outgoing calls).
	ready     chan struct{}
	readyOnce sync.Once
	cause     error
	// stop cancels the call's context (pending dials) when it ends.
	stop context.CancelFunc

	leg  MediaLeg
	part Participant // calls we place: the joined participant
	// dialin is conf's side of a call we answer (lobby, participant,
	// in-call commands); dialinDone is released when its Run returned.
	dialin     callleg.DialInCall
	dialinDone sync.WaitGroup
	// mediaMu guards leg and muted against conf's goroutines (prompts,
	// mute, stats), which reach the call through legHandle; the loop
	// goroutine writes leg only under it.
	mediaMu sync.Mutex
	muted   bool
	// cameraMuted keeps the caller's video off screen (conf's camera mute).
	cameraMuted bool
	// entered is the conference the lobby moved the call into.
	entered atomic.Pointer[string]
	// admission is the gatekeeper's admission of this call, reported with DRQ at its end.
	admission *ras.Admission
	// peerName is the callee's Display IE (calls we place).
	peerName string

	setupSeen   bool
	connected   bool
	released    bool
	peerGone    bool
	deadline    *time.Timer
	deadlineErr error

	// H.245 transport.
	tunnelling  bool
	h245Conn    net.Conn
	h245Ln      net.Listener
	h245Ready   bool
	h245Queue   [][]byte
	h245Started bool
	h245Dialing bool
	h245        h245State

	// Media.
	codec        audio
	hasCodec     bool
	remote       netip.AddrPort
	remoteRTCP   netip.AddrPort
	mediaStarted bool
	fastStart    bool

	// keys merges the DTMF of every method into presses (H.245 and RFC 2833
	// copies of one press count once); safe for concurrent use.
	keys   *dtmf.Stream
	digits atomic.Uint64
	// eventPT is the RFC 2833 payload type the media leg decodes, -1 until the
	// peer's capabilities show it sends telephone events.
	eventPT int

	// video is the call's main video, when the media factory gives video.
	video videoSession
}

func newCall(e *env, id string, conn net.Conn, outgoing bool) *call {
	c := &call{
		env:      e,
		id:       id,
		log:      e.log.With("leg", id),
		outgoing: outgoing,
		conn:     conn,
		events:   make(chan event, 8),
		mediaEv:  make(chan bridge.Event, 32),
		hangupCh: make(chan error, 1),
		cmds:     make(chan func(), 4),
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
		ready:    make(chan struct{}),
	}
	c.localIP = e.mediaAddr
	if !c.localIP.IsValid() {
		if a, ok := conn.LocalAddr().(*net.TCPAddr); ok {
			c.localIP = a.AddrPort().Addr().Unmap()
		}
	}
	if !c.localIP.IsValid() || c.localIP.IsUnspecified() {
		// In-memory connections (tests) have no IP; loopback is the only sensible answer.
		c.localIP = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	c.h245.sdnRand = newSDN
	c.eventPT = -1
	c.video.kfReq = make(chan struct{}, 1)
	c.video.limiter.interval = fastUpdateInterval
	// The zero config is valid: NewStream cannot fail with it.
	c.keys, _ = dtmf.NewStream(dtmf.StreamConfig{})
	return c
}

// run is the call loop. It returns once the call has been released and
// everything it holds is freed.
func (c *call) run(parent context.Context) {
	ctx, stop := context.WithCancel(parent)
	c.stop = stop
	defer c.teardown()
	for !c.released {
		var timeout <-chan time.Time
		if c.deadline != nil {
			timeout = c.deadline.C
		}
		select {
		case ev := <-c.events:
			c.onEvent(ctx, ev)
		case e := <-c.mediaEv:
			c.onMedia(e)
		case err := <-c.hangupCh:
			c.release(err)
		case f := <-c.cmds:
			f()
		case <-c.video.kfReq:
			c.onKeyframeNeeded()
		case <-c.video.kfTimerC():
			c.onKeyframeTimer()
		case <-timeout:
			c.deadline = nil
			c.release(c.deadlineErr)
		case <-ctx.Done():
			c.release(context.Cause(ctx))
		}
	}
}

// setDeadline arms the call's single handshake timer; err is the release cause on expiry.
func (c *call) setDeadline(d time.Duration, err error) {
	c.clearDeadline()
	c.deadline = time.NewTimer(d)
	c.deadlineErr = err
}

func (c *call) clearDeadline() {
	if c.deadline != nil {
		c.deadline.Stop()
		c.deadline = nil
	}
}

// hangup asks the loop to release the call; it never blocks.
func (c *call) hangup(cause error) {
	if cause == nil {
		cause = ErrHangup
	}
	select {
	case c.hangupCh <- cause:
	default:
	}
}

// do runs f on the loop; it fails once the call has ended.
func (c *call) do(ctx context.Context, f func()) error {
	select {
	case c.cmds <- f:
		return nil
	case <-c.done:
		return fmt.Errorf("call %s: %w", c.id, c.cause)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// doWait runs f on the loop and waits until it ran; it fails, without
// running f, when the call ended first.
func (c *call) doWait(ctx context.Context, f func()) error {
	ran := make(chan struct{})
	if err := c.do(ctx, func() { f(); close(ran) }); err != nil {
		return err
	}
	select {
	case <-ran:
		return nil
	case <-c.done:
		select {
		case <-ran:
			return nil
		default:
		}
		return fmt.Errorf("call %s: %w", c.id, c.cause)
	}
}

func (c *call) onEvent(ctx context.Context, ev event) {
	switch ev.kind {
	case evSignal:
		c.onSignal(ctx, ev.q, ev.uu)
	case evSignalBad:
		c.env.m.malformed.Inc()
		c.log.Warn("undecodable call signalling message", "err", ev.err)
		if c.connected {
			// One message we cannot read does not end a running call.
			return
		}
		if ev.q != nil && !c.crvKnown {
			c.crv, c.crvKnown = ev.q.CallRef, true
		}
		c.release(&CauseError{Cause: CauseInvalidMessage, Err: fmt.Errorf("%w: %w", ErrProtocol, ev.err)})
	case evSignalClosed:
		c.peerGone = true
		c.release(fmt.Errorf("%w: %w", ErrConnLost, ev.err))
	case evH245Conn:
		c.onH245Conn(ev.conn)
	case evH245:
		if ev.conn == c.h245Conn {
			c.onH245(ev.pdu)
		}
	case evH245Closed:
		if ev.conn == c.h245Conn {
			// Many room systems close H.245 before sending ReleaseComplete; Q.931 decides.
			c.log.Debug("separate H.245 channel closed", "err", ev.err)
			c.h245Conn.Close()
			c.h245Conn, c.h245Ready = nil, false
		}
	}
}

// onSignal handles one call signalling message.
func (c *call) onSignal(ctx context.Context, q *q931.Message, uu *h225.Message) {
	if !c.setupSeen && !c.outgoing {
		if q.Type != q931.Setup {
			c.crv, c.crvKnown = q.CallRef, true
			c.release(&CauseError{Cause: CauseInvalidMessage, Err: fmt.Errorf("%w: %v before Setup", ErrProtocol, q.Type)})
			return
		}
		c.onSetup(ctx, q, uu)
		return
	}
	if q.CallRef != c.crv {
		c.log.Warn("message for another call reference ignored", "type", q.Type, "crv", q.CallRef)
		return
	}
	switch q.Type {
	case q931.ReleaseComplete:
		cause := uint8(q931.CauseNormalClearing)
		if ce, err := q.Cause(); err == nil {
			cause = ce.Value
		}
		c.peerGone = true
		err := &CauseError{Cause: cause, Err: ErrReleased}
		if !c.connected && c.outgoing {
			err.Err = fmt.Errorf("%w: %w", ErrRejected, ErrReleased)
		}
		c.release(err)
		return
	case q931.StatusEnquiry:
		// Status carries Cause 30 (response to STATUS ENQUIRY) and the Call state
		// (Q.931 clause 5.8.10): active once connected, else incoming/outgoing call proceeding.
		state := byte(0x0A)
		if !c.connected {
			state = 0x03
			if !c.outgoing {
				state = 0x09
			}
		}
		if b, err := c.uu().Status(); err == nil {
			if err := c.sendSignal(h225.BodyStatus, b, "", 0,
				q931.IE{ID: q931.IECause, Data: q931.AppendCause(nil, q931.Cause{Value: causeStatusResponse})},
				q931.IE{ID: ieCallState, Data: []byte{state}}); err != nil {
				c.writeFailed(err)
			}
		}
	case q931.Information:
		if d, ok := q.Keypad(); ok {
			c.onDigits(d, "keypad", time.Time{})
		}
	}
	if uu == nil {
		return
	}
	if c.outgoing {
		c.onResponse(ctx, q, uu)
	} else if uu.Body == h225.BodyFacility && uu.Reason == "startH245" && uu.H245Address.IsValid() {
		c.dialH245(ctx, uu.H245Address)
	}
	for _, pdu := range uu.H245 {
		c.onH245(pdu)
	}
}

// uu returns the fields every UUIE of this call repeats.
func (c *call) uu() *h225.Call {
	return &h225.Call{
		Endpoint:     h225.Endpoint{Vendor: c.env.vendor, Role: h225.RoleMCU},
		CallID:       c.callID,
		ConferenceID: c.confID,
		Tunnelling:   c.tunnelling,
	}
}

// sendSignal wraps a UUIE in its Q.931 message and sends it.
func (c *call) sendSignal(b h225.Body, uu []byte, display string, cause uint8, ies ...q931.IE) error {
	m, err := h225.Wrap(b, c.crv, !c.outgoing, uu, display, cause)
	if err != nil {
		return fmt.Errorf("building %s: %w", b, err)
	}
	for _, ie := range ies {
		m.Set(ie.ID, ie.Data)
	}
	raw, err := m.AppendBinary(nil)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", b, err)
	}
	if err := writeTPKT(c.conn, raw); err != nil {
		return fmt.Errorf("sending %s: %w", b, err)
	}
	return nil
}

// writeFailed handles a failed write on the signalling channel: the peer may
// have released and closed, and its ReleaseComplete may still be waiting in
// our receive buffer, so the reader decides; a peer that merely stopped
// reading is released after writeTimeout.
func (c *call) writeFailed(err error) {
	c.log.Debug("signalling write failed", "err", err)
	c.peerGone = true
	if c.deadline == nil {
		c.setDeadline(writeTimeout, fmt.Errorf("%w: %w", ErrConnLost, err))
	}
}

// release ends the call: endSessionCommand and ReleaseComplete with the cause
// err maps to, unless the peer is gone or released first.
func (c *call) release(err error) {
	if c.released {
		return
	}
	c.released = true
	c.cause = err
	c.clearDeadline()
	cause := causeOf(err)
	if c.peerGone || !c.crvKnown {
		return
	}
	// Our video channel closes before the session ends (CLC, one PDU per message).
	c.stopVideo()
	if c.peerGone {
		return
	}
	var tunnelled [][]byte
	if c.h245Started {
		if end, e := h245.EndSession(); e == nil {
			switch {
			case c.h245Conn != nil:
				if e := writeTPKT(c.h245Conn, end); e != nil {
					c.log.Debug("sending endSessionCommand", "err", e)
				}
			case c.tunnelling && c.h245Ready:
				tunnelled = [][]byte{end}
			}
		}
	}
	u := c.uu()
	u.H245 = tunnelled
	b, e := u.ReleaseComplete(h225.ReasonForCause(cause))
	if e == nil {
		e = c.sendSignal(h225.BodyReleaseComplete, b, "", cause)
	}
	if e != nil {
		c.log.Debug("sending ReleaseComplete", "err", e)
	}
}

// teardown frees everything the call holds; it runs once, on the loop.
func (c *call) teardown() {
	c.clearDeadline()
	c.stop()
	close(c.quit)
	c.conn.Close()
	if c.h245Conn != nil {
		c.h245Conn.Close()
	}
	if c.h245Ln != nil {
		c.h245Ln.Close()
	}
	c.readers.Wait()
	// Connections that came up while the loop was ending.
	for {
		select {
		case ev := <-c.events:
			if ev.kind == evH245Conn {
				ev.conn.Close()
			}
			continue
		default:
		}
		break
	}
	if c.video.kfTimer != nil {
		c.video.kfTimer.Stop()
	}
	if c.leg != nil {
		c.leg.Close(c.cause)
	}
	if c.video.leg != nil {
		c.video.leg.Close(c.cause)
	}
	if c.part != nil {
		c.confs.Leave(c.part, c.cause)
	}
	if c.dialin != nil {
		c.dialin.End(c.cause)
		c.dialinDone.Wait() // Run returns once End was called; it never waits for this loop
	}
	if c.admission != nil && c.env.gk != nil {
		c.env.gk.Disengage(*c.admission)
	}
	if c.connected {
		c.env.m.active.Dec()
	}
	c.log.Info("h323 call ended", "cause", c.cause, "q931_cause", causeOf(c.cause), "digits", c.digits.Load())
	close(c.done)
}

// onMedia handles bridge events of the call's leg.
func (c *call) onMedia(e bridge.Event) {
	switch e.Kind {
	case bridge.EventMediaTimeout:
		c.release(&CauseError{Cause: CauseRecoveryOnTimer, Err: bridge.ErrMediaTimeout})
	case bridge.EventDTMF:
		if e.Source == bridge.SourceInband {
			c.onDigits(string(e.Digit), "inband", e.At)
		} else {
			c.onDigits(string(e.Digit), "rfc2833", e.At)
		}
	}
}

// digitSources maps our source names to the methods dtmf.Stream tells
// apart. The Q.931 Keypad IE travels in call signalling as SIP INFO does,
// and like INFO it may repeat a press that also came in the media.
var digitSources = map[string]dtmf.Source{
	"uii": dtmf.SourceH245, "keypad": dtmf.SourceINFO, "rfc2833": dtmf.SourceRFC4733, "inband": dtmf.SourceInband,
}

// onDigits delivers received DTMF to the hook, each key press once: the same
// digit from another method within the stream's window is the same press.
func (c *call) onDigits(s, source string, at time.Time) {
	if at.IsZero() {
		at = time.Now()
	}
	for _, d := range s {
		if !isDTMF(d) {
			continue
		}
		digit, verdict := c.keys.Push(d, digitSources[source], at)
		if verdict != dtmf.Accepted {
			c.log.Debug("dtmf dropped", "source", source, "verdict", verdict.String())
			continue
		}
		c.digits.Add(1)
		c.env.m.digits.WithLabelValues(source).Inc()
		c.log.Debug("dtmf", "digit", string(digit), "source", source) // digits may be PINs: not at Info
		if c.dialin != nil {
			c.dialin.Digit(digit) // conf: lobby entry or in-call command
		}
		if c.env.onDigit != nil {
			ev := Digit{Call: c.id, Conference: c.room, Digit: digit, Source: source}
			if r := c.entered.Load(); r != nil {
				ev.Conference = *r
			}
			switch {
			case c.part != nil:
				ev.Participant = c.part.ID()
			case c.dialin != nil:
				ev.Participant = c.dialin.ParticipantID()
			}
			c.env.onDigit(ev)
		}
	}
}

func isDTMF(r rune) bool {
	return (r >= '0' && r <= '9') || r == '*' || r == '#' || (r >= 'A' && r <= 'D') || (r >= 'a' && r <= 'd')
}

// newLeg creates the call's media leg in room.
func (c *call) newLeg(room string) error {
	leg, err := c.env.media.NewLeg(bridge.LegOptions{ID: c.id, Room: room, Logger: c.log, OnEvent: c.onMediaEvent})
	if err != nil {
		return fmt.Errorf("allocating media for %s: %w", c.id, err)
	}
	c.mediaMu.Lock()
	c.leg = leg
	if c.muted {
		setLegMuted(leg, true) // muted by conf (on join, by a moderator) before the leg existed
	}
	c.mediaMu.Unlock()
	if err := c.newVideoLeg(room); err != nil {
		// Video is best effort: without a leg we advertise none and refuse video channels.
		c.log.Warn("call goes on without video", "err", err)
	}
	return nil
}

// rtpAddr and rtcpAddr are where we receive media.
func (c *call) rtpAddr() netip.AddrPort {
	return netip.AddrPortFrom(c.localIP, uint16(c.leg.LocalPort()))
}

func (c *call) rtcpAddr() netip.AddrPort {
	return netip.AddrPortFrom(c.localIP, uint16(c.leg.LocalPort()+1))
}

// startMedia starts (or updates) the bridge leg once codec and peer address are known.
func (c *call) startMedia() {
	if !c.hasCodec || !c.remote.IsValid() {
		return
	}
	p := bridge.StreamParams{
		Codec:            c.codec.info,
		PayloadType:      uint8(c.codec.info.StaticPT),
		EventPayloadType: c.eventPT,
		Remote:           c.remote,
		RemoteRTCP:       c.remoteRTCP,
		Direction:        bridge.SendRecv,
	}
	var err error
	if c.mediaStarted {
		err = c.leg.Update(p)
	} else {
		err = c.leg.Start(p)
	}
	if err != nil {
		c.release(fmt.Errorf("starting media: %w", err))
		return
	}
	if !c.mediaStarted {
		c.log.Info("h323 audio open", "codec", c.codec.info.Name, "remote", c.remote.String(), "fast_start", c.fastStart)
	}
	c.mediaStarted = true
	if c.connected {
		c.clearDeadline()
		c.readyOnce.Do(func() { close(c.ready) })
	}
}

// markConnected records that Connect was sent or received.
func (c *call) markConnected() {
	if c.connected {
		return
	}
	c.connected = true
	c.env.m.active.Inc()
	if c.mediaStarted {
		c.clearDeadline()
		c.readyOnce.Do(func() { close(c.ready) })
		return
	}
	c.setDeadline(c.env.h245Timeout, fmt.Errorf("%w: audio channels not open %v after Connect", ErrTimeout, c.env.h245Timeout))
}
