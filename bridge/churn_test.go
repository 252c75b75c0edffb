package bridge

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestRoomChurnRealClock joins, updates, moves and closes legs from several
// goroutines while the room's mixer runs on the real clock; run with -race
// it checks the hand-off between signalling calls and the mixer.
func TestRoomChurnRealClock(t *testing.T) {
	lo, hi := testPortRange(t, 200)
	b, err := New(Config{BindAddr: netip.MustParseAddr("127.0.0.1"), PortMin: lo, PortMax: hi, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	sink := newPeer(t)
	pcmu := mustLookup(t, "PCMU")
	stay, err := b.NewLeg(LegOptions{ID: "stay", Room: "churn"})
	if err != nil {
		t.Fatal(err)
	}
	if err := stay.Start(StreamParams{Codec: pcmu, EventPayloadType: -1, Remote: sink.addr}); err != nil {
		t.Fatal(err)
	}
	waitTick := func() {
		_, _, start, _ := b.TickStats()
		waitFor(t, "a mixer tick", func() bool { _, _, n, _ := b.TickStats(); return n > start })
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 10 {
				l, err := b.NewLeg(LegOptions{ID: fmt.Sprint(g, "-", i), Room: "churn", OnEvent: func(Event) {}})
				if err != nil {
					t.Error(err)
					return
				}
				p := StreamParams{Codec: pcmu, EventPayloadType: 101, Remote: sink.addr}
				if err := l.Start(p); err != nil {
					t.Error(err)
				}
				waitTick()
				p.Direction = RecvOnly
				if err := l.Update(p); err != nil {
					t.Error(err)
				}
				p.Codec, p.PayloadType, p.Direction = mustLookup(t, "G722"), 9, SendRecv
				if err := l.Update(p); err != nil {
					t.Error(err)
				}
				waitTick()
				if err := l.SetRoom(fmt.Sprint("side-", g%2)); err != nil {
					t.Error(err)
				}
				waitTick()
				if err := l.SetRoom("churn"); err != nil {
					t.Error(err)
				}
				_ = l.Stats()
				l.Close(nil)
			}
		})
	}
	wg.Wait()
	if got := stay.Stats().PacketsOut; got == 0 {
		t.Error("the staying leg was sent nothing")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	<-stay.Done()
	if n := b.ports.inUse(); n != 0 {
		t.Fatalf("%d port pairs still allocated", n)
	}
}
