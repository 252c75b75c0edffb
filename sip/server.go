package sip

import (
	"context"
	"errors"
	"fmt"
	"github.com/roomgate/roomgate/internal/callleg"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomgate/roomgate/bridge/codec"
)

// allowedMethods is our Allow header: what a room system may send us.
const allowedMethods = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE"

// knownMethods are methods we recognise but do not allow (405, not 501).
var knownMethods = map[string]bool{
	"REGISTER": true, "SUBSCRIBE": true, "NOTIFY": true, "PUBLISH": true,
	"MESSAGE": true, "REFER": true, "PRACK": true,
}

// shutdownGrace bounds how long Close waits for BYE transactions.
const shutdownGrace = 2 * time.Second

// Server is the SIP signalling endpoint: it listens on UDP and TCP and turns
// INVITE dialogs into conference participants with media legs.
type Server struct {
	cfg    Config
	prefs  []codec.Info
	log    *slog.Logger
	media  MediaFactory
	confs  Conferences
	admit  callleg.Admitter
	m      *metrics
	clock  Clock
	parser *sipmsg.Parser

	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	client *sipgo.Client

	udp  net.PacketConn
	tcp  net.Listener
	addr netip.AddrPort

	// ctx lives until Close; calls derive from it.
	ctx    context.Context
	cancel context.CancelCauseFunc
	// byeCtx bounds BYE transactions; Close cancels it after shutdownGrace.
	byeCtx    context.Context
	byeCancel context.CancelFunc
	wg        sync.WaitGroup

	mu      sync.Mutex
	calls   map[string]*call
	started bool
	closed  bool
	// draining is set, under mu, before Close waits for wg: no
	// goroutine may join wg after it.
	draining bool
	// quiet makes the transport drop everything it reads (closing).
	quiet atomic.Bool
	// stopWatch stops the Close that Start's context would trigger.
	stopWatch func() bool
	// done is closed when Close has finished.
	done chan struct{}
	// registrar answers REGISTER when set (SetRegistrar, registrar.go).
	registrar atomic.Pointer[Registrar]
}

// maxUDPMessage is the largest SIP message we send over UDP.
const maxUDPMessage = 65507

// liftUDPLimit raises the SIP stack's UDP send limit once per process. The
// stack refuses to send any UDP message above 1300 bytes, responses
// included; but RFC 3261 §18.1.1 only moves large *requests* to TCP, while
// a response must go back the way its request came. A 200 OK behind a few
// proxies (Via and Record-Route) easily passes 1300 bytes, and a room
// system that sent its INVITE over UDP must still get it.
var liftUDPLimit sync.Once

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
	liftUDPLimit.Do(func() {
		if sipmsg.UDPMTUSize < maxUDPMessage+200 {
			sipmsg.UDPMTUSize = maxUDPMessage + 200 // the stack keeps 200 bytes of headroom
		}
	})
	s := &Server{
		cfg:    cfg,
		prefs:  prefs,
		log:    log.With("component", "sip"),
		media:  media,
		confs:  confs,
		admit:  admit,
		m:      m,
		clock:  realClock{},
		parser: sipmsg.NewParser(),
		calls:  make(map[string]*call),
		done:   make(chan struct{}),
	}
	return s, nil
}

// Start binds UDP and TCP on cfg.Listen and serves in the background until
// ctx ends or Close is called.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.started {
		return fmt.Errorf("starting sip server: already started")
	}
	udp, tcp, err := bindSamePort(ctx, s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("starting sip server on %s: %w", s.cfg.Listen, err)
	}
	s.udp, s.tcp = udp, tcp
	s.addr = udp.LocalAddr().(*net.UDPAddr).AddrPort()
	s.addr = netip.AddrPortFrom(s.addr.Addr().Unmap(), s.addr.Port())

	stackLog := slog.New(minLevelHandler{min: slog.LevelWarn, h: s.log.With("layer", "stack").Handler()})
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent(s.cfg.UserAgent),
		sipgo.WithUserAgentTransportLayerOptions(
			sipmsg.WithTransportLayerLogger(stackLog),
			sipmsg.WithTransportLayerConnectionReuse(true),
			sipmsg.WithTransportLayerReadFilter(s.readFilter),
		),
		sipgo.WithUserAgentTransactionLayerOptions(sipmsg.WithTransactionLayerLogger(stackLog),
			sipmsg.WithTransactionLayerUnhandledResponseHandler(func(*sipmsg.Response) {})),
	)
	if err != nil {
		udp.Close()
		tcp.Close()
		return fmt.Errorf("starting sip stack: %w", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(stackLog))
	if err != nil {
		ua.Close()
		udp.Close()
		tcp.Close()
		return fmt.Errorf("starting sip server: %w", err)
	}
	client, err := sipgo.NewClient(ua, sipgo.WithClientLogger(stackLog))
	if err != nil {
		ua.Close()
		udp.Close()
		tcp.Close()
		return fmt.Errorf("starting sip client: %w", err)
	}
	s.ua, s.srv, s.client = ua, srv, client
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	s.byeCtx, s.byeCancel = context.WithCancel(context.Background())

	for _, m := range []sipmsg.RequestMethod{sipmsg.INVITE, sipmsg.ACK, sipmsg.BYE, sipmsg.CANCEL,
		sipmsg.OPTIONS, sipmsg.INFO, sipmsg.UPDATE, sipmsg.REGISTER} {
		srv.OnRequest(m, s.handle)
	}
	srv.OnNoRoute(s.handle)

	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		if err := srv.ServeUDP(udp); err != nil && !errors.Is(err, net.ErrClosed) {
			s.log.Error("serving sip over udp", "err", err)
		}
	}()
	go func() {
		defer s.wg.Done()
		if err := srv.ServeTCP(framedListener{Listener: tcp, s: s}); err != nil && !errors.Is(err, net.ErrClosed) {
			s.log.Debug("serving sip over tcp ended", "err", err)
		}
	}()
	s.stopWatch = context.AfterFunc(ctx, func() { s.Close() })
	s.started = true
	s.log.Info("sip listening", "addr", s.addr.String(), "transports", "udp,tcp")
	return nil
}

// bindSamePort binds UDP, then TCP on the same port; with port 0 it retries
// when the port UDP got is taken for TCP.
func bindSamePort(ctx context.Context, listen string) (net.PacketConn, net.Listener, error) {
	ap, err := netip.ParseAddrPort(listen)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing listen address: %w", err)
	}
	var lc net.ListenConfig
	var lastErr error
	for attempt := 0; attempt < 20; attempt++ {
		udp, err := lc.ListenPacket(ctx, "udp", ap.String())
		if err != nil {
			return nil, nil, fmt.Errorf("binding udp: %w", err)
		}
		port := udp.LocalAddr().(*net.UDPAddr).Port
		tcp, err := lc.Listen(ctx, "tcp", netip.AddrPortFrom(ap.Addr(), uint16(port)).String())
		if err == nil {
			return udp, tcp, nil
		}
		udp.Close()
		lastErr = err
		if ap.Port() != 0 {
			break
		}
	}
	return nil, nil, fmt.Errorf("binding tcp on the udp port: %w", lastErr)
}

// Addr is the bound address (UDP and TCP share the port).
func (s *Server) Addr() netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Close hangs up every call with BYE, stops listening and waits for the
// server's goroutines. It is idempotent; every call returns when the server
// is down. It is also what the end of Start's context does.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.done
		return nil
	}
	s.closed = true
	started := s.started
	calls := make([]*call, 0, len(s.calls))
	for _, c := range s.calls {
		calls = append(calls, c)
	}
	s.mu.Unlock()
	defer close(s.done)
	if !started {
		return nil
	}
	s.stopWatch()

	var byes sync.WaitGroup
	for _, c := range calls {
		byes.Add(1)
		go func() {
			defer byes.Done()
			c.terminate(ErrShutdown, true)
		}()
	}
	s.cancel(ErrShutdown)
	waited := make(chan struct{})
	go func() { byes.Wait(); close(waited) }()
	t := time.NewTimer(shutdownGrace)
	select {
	case <-waited:
	case <-t.C:
	}
	t.Stop()
	s.byeCancel()
	<-waited

	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
	// From here on the stack gets no new messages: one handed to it now
	// could make it open a socket after it closed its pool.
	s.quiet.Store(true)

	var errs []error
	if err := s.udp.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		errs = append(errs, fmt.Errorf("closing udp: %w", err))
	}
	if err := s.tcp.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		errs = append(errs, fmt.Errorf("closing tcp: %w", err))
	}
	s.wg.Wait()
	if err := s.ua.Close(); err != nil {
		errs = append(errs, fmt.Errorf("closing sip stack: %w", err))
	}
	s.sweep()
	s.log.Info("sip stopped", "addr", s.addr.String())
	return errors.Join(errs...)
}

// sweepRounds and sweepPause bound the final sweep of Close.
const (
	sweepRounds = 20
	sweepPause  = time.Millisecond
)

// sweep closes sockets the stack opened after it was closed: a request read
// just before the listeners closed is handled in a goroutine of the stack
// that, finding no listener any more, opens a socket for its response. The
// stack offers no way to wait for those goroutines, so give them a moment
// and close what they opened.
func (s *Server) sweep() {
	for i := 0; i < sweepRounds; i++ {
		time.Sleep(sweepPause)
		for _, network := range []string{"udp", "tcp"} {
			if p := s.ua.TransportLayer().Pool(network); p != nil {
				p.Clear()
			}
		}
	}
}

// track runs f as a server goroutine that Close waits for; it reports false
// when the server is closing.
func (s *Server) track(f func()) bool {
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		return false
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		f()
	}()
	return true
}

// handle is the entry of every request the transaction layer passes up.
func (s *Server) handle(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	s.mu.Lock()
	if s.draining || (s.closed && s.ctx.Err() != nil) {
		s.mu.Unlock()
		if !req.IsAck() {
			s.respond(tx, req, 503, "Service Unavailable", nil)
		}
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	s.log.Debug("sip request", "method", req.Method.String(), "src", req.Source(), "transport", req.Transport(),
		"call_id", callIDOf(req))
	method := req.Method.String()
	if !knownMethods[method] && !isOurMethod(method) {
		method = "other"
	}
	s.m.requests.WithLabelValues(method).Inc()

	if err := validateRequest(req); err != nil {
		s.log.Info("bad sip request", "method", req.Method.String(), "src", req.Source(), "err", err)
		if !req.IsAck() {
			s.respond(tx, req, 400, "Bad Request - "+sanitizeReason(err.Error()), nil)
		}
		return
	}

	toTag, _ := req.To().Params.Get("tag")
	switch {
	case req.Method == sipmsg.INVITE && toTag == "":
		if handled, caller := s.routeUserCall(req, tx); !handled { // calls to users (registrar_calls.go)
			s.handleInvite(req, tx, caller)
		}
	case req.Method == sipmsg.OPTIONS && toTag == "":
		s.respondCapabilities(tx, req)
	case req.Method == sipmsg.REGISTER && s.registrar.Load() != nil:
		s.handleRegister(s.registrar.Load(), req, tx)
	case req.Method == sipmsg.ACK:
		if c := s.lookup(req); c != nil {
			c.handleAck(req)
		}
	case req.Method == sipmsg.CANCEL:
		// A CANCEL that matched a transaction never gets here.
		s.respond(tx, req, 481, "Call/Transaction Does Not Exist", nil)
	case isOurMethod(req.Method.String()):
		c := s.lookup(req)
		if c == nil {
			s.respond(tx, req, 481, "Call/Transaction Does Not Exist", nil)
			return
		}
		c.handleInDialog(req, tx)
	case knownMethods[req.Method.String()]:
		s.respond(tx, req, 405, "Method Not Allowed", nil, sipmsg.NewHeader("Allow", allowedMethods))
	default:
		s.respond(tx, req, 501, "Not Implemented", nil, sipmsg.NewHeader("Allow", allowedMethods))
	}
}

// callIDOf is the Call-ID for logs, empty when missing.
func callIDOf(req *sipmsg.Request) string {
	if id := req.CallID(); id != nil {
		return id.Value()
	}
	return ""
}

func isOurMethod(m string) bool {
	switch m {
	case "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "INFO", "UPDATE":
		return true
	}
	return false
}

// validateRequest checks what RFC 3261 §8.1.1 makes mandatory and the stack
// does not check for us.
func validateRequest(req *sipmsg.Request) error {
	switch {
	case req.From() == nil:
		return errors.New("missing From")
	case req.To() == nil:
		return errors.New("missing To")
	case req.CallID() == nil || req.CallID().Value() == "":
		return errors.New("missing Call-ID")
	case req.CSeq() == nil:
		return errors.New("missing CSeq")
	case req.Via() == nil:
		return errors.New("missing Via")
	}
	if !strings.EqualFold(req.CSeq().MethodName.String(), req.Method.String()) {
		return fmt.Errorf("CSeq method %s does not match %s", req.CSeq().MethodName, req.Method)
	}
	if ct := req.ContentType(); ct != nil && len(req.Body()) > 0 && strings.TrimSpace(ct.Value()) == "" {
		return errors.New("empty Content-Type")
	}
	return nil
}

// dialogKey identifies a dialog by Call-ID and our tag.
func dialogKey(callID, localTag string) string { return callID + "\x00" + localTag }

// lookup finds the dialog of an in-dialog request.
func (s *Server) lookup(req *sipmsg.Request) *call {
	tag, _ := req.To().Params.Get("tag")
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[dialogKey(req.CallID().Value(), tag)]
}

func (s *Server) register(c *call) {
	s.mu.Lock()
	s.calls[c.key] = c
	s.mu.Unlock()
}

func (s *Server) unregister(c *call) {
	s.mu.Lock()
	if s.calls[c.key] == c {
		delete(s.calls, c.key)
	}
	s.mu.Unlock()
}

// respond sends a response built from req with extra headers.
func (s *Server) respond(tx sipmsg.ServerTransaction, req *sipmsg.Request, code int, reason string, body []byte, hdrs ...sipmsg.Header) {
	res := sipmsg.NewResponseFromRequest(req, code, reason, body)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	s.send(tx, res)
}

// send sends a response on its transaction, stamping Server.
func (s *Server) send(tx sipmsg.ServerTransaction, res *sipmsg.Response) {
	if res.GetHeader("Server") == nil {
		res.AppendHeader(sipmsg.NewHeader("Server", s.cfg.UserAgent))
	}
	if res.StatusCode >= 200 {
		s.m.responses.WithLabelValues(strconv.Itoa(res.StatusCode)).Inc()
	}
	if err := tx.Respond(res); err != nil {
		s.log.Debug("sending sip response", "status", res.StatusCode, "err", err)
	}
}

// capabilityHeaders are what OPTIONS answers and dialog-forming responses carry.
func capabilityHeaders() []sipmsg.Header {
	return []sipmsg.Header{
		sipmsg.NewHeader("Allow", allowedMethods),
		sipmsg.NewHeader("Accept", "application/sdp, "+infoAccept),
		sipmsg.NewHeader("Supported", "timer"),
	}
}

// respondCapabilities answers OPTIONS (keep-alive of room systems).
func (s *Server) respondCapabilities(tx sipmsg.ServerTransaction, req *sipmsg.Request) {
	s.respond(tx, req, 200, "OK", nil, capabilityHeaders()...)
}

// localHost is the host we put in Contact and SDP for a request from src.
func (s *Server) localHost(src string) string {
	if s.cfg.PublicAddress != "" {
		return s.cfg.PublicAddress
	}
	if a := s.addr.Addr(); !a.IsUnspecified() {
		return a.String()
	}
	// Listening on every address: ask the routing table which local
	// address faces the caller (no packet is sent by a UDP "dial").
	if ap, err := netip.ParseAddrPort(src); err == nil {
		if conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(ap)); err == nil {
			local := conn.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
			conn.Close()
			return local.String()
		}
	}
	if s.addr.Addr().Is6() {
		return "::1"
	}
	return "127.0.0.1"
}

// minLevelHandler drops records below min: the SIP stack logs every parse
// failure at error level, which we count and log ourselves.
type minLevelHandler struct {
	min slog.Level
	h   slog.Handler
}

func (m minLevelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.min && m.h.Enabled(ctx, l)
}

func (m minLevelHandler) Handle(ctx context.Context, r slog.Record) error { return m.h.Handle(ctx, r) }

func (m minLevelHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return minLevelHandler{min: m.min, h: m.h.WithAttrs(a)}
}

func (m minLevelHandler) WithGroup(g string) slog.Handler {
	return minLevelHandler{min: m.min, h: m.h.WithGroup(g)}
}
