package bridge

import (
	"errors"
	"net"
	"net/netip"
	"testing"
)

func TestPortsAllocateEvenPairsAndRelease(t *testing.T) {
	lo := freeRange(t, 4)
	a, err := newPortAllocator(netip.MustParseAddr("127.0.0.1"), lo+1, lo+8) // pairs at lo+2, lo+4, lo+6
	if err != nil {
		t.Fatal(err)
	}
	var got []portPair
	for range 3 {
		p, err := a.allocate()
		if err != nil {
			t.Fatalf("allocate: %v", err)
		}
		if p.port%2 != 0 || p.port < lo+2 || p.port > lo+6 {
			t.Errorf("port %d outside the even ports of the range", p.port)
		}
		if lp := p.rtcp.LocalAddr().(*net.UDPAddr).Port; lp != p.port+1 {
			t.Errorf("RTCP on %d, want %d", lp, p.port+1)
		}
		got = append(got, p)
	}
	if _, err := a.allocate(); !errors.Is(err, ErrNoPorts) {
		t.Fatalf("exhausted range: %v, want ErrNoPorts", err)
	}
	got[1].close()
	a.release(got[1].port)
	p, err := a.allocate()
	if err != nil || p.port != got[1].port {
		t.Fatalf("after release got %d (%v), want %d", p.port, err, got[1].port)
	}
	p.close()
	got[0].close()
	got[2].close()
}

func TestPortsSkipBusy(t *testing.T) {
	lo := freeRange(t, 2)
	// Someone else holds the first pair's RTCP port.
	busy, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(lo+1))))
	if err != nil {
		t.Skipf("port %d unavailable for the test: %v", lo+1, err)
	}
	defer busy.Close()
	a, err := newPortAllocator(netip.MustParseAddr("127.0.0.1"), lo, lo+3)
	if err != nil {
		t.Fatal(err)
	}
	p, err := a.allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	if p.port != lo+2 {
		t.Fatalf("got %d, want the free pair %d", p.port, lo+2)
	}
}

func TestPortsBadRange(t *testing.T) {
	for _, r := range [][2]int{{0, 10}, {100, 50}, {5001, 5002}, {60000, 70000}} {
		if _, err := newPortAllocator(netip.MustParseAddr("127.0.0.1"), r[0], r[1]); !errors.Is(err, ErrBadConfig) {
			t.Errorf("range %v: %v, want ErrBadConfig", r, err)
		}
	}
	if _, err := newPortAllocator(netip.Addr{}, 10000, 10010); !errors.Is(err, ErrBadConfig) {
		t.Errorf("no address: %v", err)
	}
}

func TestBridgeNoPortsAndReleaseOnClose(t *testing.T) {
	lo := freeRange(t, 2)
	b, _ := newTestBridge(t, Config{PortMin: lo, PortMax: lo + 3}) // two pairs
	l1, err := b.NewLeg(LegOptions{ID: "1", Room: "r"})
	if err != nil {
		t.Fatal(err)
	}
	l2, err := b.NewLeg(LegOptions{ID: "2", Room: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.NewLeg(LegOptions{ID: "3", Room: "r"}); !errors.Is(err, ErrNoPorts) {
		t.Fatalf("third leg: %v, want ErrNoPorts", err)
	}
	l1.Close(nil)
	l3, err := b.NewLeg(LegOptions{ID: "3", Room: "r"})
	if err != nil {
		t.Fatalf("after a close: %v", err)
	}
	if l3.LocalPort() != l1.LocalPort() {
		t.Errorf("reused port %d, want %d", l3.LocalPort(), l1.LocalPort())
	}
	l2.Close(nil)
	l3.Close(nil)
	if n := b.ports.inUse(); n != 0 {
		t.Fatalf("%d pairs still in use", n)
	}
}

func TestBridgeDualStackBind(t *testing.T) {
	lo, hi := testPortRange(t, 20)
	clk := newFakeClock()
	b, err := newBridge(Config{BindAddr: netip.IPv6Unspecified(), PortMin: lo, PortMax: hi}, clk, testMedia{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	l, err := b.NewLeg(LegOptions{ID: "v6", Room: "v6"})
	if err != nil {
		t.Skipf("no IPv6 here: %v", err)
	}
	p := newPeer(t) // an IPv4 peer
	p.to = netipLocal(l.LocalPort())
	if err := l.Start(StreamParams{Codec: mustLookup(t, "PCMU"), EventPayloadType: -1}); err != nil {
		t.Fatal(err)
	}
	p.sendRTP(0, make([]byte, 160), 160)
	waitFor(t, "the IPv4 packet on the dual-stack socket", func() bool { return l.Stats().Remote == p.addr })
	clk.Advance(tickPeriod)
	roomOf(t, l).tick(clk.Now())
	if pkt, _ := p.recvRTP(); pkt.SSRC != l.ssrc {
		t.Fatalf("reply from SSRC %x", pkt.SSRC)
	}
}
