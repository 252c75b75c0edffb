// Package rastest is a small H.323 gatekeeper of our own making, for tests
// of the RAS client and of calls routed by alias: it answers GRQ, RRQ (full
// and lightweight), ARQ, DRQ, URQ and BRQ, resolves aliases to the call
// signalling addresses endpoints registered, sends URQ, IRQ and DRQ on
// request, and records every message it receives. Tests can make it drop
// or reject requests to exercise retransmission and re-registration.
//
// It is a test double, not a gatekeeper to deploy: no admission policy,
// bandwidth management, H.235 security or neighbour gatekeepers.
package rastest

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/roomgate/roomgate/h323/h225"
)

// Endpoint is a registered endpoint.
type Endpoint struct {
	ID         string
	Aliases    []h225.Alias
	CallSignal []netip.AddrPort
	RAS        netip.AddrPort
}

// Received is one message the gatekeeper read.
type Received struct {
	Msg  *h225.RAS
	From netip.AddrPort
	// Raw is the datagram as it arrived.
	Raw []byte
}

// Options tune a Gatekeeper.
type Options struct {
	// ID is the gatekeeper identifier; empty means "rastest".
	ID string
	// TimeToLive is granted in RCF, in seconds; 0 grants what the endpoint asked.
	TimeToLive int
	// GatekeeperRouted answers ACF with the gatekeeperRouted call model (the
	// address is still the callee's: this gatekeeper routes nothing).
	GatekeeperRouted bool
}

// Gatekeeper is a running test gatekeeper.
type Gatekeeper struct {
	conn net.PacketConn
	addr netip.AddrPort
	opts Options
	wg   sync.WaitGroup
	recv chan Received

	mu        sync.Mutex
	endpoints map[string]*Endpoint
	nextEP    int
	seq       int
	counts    map[string]int
	drop      map[string]int
	reject    map[string][]string
	rip       map[string]int
	waiting   map[int]chan *h225.RAS
	// traffic is every datagram read and sent, in order (bounded).
	traffic [][]byte
}

// maxTraffic bounds the datagrams Traffic keeps.
const maxTraffic = 4096

// Traffic returns every RAS datagram the gatekeeper read or sent, in order,
// for dissection checks.
func (g *Gatekeeper) Traffic() [][]byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.traffic)
}

func (g *Gatekeeper) record(b []byte) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.traffic) < maxTraffic {
		g.traffic = append(g.traffic, slices.Clone(b))
	}
}

// Listen starts a gatekeeper on a real UDP socket (use "127.0.0.1:0").
func Listen(addr string, opts Options) (*Gatekeeper, error) {
	conn, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("rastest: listening on %s: %w", addr, err)
	}
	return New(conn, opts), nil
}

// New starts a gatekeeper on conn; Close closes conn.
func New(conn net.PacketConn, opts Options) *Gatekeeper {
	if opts.ID == "" {
		opts.ID = "rastest"
	}
	ua, _ := conn.LocalAddr().(*net.UDPAddr)
	var ap netip.AddrPort
	if ua != nil {
		a := ua.AddrPort()
		ap = netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
	}
	g := &Gatekeeper{conn: conn, addr: ap, opts: opts, recv: make(chan Received, 256),
		endpoints: map[string]*Endpoint{}, counts: map[string]int{}, drop: map[string]int{},
		reject: map[string][]string{}, rip: map[string]int{}, waiting: map[int]chan *h225.RAS{}}
	g.wg.Add(1)
	go g.serve()
	return g
}

// Addr is the gatekeeper's RAS address.
func (g *Gatekeeper) Addr() netip.AddrPort { return g.addr }

// ID is the gatekeeper identifier.
func (g *Gatekeeper) ID() string { return g.opts.ID }

// Close stops the gatekeeper and waits for it.
func (g *Gatekeeper) Close() error {
	err := g.conn.Close()
	g.wg.Wait()
	return err
}

// Received delivers every message read, in order; messages beyond its
// buffer (256) are counted but not delivered.
func (g *Gatekeeper) Received() <-chan Received { return g.recv }

// Count is how many messages of kind ("registrationRequest", ...) were read,
// dropped ones included.
func (g *Gatekeeper) Count(kind string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.counts[kind]
}

// DropNext makes the gatekeeper ignore the next n requests of kind.
func (g *Gatekeeper) DropNext(kind string, n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.drop[kind] += n
}

// RejectNext makes the gatekeeper reject the next request of kind
// ("gatekeeperRequest", "registrationRequest", "admissionRequest",
// "unregistrationRequest") with reason, once per call.
func (g *Gatekeeper) RejectNext(kind, reason string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.reject[kind] = append(g.reject[kind], reason)
}

// DelayNext makes the gatekeeper answer the next request of kind with
// RequestInProgress(delay ms) first and the real answer half the delay later.
func (g *Gatekeeper) DelayNext(kind string, delayMS int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.rip[kind] = delayMS
}

// Endpoints returns the registered endpoints.
func (g *Gatekeeper) Endpoints() []Endpoint {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []Endpoint
	for _, e := range g.endpoints {
		out = append(out, copyEP(e))
	}
	slices.SortFunc(out, func(a, b Endpoint) int { return cmpStr(a.ID, b.ID) })
	return out
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func copyEP(e *Endpoint) Endpoint {
	return Endpoint{ID: e.ID, Aliases: slices.Clone(e.Aliases), CallSignal: slices.Clone(e.CallSignal), RAS: e.RAS}
}

// Lookup finds the endpoint that registered alias value (any alias kind).
func (g *Gatekeeper) Lookup(value string) (Endpoint, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if e := g.byAliasLocked(value); e != nil {
		return copyEP(e), true
	}
	return Endpoint{}, false
}

func (g *Gatekeeper) byAliasLocked(value string) *Endpoint {
	for _, e := range g.endpoints {
		for _, a := range e.Aliases {
			if a.Value == value {
				return e
			}
		}
	}
	return nil
}

// serve answers every datagram until the socket closes.
func (g *Gatekeeper) serve() {
	defer g.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, from, err := g.conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		ua, ok := from.(*net.UDPAddr)
		if !ok {
			continue
		}
		ap := ua.AddrPort()
		g.handle(buf[:n], netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
	}
}

func (g *Gatekeeper) handle(b []byte, from netip.AddrPort) {
	m, err := h225.ParseRAS(b)
	if err != nil {
		return
	}
	g.record(b)
	g.mu.Lock()
	g.counts[m.Kind]++
	dropped := g.drop[m.Kind] > 0
	if dropped {
		g.drop[m.Kind]--
	}
	var reason string
	if r := g.reject[m.Kind]; len(r) > 0 && !dropped {
		reason, g.reject[m.Kind] = r[0], r[1:]
	}
	rip, delay := g.rip[m.Kind]
	if delay && !dropped {
		delete(g.rip, m.Kind)
	}
	if ch := g.waiting[m.SeqNum]; ch != nil && isAnswer(m.Kind) {
		delete(g.waiting, m.SeqNum)
		ch <- m
	}
	g.mu.Unlock()
	select {
	case g.recv <- Received{Msg: m, From: from, Raw: slices.Clone(b)}:
	default:
	}
	if dropped {
		return
	}
	if delay {
		// RequestInProgress now, the answer after half the announced delay.
		g.send(from, func() ([]byte, error) { return h225.RIP(m.SeqNum, rip) })
		g.wg.Add(1)
		time.AfterFunc(time.Duration(rip)*time.Millisecond/2, func() {
			defer g.wg.Done()
			g.answer(m, from, reason)
		})
		return
	}
	g.answer(m, from, reason)
}

// answer handles one request.
func (g *Gatekeeper) answer(m *h225.RAS, from netip.AddrPort, reason string) {
	switch m.Kind {
	case "gatekeeperRequest":
		if reason != "" {
			g.send(from, func() ([]byte, error) { return h225.GRJ(m.SeqNum, g.opts.ID, reason) })
			return
		}
		g.send(from, func() ([]byte, error) { return h225.GCF(m.SeqNum, g.opts.ID, g.addr) })
	case "registrationRequest":
		g.onRRQ(m, from, reason)
	case "admissionRequest":
		g.onARQ(m, from, reason)
	case "disengageRequest":
		g.send(from, func() ([]byte, error) { return h225.DCF(m.SeqNum) })
	case "unregistrationRequest":
		g.mu.Lock()
		_, known := g.endpoints[m.EndpointID]
		delete(g.endpoints, m.EndpointID)
		g.mu.Unlock()
		if !known || reason != "" {
			if reason == "" {
				reason = "notCurrentlyRegistered"
			}
			g.send(from, func() ([]byte, error) { return h225.URJ(m.SeqNum, reason) })
			return
		}
		g.send(from, func() ([]byte, error) { return h225.UCF(m.SeqNum) })
	case "bandwidthRequest":
		g.send(from, func() ([]byte, error) { return h225.BCF(m.SeqNum, max(m.Bandwidth, 1)) })
	}
}

func isAnswer(kind string) bool {
	switch kind {
	case "unregistrationConfirm", "unregistrationReject", "infoRequestResponse", "disengageConfirm", "disengageReject":
		return true
	}
	return false
}

func (g *Gatekeeper) onRRQ(m *h225.RAS, from netip.AddrPort, reason string) {
	if reason != "" {
		g.send(from, func() ([]byte, error) { return h225.RRJ(m.SeqNum, g.opts.ID, reason) })
		return
	}
	ttl := m.TimeToLive
	if g.opts.TimeToLive > 0 {
		ttl = g.opts.TimeToLive
	}
	g.mu.Lock()
	if m.KeepAlive {
		e := g.endpoints[m.EndpointID]
		g.mu.Unlock()
		if e == nil {
			g.send(from, func() ([]byte, error) { return h225.RRJ(m.SeqNum, g.opts.ID, "fullRegistrationRequired") })
			return
		}
		g.send(from, func() ([]byte, error) {
			return h225.RCF(m.SeqNum, h225.RegistrationAnswer{GatekeeperID: g.opts.ID, EndpointID: e.ID,
				CallSignal: e.CallSignal, TimeToLive: ttl})
		})
		return
	}
	// A full registration replaces the endpoint's earlier one (same RAS address).
	ras := from
	if len(m.RASAddresses) > 0 {
		ras = m.RASAddresses[0]
	}
	for id, e := range g.endpoints {
		if e.RAS == ras {
			delete(g.endpoints, id)
		}
	}
	g.nextEP++
	e := &Endpoint{ID: "ep" + strconv.Itoa(g.nextEP), Aliases: m.Aliases, CallSignal: m.CallSignal, RAS: ras}
	g.endpoints[e.ID] = e
	g.mu.Unlock()
	g.send(from, func() ([]byte, error) {
		return h225.RCF(m.SeqNum, h225.RegistrationAnswer{GatekeeperID: g.opts.ID, EndpointID: e.ID,
			CallSignal: e.CallSignal, Aliases: e.Aliases, TimeToLive: ttl})
	})
}

func (g *Gatekeeper) onARQ(m *h225.RAS, from netip.AddrPort, reason string) {
	g.mu.Lock()
	caller := g.endpoints[m.EndpointID]
	var dest netip.AddrPort
	switch {
	case caller == nil:
		reason = "callerNotRegistered"
	case m.AnswerCall:
		if len(caller.CallSignal) > 0 {
			dest = caller.CallSignal[0]
		}
	default:
		for _, a := range m.DestAliases {
			if e := g.byAliasLocked(a.Value); e != nil && len(e.CallSignal) > 0 {
				dest = e.CallSignal[0]
				break
			}
		}
		if !dest.IsValid() {
			dest = m.DestSignal
		}
	}
	g.mu.Unlock()
	if reason == "" && !dest.IsValid() {
		reason = "calledPartyNotRegistered"
	}
	if reason != "" {
		g.send(from, func() ([]byte, error) { return h225.ARJ(m.SeqNum, reason) })
		return
	}
	g.send(from, func() ([]byte, error) { return h225.ACF(m.SeqNum, dest, g.opts.GatekeeperRouted, max(m.Bandwidth, 1)) })
}

func (g *Gatekeeper) send(to netip.AddrPort, build func() ([]byte, error)) {
	b, err := build()
	if err != nil {
		panic("rastest: building an answer: " + err.Error())
	}
	g.record(b)
	_, _ = g.conn.WriteTo(b, net.UDPAddrFromAddrPort(to))
}

// ask sends a request to endpoint id's RAS address and waits up to wait
// for its answer.
func (g *Gatekeeper) ask(id string, wait time.Duration, build func(seq int, e *Endpoint) ([]byte, error)) (*h225.RAS, error) {
	g.mu.Lock()
	e := g.endpoints[id]
	if e == nil {
		g.mu.Unlock()
		return nil, fmt.Errorf("rastest: no endpoint %q", id)
	}
	g.seq = g.seq%65535 + 1
	seq := g.seq
	ch := make(chan *h225.RAS, 1)
	g.waiting[seq] = ch
	ep := copyEP(e)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		delete(g.waiting, seq)
		g.mu.Unlock()
	}()
	b, err := build(seq, &ep)
	if err != nil {
		return nil, err
	}
	g.record(b)
	if _, err := g.conn.WriteTo(b, net.UDPAddrFromAddrPort(ep.RAS)); err != nil {
		return nil, err
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case m := <-ch:
		return m, nil
	case <-t.C:
		return nil, fmt.Errorf("rastest: endpoint %s did not answer within %v", id, wait)
	}
}

// Unregister sends URQ to endpoint id and returns its answer (UCF or URJ);
// on UCF the endpoint is forgotten.
func (g *Gatekeeper) Unregister(id, reason string, wait time.Duration) (*h225.RAS, error) {
	m, err := g.ask(id, wait, func(seq int, e *Endpoint) ([]byte, error) {
		return h225.GatekeeperURQ(seq, e.ID, e.CallSignal, reason)
	})
	if err == nil && m.Kind == "unregistrationConfirm" {
		g.mu.Lock()
		delete(g.endpoints, id)
		g.mu.Unlock()
	}
	return m, err
}

// InfoRequest sends IRQ (all calls) to endpoint id and returns its IRR.
func (g *Gatekeeper) InfoRequest(id string, wait time.Duration) (*h225.RAS, error) {
	return g.ask(id, wait, func(seq int, e *Endpoint) ([]byte, error) {
		return h225.IRQ(seq, 0, h225.GUID{}, netip.AddrPort{})
	})
}

// Disengage sends DRQ (forcedDrop) for call callID to endpoint id and
// returns its answer.
func (g *Gatekeeper) Disengage(id string, callRef int, callID, confID h225.GUID, wait time.Duration) (*h225.RAS, error) {
	return g.ask(id, wait, func(seq int, e *Endpoint) ([]byte, error) {
		r := h225.Registration{EndpointID: e.ID, GatekeeperID: g.opts.ID}
		return r.DRQ(seq, h225.CallRAS{CallRef: uint16(callRef), CallID: callID, ConferenceID: confID}, "forcedDrop")
	})
}
