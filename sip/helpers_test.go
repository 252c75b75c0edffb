package sip

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/conf"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitFor bounds every wait of a test on real sockets; it is a safety net,
// never a timing assertion.
const waitFor = 10 * time.Second

// ---- fake clock ----

type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	f       func()
	stopped bool
	fired   bool
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped && !t.fired
	t.stopped = true
	return was
}

// Advance moves time on and runs the timers that fell due, in order, each
// outside the clock's lock (they may set new timers).
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var next *fakeTimer
		for _, t := range c.timers {
			if !t.stopped && !t.fired && !t.at.After(end) && (next == nil || t.at.Before(next.at)) {
				next = t
			}
		}
		if next == nil {
			c.now = end
			c.mu.Unlock()
			return
		}
		next.fired = true
		if next.at.After(c.now) {
			c.now = next.at
		}
		c.mu.Unlock()
		next.f()
	}
}

// pending counts armed timers.
func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.stopped && !t.fired {
			n++
		}
	}
	return n
}

// ---- fake conferences ----

type fakeParticipant struct {
	id  string
	req conf.JoinRequest
	pin string // from the dial string
}

func (p *fakeParticipant) ID() string { return p.id }

type fakeConfs struct {
	mu     sync.Mutex
	errs   map[string]error // conference ID -> Join error
	joined map[string]*fakeParticipant
	left   []error
	joins  chan *fakeParticipant
	leaves chan error
	n      int
	lobby  []*fakeDialIn
}

func newFakeConfs() *fakeConfs {
	return &fakeConfs{
		errs:   map[string]error{"404404": conf.ErrNotFound, "486486": conf.ErrFull, "403403": conf.ErrLocked},
		joined: map[string]*fakeParticipant{},
		joins:  make(chan *fakeParticipant, 16),
		leaves: make(chan error, 16),
	}
}

func (f *fakeConfs) Join(ctx context.Context, req conf.JoinRequest) (Participant, error) {
	return f.join(ctx, req, "")
}

// join admits req; pin is set before the test can see the participant.
func (f *fakeConfs) join(ctx context.Context, req conf.JoinRequest, pin string) (Participant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.errs[req.ConferenceID]; err != nil {
		return nil, fmt.Errorf("joining %s: %w", req.ConferenceID, err)
	}
	f.n++
	p := &fakeParticipant{id: "p" + strconv.Itoa(f.n), req: req, pin: pin}
	f.joined[p.id] = p
	f.joins <- p
	if req.ConferenceID == "480480" {
		// The conference goes away while the caller is being set up.
		c := req.Leg.(*call)
		f.mu.Unlock()
		c.Hangup(conf.ErrConferenceDeleted)
		<-c.ctx.Done()
		f.mu.Lock()
	}
	return p, nil
}

func (f *fakeConfs) Leave(p Participant, cause error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.joined, p.ID())
	f.left = append(f.left, cause)
	f.leaves <- cause
}

// fakeDialIn is conf's side of a dial-in call in tests: a conference ID
// joins through fakeConfs.Join, no ID goes to a lobby room.
type fakeDialIn struct {
	f      *fakeConfs
	p      *fakeParticipant // nil in the lobby
	room   string
	digits chan rune
	ran    chan struct{}
	ended  chan error
	once   sync.Once
}

func (f *fakeConfs) Admit(ctx context.Context, d conf.DialIn) (DialInCall, error) {
	fd := &fakeDialIn{f: f, digits: make(chan rune, 64), ran: make(chan struct{}), ended: make(chan error, 1)}
	if d.ConferenceID == "" {
		fd.room = "lobby/test"
		f.mu.Lock()
		f.lobby = append(f.lobby, fd)
		f.mu.Unlock()
		return fd, nil
	}
	p, err := f.join(ctx, conf.JoinRequest{ConferenceID: d.ConferenceID, DisplayName: d.DisplayName,
		Protocol: d.Protocol, Remote: d.Remote, Leg: d.Leg}, d.PIN)
	if err != nil {
		return nil, err
	}
	fd.p, fd.room = p.(*fakeParticipant), d.ConferenceID
	return fd, nil
}

func (d *fakeDialIn) Room() string { return d.room }
func (d *fakeDialIn) ParticipantID() string {
	if d.p == nil {
		return ""
	}
	return d.p.id
}
func (d *fakeDialIn) Run(ctx context.Context) { close(d.ran) }
func (d *fakeDialIn) Digit(r rune) {
	select {
	case d.digits <- r:
	default:
		panic("fake dial-in digit buffer full: Digit would have blocked")
	}
}
func (d *fakeDialIn) End(cause error) {
	d.once.Do(func() {
		d.ended <- cause
		if d.p != nil {
			d.f.Leave(d.p, cause)
		}
	})
}

func (f *fakeConfs) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.joined)
}

// ---- fake media ----

type legCall struct {
	op string // start, update
	p  bridge.StreamParams
}

type fakeLeg struct {
	port    int
	opts    bridge.LegOptions
	calls   chan legCall
	done    chan struct{}
	mu      sync.Mutex
	cause   error
	closed  bool
	startEr error
	muted   bool
	ops     []string // interactive media calls, in order
}

func (l *fakeLeg) SetMuted(m bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.muted = m
}

func (l *fakeLeg) isMuted() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.muted
}

// The fake leg is interactive media: it records what conf asked of it.
func (l *fakeLeg) Play(names ...string) (<-chan struct{}, error) {
	l.record("play " + strings.Join(names, " "))
	return closedChan(), nil
}
func (l *fakeLeg) StopPlaying()     { l.record("stop") }
func (l *fakeLeg) PassDigit(d rune) { l.record("pass " + string(d)) }
func (l *fakeLeg) SetRoom(name string) error {
	l.record("room " + name)
	return nil
}
func (l *fakeLeg) SetGain(listen, talk int) { l.record(fmt.Sprintf("gain %d %d", listen, talk)) }
func (l *fakeLeg) SendDigits(digits string) error {
	l.record("send " + digits)
	return nil
}
func (l *fakeLeg) record(op string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ops = append(l.ops, op)
}
func (l *fakeLeg) recorded() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.ops)
}

func (l *fakeLeg) LocalPort() int { return l.port }
func (l *fakeLeg) Start(p bridge.StreamParams) error {
	l.calls <- legCall{"start", p}
	return l.startEr
}
func (l *fakeLeg) Update(p bridge.StreamParams) error {
	l.calls <- legCall{"update", p}
	return nil
}
func (l *fakeLeg) Stats() bridge.LegStats { return bridge.LegStats{LocalPort: l.port, PacketsIn: 7} }
func (l *fakeLeg) Close(cause error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.closed, l.cause = true, cause
	close(l.done)
}
func (l *fakeLeg) Done() <-chan struct{} { return l.done }
func (l *fakeLeg) Cause() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cause
}

type fakeMedia struct {
	mu   sync.Mutex
	next int
	legs chan *fakeLeg
	err  error
}

func newFakeMedia() *fakeMedia { return &fakeMedia{next: 40000, legs: make(chan *fakeLeg, 16)} }

func (m *fakeMedia) NewLeg(opts bridge.LegOptions) (MediaLeg, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return nil, m.err
	}
	l := &fakeLeg{port: m.next, opts: opts, calls: make(chan legCall, 16), done: make(chan struct{})}
	m.next += 2
	m.legs <- l
	return l, nil
}

// ---- harness ----

type harness struct {
	t     *testing.T
	s     *Server
	confs *fakeConfs
	media *fakeMedia
	clock *fakeClock
	reg   *prometheus.Registry
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("SIP_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	h := &harness{t: t, confs: newFakeConfs(), media: newFakeMedia(), clock: newFakeClock(), reg: prometheus.NewRegistry()}
	s, err := NewServer(cfg, h.media, h.confs, testLogger(t), h.reg)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	s.clock = h.clock
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	h.s = s
	return h
}

func (h *harness) leg() *fakeLeg {
	h.t.Helper()
	select {
	case l := <-h.media.legs:
		return l
	case <-time.After(waitFor):
		h.t.Fatal("no media leg created")
		return nil
	}
}

func (l *fakeLeg) next(t *testing.T) legCall {
	t.Helper()
	select {
	case c := <-l.calls:
		return c
	case <-time.After(waitFor):
		t.Fatal("no Start/Update on the media leg")
		return legCall{}
	}
}

func (h *harness) left() error {
	h.t.Helper()
	select {
	case c := <-h.confs.leaves:
		return c
	case <-time.After(waitFor):
		h.t.Fatal("participant did not leave")
		return nil
	}
}

// ---- SIP peer (a softphone made of sipgo) ----

type peer struct {
	t         *testing.T
	ua        *sipgo.UserAgent
	cli       *sipgo.Client
	srv       *sipgo.Server
	transport string
	host      string
	port      int
	server    string // host:port of the server under test
	reqs      chan *sipmsg.Request
	onRequest func(req *sipmsg.Request) (int, []byte) // answer to server requests
	// onInvite, when set, answers INVITEs itself (dial-out tests script
	// provisional responses and headers).
	onInvite func(req *sipmsg.Request, tx sipmsg.ServerTransaction)
	mu       sync.Mutex
}

func newPeer(t *testing.T, serverAddr string, transport string) *peer {
	t.Helper()
	var quiet atomic.Bool
	dropWhenQuiet := func(_ sipmsg.TransportReadProps, data []byte) ([]byte, error) {
		if quiet.Load() {
			return nil, nil
		}
		return data, nil
	}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("testphone"),
		sipgo.WithUserAgentTransportLayerOptions(sipmsg.WithTransportLayerLogger(testLogger(t)),
			sipmsg.WithTransportLayerConnectionReuse(true), sipmsg.WithTransportLayerReadFilter(dropWhenQuiet)),
		sipgo.WithUserAgentTransactionLayerOptions(sipmsg.WithTransactionLayerLogger(testLogger(t)),
			sipmsg.WithTransactionLayerUnhandledResponseHandler(func(*sipmsg.Response) {})))
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{t: t, ua: ua, transport: transport, server: serverAddr, reqs: make(chan *sipmsg.Request, 32), host: "127.0.0.1"}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	p.srv = srv
	handler := func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		// Queue before answering, so that the ACK our answer triggers
		// is queued after this request.
		p.reqs <- req
		code, body := 200, []byte(nil)
		p.mu.Lock()
		f, inv := p.onRequest, p.onInvite
		p.mu.Unlock()
		if inv != nil && req.IsInvite() {
			inv(req, tx)
			return
		}
		if f != nil {
			code, body = f(req)
		}
		if !req.IsAck() && code > 0 {
			res := sipmsg.NewResponseFromRequest(req, code, "Test", body)
			if len(body) > 0 {
				res.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
			}
			tx.Respond(res)
		}
	}
	for _, m := range []sipmsg.RequestMethod{sipmsg.BYE, sipmsg.INVITE, sipmsg.UPDATE, sipmsg.OPTIONS, sipmsg.ACK, sipmsg.INFO} {
		srv.OnRequest(m, handler)
	}
	var done sync.WaitGroup
	if strings.EqualFold(transport, "udp") {
		conn, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p.port = conn.LocalAddr().(*net.UDPAddr).Port
		done.Add(1)
		go func() { defer done.Done(); srv.ServeUDP(conn) }()
		// Requests must leave from the listening socket: wait until the
		// transport knows it.
		for deadline := time.Now().Add(waitFor); ; time.Sleep(time.Millisecond) {
			if c, _ := ua.TransportLayer().GetConnection("udp", conn.LocalAddr().String()); c != nil {
				c.TryClose()
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("udp listener never registered")
			}
		}
		p.cli, err = sipgo.NewClient(ua, sipgo.WithClientConnectionAddr(conn.LocalAddr().String()), sipgo.WithClientLogger(testLogger(t)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			// A message the stack read just before closing may still make
			// it open a socket for its answer after the pool is gone:
			// stop reading, then sweep such sockets up.
			quiet.Store(true)
			conn.Close()
			done.Wait()
			ua.Close()
			for i := 0; i < 50; i++ {
				time.Sleep(time.Millisecond)
				ua.TransportLayer().Pool("udp").Clear()
			}
		})
	} else {
		p.port = 0
		p.cli, err = sipgo.NewClient(ua, sipgo.WithClientLogger(testLogger(t)), sipgo.WithClientHostname("127.0.0.1"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ua.Close() })
	}
	return p
}

// answerWith sets how the peer answers requests of the server.
func (p *peer) answerWith(f func(req *sipmsg.Request) (int, []byte)) {
	p.mu.Lock()
	p.onRequest = f
	p.mu.Unlock()
}

// dialog is the peer's view of one call.
type dialog struct {
	p      *peer
	invite *sipmsg.Request
	res    *sipmsg.Response // final response to the INVITE
	provs  []*sipmsg.Response
	cseq   uint32
}

// newInvite builds an INVITE to sip:user@server.
func (p *peer) newInvite(user string, body []byte, hdrs ...sipmsg.Header) *sipmsg.Request {
	host, port, _ := net.SplitHostPort(p.server)
	pn, _ := strconv.Atoi(port)
	req := sipmsg.NewRequest(sipmsg.INVITE, sipmsg.Uri{Scheme: "sip", User: user, Host: host, Port: pn})
	from := &sipmsg.FromHeader{DisplayName: "Room 42", Address: sipmsg.Uri{Scheme: "sip", User: "room42", Host: "127.0.0.1"}, Params: sipmsg.NewParams()}
	from.Params.Add("tag", randomToken(6))
	req.AppendHeader(from)
	req.AppendHeader(&sipmsg.ToHeader{Address: sipmsg.Uri{Scheme: "sip", User: user, Host: host}, Params: sipmsg.NewParams()})
	ct := &sipmsg.ContactHeader{Address: sipmsg.Uri{Scheme: "sip", User: "room42", Host: "127.0.0.1", Port: p.port}}
	if p.port == 0 {
		ct.Address.Port = 5999 // TCP: unreachable on purpose, replies must reuse the connection
	}
	req.AppendHeader(ct)
	callID := sipmsg.CallIDHeader(randomToken(10))
	req.AppendHeader(&callID)
	req.AppendHeader(&sipmsg.CSeqHeader{SeqNo: 1, MethodName: sipmsg.INVITE})
	for _, h := range hdrs {
		req.AppendHeader(h)
	}
	if len(body) > 0 {
		req.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
	}
	req.SetBody(body)
	req.SetTransport(strings.ToUpper(p.transport))
	return req
}

// call sends an INVITE and waits for its final response (no ACK yet).
func (p *peer) call(req *sipmsg.Request) *dialog {
	p.t.Helper()
	d, err := p.tryCall(req)
	if err != nil {
		p.t.Fatal(err)
	}
	return d
}

// tryCall is call for other goroutines than the test's.
func (p *peer) tryCall(req *sipmsg.Request) (*dialog, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	tx, err := p.cli.TransactionRequest(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("sending INVITE: %w", err)
	}
	defer tx.Terminate()
	d := &dialog{p: p, invite: req, cseq: req.CSeq().SeqNo}
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				d.provs = append(d.provs, res)
				continue
			}
			d.res = res
			return d, nil
		case <-tx.Done():
			return nil, fmt.Errorf("INVITE transaction ended: %w", tx.Err())
		case <-ctx.Done():
			return nil, fmt.Errorf("no final response to INVITE")
		}
	}
}

// ack acknowledges the 2xx (optionally with an SDP answer).
func (d *dialog) ack(body []byte) {
	d.p.t.Helper()
	ack := d.newRequest(sipmsg.ACK, d.invite.CSeq().SeqNo, body)
	if err := d.p.cli.WriteRequest(ack); err != nil {
		d.p.t.Fatalf("sending ACK: %v", err)
	}
}

// newRequest builds an in-dialog request.
func (d *dialog) newRequest(method sipmsg.RequestMethod, cseq uint32, body []byte) *sipmsg.Request {
	target := d.res.Contact().Address
	req := sipmsg.NewRequest(method, target)
	req.AppendHeader(sipmsg.HeaderClone(d.invite.From()))
	req.AppendHeader(sipmsg.HeaderClone(d.res.To()))
	req.AppendHeader(sipmsg.HeaderClone(d.invite.CallID()))
	req.AppendHeader(&sipmsg.CSeqHeader{SeqNo: cseq, MethodName: method})
	req.AppendHeader(sipmsg.HeaderClone(d.invite.Contact()))
	if len(body) > 0 {
		req.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
	}
	req.SetBody(body)
	req.SetTransport(d.invite.Transport())
	req.SetDestination(d.p.server)
	return req
}

// do sends an in-dialog request and returns its final response.
func (d *dialog) do(method sipmsg.RequestMethod, body []byte, hdrs ...sipmsg.Header) *sipmsg.Response {
	d.p.t.Helper()
	d.cseq++
	req := d.newRequest(method, d.cseq, body)
	for _, h := range hdrs {
		req.AppendHeader(h)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	res, err := d.p.cli.Do(ctx, req)
	if err != nil {
		d.p.t.Fatalf("%s: %v", method, err)
	}
	if method == sipmsg.INVITE && res.IsSuccess() {
		ack := d.newRequest(sipmsg.ACK, d.cseq, nil)
		if err := d.p.cli.WriteRequest(ack); err != nil {
			d.p.t.Fatalf("ACK: %v", err)
		}
	}
	return res
}

// request waits for a request from the server.
func (p *peer) request(method sipmsg.RequestMethod) *sipmsg.Request {
	p.t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case r := <-p.reqs:
			if r.Method == method {
				return r
			}
		case <-deadline:
			p.t.Fatalf("no %s from the server", method)
			return nil
		}
	}
}

// offer is an SDP offer like a softphone's.
func offer(port int, extra string) []byte {
	return []byte("v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio " + strconv.Itoa(port) + " RTP/AVP 0 8 9 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n" +
		"a=rtpmap:9 G722/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\n" + extra)
}

func contextWithTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), waitFor)
}

// metricValue reads a counter or gauge from the harness registry; label,
// when not empty, selects the series with that label value.
func metricValue(t *testing.T, h *harness, name, label string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := label == ""
			for _, l := range m.GetLabel() {
				if l.GetValue() == label {
					match = true
				}
			}
			if match {
				return m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

func mustMetrics(t *testing.T) *metrics {
	m, err := newMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// nopConn is a net.Conn that swallows writes and reads nothing.
type nopConn struct{}

func (nopConn) Read([]byte) (int, error)         { return 0, io.EOF }
func (nopConn) Write(b []byte) (int, error)      { return len(b), nil }
func (nopConn) Close() error                     { return nil }
func (nopConn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5060} }
func (nopConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5061} }
func (nopConn) SetDeadline(time.Time) error      { return nil }
func (nopConn) SetReadDeadline(time.Time) error  { return nil }
func (nopConn) SetWriteDeadline(time.Time) error { return nil }
