package call

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/h323/h225"
	"github.com/roomgate/roomgate/h323/h245"
	"github.com/roomgate/roomgate/h323/q931"
	"github.com/roomgate/roomgate/h323/ras"
)

// DialOptions configures a call we place.
type DialOptions struct {
	// Media creates the call's bridge leg; Room is the bridge room it mixes in. Both required.
	Media MediaFactory
	Room  string
	// Codecs are our audio codecs in order of preference; empty means G722, PCMU, PCMA.
	Codecs []string
	// FastStart offers Fast Connect proposals in Setup (H.323 clause 8.1.7); the call falls
	// back to slow start when the callee does not accept them.
	FastStart bool
	// Tunnelling tunnels H.245 in call signalling; without it we connect to the callee's
	// h245Address, or offer ours with Facility startH245.
	Tunnelling bool
	// H245InSetup sends our capabilities and master/slave determination in Setup
	// (needs Tunnelling).
	H245InSetup bool
	// DisplayName goes in the Q.931 Display IE, Source is our h323-ID alias.
	DisplayName, Source string
	// Vendor is our EndpointType vendor; zero means DefaultVendor.
	Vendor h225.Vendor
	// ConnectTimeout bounds ringing, H245Timeout the opening of audio after Connect.
	ConnectTimeout, H245Timeout time.Duration
	// Logger receives the call's logs; OnDigit the digits the callee sends.
	Logger  *slog.Logger
	OnDigit func(Digit)

	// Video is the conference video format (zero: 720p30 at 2000 kbit/s); the call has
	// video when Media also creates video legs.
	Video VideoFormat

	// Gatekeeper, when set, admits the call first (ARQ) and says where to send
	// its Setup; it gets a DRQ when the call ends.
	Gatekeeper Gatekeeper

	// netDial, when set, replaces the TCP dialer (tests use in-memory connections).
	netDial func(ctx context.Context, network, addr string) (net.Conn, error)
	// srv, metrics: calls a Server places share its lifetime and collectors.
	srv     *Server
	metrics *metrics
}

// Call is a call we placed with Dial.
type Call struct{ c *call }

// Dial calls target, an H.323 call string ("h323:alias@host[:port]",
// "h323:host", "host##alias"), and returns once the callee connected and
// audio flows both ways. Setup always carries destCallSignalAddress (Polycom
// m100 needs it). A callee's release comes back as a *CauseError wrapping
// ErrRejected and, for busy, declined, unknown and unanswered calls,
// ErrBusy, ErrDeclined, ErrUnknownTarget or ErrNoAnswer. ctx bounds
// dialling only: once Dial returns, the call lives until Hangup, Close or
// the peer ends it.
func Dial(ctx context.Context, target string, o DialOptions) (*Call, error) {
	t, err := h225.ParseCallString(target)
	if err != nil {
		return nil, fmt.Errorf("dialling %q: %w", target, err)
	}
	k, err := dialTarget(ctx, t, o)
	if err != nil {
		return nil, fmt.Errorf("dialling %q: %w", target, err)
	}
	return k, nil
}

// dialTarget places a call to t. With a gatekeeper it asks admission first
// and calls where the ACF says; t.Host may then be empty (an alias the
// gatekeeper resolves).
func dialTarget(ctx context.Context, t h225.Target, o DialOptions) (*Call, error) {
	if o.Media == nil || o.Room == "" {
		return nil, fmt.Errorf("%w: dialling needs Media and Room", ErrConfig)
	}
	if o.H245InSetup && !o.Tunnelling {
		return nil, fmt.Errorf("%w: H.245 in Setup needs tunnelling", ErrConfig)
	}
	prefs, err := parseCodecs(o.Codecs)
	if err != nil {
		return nil, err
	}
	if o.Video, err = o.Video.withDefaults(); err != nil {
		return nil, err
	}
	if t.Port == 0 {
		t.Port = h225.DefaultPort
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.H245Timeout <= 0 {
		o.H245Timeout = DefaultH245Timeout
	}
	if o.Vendor == (h225.Vendor{}) {
		o.Vendor = DefaultVendor
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := o.metrics
	if m == nil {
		if m, err = newMetrics(nil); err != nil {
			return nil, err
		}
	}
	if o.netDial == nil {
		var d net.Dialer
		o.netDial = d.DialContext
	}
	ids, err := newCallIDs()
	if err != nil {
		return nil, err
	}
	dest := ""
	if t.Host != "" {
		dest = net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
	}
	var adm *ras.Admission
	var cref atomic.Pointer[call]
	if o.Gatekeeper != nil {
		a := ras.Admission{CallRef: ids.crv, CallID: ids.callID, ConferenceID: ids.confID, Dest: t.Dest,
			Drop: func() {
				if c := cref.Load(); c != nil {
					c.hangup(ErrDropped)
				}
			}}
		if ip, err := netip.ParseAddr(t.Host); err == nil {
			a.DestSignal = netip.AddrPortFrom(ip.Unmap(), uint16(t.Port))
		}
		to, admitted, err := admitOutgoing(ctx, o.Gatekeeper, a, t)
		if err != nil {
			return nil, err
		}
		if admitted {
			adm = &a
			dest = to.String()
		} else {
			log.Warn("calling without gatekeeper admission", "to", dest)
		}
	}
	if dest == "" {
		return nil, ErrNoRoute
	}
	conn, err := o.netDial(ctx, "tcp", dest)
	if err != nil {
		if adm != nil {
			o.Gatekeeper.Disengage(*adm)
		}
		return nil, fmt.Errorf("%w: connecting to %s: %w", ErrUnreachable, dest, err)
	}
	var idb [6]byte
	_, _ = rand.Read(idb[:])
	e := &env{prefs: prefs, video: o.Video, media: o.Media, log: log.With("component", "h323", "dir", "out"), vendor: o.Vendor,
		h245Timeout: o.H245Timeout, onDigit: o.OnDigit, m: m, display: o.DisplayName, gk: o.Gatekeeper}
	e.withNet()
	c := newCall(e, "h323-out-"+hex.EncodeToString(idb[:]), conn, true)
	cref.Store(c)
	c.room = o.Room
	c.log = c.log.With("conf", o.Room, "to", dest)
	c.tunnelling = o.Tunnelling
	c.crv, c.crvKnown, c.callID, c.confID = ids.crv, true, ids.callID, ids.confID
	c.admission = adm
	if err := c.prepareSetup(t, o); err != nil {
		conn.Close()
		c.closeMedia(err)
		if adm != nil {
			o.Gatekeeper.Disengage(*adm)
		}
		return nil, err
	}
	c.setDeadline(o.ConnectTimeout, &CauseError{Cause: q931.CauseNoAnswer,
		Err: fmt.Errorf("%w within %v: %w", ErrNoAnswer, o.ConnectTimeout, ErrTimeout)})
	c.readers.Add(1)
	go c.readSignal(conn)
	if !o.startLoop(c) {
		c.readers.Wait()
		return nil, ErrClosed
	}
	select {
	case <-c.ready:
		return &Call{c: c}, nil
	case <-c.done:
		return nil, dialOutcome(c.cause)
	case <-ctx.Done():
		c.hangup(&CauseError{Cause: q931.CauseNormalClearing, Err: context.Cause(ctx)})
		<-c.done
		return nil, context.Cause(ctx)
	}
}

// callIDs are the identifiers of a call we place, chosen before ARQ.
type callIDs struct {
	crv            uint16
	callID, confID h225.GUID
}

func newCallIDs() (callIDs, error) {
	var ids callIDs
	var crv [2]byte
	if _, err := rand.Read(crv[:]); err != nil {
		return ids, fmt.Errorf("choosing a call reference: %w", err)
	}
	ids.crv = binary.BigEndian.Uint16(crv[:])&0x7FFF | 1
	var err error
	if ids.callID, err = h225.NewGUID(rand.Reader); err != nil {
		return ids, err
	}
	if ids.confID, err = h225.NewGUID(rand.Reader); err != nil {
		return ids, err
	}
	return ids, nil
}

// startLoop runs the call's loop: under the server's lifetime for calls a
// Server places (Close releases them), on its own otherwise.
func (o DialOptions) startLoop(c *call) bool {
	if o.srv == nil {
		go c.run(context.Background())
		return true
	}
	s := o.srv
	s.mu.Lock()
	if s.draining || !s.started {
		s.mu.Unlock()
		c.conn.Close()
		c.closeMedia(ErrClosed)
		if c.admission != nil && c.env.gk != nil {
			c.env.gk.Disengage(*c.admission)
		}
		return false
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		c.run(s.ctx)
	}()
	return true
}

// prepareSetup allocates media and sends Setup.
func (c *call) prepareSetup(t h225.Target, o DialOptions) error {
	if err := c.newLeg(o.Room); err != nil {
		return err
	}
	u := c.uu()
	if o.FastStart {
		for i, a := range c.env.prefs {
			ac := h245.AudioCap{Codec: a.cap, Frames: 20}
			recv, err := h245.FastStartOLC(h245.Channel{Number: ourChannel, SessionID: 1, Audio: &ac, Reverse: true,
				Media: c.rtpAddr(), MediaControl: c.rtcpAddr()})
			if err != nil {
				return err
			}
			send, err := h245.FastStartOLC(h245.Channel{Number: 101 + i, SessionID: 1, Audio: &ac, MediaControl: c.rtcpAddr()})
			if err != nil {
				return err
			}
			u.FastStart = append(u.FastStart, recv, send)
		}
		video, err := c.fastStartVideoProposals()
		if err != nil {
			return err
		}
		u.FastStart = append(u.FastStart, video...)
	}
	if o.H245InSetup {
		c.startH245() // queued: h245Ready is false until the first answer
		u.H245, c.h245Queue = c.h245Queue, nil
	}
	remote, ok := addrPortOf(c.conn.RemoteAddr())
	if !ok {
		// Not a TCP connection: name the target itself when it is an address.
		ip, err := netip.ParseAddr(t.Host)
		if err != nil {
			return fmt.Errorf("no address for destCallSignalAddress: %w", ErrConfig)
		}
		remote = netip.AddrPortFrom(ip, uint16(t.Port))
	}
	info := h225.SetupInfo{Dest: t.Dest, DestSignal: remote}
	if local, ok := addrPortOf(c.conn.LocalAddr()); ok {
		info.SourceSignal = netip.AddrPortFrom(c.localIP, local.Port())
	}
	if o.Source != "" {
		info.Source = []h225.Alias{h225.H323ID(o.Source)}
	}
	b, err := u.Setup(info)
	if err != nil {
		return err
	}
	var ies []q931.IE
	for _, a := range t.Dest {
		if a.Kind == h225.AliasDialedDigits {
			ies = append(ies, q931.IE{ID: q931.IECalledNumber,
				Data: q931.AppendPartyNumber(nil, q931.PartyNumber{Plan: 1, Digits: a.Value})})
			break
		}
	}
	return c.sendSignal(h225.BodySetup, b, c.env.display, 0, ies...)
}

// addrPortOf returns the IP address and port of a TCP address.
func addrPortOf(a net.Addr) (netip.AddrPort, bool) {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.AddrPort{}, false
	}
	ap := ta.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), ap.IsValid()
}

// onResponse handles the callee's messages on a call we placed.
func (c *call) onResponse(ctx context.Context, q *q931.Message, uu *h225.Message) {
	if d := q.Display(); d != "" && len(d) <= maxIDLen {
		c.peerName = d
	}
	if c.tunnelling && !uu.Tunnelling && !c.connected {
		// The callee refuses tunnelling: H.245 moves to a separate channel (H.323 clause 8.2.1).
		c.tunnelling = false
	}
	if c.tunnelling && (c.connected || uu.Body == h225.BodyConnect || len(uu.H245) > 0) {
		// Tunnelled H.245 starts with Connect, or earlier when the callee starts it.
		c.h245Up()
	} else if !c.tunnelling && uu.H245Address.IsValid() {
		c.dialH245(ctx, uu.H245Address)
	}
	if len(uu.FastStart) > 0 && !c.fastStart && !c.connected {
		c.acceptFastAnswer(uu.FastStart)
	}
	switch uu.Body {
	case h225.BodyConnect:
		c.log.Info("h323 call answered", "fast_start", c.fastStart, "tunnelling", c.tunnelling, "product", uu.Vendor.ProductID)
		c.markConnected()
		if !c.tunnelling && c.h245Conn == nil && !c.h245Dialing && !c.fastStart {
			// No H.245 address from the callee: offer ours (Facility startH245).
			a, err := c.listenH245()
			if err != nil {
				c.release(fmt.Errorf("%w: %w", ErrProtocol, err))
				return
			}
			u := c.uu()
			u.H245Address = a
			b, err := u.Facility("startH245", netip.AddrPort{}, nil)
			if err == nil {
				err = c.sendSignal(h225.BodyFacility, b, "", 0)
			}
			if err != nil {
				c.release(fmt.Errorf("%w: sending Facility startH245: %w", ErrConnLost, err))
			}
		}
	case h225.BodyFacility:
		if uu.Reason == "startH245" && uu.H245Address.IsValid() {
			c.dialH245(ctx, uu.H245Address)
		}
	}
}

// acceptFastAnswer applies the callee's Fast Connect answer: its forward
// element names where our audio goes, its reverse element the codec it sends.
func (c *call) acceptFastAnswer(items [][]byte) {
	var remote, remoteRTCP netip.AddrPort
	var chosen audio
	var ok bool
	for _, b := range items {
		o, err := h245.ParseOLC(b)
		if err != nil || o.DataType != "audioData" {
			continue
		}
		a, found := findAudio(c.env.prefs, o.Codec)
		if !found {
			continue
		}
		if !o.Reverse && o.Media.IsValid() {
			remote, remoteRTCP, chosen, ok = o.Media, o.MediaControl, a, true
		} else if o.Reverse && !ok {
			chosen = a
		}
	}
	if !ok {
		c.log.Info("fastStart answer without a usable audio channel; slow start follows")
		return
	}
	c.codec, c.hasCodec = chosen, true
	c.remote, c.remoteRTCP = remote, remoteRTCP
	c.fastStart = true
	c.startMedia()
	c.acceptFastStartVideo(items)
}

func keypadIE(s string) q931.IE {
	return q931.IE{ID: q931.IEKeypad, Data: []byte(s)}
}

// ID names the call in logs.
func (k *Call) ID() string { return k.c.id }

// Codec is the negotiated audio codec ("PCMU", "PCMA", "G722").
func (k *Call) Codec() string {
	var name string
	done := make(chan struct{})
	if k.c.do(context.Background(), func() { name = k.c.codec.info.Name; close(done) }) != nil {
		return ""
	}
	select {
	case <-done:
	case <-k.c.done:
	}
	return name
}

// FastStart reports whether the audio was opened by Fast Connect.
func (k *Call) FastStart() bool {
	var fs bool
	done := make(chan struct{})
	if k.c.do(context.Background(), func() { fs = k.c.fastStart; close(done) }) != nil {
		return false
	}
	select {
	case <-done:
	case <-k.c.done:
	}
	return fs
}

// SendDigits sends DTMF as H.245 UserInputIndication (alphanumeric), or as a
// Q.931 Keypad IE when the call has no H.245 session.
func (k *Call) SendDigits(ctx context.Context, digits string) error {
	for _, d := range digits {
		if !isDTMF(d) {
			return fmt.Errorf("sending DTMF %q: %w: %q is not a DTMF digit", digits, ErrConfig, d)
		}
	}
	res := make(chan error, 1)
	if err := k.c.do(ctx, func() { res <- k.c.sendDigits(strings.ToUpper(digits)) }); err != nil {
		return err
	}
	select {
	case err := <-res:
		return err
	case <-k.c.done:
		return fmt.Errorf("call %s: %w", k.c.id, k.c.cause)
	}
}

// Stats returns the call's media counters.
func (k *Call) Stats() bridge.LegStats { return k.c.leg.Stats() }

// Digits is how many DTMF digits the callee sent us.
func (k *Call) Digits() uint64 { return k.c.digits.Load() }

// Hangup releases the call with cause (nil: normal clearing); it does not wait.
func (k *Call) Hangup(cause error) { k.c.hangup(cause) }

// Close releases the call normally and waits until everything is freed.
func (k *Call) Close() error {
	k.c.hangup(ErrHangup)
	<-k.c.done
	return nil
}

// Done is closed when the call has ended and its resources are freed.
func (k *Call) Done() <-chan struct{} { return k.c.done }

// Cause says why the call ended; valid after Done is closed.
func (k *Call) Cause() error {
	select {
	case <-k.c.done:
		return k.c.cause
	default:
		return nil
	}
}
