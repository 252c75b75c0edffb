package bridge

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtcp"

	"github.com/roomgate/roomgate/bridge/video"
)

// checkContinuous fails unless pkts form one RTP stream: one SSRC, sequence
// numbers one apart, timestamps never going back.
func checkContinuous(t *testing.T, pkts [][]byte, ssrc uint32) {
	t.Helper()
	for i, p := range pkts {
		if got := binary.BigEndian.Uint32(p[8:]); got != ssrc {
			t.Fatalf("packet %d: SSRC %#x, want %#x", i, got, ssrc)
		}
		if i == 0 {
			continue
		}
		prev := pkts[i-1]
		if d := binary.BigEndian.Uint16(p[2:]) - binary.BigEndian.Uint16(prev[2:]); d != 1 {
			t.Fatalf("packet %d: sequence step %d", i, d)
		}
		if d := int32(binary.BigEndian.Uint32(p[4:]) - binary.BigEndian.Uint32(prev[4:])); d < 0 {
			t.Fatalf("packet %d: timestamp went back by %d", i, -d)
		}
	}
}

// payloadOf returns the H.264 payload of a forwarded packet.
func payloadOf(t *testing.T, pkt []byte) []byte {
	t.Helper()
	h, err := video.ParseRTPHeader(pkt)
	if err != nil {
		t.Fatal(err)
	}
	return pkt[h.PayloadOffset:h.PayloadEnd]
}

// checkCut fails unless the source seen in pkts changes from tag from to
// tag to exactly once, at a router-made STAP-A of SPS and PPS followed by
// the first packet of the new source's IDR, with nothing of from after it.
func checkCut(t *testing.T, pkts [][]byte, from, to byte) {
	t.Helper()
	cut := -1
	for i, p := range pkts {
		if tagOf(t, p) == to {
			cut = i
			break
		}
	}
	if cut < 1 {
		t.Fatalf("no packet of source %d after %d packets", to, len(pkts))
	}
	params := payloadOf(t, pkts[cut-1])
	if _, ok := video.FindSPS(params); !ok || tagOf(t, pkts[cut-1]) != 0 {
		t.Fatalf("packet before the cut is not the cached SPS/PPS: % x", params[:min(8, len(params))])
	}
	info, err := video.InspectPayload(payloadOf(t, pkts[cut]))
	if err != nil || !info.IDRStart {
		t.Fatalf("cut at a packet that does not start an IDR: %+v %v", info, err)
	}
	if tagOf(t, pkts[cut-2]) != from {
		t.Fatalf("before the cut: source %d, want %d", tagOf(t, pkts[cut-2]), from)
	}
	if p := pkts[cut-2]; p[1]&0x80 == 0 {
		t.Fatal("old source's frame cut before its marker packet")
	}
	for i, p := range pkts[cut:] {
		if g := tagOf(t, p); g != to {
			t.Fatalf("packet %d after the cut from source %d", i, g)
		}
	}
}

// TestVideoLegSwitching runs three video legs on loopback: the receiver sees
// the first camera from an IDR with its SPS/PPS, switches to the new speaker
// only after the hold time, at the new source's IDR, which was asked for by
// RTCP PLI and FIR, and goes back to a pinned camera whoever speaks; its
// stream keeps one SSRC and continuous sequence numbers throughout.
func TestVideoLegSwitching(t *testing.T) {
	b, clk := newVideoBridge(t)
	g := goldenVideo(t)
	pa, pb, pc := newVideoPeer(t, 1, g), newVideoPeer(t, 2, g), newVideoPeer(t, 3, g)
	la := pa.join(b, "r", "A")
	pb.join(b, "r", "B")
	lc := pc.join(b, "r", "C")

	// A's camera starts; the room selects it and asks it for a keyframe.
	pa.sendUntilIDR()
	b.SetVideoSpeaker("r", "A")
	vidTick(t, b, "r")
	if pli, fir := hasKeyframeRequest(pa.readRTCP(), pa.ssrc); !pli || !fir {
		t.Fatalf("keyframe request to A: PLI %v FIR %v", pli, fir)
	}
	pa.sendIDR()
	pa.sendUntilIDR()
	got := pc.collect()
	if len(got) == 0 || tagOf(t, got[1]) != 1 {
		t.Fatalf("C got %d packets, not A's video", len(got))
	}
	if _, ok := video.FindSPS(payloadOf(t, got[0])); !ok {
		t.Fatal("C's stream does not start with SPS/PPS")
	}
	if info, _ := video.InspectPayload(payloadOf(t, got[1])); !info.IDRStart {
		t.Fatal("C's stream does not start with an IDR")
	}

	// B's camera comes on; B becomes the loudest. No switch before the hold.
	pb.send(3)
	vidTick(t, b, "r")
	b.SetVideoSpeaker("r", "B")
	clk.Advance(time.Second)
	pa.send(2)
	vidTick(t, b, "r")
	if snap, _ := b.VideoSnapshot("r"); snap.Speaker != "A" {
		t.Fatalf("speaker %q before the hold time passed", snap.Speaker)
	}
	clk.Advance(1100 * time.Millisecond)
	pa.send(2)
	pb.send(1)
	vidTick(t, b, "r")
	snap, _ := b.VideoSnapshot("r")
	if snap.Speaker != "B" {
		t.Fatalf("speaker %q after the hold time, want B", snap.Speaker)
	}
	if pli, fir := hasKeyframeRequest(pb.readRTCP(), pb.ssrc); !pli || !fir {
		t.Fatalf("keyframe request to B: PLI %v FIR %v", pli, fir)
	}
	pa.send(1) // A goes on mid-frame: C must not see it cut
	pb.sendIDR()
	pa.send(4)
	pb.send(4)
	checkCut(t, pc.collect(), 1, 2)

	// Pinning A wins over B speaking.
	if err := b.PinVideo("r", "A"); err != nil {
		t.Fatal(err)
	}
	b.SetVideoSpeaker("r", "B")
	clk.Advance(100 * time.Millisecond)
	vidTick(t, b, "r")
	before := len(pc.collect())
	pb.send(2)
	pa.sendIDR()
	pb.send(3)
	pa.send(3)
	all := pc.collect()
	checkCut(t, all[before:], 2, 1)
	checkContinuous(t, all, lc.ssrc)

	st := la.Stats()
	if !st.OnScreen || st.Width != 320 || st.Height != 240 || st.Codec != "H264" || st.FramesIn == 0 {
		t.Fatalf("A's stats: %+v", st)
	}
	if st.KeyframeRequestsSent == 0 {
		t.Fatal("no keyframe request counted for A")
	}
	if cs := lc.Stats(); cs.Watching != "A" || cs.FramesOut == 0 || cs.PacketsOut != uint64(len(all)) {
		t.Fatalf("C's stats: %+v (got %d packets)", cs, len(all))
	}
	b.UnpinVideo("r")
	if snap, _ := b.VideoSnapshot("r"); snap.Pinned != "" {
		t.Fatalf("still pinned to %q", snap.Pinned)
	}
	// A pin of a leg not in the room waits for it and changes nothing now.
	if err := b.PinVideo("r", "nobody"); err != nil {
		t.Fatalf("pinning a leg not there yet: %v", err)
	}
	if snap, _ := b.VideoSnapshot("r"); snap.Pinned != "" || b.VideoPin("r") != "nobody" {
		t.Fatalf("pending pin: router pinned %q, bridge %q", snap.Pinned, b.VideoPin("r"))
	}
	b.UnpinVideo("r")
	if err := b.PinVideo("", "A"); !errors.Is(err, ErrBadParams) {
		t.Fatalf("pinning in an unnamed room: %v", err)
	}
}

// startWatching makes c's leg see a's camera from an IDR on.
func startWatching(t *testing.T, b *Bridge, pa, pc *videoPeer) {
	t.Helper()
	pa.sendUntilIDR()
	vidTick(t, b, "r")
	pa.readRTCP() // the keyframe request
	pa.sendIDR()
	pa.sendUntilIDR()
	if got := pc.collect(); len(got) < 3 {
		t.Fatalf("receiver got %d packets", len(got))
	}
}

// TestVideoLegReceiverKeyframeRequest checks that a receiver's PLI and FIR
// reach the source it sees, at most once per rate-limit interval.
func TestVideoLegReceiverKeyframeRequest(t *testing.T) {
	b, clk := newVideoBridge(t)
	g := goldenVideo(t)
	pa, pc := newVideoPeer(t, 1, g), newVideoPeer(t, 3, g)
	la := pa.join(b, "r", "A")
	lc := pc.join(b, "r", "C")
	startWatching(t, b, pa, pc)
	clk.Advance(time.Second)

	sent := la.kfSent.Load()
	pc.sendRTCP(&rtcp.PictureLossIndication{SenderSSRC: pc.ssrc, MediaSSRC: lc.ssrc})
	if pli, fir := hasKeyframeRequest(pa.readRTCP(), pa.ssrc); !pli || !fir {
		t.Fatalf("forwarded request: PLI %v FIR %v", pli, fir)
	}
	pc.sendRTCP(&rtcp.FullIntraRequest{SenderSSRC: pc.ssrc, MediaSSRC: lc.ssrc, FIR: []rtcp.FIREntry{{SSRC: lc.ssrc, SequenceNumber: 1}}})
	vidWait(t, "second request taken", func() bool { return lc.kfReceived.Load() == 2 })
	if got := la.kfSent.Load(); got != sent+1 {
		t.Fatalf("%d requests to A for 2 PLI/FIR within the interval, want 1", got-sent)
	}
	clk.Advance(600 * time.Millisecond)
	lc.HandleFastUpdate() // SIP INFO picture_fast_update
	if got := la.kfSent.Load(); got != sent+2 {
		t.Fatalf("request after the interval not forwarded: %d", got-sent)
	}
	if pli, _ := hasKeyframeRequest(pa.readRTCP(), pa.ssrc); !pli {
		t.Fatal("no PLI after the interval")
	}
}

// TestVideoLegNack checks that a receiver's NACK is answered from its
// retransmission cache with the packet as first sent.
func TestVideoLegNack(t *testing.T) {
	b, _ := newVideoBridge(t)
	g := goldenVideo(t)
	pa, pc := newVideoPeer(t, 1, g), newVideoPeer(t, 3, g)
	pa.join(b, "r", "A")
	lc := pc.join(b, "r", "C")
	startWatching(t, b, pa, pc)
	got := pc.collect()
	lost := got[len(got)-3]
	seq := binary.BigEndian.Uint16(lost[2:])
	pc.sendRTCP(&rtcp.TransportLayerNack{SenderSSRC: pc.ssrc, MediaSSRC: lc.ssrc, Nacks: []rtcp.NackPair{{PacketID: seq}}})
	vidWait(t, "retransmission", func() bool { return lc.packetsOut.Load() > uint64(len(got)) })
	again := pc.collect()[len(got)]
	if string(again) != string(lost) {
		t.Fatalf("retransmission of %d differs from the original", seq)
	}
	if st := lc.Stats(); st.NacksReceived != 1 || st.Retransmits != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestVideoLegBandwidth checks that the lowest receiver limit (REMB, TMMBR,
// SDP) is asked of the source they see by REMB.
func TestVideoLegBandwidth(t *testing.T) {
	b, clk := newVideoBridge(t)
	g := goldenVideo(t)
	pa, pb, pc := newVideoPeer(t, 1, g), newVideoPeer(t, 2, g), newVideoPeer(t, 3, g)
	pa.join(b, "r", "A")
	lb := pb.join(b, "r", "B")
	lc := pc.join(b, "r", "C")
	startWatching(t, b, pa, pc)
	pb.collect()

	limitOf := func(id string) uint64 {
		snap, _ := b.VideoSnapshot("r")
		for _, r := range snap.Receivers {
			if r.ID == id {
				return r.Bandwidth
			}
		}
		return 0
	}
	pb.sendRTCP(&rtcp.ReceiverEstimatedMaximumBitrate{SenderSSRC: pb.ssrc, Bitrate: 500_000, SSRCs: []uint32{lb.ssrc}})
	pc.sendRTCP(&rtcp.ReceiverEstimatedMaximumBitrate{SenderSSRC: pc.ssrc, Bitrate: 300_000, SSRCs: []uint32{lc.ssrc}})
	vidWait(t, "REMB taken", func() bool { return limitOf("B") == 500_000 && limitOf("C") == 300_000 })
	vidRoom(t, b, "r").housekeeping(clk.Now())
	remb := func() float32 {
		for range 5 { // receiver reports and keyframe requests may come first
			for _, p := range pa.readRTCP() {
				if r, ok := p.(*rtcp.ReceiverEstimatedMaximumBitrate); ok && len(r.SSRCs) == 1 && r.SSRCs[0] == pa.ssrc {
					return r.Bitrate
				}
			}
		}
		t.Fatal("no REMB about A's stream")
		return 0
	}
	if got := remb(); got < 299_000 || got > 301_000 {
		t.Fatalf("REMB to A: %v, want the lowest limit 300000", got)
	}

	// A TMMBR of C lowers it; the SDP limit of C caps it further.
	pc.sendRTCP(rawTMMBR(pc.ssrc, lc.ssrc, 200_000))
	vidWait(t, "TMMBR taken", func() bool { return limitOf("C") == 200_000 })
	tmmbn := pc.readRawRTCP()
	for i := 0; i < 4 && tmmbn[0] != 0x84; i++ {
		tmmbn = pc.readRawRTCP() // a receiver report went first
	}
	if len(tmmbn) != 20 || tmmbn[0] != 0x84 || tmmbn[1] != 205 || binary.BigEndian.Uint32(tmmbn[12:]) != pc.ssrc {
		t.Fatalf("TMMBN % x", tmmbn)
	}
	if got, _ := video.ParseTMMBR(append([]byte{0x83}, tmmbn[1:]...)); got.Bitrate != 200_000 {
		t.Fatalf("TMMBN bounds %d bit/s, want 200000", got.Bitrate)
	}
	p := pc.params()
	p.MaxBitrate = 150_000
	if err := lc.Update(p); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	vidRoom(t, b, "r").housekeeping(clk.Now())
	if got := remb(); got < 149_000 || got > 151_000 {
		t.Fatalf("REMB to A: %v, want 150000", got)
	}
}

// rawTMMBR builds a TMMBR as an rtcp.Packet (pion/rtcp has no type for it).
func rawTMMBR(sender, media uint32, bps uint64) rtcp.Packet {
	raw := rtcp.RawPacket(appendTMMBR(nil, sender, media, bps))
	return &raw
}

func TestAppendTMMBRRoundTrip(t *testing.T) {
	for _, bps := range []uint64{1, 64_000, 131_071, 131_072, 2_000_000, 1 << 40} {
		got, err := video.ParseTMMBR(appendTMMBR(nil, 1, 2, bps))
		if err != nil {
			t.Fatal(err)
		}
		// The 17-bit mantissa keeps the top bits.
		if got.SSRC != 2 || got.Bitrate > bps || got.Bitrate < bps-bps/65536 {
			t.Fatalf("%d: %+v", bps, got)
		}
	}
}

// TestVideoLegHold checks that a held peer is sent nothing and gets a
// keyframe when it resumes, and that a peer that does not send is not a
// camera.
func TestVideoLegHold(t *testing.T) {
	b, clk := newVideoBridge(t)
	g := goldenVideo(t)
	pa, pc := newVideoPeer(t, 1, g), newVideoPeer(t, 3, g)
	la := pa.join(b, "r", "A")
	lc := pc.join(b, "r", "C")
	startWatching(t, b, pa, pc)

	held := pc.params()
	held.Direction = RecvOnly // the peer put us on hold (sendonly)
	if err := lc.Update(held); err != nil {
		t.Fatal(err)
	}
	out := lc.packetsOut.Load()
	pa.send(5)
	if lc.packetsOut.Load() != out {
		t.Fatal("video sent to a held peer")
	}
	clk.Advance(time.Second)
	sent := la.kfSent.Load()
	if err := lc.Update(pc.params()); err != nil {
		t.Fatal(err)
	}
	if la.kfSent.Load() != sent+1 {
		t.Fatal("no keyframe request on resume")
	}
	pa.send(2)
	if lc.packetsOut.Load() == out {
		t.Fatal("no video after resume")
	}

	// A peer that only receives is no camera: its packets are dropped.
	off := pa.params()
	off.Direction = SendOnly
	if err := la.Update(off); err != nil {
		t.Fatal(err)
	}
	if _, err := pa.rtp.WriteToUDPAddrPort(pa.packet(), netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(la.LocalPort()))); err != nil {
		t.Fatal(err)
	}
	vidWait(t, "drop", func() bool { return la.dropNotRcv.Load() == 1 })
	if snap, _ := b.VideoSnapshot("r"); snap.Sources[0].Active {
		t.Fatal("a recvonly peer counts as a camera")
	}
}

// TestVideoLegLifecycle checks errors, the room's life and port release.
func TestVideoLegLifecycle(t *testing.T) {
	b, _ := newVideoBridge(t)
	g := goldenVideo(t)
	pa := newVideoPeer(t, 1, g)
	if _, err := b.NewVideoLeg(VideoLegOptions{ID: "A"}); !errors.Is(err, ErrBadParams) {
		t.Fatalf("no room: %v", err)
	}
	l, err := b.NewVideoLeg(VideoLegOptions{ID: "A", Room: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Update(pa.params()); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("Update before Start: %v", err)
	}
	bad := pa.params()
	bad.PayloadType = 72
	if err := l.Start(bad); !errors.Is(err, ErrBadParams) {
		t.Fatalf("PT 72: %v", err)
	}
	if err := l.Start(pa.params()); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(pa.params()); !errors.Is(err, ErrAlreadyStarted) {
		t.Fatalf("second Start: %v", err)
	}
	dup, err := b.NewVideoLeg(VideoLegOptions{ID: "A", Room: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if err := dup.Start(pa.params()); !errors.Is(err, ErrBadParams) {
		t.Fatalf("duplicate ID: %v", err)
	}
	dup.Close(nil)
	if b.videoRooms().room("r") == nil {
		t.Fatal("room gone while a leg is in it")
	}
	cause := errors.New("BYE")
	l.Close(cause)
	l.Close(nil) // idempotent
	if !errors.Is(l.Cause(), cause) {
		t.Fatalf("cause %v", l.Cause())
	}
	if b.videoRooms().room("r") != nil {
		t.Fatal("room left behind by its last leg")
	}
	if n := b.ports.inUse(); n != 0 {
		t.Fatalf("%d port pairs still in use", n)
	}

	// The bridge's Close ends running video legs.
	l2 := pa.join(b, "r2", "A")
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	<-l2.Done()
	if !errors.Is(l2.Cause(), ErrClosed) {
		t.Fatalf("cause after bridge Close: %v", l2.Cause())
	}
	l2.Close(nil)
	if _, err := b.NewVideoLeg(VideoLegOptions{ID: "B", Room: "r"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("NewVideoLeg after Close: %v", err)
	}
}

// TestVideoLegKeyframeCallback checks that router keyframe requests reach
// OnKeyframeRequest (for SIP INFO), saying whether RTCP went out.
func TestVideoLegKeyframeCallback(t *testing.T) {
	b, _ := newVideoBridge(t)
	g := goldenVideo(t)
	pa, pc := newVideoPeer(t, 1, g), newVideoPeer(t, 3, g)
	calls := make(chan bool, 8)
	la, err := b.NewVideoLeg(VideoLegOptions{ID: "A", Room: "r", OnKeyframeRequest: func(rtcpSent bool) { calls <- rtcpSent }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { la.Close(nil) })
	p := pa.params()
	p.Feedback = VideoFeedback{} // a room system without rtcp-fb
	if err := la.Start(p); err != nil {
		t.Fatal(err)
	}
	pa.leg = la
	pc.join(b, "r", "C")
	pa.send(2)
	vidTick(t, b, "r")
	select {
	case sent := <-calls:
		if sent {
			t.Fatal("RTCP reported sent to a peer without rtcp-fb")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("OnKeyframeRequest not called")
	}
}

// TestVideoSpeakerFromMixer checks the mixer hook: the loudest of the
// selected talkers becomes the video speaker.
func TestVideoSpeakerFromMixer(t *testing.T) {
	b, clk := newVideoBridge(t)
	g := goldenVideo(t)
	pa, pb := newVideoPeer(t, 1, g), newVideoPeer(t, 2, g)
	pa.join(b, "r", "A")
	pb.join(b, "r", "B")
	r := &room{b: b, name: "r", active: []*Leg{{id: "A"}, {id: "B"}, {id: "X"}}}
	r.active[0].mx.spk = speaker{talking: true, level: 1e6}
	r.active[1].mx.spk = speaker{talking: true, level: 4e6}
	r.active[2].mx.spk = speaker{talking: false, level: 9e6}
	r.noteVideoSpeaker()
	if got := vidRoom(t, b, "r").rt.Speaker(); got != "B" {
		t.Fatalf("speaker %q, want the loudest talker B", got)
	}
	r.active[1].mx.spk.talking = false
	for range 3 {
		r.noteVideoSpeaker()
		clk.Advance(time.Second)
	}
	vidTick(t, b, "r")
	if got := vidRoom(t, b, "r").rt.Speaker(); got != "A" {
		t.Fatalf("speaker %q after the hold, want A", got)
	}
	if n := testing.AllocsPerRun(100, r.noteVideoSpeaker); n != 0 {
		t.Fatalf("%v allocations per tick", n)
	}
}

// TestVideoLegForwardAllocs checks that forwarding allocates nothing per
// packet in steady state, sockets included.
func TestVideoLegForwardAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	b, _ := newVideoBridge(t)
	g := goldenVideo(t)
	pa, pb, pc := newVideoPeer(t, 1, g), newVideoPeer(t, 2, g), newVideoPeer(t, 3, g)
	la := pa.join(b, "r", "A")
	pb.join(b, "r", "B")
	pc.join(b, "r", "C")
	startWatching(t, b, pa, pc)
	pkts := make([][]byte, 400)
	for i := range pkts {
		pkts[i] = pa.packet()
	}
	i := 0
	n := testing.AllocsPerRun(300, func() {
		la.handleRTP(pkts[i], pa.addr)
		i++
	})
	if n != 0 {
		t.Fatalf("%v allocations per packet", n)
	}
}

// BenchmarkVideoLegForward measures the cost of one packet from a camera to
// N receivers over real loopback sockets: parse, latch, route, rewrite and
// N non-blocking sends.
func BenchmarkVideoLegForward(b *testing.B) {
	for _, n := range []int{1, 10} {
		b.Run(map[int]string{1: "receivers=1", 10: "receivers=10"}[n], func(b *testing.B) {
			br, _ := newVideoBridge(b)
			g := goldenVideo(b)
			src := newVideoPeer(b, 1, g)
			ls := src.join(br, "r", "S")
			var peers []*videoPeer
			for i := range n {
				p := newVideoPeer(b, byte(2+i), g)
				p.join(br, "r", string(rune('a'+i)))
				peers = append(peers, p)
			}
			src.sendUntilIDR()
			vidTick(b, br, "r")
			src.sendIDR()
			pkts := make([][]byte, 4096)
			for i := range pkts {
				pkts[i] = src.packet()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				ls.handleRTP(pkts[i%len(pkts)], src.addr)
				if i%len(pkts) == len(pkts)-1 {
					// Keep the stream going forward: same packets, later
					// sequence numbers and timestamps.
					b.StopTimer()
					for _, p := range pkts {
						binary.BigEndian.PutUint16(p[2:], binary.BigEndian.Uint16(p[2:])+uint16(len(pkts)))
						binary.BigEndian.PutUint32(p[4:], binary.BigEndian.Uint32(p[4:])+90000*60)
					}
					b.StartTimer()
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/receiver-packet")
		})
	}
}

// TestVideoLegReceiverReport checks our RTCP receiver report about a peer's
// camera: its SSRC, highest sequence number and losses, with an SDES CNAME,
// sent when due and not before; and that reports allocate nothing.
func TestVideoLegReceiverReport(t *testing.T) {
	b, clk := newVideoBridge(t)
	g := goldenVideo(t)
	pa := newVideoPeer(t, 1, g)
	la := pa.join(b, "r", "A")
	pa.send(5)
	pa.seq += 2 // two packets lost
	pa.send(5)
	last := pa.seq - 1
	vidRoom(t, b, "r").housekeeping(clk.Now())
	var rr *rtcp.ReceiverReport
	var cname string
	for range 3 {
		for _, p := range pa.readRTCP() {
			switch p := p.(type) {
			case *rtcp.ReceiverReport:
				rr = p
			case *rtcp.SourceDescription:
				if len(p.Chunks) == 1 && len(p.Chunks[0].Items) == 1 {
					cname = p.Chunks[0].Items[0].Text
				}
			}
		}
		if rr != nil {
			break
		}
	}
	if rr == nil || rr.SSRC != la.ssrc || len(rr.Reports) != 1 {
		t.Fatalf("receiver report %+v", rr)
	}
	rep := rr.Reports[0]
	if rep.SSRC != pa.ssrc || uint16(rep.LastSequenceNumber) != last || rep.TotalLost != 2 || rep.FractionLost == 0 {
		t.Fatalf("report block %+v, want SSRC %#x, last %d, 2 lost", rep, pa.ssrc, last)
	}
	if cname != b.cname {
		t.Fatalf("CNAME %q, want %q", cname, b.cname)
	}
	if st := la.Stats(); st.Lost != 2 {
		t.Fatalf("stats lost %d", st.Lost)
	}
	// Not due again for at least 2.5 s.
	la.mu.Lock()
	due := la.reportAt
	la.mu.Unlock()
	if d := due.Sub(clk.Now()); d < 2500*time.Millisecond || d > 7500*time.Millisecond {
		t.Fatalf("next report in %s", d)
	}
	if !raceEnabled {
		n := testing.AllocsPerRun(50, func() {
			la.mu.Lock()
			la.reportAt = time.Time{} // due every time
			la.mu.Unlock()
			la.report(due)
		})
		if n != 0 {
			t.Fatalf("%v allocations per report", n)
		}
	}
}
