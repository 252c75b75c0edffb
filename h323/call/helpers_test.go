package call

import (
	"context"
	"errors"
	"fmt"
	"github.com/roomgate/roomgate/internal/callleg"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/conf"
	"github.com/roomgate/roomgate/h323/h225"
	"github.com/roomgate/roomgate/h323/q931"
	"github.com/roomgate/roomgate/h323/tpkt"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testLogger(tb testing.TB) *slog.Logger {
	if os.Getenv("H323_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// ---- fake conferences ----

type fakeParticipant struct {
	id  string
	req conf.JoinRequest
}

func (p *fakeParticipant) ID() string { return p.id }

type fakeConfs struct {
	mu     sync.Mutex
	errs   map[string]error
	n      int
	joined map[string]*fakeParticipant
	joins  chan *fakeParticipant
	leaves chan error
}

func newFakeConfs() *fakeConfs {
	return &fakeConfs{
		errs:   map[string]error{"404404": conf.ErrNotFound, "486486": conf.ErrFull, "403403": conf.ErrLocked},
		joined: map[string]*fakeParticipant{},
		joins:  make(chan *fakeParticipant, 64),
		leaves: make(chan error, 64),
	}
}

func (f *fakeConfs) Join(ctx context.Context, req conf.JoinRequest) (Participant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.errs[req.ConferenceID]; err != nil {
		return nil, fmt.Errorf("joining %s: %w", req.ConferenceID, err)
	}
	f.n++
	p := &fakeParticipant{id: "p" + strconv.Itoa(f.n), req: req}
	f.joined[p.id] = p
	select {
	case f.joins <- p:
	default:
	}
	return p, nil
}

func (f *fakeConfs) Leave(p Participant, cause error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.joined, p.ID())
	select {
	case f.leaves <- cause:
	default:
	}
}

// fakeDialIn is conf's side of a dial-in call in tests: a conference ID
// joins through Join, no ID goes to a lobby room.
type fakeDialIn struct {
	f      *fakeConfs
	p      Participant    // nil in the lobby
	leg    conf.LegHandle // lobby calls: hung up after fakeLobbyTimeout, as conf's entry timeout does
	room   string
	digits chan rune
	ended  chan error
	once   sync.Once
}

func (f *fakeConfs) Admit(ctx context.Context, d conf.DialIn) (callleg.DialInCall, error) {
	fd := &fakeDialIn{f: f, digits: make(chan rune, 64), ended: make(chan error, 1)}
	if d.ConferenceID == "" {
		fd.room, fd.leg = "lobby/test", d.Leg
		return fd, nil
	}
	p, err := f.Join(ctx, conf.JoinRequest{ConferenceID: d.ConferenceID, DisplayName: d.DisplayName,
		Protocol: d.Protocol, Remote: d.Remote, Leg: d.Leg})
	if err != nil {
		return nil, err
	}
	fd.p, fd.room = p, d.ConferenceID
	return fd, nil
}

func (d *fakeDialIn) Room() string { return d.room }
func (d *fakeDialIn) ParticipantID() string {
	if d.p == nil {
		return ""
	}
	return d.p.ID()
}
func (d *fakeDialIn) Run(ctx context.Context) {
	var timeout <-chan time.Time
	if d.leg != nil {
		t := time.NewTimer(fakeLobbyTimeout)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-ctx.Done():
	case <-d.ended:
	case <-timeout:
		d.leg.Hangup(errFakeLobbyTimeout)
	}
}

// fakeLobbyTimeout stands for conf's ivr.entry_timeout in tests.
const fakeLobbyTimeout = 20 * time.Second

var errFakeLobbyTimeout = errors.New("fake lobby: nothing entered")

func (d *fakeDialIn) Digit(r rune) {
	select {
	case d.digits <- r:
	default:
	}
}
func (d *fakeDialIn) End(cause error) {
	d.once.Do(func() {
		close(d.ended)
		if d.p != nil {
			d.f.Leave(d.p, cause)
			return
		}
		select { // a lobby call ends: reported like a leave
		case d.f.leaves <- cause:
		default:
		}
	})
}

func (f *fakeConfs) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.joined)
}

// ---- fake media ----

type fakeLeg struct {
	port   int
	opts   bridge.LegOptions
	mu     sync.Mutex
	params []bridge.StreamParams
	done   chan struct{}
	once   sync.Once
	cause  error
}

func (l *fakeLeg) LocalPort() int { return l.port }

func (l *fakeLeg) Start(p bridge.StreamParams) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.params = append(l.params, p)
	return nil
}

func (l *fakeLeg) Update(p bridge.StreamParams) error { return l.Start(p) }

func (l *fakeLeg) Stats() bridge.LegStats { return bridge.LegStats{LocalPort: l.port} }

func (l *fakeLeg) Close(cause error) {
	l.once.Do(func() {
		l.mu.Lock()
		l.cause = cause
		l.mu.Unlock()
		close(l.done)
	})
}

func (l *fakeLeg) Done() <-chan struct{} { return l.done }

func (l *fakeLeg) Cause() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cause
}

func (l *fakeLeg) started() []bridge.StreamParams {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]bridge.StreamParams(nil), l.params...)
}

type fakeMedia struct {
	mu   sync.Mutex
	next int
	legs []*fakeLeg
}

func (m *fakeMedia) NewLeg(opts bridge.LegOptions) (MediaLeg, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.next += 2
	l := &fakeLeg{port: 40000 + m.next, opts: opts, done: make(chan struct{})}
	m.legs = append(m.legs, l)
	return l, nil
}

func (m *fakeMedia) all() []*fakeLeg {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*fakeLeg(nil), m.legs...)
}

// ---- real bridge ----

// freeRange finds an even port range of n ports that was free a moment ago.
func freeRange(t *testing.T, n int) (int, int) {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := c.LocalAddr().(*net.UDPAddr).Port
	c.Close()
	p &^= 1
	if p+n > 65535 {
		p -= n
	}
	return p, p + n - 1
}

func newBridge(t *testing.T) *bridge.Bridge {
	t.Helper()
	lo, hi := freeRange(t, 40)
	b, err := bridge.New(bridge.Config{BindAddr: netip.MustParseAddr("127.0.0.1"), PortMin: lo, PortMax: hi,
		MediaTimeout: time.Hour, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// ---- raw signalling peer ----

// rawPeer speaks H.225.0 call signalling by hand, to test the listener with
// exactly the messages a room system sends.
type rawPeer struct {
	t    testing.TB
	conn net.Conn
	r    *tpkt.Reader
	crv  uint16
	sent [][]byte
	got  [][]byte
}

func newRawPeer(t testing.TB, conn net.Conn) *rawPeer {
	return &rawPeer{t: t, conn: conn, r: tpkt.NewReader(conn), crv: 0x1234}
}

func (p *rawPeer) sendRaw(q931msg []byte) {
	p.t.Helper()
	b, err := tpkt.Append(nil, q931msg)
	if err != nil {
		p.t.Fatal(err)
	}
	p.sent = append(p.sent, b)
	if _, err := p.conn.Write(b); err != nil {
		p.t.Fatalf("peer write: %v", err)
	}
}

func (p *rawPeer) send(body h225.Body, uu []byte, ies ...q931.IE) {
	p.t.Helper()
	m, err := h225.Wrap(body, p.crv, false, uu, "", 0)
	if err != nil {
		p.t.Fatal(err)
	}
	for _, ie := range ies {
		m.Set(ie.ID, ie.Data)
	}
	raw, err := m.AppendBinary(nil)
	if err != nil {
		p.t.Fatal(err)
	}
	p.sendRaw(raw)
}

// recv returns the next message from the server, or ok false when the connection ended.
func (p *rawPeer) recv() (q *q931.Message, uu *h225.Message, ok bool) {
	p.t.Helper()
	b, err := p.r.Next()
	if err != nil {
		return nil, nil, false
	}
	b = append([]byte(nil), b...)
	framed, _ := tpkt.Append(nil, b)
	p.got = append(p.got, framed)
	q = &q931.Message{}
	if err := q.Unmarshal(b); err != nil {
		p.t.Fatalf("server sent undecodable Q.931: %v", err)
	}
	raw, err := q.UserUser()
	if err != nil {
		p.t.Fatalf("server sent %v without User-user: %v", q.Type, err)
	}
	uu, err = h225.Parse(raw)
	if err != nil {
		p.t.Fatalf("server sent undecodable UUIE in %v: %v", q.Type, err)
	}
	return q, uu, true
}

// peerCall is the UUIE content of a test caller.
func peerCall(tunnel bool) *h225.Call {
	return &h225.Call{Endpoint: h225.Endpoint{Role: h225.RoleTerminal, Vendor: h225.Vendor{T35Country: 181, ProductID: "test peer"}},
		CallID: h225.GUID{1, 2, 3}, ConferenceID: h225.GUID{4, 5, 6}, Tunnelling: tunnel}
}

// memListener is a listener nobody connects to, for calls inside synctest
// bubbles (a real socket would keep the bubble's clock from advancing).
type memListener struct {
	closed chan struct{}
	once   sync.Once
}

func (l *memListener) Accept() (net.Conn, error) {
	<-l.closed
	return nil, net.ErrClosed
}

func (l *memListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *memListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40999} }

// inMemory keeps the separate H.245 channel of s off the real network.
func inMemory(s *Server) *Server {
	s.env.listen = func(context.Context, string, string) (net.Listener, error) {
		return &memListener{closed: make(chan struct{})}, nil
	}
	s.env.dial = func(context.Context, string, string) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Err: net.ErrClosed}
	}
	return s
}
