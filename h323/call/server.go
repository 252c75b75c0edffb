package call

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/roomgate/roomgate/internal/callleg"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/conf"
	"github.com/roomgate/roomgate/h323/h225"
	"github.com/roomgate/roomgate/h323/h245"
	"github.com/roomgate/roomgate/h323/q931"
)

// Server answers H.323 calls on TCP and turns them into conference participants.
type Server struct {
	cfg   Config
	env   *env
	confs Conferences
	admit callleg.Admitter
	log   *slog.Logger

	ln   net.Listener
	addr netip.AddrPort

	ctx    context.Context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup
	prefix string
	seq    atomic.Uint64

	mu       sync.Mutex
	started  bool
	closed   bool
	draining bool
	// closeDone is closed when the first Close has finished; later ones wait for it.
	closeDone chan struct{}
}

// NewServer checks cfg and prepares a server; Start binds and serves.
// reg, when not nil, receives the server's Prometheus collectors.
func NewServer(cfg Config, media MediaFactory, confs Conferences, log *slog.Logger, reg prometheus.Registerer) (*Server, error) {
	if media == nil || confs == nil {
		return nil, fmt.Errorf("%w: media factory and conferences are required", ErrConfig)
	}
	admit, ok := confs.(callleg.Admitter)
	if !ok {
		return nil, fmt.Errorf("%w: conferences must route dial-in calls (Admit)", ErrConfig)
	}
	cfg, prefs, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	log = log.With("component", "h323")
	var mediaAddr netip.Addr
	if cfg.MediaAddress != "" {
		mediaAddr = netip.MustParseAddr(cfg.MediaAddress)
	}
	var p [4]byte
	_, _ = rand.Read(p[:])
	return &Server{
		cfg:   cfg,
		confs: confs,
		admit: admit,
		log:   log,
		env: (&env{prefs: prefs, video: cfg.Video, media: media, log: log, vendor: cfg.Vendor, mediaAddr: mediaAddr,
			h245Timeout: cfg.H245Timeout, onDigit: cfg.OnDigit, m: m, display: "Roomgate",
			defaultConf: cfg.DefaultConference, gk: cfg.Gatekeeper, refuseFast: cfg.RefuseFastStart}).withNet(),
		prefix:    hex.EncodeToString(p[:]),
		closeDone: make(chan struct{}),
	}, nil
}

// Start binds cfg.Listen and serves in the background until ctx ends or
// Close is called.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.started {
		return fmt.Errorf("starting h323 server: already started")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("starting h323 server on %s: %w", s.cfg.Listen, err)
	}
	s.ln = ln
	a := ln.Addr().(*net.TCPAddr).AddrPort()
	s.addr = netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	s.started = true
	s.wg.Add(1)
	go s.accept()
	go func() {
		// Not in wg: Close waits for wg, and this goroutine calls Close.
		select {
		case <-ctx.Done():
			s.Close()
		case <-s.ctx.Done():
		}
	}()
	s.log.Info("h323 listening", "addr", s.addr.String())
	return nil
}

// Addr is the bound call signalling address.
func (s *Server) Addr() netip.AddrPort { return s.addr }

// Close releases every call (endSessionCommand and ReleaseComplete), stops
// listening and waits for all goroutines. It is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.closeDone
		return nil
	}
	s.closed = true
	started := s.started
	if started {
		s.draining = true
	}
	s.mu.Unlock()
	defer close(s.closeDone)
	if !started {
		return nil
	}
	s.cancel(ErrShutdown)
	err := s.ln.Close()
	s.wg.Wait()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("closing h323 listener: %w", err)
	}
	return nil
}

func (s *Server) accept() {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait and retry, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Error("accepting h323 connection", "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
				continue
			case <-s.ctx.Done():
				return
			}
		}
		backoff = 0
		s.mu.Lock()
		if s.draining {
			s.mu.Unlock()
			conn.Close()
			return
		}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			s.serveConn(s.ctx, conn)
		}()
	}
}

// serveConn runs one incoming call on conn until it is released.
func (s *Server) serveConn(ctx context.Context, conn net.Conn) {
	c := newCall(s.env, fmt.Sprintf("h323-%s-%d", s.prefix, s.seq.Add(1)), conn, false)
	c.confs, c.admit = s.confs, s.admit
	c.log = c.log.With("remote", conn.RemoteAddr().String())
	c.setDeadline(s.cfg.SetupTimeout, fmt.Errorf("%w: no Setup within %v", ErrTimeout, s.cfg.SetupTimeout))
	c.readers.Add(1)
	go c.readSignal(conn)
	c.run(ctx)
	switch {
	case c.connected:
		s.env.m.calls.WithLabelValues("answered").Inc()
	case c.setupSeen:
		s.env.m.calls.WithLabelValues("rejected").Inc()
	default:
		s.env.m.calls.WithLabelValues("failed").Inc()
	}
}

// legHandle is how conf reaches an H.323 call: a conf.InteractiveLeg for
// the lobby and in-call commands, and a conf.MutableLeg. Its methods run on
// conf's goroutines and reach the media leg under the call's mediaMu.
type legHandle struct {
	c *call
	// dialled marks calls we placed (conf.DialledLeg).
	dialled bool
}

// Dialled implements conf.DialledLeg: conf admits a call a moderator asked
// us to place into an internal conference.
func (h legHandle) Dialled() bool { return h.dialled }

// SendDigits implements conf.DigitSender: the digits go as H.245
// UserInputIndication, or as a Q.931 Keypad IE when the call has no H.245.
func (h legHandle) SendDigits(digits string) error {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	return (&Call{c: h.c}).SendDigits(ctx, digits)
}

// PassDigit implements conf.DigitPassthrough when the media leg can mix a
// digit's tones into the caller's audio (the bridge's legs can).
func (h legHandle) PassDigit(d rune) {
	if p, ok := h.media().(interface{ PassDigit(rune) }); ok {
		p.PassDigit(d)
	}
}

var (
	_ conf.DigitSender      = legHandle{}
	_ conf.DigitPassthrough = legHandle{}
)

// Hangup releases the call with cause; it does not block.
func (h legHandle) Hangup(cause error) { h.c.hangup(cause) }

// Stats returns the call's media counters.
func (h legHandle) Stats() bridge.LegStats {
	if leg := h.media(); leg != nil {
		return leg.Stats()
	}
	return bridge.LegStats{}
}

// media is the call's media leg, or nil before it exists.
func (h legHandle) media() MediaLeg {
	h.c.mediaMu.Lock()
	defer h.c.mediaMu.Unlock()
	return h.c.leg
}

// interactive is the media leg when it can play prompts and change rooms.
func (h legHandle) interactive() callleg.InteractiveMedia {
	im, _ := h.media().(callleg.InteractiveMedia)
	return im
}

// SetMuted closes or opens the caller's microphone in the mix
// (conf.MutableLeg); a mute before the media leg exists applies when it does.
func (h legHandle) SetMuted(muted bool) {
	h.c.mediaMu.Lock()
	defer h.c.mediaMu.Unlock()
	h.c.muted = muted
	if h.c.leg != nil {
		setLegMuted(h.c.leg, muted)
	}
}

// Play queues prompts to this caller alone (conf.InteractiveLeg).
func (h legHandle) Play(names ...string) <-chan struct{} {
	if im := h.interactive(); im != nil {
		done, err := im.Play(names...)
		if err == nil {
			return done
		}
		h.c.log.Warn("playing prompts", "prompts", names, "err", err)
	}
	ch := make(chan struct{})
	close(ch)
	return ch
}

// StopPlaying cuts the prompt playing to the caller.
func (h legHandle) StopPlaying() {
	if im := h.interactive(); im != nil {
		im.StopPlaying()
	}
}

// Enter moves the caller's media from the lobby into conference id.
func (h legHandle) Enter(id string) error {
	im := h.interactive()
	if im == nil {
		return fmt.Errorf("moving call %s into conference %s: the media leg cannot change rooms", h.c.id, id)
	}
	if err := im.SetRoom(id); err != nil {
		return fmt.Errorf("moving call %s into conference %s: %w", h.c.id, id, err)
	}
	h.c.mediaMu.Lock()
	vl := h.c.video.leg
	h.c.mediaMu.Unlock()
	if vl != nil {
		if err := vl.SetRoom(id); err != nil {
			// The caller is in the conference; only the picture stays behind.
			h.c.log.Warn("moving video into the conference", "err", err)
		}
	}
	h.c.entered.Store(&id)
	h.c.log.Info("entered conference from the lobby", "entered", id)
	return nil
}

// SetGain sets what the caller hears and how loud he is, in 3 dB steps.
func (h legHandle) SetGain(listen, talk int) {
	if im := h.interactive(); im != nil {
		im.SetGain(listen, talk)
	}
}

// setLegMuted mutes a media leg that supports it (*bridge.Leg does).
func setLegMuted(leg MediaLeg, muted bool) {
	if m, ok := leg.(interface{ SetMuted(bool) }); ok {
		m.SetMuted(muted)
	}
}

// dialledPIN splits a conference ID and a PIN dialled together as Polycom
// room systems do (1000**1234, or 1000$$1234 in an h323-ID).
func dialledPIN(dialled string) (id, pin string) {
	for _, sep := range []string{"**", "$$"} {
		if i, p, ok := strings.Cut(dialled, sep); ok && i != "" && p != "" && strings.Trim(p, "0123456789") == "" {
			return i, p
		}
	}
	return dialled, ""
}

// remoteIP is the caller's address without port, the subject of conf's
// brute-force limits.
func remoteIP(conn net.Conn) string {
	if a, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap().String()
	}
	return ""
}

var (
	_ conf.InteractiveLeg = legHandle{}
	_ conf.MutableLeg     = legHandle{}
)

// onSetup answers an incoming Setup: CallProceeding, admission, Fast Connect or
// slow start, Connect.
func (c *call) onSetup(ctx context.Context, q *q931.Message, uu *h225.Message) {
	c.setupSeen = true
	c.crv, c.crvKnown = q.CallRef, true
	c.clearDeadline()
	if uu == nil || uu.Body != h225.BodySetup {
		c.release(&CauseError{Cause: CauseInvalidMessage, Err: fmt.Errorf("%w: Setup without a Setup-UUIE", ErrProtocol)})
		return
	}
	c.callID, c.confID, c.peerVendor = uu.CallID, uu.ConferenceID, uu.Vendor
	c.tunnelling = uu.Tunnelling
	if b, err := c.uu().CallProceeding(); err != nil || c.sendSignal(h225.BodyCallProceeding, b, "", 0) != nil {
		c.peerGone = true
		c.release(fmt.Errorf("%w: sending CallProceeding", ErrConnLost))
		return
	}
	if err := c.admitIncoming(ctx, uu); err != nil {
		c.release(err)
		return
	}
	dialled := conferenceID(q, uu)
	if dialled == "" && len(uu.Dest) == 0 {
		dialled = c.env.defaultConf
	}
	// No conference, an unknown one, or one that needs a PIN: conf answers
	// the call into its lobby. Polycom dials id**pin as E.164 digits.
	id, pin := dialledPIN(dialled)
	d, err := c.admit.Admit(ctx, conf.DialIn{ConferenceID: id, PIN: pin, DisplayName: displayName(q, uu, c.conn),
		Protocol: conf.ProtocolH323, Remote: c.conn.RemoteAddr().String(), SourceIP: remoteIP(c.conn), Leg: legHandle{c: c}})
	if err != nil {
		c.release(joinFailure(id, err))
		return
	}
	c.dialin = d
	c.room = d.Room()
	c.log = c.log.With("conf", c.room)
	if err := c.newLeg(c.room); err != nil {
		c.release(&CauseError{Cause: q931.CauseResourceUnavail, Err: err})
		return
	}
	answer, refused := c.answerFastStart(uu.FastStart)
	for _, pdu := range uu.H245 {
		c.onH245(pdu)
	}
	if c.released {
		return
	}
	u := c.uu()
	u.FastStart, u.FastConnectRefused = answer, refused
	if !c.tunnelling {
		if uu.H245Address.IsValid() {
			c.dialH245(ctx, uu.H245Address)
		} else if a, err := c.listenH245(); err == nil {
			u.H245Address = a
		} else {
			c.log.Warn("no separate H.245 channel", "err", err)
		}
	}
	b, err := u.Connect()
	if err == nil {
		err = c.sendSignal(h225.BodyConnect, b, c.env.display, 0)
	}
	if err != nil {
		c.release(fmt.Errorf("%w: sending Connect: %w", ErrConnLost, err))
		return
	}
	c.log.Info("h323 call connected", "fast_start", c.fastStart, "tunnelling", c.tunnelling,
		"product", c.peerVendor.ProductID)
	c.markConnected()
	if c.tunnelling {
		c.h245Up()
	}
	// conf's dialogue (lobby, greetings, in-call commands) runs beside the
	// loop until the call ends (teardown calls End and waits for it).
	c.dialinDone.Add(1)
	go func() {
		defer c.dialinDone.Done()
		d.Run(ctx)
	}()
}

// conferenceID takes the conference from the called alias: dialedDigits,
// h323-ID or URL, then the Called party number; "host##id" (Polycom) yields id.
func conferenceID(q *q931.Message, uu *h225.Message) string {
	for _, kind := range []h225.AliasKind{h225.AliasDialedDigits, h225.AliasH323ID, h225.AliasURL} {
		for _, a := range uu.Dest {
			if a.Kind != kind {
				continue
			}
			v := a.Value
			if kind == h225.AliasURL {
				t, err := h225.ParseCallString(v)
				if err != nil || len(t.Dest) == 0 {
					continue
				}
				v = t.Dest[0].Value
			}
			if id := cleanID(v); id != "" {
				return id
			}
		}
	}
	if ie, ok := q.Get(q931.IECalledNumber); ok {
		if p, err := q931.ParsePartyNumber(ie.Data); err == nil {
			return cleanID(p.Digits)
		}
	}
	return ""
}

// maxIDLen bounds a conference ID taken from the wire.
const maxIDLen = 128

func cleanID(v string) string {
	if i := strings.LastIndex(v, "##"); i >= 0 {
		v = v[i+2:]
	}
	v = strings.TrimSpace(v)
	if len(v) > maxIDLen {
		return ""
	}
	return v
}

// displayName is the caller's name: the Display IE, its h323-ID, or its address.
func displayName(q *q931.Message, uu *h225.Message, conn net.Conn) string {
	if d := strings.TrimSpace(q.Display()); d != "" {
		return d
	}
	for _, a := range uu.Source {
		if a.Kind == h225.AliasH323ID && a.Value != "" {
			return a.Value
		}
	}
	for _, a := range uu.Source {
		if a.Value != "" {
			return a.Value
		}
	}
	return conn.RemoteAddr().String()
}

// answerFastStart picks one audio codec from the caller's fastStart proposals
// (H.323 clause 8.1.7.1) and returns the answer, or refused when the caller
// proposed something and nothing fits (slow start follows).
func (c *call) answerFastStart(proposals [][]byte) (answer [][]byte, refused bool) {
	if len(proposals) == 0 {
		return nil, false
	}
	if c.env.refuseFast {
		return nil, true
	}
	var recv, send []*h245.OLCInfo
	for _, p := range proposals {
		o, err := h245.ParseOLC(p)
		if err != nil || o.DataType != "audioData" || o.SessionID != 1 {
			continue
		}
		if o.Reverse {
			if o.Media.IsValid() {
				recv = append(recv, o)
			}
		} else {
			send = append(send, o)
		}
	}
	for _, a := range c.env.prefs {
		var r, t *h245.OLCInfo
		for _, o := range recv {
			if o.Codec == a.h245Name {
				r = o
				break
			}
		}
		if r == nil {
			continue
		}
		for _, o := range send {
			if o.Codec == a.h245Name {
				t = o
				break
			}
		}
		ac := h245.AudioCap{Codec: a.cap, Frames: 20}
		ours, err := h245.FastStartAnswer(h245.Channel{Number: ourChannel, SessionID: 1, Audio: &ac,
			Reverse: true, MediaControl: c.rtcpAddr()})
		if err != nil {
			c.log.Error("building fastStart answer", "err", err)
			return nil, true
		}
		answer = append(answer, ours)
		if t != nil && t.Number > 0 {
			theirs, err := h245.FastStartAnswer(h245.Channel{Number: t.Number, SessionID: 1, Audio: &ac,
				Media: c.rtpAddr(), MediaControl: c.rtcpAddr()})
			if err != nil {
				c.log.Error("building fastStart answer", "err", err)
				return nil, true
			}
			answer = append(answer, theirs)
			c.h245.peerOLC = t.Number
		}
		c.codec, c.hasCodec = a, true
		c.remote, c.remoteRTCP = r.Media, r.MediaControl
		c.fastStart = true
		c.startMedia()
		answer = append(answer, c.answerFastStartVideo(proposals)...)
		return answer, false
	}
	return nil, true
}
