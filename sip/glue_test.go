package sip

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"

	"github.com/roomgate/roomgate/bridge"
)

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

// A call through the real bridge: the SDP answer names a bridge port, the
// leg counts the caller's RTP, and BYE releases it.
func TestCallThroughRealBridge(t *testing.T) {
	lo, hi := freeRange(t, 40)
	b, err := bridge.New(bridge.Config{BindAddr: netip.MustParseAddr("127.0.0.1"), PortMin: lo, PortMax: hi,
		MediaTimeout: time.Hour, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	confs := newFakeConfs()
	s, err := NewServer(Config{Listen: "127.0.0.1:0", Codecs: []string{"PCMU"}}, BridgeMedia(b), confs, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	phone, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer phone.Close()
	p := newPeer(t, s.Addr().String(), "udp")
	d := p.call(p.newInvite("1000", offer(phone.LocalAddr().(*net.UDPAddr).Port, "")))
	if d.res.StatusCode != 200 {
		t.Fatalf("answered %d %s", d.res.StatusCode, d.res.Reason)
	}
	d.ack(nil)
	st, err := ParseAnswer(d.res.Body(), mustPrefs(t, "PCMU"))
	if err != nil {
		t.Fatal(err)
	}
	if port := int(st.Remote.Port()); port < lo || port > hi {
		t.Fatalf("answer names port %d outside the bridge range %d-%d", port, lo, hi)
	}
	part := <-confs.joins

	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SSRC: 0x1234}, Payload: make([]byte, 160)}
	for i := range pkt.Payload {
		pkt.Payload[i] = 0xff // µ-law silence
	}
	to := net.UDPAddrFromAddrPort(st.Remote)
	for i := 0; ; i++ {
		pkt.SequenceNumber, pkt.Timestamp = uint16(i), uint32(i*160)
		raw, err := pkt.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := phone.WriteToUDP(raw, to); err != nil {
			t.Fatal(err)
		}
		stats := part.req.Leg.Stats()
		if stats.PacketsIn > 0 {
			if stats.Codec != "PCMU" || stats.LocalPort != int(st.Remote.Port()) {
				t.Errorf("leg stats %+v", stats)
			}
			break
		}
		if i > 5000 {
			t.Fatal("the bridge leg never counted the caller's RTP")
		}
		time.Sleep(time.Millisecond) // pacing the sender, not a timer under test
	}
	if res := d.do(sipmsg.BYE, nil); res.StatusCode != 200 {
		t.Fatalf("BYE answered %d", res.StatusCode)
	}
	<-confs.leaves
}
