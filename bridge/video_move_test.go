package bridge

import (
	"errors"
	"net/netip"
	"testing"
)

// TestVideoLegSetRoom checks that a video leg moved out of a lobby room
// leaves its router and sees (and is seen in) the conference's picture.
func TestVideoLegSetRoom(t *testing.T) {
	b, _ := newVideoBridge(t)
	g := goldenVideo(t)
	pa, pc := newVideoPeer(t, 1, g), newVideoPeer(t, 3, g)
	pa.join(b, "r", "A")
	lc := pc.join(b, "lobby-1", "C")
	if vidRoom(t, b, "lobby-1") == nil {
		t.Fatal("no lobby video room")
	}
	if err := lc.SetRoom("r"); err != nil {
		t.Fatalf("SetRoom: %v", err)
	}
	if b.videoRooms().room("lobby-1") != nil {
		t.Fatal("the lobby's video room outlived its only leg")
	}
	if err := lc.SetRoom("r"); err != nil {
		t.Fatalf("SetRoom to the same room: %v", err)
	}
	startWatching(t, b, pa, pc)
	if st := lc.Stats(); st.Watching != "A" {
		t.Fatalf("C watches %q after the move, want A", st.Watching)
	}
	if err := lc.SetRoom(""); !errors.Is(err, ErrBadParams) {
		t.Fatalf("SetRoom(\"\"): %v", err)
	}
	lc.Close(nil)
	if err := lc.SetRoom("x"); !errors.Is(err, ErrClosed) {
		t.Fatalf("SetRoom after Close: %v", err)
	}
}

// TestVideoLegSetRoomBeforeStart checks that a leg moved before it started
// starts in the new room.
func TestVideoLegSetRoomBeforeStart(t *testing.T) {
	b, _ := newVideoBridge(t)
	pc := newVideoPeer(t, 3, goldenVideo(t))
	l, err := b.NewVideoLeg(VideoLegOptions{ID: "C", Room: "lobby-2"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(nil) })
	if err := l.SetRoom("conf"); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(pc.params()); err != nil {
		t.Fatal(err)
	}
	if b.videoRooms().room("lobby-2") != nil || vidRoom(t, b, "conf") == nil {
		t.Fatal("leg did not start in the room it was moved to")
	}
}

// TestVideoPinBeforeStart checks that a pin of a leg whose video is not in
// the room yet applies as it starts, and ends when it closes.
func TestVideoPinBeforeStart(t *testing.T) {
	b, _ := newVideoBridge(t)
	g := goldenVideo(t)
	pa, pc := newVideoPeer(t, 1, g), newVideoPeer(t, 3, g)
	pc.join(b, "r", "C")
	if err := b.PinVideo("r", "A"); err != nil {
		t.Fatalf("pinning a leg not started yet: %v", err)
	}
	la := pa.join(b, "r", "A")
	if snap, _ := b.VideoSnapshot("r"); snap.Pinned != "A" {
		t.Fatalf("router pinned %q after A started, want A", snap.Pinned)
	}
	la.Close(nil)
	if p := b.VideoPin("r"); p != "" {
		t.Fatalf("pin %q outlived the pinned leg", p)
	}
}

// TestVideoLegInjectRTP checks that a source-only leg fed without a socket
// (a camera) is forwarded to the room's receivers.
func TestVideoLegInjectRTP(t *testing.T) {
	b, _ := newVideoBridge(t)
	g := goldenVideo(t)
	pc := newVideoPeer(t, 3, g)
	cam := newVideoPeer(t, 5, g) // used only to make packets
	l, err := b.NewVideoLeg(VideoLegOptions{ID: "cam", Room: "r"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(nil) })
	p := cam.params()
	p.Remote, p.RemoteRTCP, p.Direction = netip.AddrPort{}, netip.AddrPort{}, RecvOnly
	l.InjectRTP(cam.packet()) // before Start: dropped
	if err := l.Start(p); err != nil {
		t.Fatal(err)
	}
	lc := pc.join(b, "r", "C")
	for range 2 * len(g) {
		l.InjectRTP(cam.packet())
		vidTick(t, b, "r")
	}
	got := pc.collect()
	if len(got) == 0 || tagOf(t, got[len(got)-1]) != 5 {
		t.Fatalf("receiver got %d packets, not the camera's", len(got))
	}
	st := l.Stats()
	if st.PacketsIn == 0 || st.Width != 320 || !st.OnScreen || st.DroppedUnknownPT != 1 {
		t.Fatalf("camera leg stats: %+v", st)
	}
	if lc.Stats().Watching != "cam" {
		t.Fatal("receiver does not watch the camera")
	}
	l.InjectRTP([]byte{1, 2, 3})
	if l.Stats().DroppedMalformed != 1 {
		t.Fatal("malformed packet not counted")
	}
	if !raceEnabled {
		pkts := make([][]byte, 300)
		for i := range pkts {
			pkts[i] = cam.packet()
		}
		i := 0
		if n := testing.AllocsPerRun(200, func() { l.InjectRTP(pkts[i]); i++ }); n != 0 {
			t.Fatalf("InjectRTP allocates %v times per packet", n)
		}
	}
}

// TestVideoLegCameraMuted checks that a muted camera is skipped by the
// switching even while it sends, before and after Start, and comes back
// when unmuted.
func TestVideoLegCameraMuted(t *testing.T) {
	b, _ := newVideoBridge(t)
	g := goldenVideo(t)
	pa, pc := newVideoPeer(t, 1, g), newVideoPeer(t, 3, g)
	l, err := b.NewVideoLeg(VideoLegOptions{ID: "A", Room: "r"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(nil) })
	l.SetCameraMuted(true) // before Start: applies as it joins
	if err := l.Start(pa.params()); err != nil {
		t.Fatal(err)
	}
	pa.leg = l
	pc.join(b, "r", "C")
	pa.sendUntilIDR()
	vidTick(t, b, "r")
	pa.sendIDR()
	if st := l.Stats(); st.Active || st.OnScreen {
		t.Fatalf("muted camera is shown: %+v", st)
	}
	l.SetCameraMuted(false)
	startWatching(t, b, pa, pc)
	if st := l.Stats(); !st.Active || !st.OnScreen {
		t.Fatalf("unmuted camera is not shown: %+v", st)
	}
	// A renegotiation keeps the mute.
	l.SetCameraMuted(true)
	if err := l.Update(pa.params()); err != nil {
		t.Fatal(err)
	}
	pa.send(3)
	vidTick(t, b, "r")
	if st := l.Stats(); st.Active {
		t.Fatalf("camera active after mute and update: %+v", st)
	}
}
