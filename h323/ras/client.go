package ras

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomgate/roomgate/h323/h225"
)

// Client is an endpoint's RAS channel to one gatekeeper. It is safe for
// concurrent use.
type Client struct {
	cfg Config
	log *slog.Logger

	conn  net.PacketConn
	local netip.AddrPort // our rasAddress as announced

	ctx        context.Context
	cancel     context.CancelCauseFunc
	loopCancel context.CancelFunc
	loopDone   chan struct{}
	closeDone  chan struct{}
	wg         sync.WaitGroup
	drqs       sync.WaitGroup // DRQs in flight, also in wg
	kick       chan struct{}  // wakes the registration loop: aliases changed, URQ
	drqSem     chan struct{}

	mu      sync.Mutex
	started bool
	closed  bool
	seq     int
	pending map[int]*pending
	gk      netip.AddrPort // where requests go
	// gkDiscovered: a GCF named the gatekeeper's RAS address.
	gkDiscovered bool
	reg          h225.Registration
	registered   bool
	ttl          time.Duration
	aliases      []string
	dirty        bool // aliases changed since the last full RRQ
	urq          bool // the gatekeeper unregistered us: register again after a pause
	calls        map[h225.GUID]*admitted
	regWait      chan struct{} // closed and replaced whenever registered changes

	stats counters
}

// pending is a request waiting for its answer.
type pending struct {
	want []string
	ch   chan *h225.RAS
}

// admitted is a call the gatekeeper admitted.
type admitted struct {
	a Admission
}

type counters struct {
	sent, retransmits, received, malformed, unmatched, registrations atomic.Uint64
}

// Stats counts what a Client did.
type Stats struct {
	// Sent counts datagrams sent, Retransmits those that repeated a request.
	Sent, Retransmits uint64
	// Received counts datagrams read, Malformed those that did not decode,
	// Unmatched answers that matched no request.
	Received, Malformed, Unmatched uint64
	// Registrations counts RCFs to full RRQs.
	Registrations uint64
}

// State is a snapshot of the registration.
type State struct {
	Registered   bool
	GatekeeperID string
	EndpointID   string
	// TimeToLive is the lifetime the gatekeeper granted.
	TimeToLive time.Duration
	// Aliases are the aliases registered (or to be registered).
	Aliases []h225.Alias
	// RASAddress is our RAS address as announced.
	RASAddress netip.AddrPort
}

// New checks cfg; Start binds the socket and registers.
func New(cfg Config, log *slog.Logger) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{
		cfg:       cfg,
		log:       log.With("component", "h323-ras", "gatekeeper", cfg.Gatekeeper),
		kick:      make(chan struct{}, 1),
		drqSem:    make(chan struct{}, maxDisengage),
		pending:   map[int]*pending{},
		calls:     map[h225.GUID]*admitted{},
		regWait:   make(chan struct{}),
		loopDone:  make(chan struct{}),
		closeDone: make(chan struct{}),
	}
	if cfg.Registerer != nil {
		if err := c.registerMetrics(cfg.Registerer); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// registerMetrics publishes the client's counters as Prometheus collectors.
func (c *Client) registerMetrics(reg prometheus.Registerer) error {
	counter := func(name, help string, v *atomic.Uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(v.Load()) })
	}
	cs := []prometheus.Collector{
		counter("roomgate_h323_ras_sent_total", "RAS datagrams sent to the gatekeeper, retransmissions included.", &c.stats.sent),
		counter("roomgate_h323_ras_retransmits_total", "RAS requests sent again because the gatekeeper did not answer.", &c.stats.retransmits),
		counter("roomgate_h323_ras_malformed_total", "RAS datagrams that could not be decoded.", &c.stats.malformed),
		counter("roomgate_h323_ras_registrations_total", "Full registrations the gatekeeper confirmed.", &c.stats.registrations),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "roomgate_h323_ras_registered",
			Help: "1 while registered with the gatekeeper."}, func() float64 {
			if c.State().Registered {
				return 1
			}
			return 0
		}),
	}
	for _, col := range cs {
		if err := reg.Register(col); err != nil {
			return fmt.Errorf("registering RAS metrics: %w", err)
		}
	}
	return nil
}

// Start resolves the gatekeeper, binds the RAS socket and registers in the
// background; it does not wait for the registration (see WaitRegistered).
// The client runs until ctx ends or Close is called.
func (c *Client) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if c.started {
		return fmt.Errorf("starting RAS client: already started")
	}
	if !c.cfg.CallSignal.IsValid() || c.cfg.CallSignal.Port() == 0 {
		return fmt.Errorf("%w: no call signalling address to register (SetCallSignal)", ErrConfig)
	}
	gk, err := c.resolve(ctx)
	if err != nil {
		return err
	}
	conn := c.cfg.PacketConn
	if conn == nil {
		var lc net.ListenConfig
		conn, err = lc.ListenPacket(ctx, "udp", c.cfg.Listen)
		if err != nil {
			return fmt.Errorf("binding RAS socket %s: %w", c.cfg.Listen, err)
		}
	}
	la, ok := addrPort(conn.LocalAddr())
	if !ok {
		conn.Close()
		return fmt.Errorf("%w: RAS socket has no IP address: %v", ErrConfig, conn.LocalAddr())
	}
	ip := la.Addr()
	if ip.IsUnspecified() {
		ip = routeTo(gk)
	}
	c.conn, c.gk = conn, gk
	c.local = netip.AddrPortFrom(ip, la.Port())
	cs := c.cfg.CallSignal
	if cs.Addr().IsUnspecified() {
		cs = netip.AddrPortFrom(ip, cs.Port())
	}
	c.reg = h225.Registration{
		Endpoint:     h225.Endpoint{Vendor: c.cfg.Vendor, Role: h225.RoleMCU},
		RASAddress:   c.local,
		CallSignal:   cs,
		GatekeeperID: c.cfg.GatekeeperID,
		TimeToLive:   int(c.cfg.TimeToLive / time.Second),
	}
	c.ctx, c.cancel = context.WithCancelCause(context.Background())
	loopCtx, loopCancel := context.WithCancel(c.ctx)
	c.loopCancel = loopCancel
	c.started = true
	c.wg.Add(1)
	go c.read()
	go func() {
		defer close(c.loopDone)
		c.loop(loopCtx)
	}()
	go func() {
		// Not in wg: Close waits for it through closeDone instead.
		select {
		case <-ctx.Done():
			c.Close()
		case <-c.ctx.Done():
		}
	}()
	c.log.Info("h323 RAS client started", "local", c.local.String(), "call_signal", cs.String())
	return nil
}

// SetCallSignal sets the call signalling address to register (the H.323
// listener's, known once it is bound); it must be called before Start.
func (c *Client) SetCallSignal(a netip.AddrPort) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started {
		return fmt.Errorf("setting the call signalling address: %w: client already started", ErrConfig)
	}
	if !a.IsValid() || a.Port() == 0 {
		return fmt.Errorf("%w: call signalling address %v: want ip:port of the H.323 listener", ErrConfig, a)
	}
	c.cfg.CallSignal = a
	return nil
}

// resolve finds the gatekeeper's address.
func (c *Client) resolve(ctx context.Context) (netip.AddrPort, error) {
	host, port, err := splitHostPort(c.cfg.Gatekeeper)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return netip.AddrPortFrom(ip.Unmap(), uint16(port)), nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return netip.AddrPort{}, fmt.Errorf("resolving gatekeeper %s: %w", host, err)
	}
	return netip.AddrPortFrom(ips[0].Unmap(), uint16(port)), nil
}

// routeTo returns the local IP the system would use to reach dst; a
// connected UDP socket learns it without sending anything.
func routeTo(dst netip.AddrPort) netip.Addr {
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(dst))
	if err != nil {
		return netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	defer conn.Close()
	return conn.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
}

func addrPort(a net.Addr) (netip.AddrPort, bool) {
	switch v := a.(type) {
	case *net.UDPAddr:
		ap := v.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), ap.IsValid()
	case interface{ AddrPort() netip.AddrPort }:
		ap := v.AddrPort()
		return ap, ap.IsValid()
	}
	ap, err := netip.ParseAddrPort(a.String())
	return ap, err == nil
}

// LocalAddr is our RAS address as announced to the gatekeeper.
func (c *Client) LocalAddr() netip.AddrPort {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.local
}

// Close unregisters (URQ, bounded by one request's timers), stops the client
// and waits for its goroutines. It is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		<-c.closeDone
		return nil
	}
	c.closed = true
	started := c.started
	c.mu.Unlock()
	defer close(c.closeDone)
	if !started {
		return nil
	}
	// Stop the registration loop first, so that it does not register again.
	c.loopCancel()
	<-c.loopDone
	// Let the DRQs of calls that just ended reach the gatekeeper before the URQ
	// (a gatekeeper may refuse to unregister an endpoint with calls).
	drqsDone := make(chan struct{})
	go func() {
		c.drqs.Wait()
		close(drqsDone)
	}()
	wait := time.NewTimer(c.cfg.Timeout) // one transmission's time: a gatekeeper that answers, answers by then
	select {
	case <-drqsDone:
	case <-wait.C:
		c.log.Warn("closing with DRQs unanswered")
	}
	wait.Stop()
	c.mu.Lock()
	registered := c.registered
	c.mu.Unlock()
	if registered {
		if err := c.unregister(); err != nil {
			c.log.Warn("unregistering from the gatekeeper", "err", err)
		}
	}
	c.cancel(ErrClosed)
	err := c.conn.Close()
	c.wg.Wait()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("closing RAS socket: %w", err)
	}
	return nil
}

// unregister sends URQ and waits for UCF or URJ.
func (c *Client) unregister() error {
	c.mu.Lock()
	reg := c.regCopy()
	gk := c.gk
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout*time.Duration(c.cfg.Retries+1))
	defer cancel()
	m, err := c.transact(ctx, gk, reg.URQ, "unregistrationConfirm", "unregistrationReject")
	c.setRegistered(false, "", 0)
	if err != nil {
		return fmt.Errorf("URQ: %w", err)
	}
	if m.Kind == "unregistrationReject" {
		return &RejectError{Kind: m.Kind, Reason: m.RejectReason}
	}
	c.log.Info("unregistered from the gatekeeper")
	return nil
}

// regCopy returns the registration with the current aliases; c.mu held.
func (c *Client) regCopy() h225.Registration {
	r := c.reg
	r.Aliases = aliasList(c.cfg.Alias, c.aliases)
	return r
}

// aliasList is our h323-ID and each conference ID as dialedDigits (an
// h323-ID when it has characters dialedDigits cannot carry).
func aliasList(own string, ids []string) []h225.Alias {
	out := []h225.Alias{h225.H323ID(own)}
	for _, id := range ids {
		if isDigits(id) {
			out = append(out, h225.Digits(id))
		} else {
			out = append(out, h225.H323ID(id))
		}
	}
	return out
}

// isDigits reports whether s fits dialedDigits: IA5String (SIZE(1..128)) (FROM ("0123456789#*,")).
func isDigits(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && r != '#' && r != '*' && r != ',' {
			return false
		}
	}
	return true
}

// SetAliases registers ids (conference IDs) next to our own alias, replacing
// the earlier list; the client re-registers in the background when the list
// changed. IDs that are empty or longer than an alias can be are skipped.
func (c *Client) SetAliases(ids []string) {
	var clean []string
	for _, id := range ids {
		if id == "" || len(id) > 256 || id == c.cfg.Alias {
			continue
		}
		clean = append(clean, id)
	}
	slices.Sort(clean)
	clean = slices.Compact(clean)
	if len(clean) > maxAliases {
		c.log.Warn("too many aliases for one registration; registering the first ones", "aliases", len(clean), "max", maxAliases)
		clean = clean[:maxAliases]
	}
	c.mu.Lock()
	same := slices.Equal(clean, c.aliases)
	c.aliases = clean
	if !same {
		c.dirty = true // the loop registers in full: the list is what a full RRQ is for
	}
	c.mu.Unlock()
	if !same {
		c.kickLoop()
	}
}

func (c *Client) kickLoop() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// State returns a snapshot of the registration.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.regCopy()
	return State{Registered: c.registered, GatekeeperID: r.GatekeeperID, EndpointID: r.EndpointID,
		TimeToLive: c.ttl, Aliases: r.Aliases, RASAddress: c.local}
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	return Stats{Sent: c.stats.sent.Load(), Retransmits: c.stats.retransmits.Load(), Received: c.stats.received.Load(),
		Malformed: c.stats.malformed.Load(), Unmatched: c.stats.unmatched.Load(), Registrations: c.stats.registrations.Load()}
}

// WaitRegistered blocks until the client is registered, ctx ends or the client closes.
func (c *Client) WaitRegistered(ctx context.Context) error {
	for {
		c.mu.Lock()
		reg, ch, closed := c.registered, c.regWait, c.closed
		c.mu.Unlock()
		if reg {
			return nil
		}
		if closed {
			return ErrClosed
		}
		select {
		case <-ch:
		case <-c.closeDone:
			return ErrClosed
		case <-ctx.Done():
			return fmt.Errorf("waiting for the gatekeeper registration: %w", context.Cause(ctx))
		}
	}
}

// setRegistered records a registration state change.
func (c *Client) setRegistered(on bool, endpointID string, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if on {
		c.reg.EndpointID = endpointID
		c.ttl = ttl
	}
	if c.registered == on {
		return
	}
	c.registered = on
	close(c.regWait)
	c.regWait = make(chan struct{})
}

// send writes one datagram to the gatekeeper.
func (c *Client) send(b []byte, to netip.AddrPort) error {
	c.stats.sent.Add(1)
	if _, err := c.conn.WriteTo(b, net.UDPAddrFromAddrPort(to)); err != nil {
		return fmt.Errorf("sending RAS to %s: %w", to, err)
	}
	return nil
}

// transact sends the request build makes with a fresh requestSeqNum and
// waits for an answer of one of the kinds want, retransmitting it
// unchanged after each Timeout (H.225.0 RAS timers) and waiting longer
// when the gatekeeper says RequestInProgress.
func (c *Client) transact(ctx context.Context, to netip.AddrPort, build func(seq int) ([]byte, error), want ...string) (*h225.RAS, error) {
	c.mu.Lock()
	if len(c.pending) >= maxPending {
		c.mu.Unlock()
		return nil, fmt.Errorf("%d requests waiting: %w", len(c.pending), ErrTooMany)
	}
	seq := c.nextSeqLocked()
	p := &pending{want: want, ch: make(chan *h225.RAS, 1)}
	c.pending[seq] = p
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, seq)
		c.mu.Unlock()
	}()
	b, err := build(seq)
	if err != nil {
		return nil, fmt.Errorf("building RAS request: %w", err)
	}
	if err := c.send(b, to); err != nil {
		return nil, err
	}
	t := time.NewTimer(c.cfg.Timeout)
	defer t.Stop()
	sent := 1
	for {
		select {
		case m := <-p.ch:
			if m.Kind == "requestInProgress" {
				// Wait as long as the gatekeeper asks, without retransmitting.
				t.Reset(time.Duration(m.Delay) * time.Millisecond)
				sent = c.cfg.Retries + 1
				continue
			}
			return m, nil
		case <-t.C:
			if sent > c.cfg.Retries {
				return nil, fmt.Errorf("%s after %d transmissions: %w", want[0], sent, ErrTimeout)
			}
			sent++
			c.stats.retransmits.Add(1)
			if err := c.send(b, to); err != nil {
				return nil, err
			}
			t.Reset(c.cfg.Timeout)
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-c.ctx.Done():
			return nil, ErrClosed
		}
	}
}

// nextSeqLocked returns the next free requestSeqNum (1..65535); c.mu held.
func (c *Client) nextSeqLocked() int {
	for {
		c.seq = c.seq%65535 + 1
		if _, busy := c.pending[c.seq]; !busy {
			return c.seq
		}
	}
}

// read hands every datagram to receive until the socket closes.
func (c *Client) read() {
	defer c.wg.Done()
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := c.conn.ReadFrom(buf)
		if err != nil {
			if c.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			c.log.Warn("reading RAS", "err", err)
			select {
			case <-time.After(10 * time.Millisecond): // an ICMP error on some systems: do not spin
			case <-c.ctx.Done():
				return
			}
			continue
		}
		src, _ := addrPort(from)
		c.receive(buf[:n], src)
	}
}

// answers are the RAS messages that answer a request of ours.
var answers = map[string]bool{
	"gatekeeperConfirm": true, "gatekeeperReject": true, "registrationConfirm": true, "registrationReject": true,
	"unregistrationConfirm": true, "unregistrationReject": true, "admissionConfirm": true, "admissionReject": true,
	"bandwidthConfirm": true, "bandwidthReject": true, "disengageConfirm": true, "disengageReject": true,
	"requestInProgress": true, "infoRequestAck": true, "infoRequestNak": true,
}

// receive handles one datagram from the network: answers go to the request
// waiting for them, the gatekeeper's requests are answered here.
func (c *Client) receive(b []byte, from netip.AddrPort) {
	c.stats.received.Add(1)
	m, err := h225.ParseRAS(b)
	if err != nil {
		c.stats.malformed.Add(1)
		c.log.Debug("undecodable RAS message dropped", "from", from.String(), "err", err)
		return
	}
	if answers[m.Kind] {
		c.deliver(m)
		return
	}
	c.mu.Lock()
	gk := c.gk
	c.mu.Unlock()
	if from.Addr() != gk.Addr() {
		// Only our gatekeeper may unregister us or end our calls (from any of its ports).
		c.stats.unmatched.Add(1)
		c.log.Debug("RAS request from a stranger ignored", "kind", m.Kind, "from", from.String())
		return
	}
	switch m.Kind {
	case "unregistrationRequest":
		c.onURQ(m, from)
	case "infoRequest":
		c.onIRQ(m, from)
	case "disengageRequest":
		c.onDRQ(m, from)
	case "bandwidthRequest":
		c.reply(from, func() ([]byte, error) { return h225.BCF(m.SeqNum, max(m.Bandwidth, 1)) })
	default:
		c.log.Debug("RAS message ignored", "kind", m.Kind, "from", from.String())
	}
}

// deliver hands an answer to the request with its sequence number.
func (c *Client) deliver(m *h225.RAS) {
	c.mu.Lock()
	p := c.pending[m.SeqNum]
	c.mu.Unlock()
	if p == nil || (m.Kind != "requestInProgress" && !slices.Contains(p.want, m.Kind)) {
		c.stats.unmatched.Add(1)
		c.log.Debug("RAS answer matches no request", "kind", m.Kind, "seq", m.SeqNum)
		return
	}
	select {
	case p.ch <- m:
	default: // a duplicate answer to a retransmission
	}
}

// reply answers a gatekeeper's request.
func (c *Client) reply(to netip.AddrPort, build func() ([]byte, error)) {
	b, err := build()
	if err == nil && to.IsValid() {
		err = c.send(b, to)
	}
	if err != nil {
		c.log.Warn("answering the gatekeeper", "err", err)
	}
}

// onURQ accepts the gatekeeper's unregistration (UCF) and registers again
// later, unless it is about someone else.
func (c *Client) onURQ(m *h225.RAS, from netip.AddrPort) {
	c.mu.Lock()
	ours := m.EndpointID == "" || m.EndpointID == c.reg.EndpointID
	c.mu.Unlock()
	if !ours {
		c.reply(from, func() ([]byte, error) { return h225.URJ(m.SeqNum, "notCurrentlyRegistered") })
		return
	}
	// Unregistered before the UCF goes, so that whoever sees the UCF sees us unregistered.
	c.mu.Lock()
	c.urq = true
	c.mu.Unlock()
	c.setRegistered(false, "", 0)
	c.reply(from, func() ([]byte, error) { return h225.UCF(m.SeqNum) })
	c.log.Info("gatekeeper unregistered us; registering again later")
	c.kickLoop()
}

// onIRQ answers the gatekeeper's status poll with our calls (IRR).
func (c *Client) onIRQ(m *h225.RAS, from netip.AddrPort) {
	to := from
	if m.ReplyAddress.IsValid() {
		to = m.ReplyAddress
	}
	c.mu.Lock()
	reg := c.regCopy()
	var calls []h225.CallRAS
	for _, a := range c.calls {
		if m.CallRef == 0 || int(a.a.CallRef) == m.CallRef {
			calls = append(calls, a.a.callRAS())
		}
	}
	c.mu.Unlock()
	c.reply(to, func() ([]byte, error) { return reg.IRR(m.SeqNum, calls, reg.CallSignal) })
}

// onDRQ confirms the gatekeeper's end of a call and drops it.
func (c *Client) onDRQ(m *h225.RAS, from netip.AddrPort) {
	c.reply(from, func() ([]byte, error) { return h225.DCF(m.SeqNum) })
	c.mu.Lock()
	a := c.calls[m.CallID]
	delete(c.calls, m.CallID)
	c.mu.Unlock()
	if a != nil && a.a.Drop != nil {
		c.log.Info("gatekeeper ended a call", "reason", m.RejectReason)
		a.a.Drop()
	}
}
