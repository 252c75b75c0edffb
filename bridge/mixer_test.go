package bridge

import (
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
)

// l16Peer is a peer on the lossless test codec sending a constant level.
type l16Peer struct {
	*peer
	leg   *Leg
	level int16
}

func newL16Peer(t *testing.T, b *Bridge, room, id string, level int16, onEvent func(Event)) *l16Peer {
	t.Helper()
	l, err := b.NewLeg(LegOptions{ID: id, Room: room, OnEvent: onEvent})
	if err != nil {
		t.Fatal(err)
	}
	p := &l16Peer{peer: newPeer(t), leg: l, level: level}
	p.to = netipLocal(l.LocalPort())
	if err := l.Start(StreamParams{Codec: l16Info(8000), PayloadType: 96, EventPayloadType: -1, Remote: p.addr}); err != nil {
		t.Fatal(err)
	}
	return p
}

// send sends 20 ms of a square wave of the peer's level, so that its energy
// is level².
func (p *l16Peer) send() {
	pay := make([]byte, 320)
	for i := range 160 {
		v := p.level
		if i%2 == 1 {
			v = -v
		}
		binary.BigEndian.PutUint16(pay[2*i:], uint16(v))
	}
	p.sendRTP(96, pay, 160)
}

// recvFirst returns the first sample of the next packet.
func (p *l16Peer) recvFirst() int16 {
	pkt, _ := p.recvRTP()
	return int16(binary.BigEndian.Uint16(pkt.Payload))
}

func TestMixMinusExactAndTalkerEvents(t *testing.T) {
	b, clk := newTestBridge(t, Config{MaxTalkers: 2})
	var mu sync.Mutex
	talk := map[string][]bool{}
	ev := func(id string) func(Event) {
		return func(e Event) {
			if e.Kind == EventTalking {
				mu.Lock()
				talk[id] = append(talk[id], e.Talking)
				mu.Unlock()
			}
		}
	}
	a := newL16Peer(t, b, "x", "a", 1000, ev("a"))
	c := newL16Peer(t, b, "x", "c", 3000, ev("c"))
	d := newL16Peer(t, b, "x", "d", 2000, ev("d"))
	q := newL16Peer(t, b, "x", "q", 0, ev("q")) // a silent listener
	peers := []*l16Peer{a, c, d, q}
	r := roomOf(t, a.leg)
	heard := map[string]int16{}
	for range 10 {
		clk.Advance(tickPeriod)
		for _, p := range peers {
			want := p.leg.Stats().PacketsIn + 1
			p.send()
			waitFor(t, fmt.Sprint(p.leg.id, " packet"), func() bool { return p.leg.Stats().PacketsIn >= want })
		}
		r.tick(clk.Now())
		for _, p := range peers {
			heard[p.leg.id] = p.recvFirst()
		}
	}
	// Two seats: c (3000) and d (2000) talk; a is left out of the mix.
	want := map[string]int16{"a": 5000, "c": 2000, "d": 3000, "q": 5000}
	for id, w := range want {
		if heard[id] != w {
			t.Errorf("%s hears %d, want %d", id, heard[id], w)
		}
	}
	// a and q are not talkers: they share one encode of the full mix.
	if a.leg.mx.next == nil || &a.leg.mx.next[0] != &q.leg.mx.next[0] {
		t.Error("non-talkers with the same codec do not share one encode")
	}
	got := func() string {
		mu.Lock()
		defer mu.Unlock()
		return fmt.Sprint(talk["a"], talk["c"], talk["d"], talk["q"])
	}
	waitFor(t, "talking events", func() bool { return got() == "[] [true] [true] []" })
}

func TestLargeRoomParallelSend(t *testing.T) {
	lo, hi := testPortRange(t, 2*(parallelSendMin+20)+400)
	b, clk := newTestBridge(t, Config{PortMin: lo, PortMax: hi})
	if b.sendWorkers == 0 {
		b.sendWorkers = 1 // exercise the workers even on one CPU
	}
	sink := newPeer(t)
	var legs []*Leg
	for i := range parallelSendMin + 20 {
		l, err := b.NewLeg(LegOptions{ID: fmt.Sprint(i), Room: "big"})
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Start(StreamParams{Codec: mustLookup(t, "PCMU"), EventPayloadType: -1, Remote: sink.addr}); err != nil {
			t.Fatal(err)
		}
		legs = append(legs, l)
	}
	r := roomOf(t, legs[0])
	for range 5 {
		clk.Advance(tickPeriod)
		r.tick(clk.Now())
	}
	for _, l := range legs {
		if got := l.Stats().PacketsOut; got != 5 {
			t.Fatalf("leg %s sent %d packets, want 5", l.id, got)
		}
	}
}

func TestLegSetRoom(t *testing.T) {
	b, clk := newTestBridge(t, Config{})
	a := newL16Peer(t, b, "lobby", "a", 1000, nil)
	c := newL16Peer(t, b, "lobby", "c", 3000, nil)
	q := newL16Peer(t, b, "conf", "q", 2000, nil)
	step := func(peers ...*l16Peer) map[string]int16 {
		clk.Advance(tickPeriod)
		for _, p := range peers {
			want := p.leg.Stats().PacketsIn + 1
			p.send()
			waitFor(t, fmt.Sprint(p.leg.id, " packet"), func() bool { return p.leg.Stats().PacketsIn >= want })
		}
		b.mu.Lock()
		rooms := make([]*room, 0, len(b.rooms))
		for _, r := range b.rooms {
			rooms = append(rooms, r)
		}
		b.mu.Unlock()
		for _, r := range rooms {
			r.tick(clk.Now())
		}
		heard := map[string]int16{}
		for _, p := range peers {
			heard[p.leg.id] = p.recvFirst()
		}
		return heard
	}
	all := []*l16Peer{a, c, q}
	var heard map[string]int16
	for range 5 {
		heard = step(all...)
	}
	if heard["a"] != 3000 || heard["c"] != 1000 || heard["q"] != 0 {
		t.Fatalf("before the move: %v", heard)
	}
	if err := c.leg.SetRoom("conf"); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		heard = step(all...)
	}
	if heard["a"] != 0 || heard["c"] != 2000 || heard["q"] != 3000 {
		t.Fatalf("after the move: %v", heard)
	}
	// The last leg leaving a room stops its mixer.
	if err := a.leg.SetRoom("conf"); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	_, lobby := b.rooms["lobby"]
	b.mu.Unlock()
	if lobby {
		t.Fatal("the empty lobby still runs")
	}
	if err := a.leg.SetRoom(""); err == nil {
		t.Fatal("empty room name accepted")
	}
}

func TestLegMuted(t *testing.T) {
	b, clk := newTestBridge(t, Config{})
	a := newL16Peer(t, b, "m", "a", 1000, nil)
	c := newL16Peer(t, b, "m", "c", 3000, nil)
	r := roomOf(t, a.leg)
	step := func() (int16, int16) {
		clk.Advance(tickPeriod)
		for _, p := range []*l16Peer{a, c} {
			want := p.leg.Stats().PacketsIn + 1
			p.send()
			waitFor(t, "packet", func() bool { return p.leg.Stats().PacketsIn >= want })
		}
		r.tick(clk.Now())
		return a.recvFirst(), c.recvFirst()
	}
	for range 5 {
		step()
	}
	c.leg.SetMuted(true)
	var ha, hc int16
	for range 3 {
		ha, hc = step()
	}
	if ha != 0 || hc != 1000 || !c.leg.Muted() {
		t.Fatalf("muted c: a hears %d, c hears %d", ha, hc)
	}
	c.leg.SetMuted(false)
	for range 5 {
		ha, _ = step()
	}
	if ha != 3000 {
		t.Fatalf("unmuted c: a hears %d", ha)
	}
}
