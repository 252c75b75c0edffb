package loadgen

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/emiago/sipgo/sip"
)

// peer is a hand-driven SIP endpoint on 127.0.0.1:0 for UA tests.
type peer struct {
	t    *testing.T
	conn *net.UDPConn
}

func newPeer(t *testing.T) *peer {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &peer{t: t, conn: c}
}

func (p *peer) addr() netip.AddrPort { return p.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// read returns the next SIP message and its sender.
func (p *peer) read() (sip.Message, netip.AddrPort) {
	p.t.Helper()
	buf := make([]byte, 65535)
	_ = p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, from, err := p.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		p.t.Fatalf("peer read: %v", err)
	}
	m, err := sip.ParseMessage(buf[:n])
	if err != nil {
		p.t.Fatalf("peer parse: %v\n%s", err, buf[:n])
	}
	return m, from
}

func (p *peer) send(b string, to netip.AddrPort) {
	if _, err := p.conn.WriteToUDPAddrPort([]byte(b), to); err != nil {
		p.t.Fatal(err)
	}
}

func (p *peer) reply(req *sip.Request, to netip.AddrPort, status int, body []byte) string {
	res := sip.NewResponseFromRequest(req, status, "X", body)
	if h := res.To(); h != nil && status > 100 {
		h.Params.Add("tag", "peer")
	}
	s := res.String()
	p.send(s, to)
	return s
}

func TestUADialogLifecycle(t *testing.T) {
	srv := newPeer(t)
	ua, err := NewUA(UAConfig{Local: netip.MustParseAddrPort("127.0.0.1:0"), Server: srv.addr(), T1: time.Minute}) // no retransmissions here
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()

	type result struct {
		d      *Dialog
		answer []byte
		err    error
	}
	done := make(chan result, 1)
	go func() {
		d, a, err := ua.Invite(context.Background(), "1000", []byte("v=0\r\n"))
		done <- result{d, a, err}
	}()
	m, from := srv.read()
	inv := m.(*sip.Request)
	if inv.Method != sip.INVITE || inv.Recipient.User != "1000" || string(inv.Body()) != "v=0\r\n" {
		t.Fatalf("INVITE: %v", inv)
	}
	srv.reply(inv, from, 100, nil)
	ok := srv.reply(inv, from, 200, []byte("answer"))
	r := <-done
	if r.err != nil || string(r.answer) != "answer" {
		t.Fatalf("Invite: %v %q", r.err, r.answer)
	}
	m, _ = srv.read()
	if ack := m.(*sip.Request); ack.Method != sip.ACK {
		t.Fatalf("want ACK, got %v", m)
	} else if to, _ := ack.To().Params.Get("tag"); to != "peer" {
		t.Errorf("ACK To tag %q", to)
	}
	// A retransmitted 200 is acknowledged again.
	srv.send(ok, from)
	if m, _ = srv.read(); m.(*sip.Request).Method != sip.ACK {
		t.Fatalf("want a second ACK, got %v", m)
	}

	// In-dialog OPTIONS from the server is answered 200.
	opt := strings.Replace(inv.String(), "INVITE sip:", "OPTIONS sip:", 1)
	opt = strings.Replace(opt, "CSeq: 1 INVITE", "CSeq: 7 OPTIONS", 1)
	srv.send(opt, ua.LocalAddr())
	if m, _ = srv.read(); m.(*sip.Response).StatusCode != 200 {
		t.Errorf("OPTIONS answered %v", m)
	}

	// The server hangs up: the dialog ends and our Bye is a no-op.
	bye := strings.Replace(inv.String(), "INVITE sip:", "BYE sip:", 1)
	bye = strings.Replace(bye, "CSeq: 1 INVITE", "CSeq: 8 BYE", 1)
	srv.send(bye, ua.LocalAddr())
	if m, _ = srv.read(); m.(*sip.Response).StatusCode != 200 {
		t.Errorf("BYE answered %v", m)
	}
	if ended, why := r.d.Ended(); !ended || why != "server sent BYE" {
		t.Errorf("Ended() = %v %q", ended, why)
	}
	if err := r.d.Bye(context.Background()); err != nil {
		t.Errorf("Bye after the server's BYE: %v", err)
	}
	// The dialog is gone: another BYE from the server gets 481.
	srv.send(bye, ua.LocalAddr())
	if m, _ = srv.read(); m.(*sip.Response).StatusCode != 481 {
		t.Errorf("BYE for a forgotten dialog answered %v", m)
	}
}

// memConn is one end of an in-memory datagram pipe. Blocking on it is
// durable inside a synctest bubble, so SIP timers run on the fake clock.
type memConn struct {
	addr   netip.AddrPort
	in     chan []byte
	peer   *memConn
	closed chan struct{}
	once   sync.Once
}

func memPipe(a, b netip.AddrPort) (*memConn, *memConn) {
	x := &memConn{addr: a, in: make(chan []byte, 64), closed: make(chan struct{})}
	y := &memConn{addr: b, in: make(chan []byte, 64), closed: make(chan struct{})}
	x.peer, y.peer = y, x
	return x, y
}

func (c *memConn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	select {
	case p := <-c.in:
		return copy(b, p), c.peer.addr, nil
	case <-c.closed:
		return 0, netip.AddrPort{}, net.ErrClosed
	}
}

func (c *memConn) WriteToUDPAddrPort(b []byte, _ netip.AddrPort) (int, error) {
	select {
	case c.peer.in <- append([]byte(nil), b...):
	default: // a full queue drops, like UDP
	}
	return len(b), nil
}

func (c *memConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

// readMem returns the next message the UA sent and when it arrived.
func readMem(t *testing.T, c *memConn) (sip.Message, time.Time) {
	t.Helper()
	b := make([]byte, 65535)
	n, _, err := c.ReadFromUDPAddrPort(b)
	if err != nil {
		t.Fatal(err)
	}
	m, err := sip.ParseMessage(b[:n])
	if err != nil {
		t.Fatalf("%v\n%s", err, b[:n])
	}
	return m, time.Now()
}

func TestUATimers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		uaAddr, srvAddr := netip.MustParseAddrPort("127.0.0.1:5062"), netip.MustParseAddrPort("127.0.0.1:5060")
		uaEnd, srv := memPipe(uaAddr, srvAddr)
		defer srv.Close()
		const t1 = 500 * time.Millisecond
		ua := newUA(uaEnd, uaAddr, UAConfig{Server: srvAddr, T1: t1})
		defer ua.Close()

		// Timer A doubles from T1 until a provisional response; timer B
		// gives up at 64·T1.
		start := time.Now()
		errc := make(chan error, 1)
		go func() {
			_, _, err := ua.Invite(context.Background(), "1000", nil)
			errc <- err
		}()
		var sent []time.Duration
		for range 7 { // 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s
			_, at := readMem(t, srv)
			sent = append(sent, at.Sub(start))
		}
		want := []time.Duration{0, t1, 3 * t1, 7 * t1, 15 * t1, 31 * t1, 63 * t1}
		if !slices.Equal(sent, want) {
			t.Errorf("INVITE sent at %v, want %v", sent, want)
		}
		if err := <-errc; !errors.Is(err, ErrTimeout) || time.Since(start) != 64*t1 {
			t.Errorf("after %v: %v, want a timeout at 64·T1", time.Since(start), err)
		}

		// A 100 Trying stops retransmission; the 200 that follows is ACKed.
		go func() {
			d, _, err := ua.Invite(context.Background(), "1000", nil)
			if err == nil {
				// Timer E: BYE at 0, T1, 3·T1 ... capped at T2 = 4 s.
				err = d.Bye(context.Background())
			}
			errc <- err
		}()
		m, _ := readMem(t, srv)
		inv := m.(*sip.Request)
		trying := sip.NewResponseFromRequest(inv, 100, "Trying", nil)
		srv.WriteToUDPAddrPort([]byte(trying.String()), uaAddr)
		time.Sleep(10 * t1) // no retransmission may arrive meanwhile
		if len(srv.in) != 0 {
			t.Errorf("INVITE retransmitted after 100 Trying")
		}
		ok := sip.NewResponseFromRequest(inv, 200, "OK", []byte("v=0\r\n"))
		ok.To().Params.Add("tag", "srv")
		srv.WriteToUDPAddrPort([]byte(ok.String()), uaAddr)
		if m, _ := readMem(t, srv); !m.(*sip.Request).IsAck() {
			t.Fatalf("want ACK, got %v", m)
		}
		byeStart := time.Now()
		var byes []time.Duration
		for range 6 {
			m, at := readMem(t, srv)
			if m.(*sip.Request).Method != sip.BYE {
				t.Fatalf("want BYE, got %v", m)
			}
			byes = append(byes, at.Sub(byeStart))
		}
		wantBye := []time.Duration{0, t1, 3 * t1, 7 * t1, 15 * t1, 23 * t1} // 4 s cap from the fourth interval
		if !slices.Equal(byes, wantBye) {
			t.Errorf("BYE sent at %v, want %v", byes, wantBye)
		}
		if err := <-errc; !errors.Is(err, ErrTimeout) {
			t.Errorf("unanswered BYE: %v", err)
		}

		// Cancelling the context stops a call attempt at once.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, _, err := ua.Invite(ctx, "3", nil); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled INVITE: %v", err)
		}
		for len(srv.in) > 0 {
			<-srv.in
		}
	})
}

func FuzzUAIncoming(f *testing.F) {
	f.Add([]byte("BYE sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: abc\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"))
	f.Add([]byte("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: abc\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"))
	f.Add([]byte("INVITE sip:x SIP/2.0\r\n\r\n"))
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		f.Fatal(err)
	}
	defer sink.Close()
	ua, err := NewUA(UAConfig{Local: netip.MustParseAddrPort("127.0.0.1:0"), Server: sink.LocalAddr().(*net.UDPAddr).AddrPort()})
	if err != nil {
		f.Fatal(err)
	}
	defer ua.Close()
	// A known dialog and transaction so in-dialog paths are reachable.
	d := &Dialog{ua: ua, callID: "abc", branch: "z9hG4bKx", localSDP: []byte("v=0\r\n")}
	ua.dialogs["abc"] = d
	ua.txs["z9hG4bKx"] = &clientTx{resp: make(chan *sip.Response, 1)}
	from := sink.LocalAddr().(*net.UDPAddr).AddrPort()
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := sip.ParseMessage(b)
		if err != nil {
			return
		}
		switch m := m.(type) {
		case *sip.Response:
			ua.onResponse(m)
		case *sip.Request:
			ua.onRequest(m, from)
		}
	})
}
