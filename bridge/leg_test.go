package bridge

import (
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/roomgate/roomgate/bridge/codec"
)

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func TestLegDropsHostilePacketsWithoutDisturbingOthers(t *testing.T) {
	b, clk := newTestBridge(t, Config{})
	pcmu := mustLookup(t, "PCMU")
	a := newTonePeer(t, b, "3000", "a", pcmu, 0, 440)
	c := newTonePeer(t, b, "3000", "c", pcmu, 0, 1100)
	peers := []*tonePeer{a, c}
	runRoom(t, clk, peers, 5) // a is latched now

	evil := newPeer(t)
	evil.to = a.to
	evil.ssrc = a.ssrc // same SSRC, other address: spoofed
	evil.sendRTP(0, make([]byte, 160), 160)
	a.sendRTP(55, make([]byte, 160), 160) // unknown payload type
	for _, bad := range [][]byte{
		{0x80, 0x00, 0x01},                                        // truncated header
		{0x40, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1},                   // RTP version 1
		{0x90, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xbe, 0xde, 0, 9}, // extension longer than the packet
		{0xa0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 2, 50},         // padding longer than the payload
		make([]byte, 1600),                                        // oversized
	} {
		if _, err := a.conn.WriteToUDPAddrPort(bad, a.to); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "drops to be counted", func() bool {
		s := a.leg.Stats()
		return s.DroppedWrongSource == 1 && s.DroppedUnknownPT == 1 && s.DroppedMalformed == 5
	})
	// The sequence numbers consumed by the bad packets leave a gap; the
	// room goes on and c still hears a.
	c.heard = nil
	a.heard = nil
	runRoom(t, clk, peers, 30)
	checkHearsOthers(t, peers)
	if v := counterValue(t, b.metrics.dropWrongSource); v != 1 {
		t.Errorf("wrong-source metric %v", v)
	}
	if v := counterValue(t, b.metrics.dropMalformed) + counterValue(t, b.metrics.dropOversized); v != 5 {
		t.Errorf("malformed+oversized metrics %v", v)
	}
}

func TestLegDTMF(t *testing.T) {
	b, _ := newTestBridge(t, Config{})
	var mu sync.Mutex
	var digits []rune
	got := make(chan struct{}, 10)
	l, err := b.NewLeg(LegOptions{ID: "d", Room: "dtmf", OnEvent: func(ev Event) {
		if ev.Kind != EventDTMF {
			return
		}
		mu.Lock()
		digits = append(digits, ev.Digit)
		mu.Unlock()
		got <- struct{}{}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(nil)
	p := newPeer(t)
	p.to = netipLocal(l.LocalPort())
	if err := l.Start(StreamParams{Codec: mustLookup(t, "PCMU"), PayloadType: 0, EventPayloadType: 101, Remote: p.addr}); err != nil {
		t.Fatal(err)
	}
	press := func(ev byte) {
		ts := p.ts
		for i, end := range []bool{false, false, false, true, true, true} {
			var e byte
			if end {
				e = 0x80
			}
			pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 101, SequenceNumber: p.seq, Timestamp: ts, SSRC: p.ssrc, Marker: i == 0},
				Payload: []byte{ev, e | 10, 0, byte(160 * (i + 1))}}
			raw, _ := pkt.Marshal()
			p.seq++
			if _, err := p.conn.WriteToUDPAddrPort(raw, p.to); err != nil {
				t.Fatal(err)
			}
		}
		p.ts += 2000
	}
	press(5)
	press(11)
	press(5)
	for range 3 {
		select {
		case <-got:
		case <-time.After(2 * time.Second):
			t.Fatal("digit not delivered")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if string(digits) != "5#5" {
		t.Fatalf("digits %q, want 5#5", string(digits))
	}
}

// tickVia wakes the room's running mixer through its fake timer.
func tickVia(t *testing.T, clk *fakeClock) {
	t.Helper()
	waitFor(t, "the mixer's timer", func() bool { return clk.lastTimer() != nil })
	select {
	case clk.lastTimer().c <- clk.Now():
	case <-time.After(2 * time.Second):
		t.Fatal("mixer not ticking")
	}
}

func TestLegMediaTimeout(t *testing.T) {
	b, clk := newTestBridge(t, Config{MediaTimeout: time.Second})
	pcmu := mustLookup(t, "PCMU")
	events := make(chan string, 10)
	mk := func(id string, dir Direction) *Leg {
		l, err := b.NewLeg(LegOptions{ID: id, Room: "t", OnEvent: func(ev Event) {
			if ev.Kind == EventMediaTimeout {
				events <- id
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Start(StreamParams{Codec: pcmu, EventPayloadType: -1, Remote: netipLocal(9), Direction: dir}); err != nil {
			t.Fatal(err)
		}
		return l
	}
	silent := mk("silent", SendRecv)
	held := mk("held", RecvOnly)
	updated := mk("updated", SendRecv)

	// The mixer's clock starts when its goroutine does.
	waitFor(t, "the mixer's timer", func() bool { return clk.lastTimer() != nil })
	clk.Advance(900 * time.Millisecond)
	tickVia(t, clk)
	if err := updated.Update(StreamParams{Codec: pcmu, EventPayloadType: -1, Remote: netipLocal(9), Direction: SendRecv}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(100 * time.Millisecond)
	tickVia(t, clk)
	select {
	case id := <-events:
		if id != "silent" {
			t.Fatalf("timeout on %s first", id)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no media timeout")
	}
	<-silent.Done()
	if !errors.Is(silent.Cause(), ErrMediaTimeout) {
		t.Fatalf("cause %v", silent.Cause())
	}
	clk.Advance(900 * time.Millisecond)
	tickVia(t, clk)
	tickVia(t, clk) // the second send returns once the first tick is done
	select {
	case id := <-events:
		if id != "updated" {
			t.Fatalf("timeout on %s, want updated", id)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no media timeout after the update's restart")
	}
	select {
	case <-held.Done():
		t.Fatal("held leg timed out")
	default:
	}
	held.Close(nil)
	updated.Close(nil)
}

func TestLegLifecycleErrors(t *testing.T) {
	b, _ := newTestBridge(t, Config{})
	pcmu := mustLookup(t, "PCMU")
	l, err := b.NewLeg(LegOptions{ID: "x", Room: "life"})
	if err != nil {
		t.Fatal(err)
	}
	ok := StreamParams{Codec: pcmu, EventPayloadType: 101, Remote: netipLocal(9)}
	if err := l.Update(ok); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("update before start: %v", err)
	}
	if err := l.Start(StreamParams{Codec: codec.Info{Name: "nope"}, EventPayloadType: -1}); !errors.Is(err, ErrBadParams) {
		t.Fatalf("unknown codec: %v", err)
	}
	if err := l.Start(StreamParams{Codec: pcmu, PayloadType: 0, EventPayloadType: 0}); !errors.Is(err, ErrBadParams) {
		t.Fatalf("event PT = audio PT: %v", err)
	}
	if err := l.Start(ok); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(ok); !errors.Is(err, ErrAlreadyStarted) {
		t.Fatalf("second start: %v", err)
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { l.Close(errTest) })
	}
	wg.Wait()
	<-l.Done()
	if !errors.Is(l.Cause(), errTest) {
		t.Fatalf("cause %v", l.Cause())
	}
	if err := l.Update(ok); !errors.Is(err, ErrClosed) {
		t.Fatalf("update after close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.NewLeg(LegOptions{ID: "y", Room: "life"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("new leg after bridge close: %v", err)
	}
}

func TestLegHoldResumeAndCodecChange(t *testing.T) {
	b, clk := newTestBridge(t, Config{})
	pcmu := mustLookup(t, "PCMU")
	a := newTonePeer(t, b, "4000", "a", pcmu, 0, 440)
	c := newTonePeer(t, b, "4000", "c", pcmu, 0, 1100)
	peers := []*tonePeer{a, c}
	runRoom(t, clk, peers, 10)
	r := roomOf(t, a.leg)
	lastSeq, lastTS := a.lastSeq, a.lastTS

	// Hold: a is neither sent to nor mixed.
	if err := a.leg.Update(StreamParams{Codec: pcmu, EventPayloadType: -1, Remote: a.addr, Direction: Inactive}); err != nil {
		t.Fatal(err)
	}
	out := a.leg.Stats().PacketsOut
	c.heard = nil
	for range 10 {
		clk.Advance(tickPeriod)
		a.sendFrame()
		c.sendFrame()
		r.tick(clk.Now())
		c.receiveFrame()
	}
	if got := a.leg.Stats().PacketsOut; got != out {
		t.Fatalf("held leg was sent %d packets", got-out)
	}
	if p := goertzel(c.heard, 8000, 440); p > 1e3 {
		t.Fatalf("held leg's tone is in the mix (power %.3g)", p)
	}

	// Resume with a new codec: PCMA.
	pcma := mustLookup(t, "PCMA")
	a.info, a.pt = pcma, 8
	a.enc, _ = codec.NewEncoder(pcma)
	a.dec, _ = codec.NewDecoder(pcma)
	if err := a.leg.Update(StreamParams{Codec: pcma, PayloadType: 8, EventPayloadType: -1, Remote: a.addr, Direction: SendRecv}); err != nil {
		t.Fatal(err)
	}
	a.heard, c.heard = nil, nil
	a.ssrc++ // the phone restarts its stream too
	runRoom(t, clk, peers, 30)
	checkHearsOthers(t, peers)
	if a.firstSeq != lastSeq+1 {
		t.Errorf("sequence after hold/codec change %d, want %d", a.firstSeq, lastSeq+1)
	}
	if d := a.firstTS - lastTS; d != 11*160 {
		t.Errorf("timestamp advanced %d over the hold, want %d", d, 11*160)
	}
	if !a.firstMarker {
		t.Error("no marker bit on the first packet after the hold")
	}
	if s := a.leg.Stats(); s.Codec != "PCMA" {
		t.Errorf("codec %s", s.Codec)
	}
}

func TestLegSymmetricRTP(t *testing.T) {
	b, clk := newTestBridge(t, Config{})
	pcmu := mustLookup(t, "PCMU")
	a := newTonePeer(t, b, "5000", "a", pcmu, 0, 440)
	// The signalled address is wrong (a NAT's private address).
	if err := a.leg.Update(StreamParams{Codec: pcmu, EventPayloadType: -1, Remote: netipLocal(9), Direction: SendRecv}); err != nil {
		t.Fatal(err)
	}
	c := newTonePeer(t, b, "5000", "c", pcmu, 0, 1100)
	runRoom(t, clk, []*tonePeer{a, c}, 3) // a receives: the leg latched to it
	if s := a.leg.Stats(); s.Remote != a.addr {
		t.Fatalf("remote %s, want latched %s", s.Remote, a.addr)
	}
	// The phone moves to another socket with a new SSRC: re-latch.
	moved := newPeer(t)
	moved.to, moved.ssrc, moved.seq, moved.ts = a.to, a.ssrc+1, 1, 1
	moved.sendRTP(0, make([]byte, 160), 160)
	waitFor(t, "re-latch", func() bool { return a.leg.Stats().Remote == moved.addr })
}

func TestLegRTCP(t *testing.T) {
	b, clk := newTestBridge(t, Config{})
	pcmu := mustLookup(t, "PCMU")
	a := newTonePeer(t, b, "6000", "a", pcmu, 0, 440)
	c := newTonePeer(t, b, "6000", "c", pcmu, 0, 1100)
	rtcpPeer := newPeer(t)
	if err := a.leg.Update(StreamParams{Codec: pcmu, EventPayloadType: -1, Remote: a.addr, RemoteRTCP: rtcpPeer.addr, Direction: SendRecv}); err != nil {
		t.Fatal(err)
	}
	runRoom(t, clk, []*tonePeer{a, c}, 5)
	clk.Advance(8 * time.Second)
	runRoom(t, clk, []*tonePeer{a, c}, 1)
	_ = rtcpPeer.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 1500)
	n, _, err := rtcpPeer.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("no RTCP report: %v", err)
	}
	pkts, err := rtcp.Unmarshal(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	sr, ok := pkts[0].(*rtcp.SenderReport)
	if !ok || len(pkts) < 2 {
		t.Fatalf("report %v", pkts)
	}
	if sr.SSRC != a.leg.ssrc || sr.PacketCount == 0 || len(sr.Reports) != 1 || sr.Reports[0].SSRC != a.ssrc {
		t.Fatalf("sender report %+v", sr)
	}
	if sd, ok := pkts[1].(*rtcp.SourceDescription); !ok || sd.Chunks[0].Items[0].Type != rtcp.SDESCNAME {
		t.Fatalf("second packet %v", pkts[1])
	}
	// The peer reports on our stream from its RTCP socket.
	rr := &rtcp.ReceiverReport{SSRC: a.ssrc, Reports: []rtcp.ReceptionReport{{SSRC: a.leg.ssrc, TotalLost: 7, Jitter: 80}}}
	raw, _ := rtcp.Marshal([]rtcp.Packet{rr, &rtcp.Goodbye{Sources: []uint32{a.ssrc}}})
	if _, err := rtcpPeer.conn.WriteToUDPAddrPort(raw, netipLocal(a.leg.LocalPort()+1)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the receiver report", func() bool {
		s := a.leg.Stats()
		return s.RemoteLost == 7 && s.RemoteJitterMs == 10
	})
	// Garbage is counted, not fatal.
	before := counterValue(t, b.metrics.rtcpErrors)
	_, _ = rtcpPeer.conn.WriteToUDPAddrPort([]byte{0x81, 201, 0, 9}, netipLocal(a.leg.LocalPort()+1))
	waitFor(t, "the RTCP error count", func() bool { return counterValue(t, b.metrics.rtcpErrors) > before })
}

func TestBridgeRealClock(t *testing.T) {
	lo, hi := testPortRange(t, 100)
	b, err := New(Config{BindAddr: netip.MustParseAddr("127.0.0.1"), PortMin: lo, PortMax: hi, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	l, err := b.NewLeg(LegOptions{ID: "rt", Room: "real"})
	if err != nil {
		t.Fatal(err)
	}
	p := newPeer(t)
	if err := l.Start(StreamParams{Codec: mustLookup(t, "PCMU"), EventPayloadType: -1, Remote: p.addr}); err != nil {
		t.Fatal(err)
	}
	// The mixer's own clock sends the (silent) mix without any input.
	for range 3 {
		pkt, from := p.recvRTP()
		if pkt.SSRC != l.ssrc || from.Port() != uint16(l.LocalPort()) {
			t.Fatalf("packet %v from %s", pkt.Header, from)
		}
	}
	if _, _, ticks, _ := b.TickStats(); ticks < 2 { // the third tick may still be recording
		t.Fatalf("%d ticks recorded", ticks)
	}
}

func TestLegTrace(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: LevelTrace}))
	b, _ := newTestBridge(t, Config{})
	l, err := b.NewLeg(LegOptions{ID: "tr", Room: "tr", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	p := newPeer(t)
	p.to = netipLocal(l.LocalPort())
	if err := l.Start(StreamParams{Codec: mustLookup(t, "PCMU"), EventPayloadType: -1, Remote: p.addr}); err != nil {
		t.Fatal(err)
	}
	p.sendRTP(0, make([]byte, 160), 160) // not traced
	waitFor(t, "packet", func() bool { return l.Stats().PacketsIn == 1 })
	l.SetTrace(true)
	p.sendRTP(0, make([]byte, 160), 160)
	p.sendRTP(77, make([]byte, 160), 160)
	waitFor(t, "traces", func() bool {
		s := buf.String()
		return strings.Count(s, "RTP in") == 1 && strings.Contains(s, "reason=unknown_pt")
	})
	l.Close(nil)
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
