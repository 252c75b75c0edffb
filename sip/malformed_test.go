package sip

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
)

// rawUDP is a socket that speaks raw bytes to the server.
type rawUDP struct {
	t    *testing.T
	conn *net.UDPConn
	to   *net.UDPAddr
}

func newRawUDP(t *testing.T, h *harness) *rawUDP {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawUDP{t: t, conn: conn, to: net.UDPAddrFromAddrPort(h.s.Addr())}
}

func (r *rawUDP) port() int { return r.conn.LocalAddr().(*net.UDPAddr).Port }

func (r *rawUDP) send(msg string) {
	r.t.Helper()
	if _, err := r.conn.WriteToUDP([]byte(msg), r.to); err != nil {
		r.t.Fatal(err)
	}
}

// read returns the next datagram.
func (r *rawUDP) read() string {
	r.t.Helper()
	r.conn.SetReadDeadline(time.Now().Add(waitFor))
	buf := make([]byte, 65536)
	n, _, err := r.conn.ReadFromUDP(buf)
	if err != nil {
		r.t.Fatalf("no answer: %v", err)
	}
	return string(buf[:n])
}

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

func TestMalformedUDP(t *testing.T) {
	h := newHarness(t, Config{})
	r := newRawUDP(t, h)
	via := fmt.Sprintf("SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-bad1;rport", r.port())

	// Unparsable CSeq: the stack cannot read it, we still answer 400.
	r.send(crlf("INVITE sip:1000@127.0.0.1 SIP/2.0\nVia: " + via + "\nFrom: <sip:a@127.0.0.1>;tag=x1\nTo: <sip:1000@127.0.0.1>\n" +
		"Call-ID: bad-cseq\nCSeq: many INVITE\nContent-Length: 0\n\n"))
	got := r.read()
	if !strings.HasPrefix(got, "SIP/2.0 400 Bad Request") || !strings.Contains(got, "Call-ID: bad-cseq") ||
		!strings.Contains(got, "branch=z9hG4bK-bad1") {
		t.Fatalf("answer to a bad CSeq:\n%s", got)
	}

	// Parsable but without Call-ID: 400 from the request checks.
	r.send(crlf("OPTIONS sip:127.0.0.1 SIP/2.0\nVia: " + strings.Replace(via, "bad1", "bad2", 1) +
		"\nFrom: <sip:a@127.0.0.1>;tag=x2\nTo: <sip:127.0.0.1>\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n"))
	if got := r.read(); !strings.HasPrefix(got, "SIP/2.0 400") || !strings.Contains(got, "Call-ID") {
		t.Fatalf("answer to a request without Call-ID:\n%s", got)
	}

	// Garbage without a Via is counted, not answered.
	r.send("\x00\x01hello there\r\n\r\n")
	// A response we cannot parse is never answered either.
	r.send("SIP/2.0 200\r\nbroken\r\n\r\n")
	for metricValue(t, h, "roomgate_sip_malformed_messages_total", "udp") < 3 {
		time.Sleep(time.Millisecond) // wait for the reader goroutine, not for a timer
	}

	// The server still takes calls.
	p := newPeer(t, h.s.Addr().String(), "udp")
	d, _, _ := answered(t, h, p)
	d.do(sipmsg.BYE, nil)
	h.left()
}

func TestMalformedTCP(t *testing.T) {
	h := newHarness(t, Config{})
	conn, err := net.Dial("tcp", h.s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(waitFor))
	rd := bufio.NewReader(conn)
	via := "SIP/2.0/TCP " + conn.LocalAddr().String() + ";branch=z9hG4bK-tcp"
	bad := crlf("OPTIONS sip:127.0.0.1 SIP/2.0\nVia: " + via + "1\nFrom: <sip:a@127.0.0.1>;tag=t1\nTo: <sip:127.0.0.1>\n" +
		"Call-ID: tcp-bad\nCSeq: x OPTIONS\nContent-Length: 0\n\n")
	good := crlf("OPTIONS sip:127.0.0.1 SIP/2.0\nVia: " + via + "2\nFrom: <sip:a@127.0.0.1>;tag=t2\nTo: <sip:127.0.0.1>\n" +
		"Call-ID: tcp-good\nCSeq: 2 OPTIONS\nMax-Forwards: 70\nContent-Length: 0\n\n")
	// Both in one write: the framing must split them.
	if _, err := conn.Write([]byte(bad + good)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SIP/2.0 400", "SIP/2.0 200"} {
		status, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("reading %s: %v", want, err)
		}
		if !strings.HasPrefix(status, want) {
			t.Fatalf("got %q, want %s", status, want)
		}
		// Skip the rest of the response (no body).
		for {
			l, err := rd.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if l == "\r\n" {
				break
			}
		}
	}
	if v := metricValue(t, h, "roomgate_sip_malformed_messages_total", "tcp"); v != 1 {
		t.Errorf("tcp malformed counter %v, want 1", v)
	}
}

func TestRecoverRequest(t *testing.T) {
	for _, tc := range []struct {
		name, msg string
		ok        bool
		method    string
	}{
		{"invite", "INVITE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5062;rport\r\nCSeq: x\r\n\r\n", true, "INVITE"},
		{"folded via", "BYE sip:x SIP/2.0\r\nv: SIP/2.0/UDP\r\n 10.0.0.1\r\n\r\n", true, "BYE"},
		{"ack", "ACK sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1\r\n\r\n", false, ""},
		{"response", "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1\r\n\r\n", false, ""},
		{"no via", "INVITE sip:x SIP/2.0\r\nFrom: a\r\n\r\n", false, ""},
		{"bad via", "INVITE sip:x SIP/2.0\r\nVia: HTTP/1.1 10.0.0.1\r\n\r\n", false, ""},
		{"bad method", "IN<VITE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1\r\n\r\n", false, ""},
		{"empty", "", false, ""},
	} {
		r, err := recoverRequest([]byte(tc.msg))
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok=%v", tc.name, err, tc.ok)
			continue
		}
		if tc.ok && r.Method != tc.method {
			t.Errorf("%s: method %q", tc.name, r.Method)
		}
	}
	r, _ := recoverRequest([]byte("INVITE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5062\r\n\r\n"))
	if ap, err := r.responseAddr("10.0.0.9:40000"); err != nil || ap.String() != "10.0.0.9:5062" {
		t.Errorf("no rport: %v %v, want 10.0.0.9:5062", ap, err)
	}
	r, _ = recoverRequest([]byte("INVITE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5062;rport\r\n\r\n"))
	if ap, err := r.responseAddr("10.0.0.9:40000"); err != nil || ap.String() != "10.0.0.9:40000" {
		t.Errorf("rport: %v %v, want 10.0.0.9:40000", ap, err)
	}
	r, _ = recoverRequest([]byte("INVITE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP host.example\r\n\r\n"))
	if ap, err := r.responseAddr("10.0.0.9:40000"); err != nil || ap.String() != "10.0.0.9:5060" {
		t.Errorf("default port: %v %v, want 10.0.0.9:5060", ap, err)
	}
}

// FuzzRecoverRequest checks that recovering headers from hostile bytes never
// panics and that any 400 we would send is itself a well-formed SIP message.
func FuzzRecoverRequest(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "sip", "*.txt"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("INVITE sip:1000@h SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4:5060;branch=z9hG4bK1;rport\r\nCSeq: x\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := recoverRequest(data)
		if err != nil {
			return
		}
		resp := r.badRequest("Bad Request - " + sanitizeReason(string(data)))
		msg, err := sipmsg.ParseMessage(resp)
		if err != nil {
			// Only the copied headers can be at fault; the framing must hold.
			if !strings.HasPrefix(string(resp), "SIP/2.0 400 ") || !strings.HasSuffix(string(resp), "\r\n\r\n") ||
				strings.Count(string(resp), "\r\n\r\n") != 1 {
				t.Fatalf("broken 400 framing:\n%q", resp)
			}
			return
		}
		if res, ok := msg.(*sipmsg.Response); !ok || res.StatusCode != 400 {
			t.Fatalf("400 parses as %v", msg)
		}
		_, _ = r.responseAddr("192.0.2.1:5060")
	})
}

// FuzzFraming feeds hostile streams through the TCP framing.
func FuzzFraming(f *testing.F) {
	f.Add([]byte("OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP a:1\r\nContent-Length: 0\r\n\r\n\r\n\r\n"))
	f.Add([]byte("INVITE sip:x SIP/2.0\r\nl: 3\r\n\r\nabcINVITE"))
	f.Add([]byte("INVITE sip:x SIP/2.0\r\nContent-Length: -1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = contentLength(data)
		c := &framedConn{s: &Server{parser: sipmsg.NewParser(), m: mustMetrics(t), log: discardLogger()}, in: append([]byte(nil), data...)}
		c.Conn = nopConn{}
		for i := 0; i < 64 && c.err == nil; i++ {
			msg, progress := c.frame()
			if !progress {
				break
			}
			if msg != nil && len(msg) == 0 {
				t.Fatal("empty frame")
			}
		}
	})
}

// Responses follow rport (RFC 3581): the answer goes to the packet's source
// port, not to the port the Via claims.
func TestRportAndPublicAddress(t *testing.T) {
	h := newHarness(t, Config{PublicAddress: "203.0.113.7"})
	r := newRawUDP(t, h)
	r.send(crlf("INVITE sip:1000@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-rport;rport\n" +
		"From: <sip:a@127.0.0.1>;tag=r1\nTo: <sip:1000@127.0.0.1>\nCall-ID: rport-test\nCSeq: 1 INVITE\n" +
		fmt.Sprintf("Contact: <sip:a@127.0.0.1:%d>\n", r.port()) + "Content-Type: application/sdp\n" +
		fmt.Sprintf("Content-Length: %d\n\n", len(offer(30000, ""))) + string(offer(30000, ""))))
	var ok string
	for {
		got := r.read()
		if strings.HasPrefix(got, "SIP/2.0 200") {
			ok = got
			break
		}
	}
	if !strings.Contains(ok, fmt.Sprintf("rport=%d", r.port())) || !strings.Contains(ok, "received=127.0.0.1") {
		t.Errorf("Via of the 200 lacks rport/received:\n%s", ok)
	}
	if !strings.Contains(ok, "@203.0.113.7:") || !strings.Contains(ok, "c=IN IP4 203.0.113.7") {
		t.Errorf("Contact and c= do not carry the public address:\n%s", ok)
	}
	msg, err := sipmsg.ParseMessage([]byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	res := msg.(*sipmsg.Response)
	ack := fmt.Sprintf("ACK sip:1000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-rport-ack;rport\r\n"+
		"From: <sip:a@127.0.0.1>;tag=r1\r\nTo: <sip:1000@127.0.0.1>;tag=%s\r\nCall-ID: rport-test\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
		r.port(), mustTag(res))
	r.send(ack)
	h.leg()
	h.waitConfirmed(&dialog{invite: mustRequest(t, "rport-test"), res: res})
	part := <-h.confs.joins
	part.req.Leg.Hangup(ErrShutdown)
	for {
		if got := r.read(); strings.HasPrefix(got, "BYE ") {
			break
		}
	}
	h.left()
}

func TestListenIPv6(t *testing.T) {
	ln, err := net.ListenPacket("udp", "[::1]:0")
	if err != nil {
		t.Fatalf("no IPv6 loopback: %v", err) // the test machines have ::1
	}
	ln.Close()
	h := newHarness(t, Config{Listen: "[::1]:0"})
	if !h.s.Addr().Addr().Is6() {
		t.Fatalf("bound %s", h.s.Addr())
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := &rawUDP{t: t, conn: conn, to: net.UDPAddrFromAddrPort(h.s.Addr())}
	r.send(crlf(fmt.Sprintf("OPTIONS sip:[::1] SIP/2.0\nVia: SIP/2.0/UDP [::1]:%d;branch=z9hG4bK-v6\n", r.port()) +
		"From: <sip:a@[::1]>;tag=v6\nTo: <sip:[::1]>\nCall-ID: v6-options\nCSeq: 1 OPTIONS\nMax-Forwards: 70\nContent-Length: 0\n\n"))
	if got := r.read(); !strings.HasPrefix(got, "SIP/2.0 200") {
		t.Errorf("OPTIONS over IPv6 answered:\n%s", got)
	}
}

// mustRequest makes a request with only a Call-ID, for dialog lookups.
func mustRequest(t *testing.T, callID string) *sipmsg.Request {
	t.Helper()
	req := sipmsg.NewRequest(sipmsg.INVITE, sipmsg.Uri{Host: "127.0.0.1"})
	id := sipmsg.CallIDHeader(callID)
	req.AppendHeader(&id)
	return req
}
