package video

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/rtcp"
)

// rig is a router with hand-built sources and recording receivers.
type rig struct {
	t       *testing.T
	clk     *fakeClock
	kf      *kfLog
	rt      *Router
	sinks   map[string]*recSink
	streams map[string]*stream
}

func newRig(t *testing.T, cfg Config) *rig {
	t.Helper()
	g := &rig{t: t, clk: newFakeClock(), kf: &kfLog{}, sinks: map[string]*recSink{}, streams: map[string]*stream{}}
	cfg.Clock = g.clk
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.RequestKeyframe = g.kf.request
	rt, err := NewRouter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	g.rt = rt
	return g
}

// source adds a source; inBand sources send SPS/PPS before each IDR, the
// others declare them in SDP only.
func (g *rig) source(id string, ssrc uint32, inBand bool) {
	g.t.Helper()
	var f *H264Fmtp
	if !inBand {
		parsed, err := ParseH264Fmtp("packetization-mode=1;sprop-parameter-sets=" +
			base64.StdEncoding.EncodeToString(testSPS) + "," + base64.StdEncoding.EncodeToString(testPPS))
		if err != nil {
			g.t.Fatal(err)
		}
		f = &parsed
	}
	if err := g.rt.AddSource(id, f); err != nil {
		g.t.Fatal(err)
	}
	g.streams[id] = &stream{ssrc: ssrc, seq: uint16(ssrc), ts: ssrc * 7, inBand: inBand}
}

func (g *rig) receiver(id string, ssrc uint32) {
	g.t.Helper()
	g.sinks[id] = &recSink{}
	err := g.rt.AddReceiver(id, ReceiverConfig{SSRC: ssrc, PayloadType: 96, InitialSequence: uint16(ssrc >> 3), InitialTimestamp: ssrc * 3, Sink: g.sinks[id]})
	if err != nil {
		g.t.Fatal(err)
	}
}

// frame makes source id send one access unit and returns its packets.
func (g *rig) frame(id string, idr bool) [][]byte {
	g.t.Helper()
	pkts := g.streams[id].frame(idr, 2500)
	for _, p := range pkts {
		if err := g.rt.Forward(id, p); err != nil {
			g.t.Fatal(err)
		}
	}
	return pkts
}

// step advances the clock by d, every source in ids sending one frame per
// 33 ms, with Tick every 100 ms.
func (g *rig) step(d time.Duration, ids ...string) {
	for el := time.Duration(0); el < d; el += 33 * time.Millisecond {
		g.clk.Advance(33 * time.Millisecond)
		for _, id := range ids {
			g.frame(id, false)
		}
		if el/(100*time.Millisecond) != (el+33*time.Millisecond)/(100*time.Millisecond) {
			g.rt.Tick()
		}
	}
}

func (g *rig) seen(receiverID string) string {
	for _, r := range g.rt.Snapshot().Receivers {
		if r.ID == receiverID {
			return r.Source
		}
	}
	g.t.Fatalf("no receiver %s", receiverID)
	return ""
}

func (g *rig) pending(receiverID string) string {
	for _, r := range g.rt.Snapshot().Receivers {
		if r.ID == receiverID {
			return r.Pending
		}
	}
	g.t.Fatalf("no receiver %s", receiverID)
	return ""
}

// checkContinuous verifies one receiver stream: one SSRC, consecutive
// sequence numbers, timestamps that never go back.
func checkContinuous(t *testing.T, pkts [][]byte, ssrc uint32) {
	t.Helper()
	for i, p := range pkts {
		h := mustHeader(t, p)
		if h.SSRC != ssrc {
			t.Fatalf("packet %d: SSRC %x, want %x", i, h.SSRC, ssrc)
		}
		if i == 0 {
			continue
		}
		prev := mustHeader(t, pkts[i-1])
		if h.SequenceNumber != prev.SequenceNumber+1 {
			t.Fatalf("packet %d: sequence %d after %d", i, h.SequenceNumber, prev.SequenceNumber)
		}
		if int32(h.Timestamp-prev.Timestamp) < 0 {
			t.Fatalf("packet %d: timestamp went back %d -> %d", i, prev.Timestamp, h.Timestamp)
		}
	}
}

func payloadOf(t *testing.T, p []byte) []byte {
	h := mustHeader(t, p)
	return p[h.PayloadOffset:h.PayloadEnd]
}

func TestRouterJoinWaitsForKeyframe(t *testing.T) {
	g := newRig(t, Config{})
	g.source("A", 0xa0a0, false)
	g.receiver("C", 0xc0c0)
	if ids := g.kf.take(); len(ids) != 0 {
		t.Fatalf("asked %v before any video flowed", ids)
	}
	g.frame("A", false)
	if len(g.sinks["C"].take()) != 0 {
		t.Fatal("forwarded before the source was selected")
	}
	g.rt.Tick()
	if ids := g.kf.take(); !slices.Equal(ids, []string{"A"}) {
		t.Fatalf("join keyframe requests %v", ids)
	}
	g.frame("A", false)
	if len(g.sinks["C"].take()) != 0 {
		t.Fatal("partial picture forwarded before the IDR")
	}
	idr := g.frame("A", true)
	out := g.sinks["C"].take()
	if len(out) != len(idr)+1 {
		t.Fatalf("got %d packets for an IDR of %d (+ SPS/PPS)", len(out), len(idr))
	}
	checkContinuous(t, out, 0xc0c0)
	first := mustHeader(t, out[0])
	if first.SequenceNumber != uint16(0xc0c0>>3) || first.Timestamp != 0xc0c0*3 {
		t.Fatalf("stream starts at seq %d ts %d", first.SequenceNumber, first.Timestamp)
	}
	if !bytes.Equal(payloadOf(t, out[0]), stapA(testSPS, testPPS)) || first.Marker {
		t.Fatalf("first packet is not the cached SPS/PPS: %x", payloadOf(t, out[0]))
	}
	if mustHeader(t, out[1]).Timestamp != first.Timestamp || !IsKeyframeStart(payloadOf(t, out[1])) {
		t.Fatal("IDR does not follow the parameter sets in the same access unit")
	}
	for i, p := range idr {
		if !bytes.Equal(payloadOf(t, out[i+1]), payloadOf(t, p)) || mustHeader(t, out[i+1]).Marker != mustHeader(t, p).Marker {
			t.Fatalf("packet %d payload or marker changed", i)
		}
	}
	more := g.frame("A", false)
	out2 := g.sinks["C"].take()
	if len(out2) != len(more) {
		t.Fatalf("non-IDR frame: %d packets of %d", len(out2), len(more))
	}
	checkContinuous(t, append(out, out2...), 0xc0c0)
	if d := mustHeader(t, out2[0]).Timestamp - first.Timestamp; d != 3000 {
		t.Fatalf("timestamp step %d", d)
	}
	g.clk.Advance(time.Second)
	g.rt.Tick()
	if ids := g.kf.take(); len(ids) != 0 {
		t.Fatalf("kept asking after the IDR: %v", ids)
	}
}

// A three-leg call: everyone is a source and a receiver.
func threeLegs(t *testing.T, cfg Config) *rig {
	g := newRig(t, cfg)
	g.source("A", 0xa0a0, true)
	g.source("B", 0xb0b0, true)
	g.source("C", 0xc0c0, false)
	g.receiver("A", 0x0a0a)
	g.receiver("B", 0x0b0b)
	g.receiver("C", 0x0c0c)
	g.rt.SetSpeaker("A")
	for _, id := range []string{"A", "B", "C"} {
		g.frame(id, false)
	}
	g.rt.Tick()
	for _, id := range []string{"A", "B", "C"} {
		g.frame(id, true)
	}
	g.kf.take()
	return g
}

func TestRouterSwitchHoldAndContinuity(t *testing.T) {
	g := threeLegs(t, Config{Hold: 2 * time.Second})
	if g.seen("B") != "A" || g.seen("C") != "A" || g.seen("A") != "B" {
		t.Fatalf("initial view: A sees %s, B sees %s, C sees %s", g.seen("A"), g.seen("B"), g.seen("C"))
	}
	// A cough from B: shorter than the hold time, no switch.
	g.rt.SetSpeaker("B")
	g.step(time.Second, "A", "B", "C")
	g.rt.SetSpeaker("A")
	g.step(3*time.Second, "A", "B", "C")
	if g.seen("C") != "A" || g.pending("C") != "" || g.rt.Speaker() != "A" {
		t.Fatal("a cough switched the picture")
	}
	if ids := g.kf.take(); len(ids) != 0 {
		t.Fatalf("keyframe requests for a cough: %v", ids)
	}
	// B really talks.
	g.rt.SetSpeaker("B")
	g.step(1900*time.Millisecond, "A", "B", "C")
	if g.pending("C") != "" {
		t.Fatal("switched before the hold time")
	}
	g.step(200*time.Millisecond, "A", "B", "C")
	if g.rt.Speaker() != "B" || g.pending("C") != "B" || g.seen("A") != "B" || g.pending("A") != "" {
		t.Fatalf("after hold: speaker %s, C pending %q, A pending %q", g.rt.Speaker(), g.pending("C"), g.pending("A"))
	}
	if g.seen("B") != "A" || g.pending("B") != "" {
		t.Fatal("the new speaker must keep seeing the previous speaker")
	}
	if ids := g.kf.take(); !slices.Equal(ids, []string{"B"}) {
		t.Fatalf("switch keyframe requests %v", ids)
	}
	// Until B's IDR, C keeps getting A.
	before := len(g.sinks["C"].all())
	aFrame := g.frame("A", false)
	g.frame("B", false)
	if got := len(g.sinks["C"].all()) - before; got != len(aFrame) {
		t.Fatalf("old source stopped flowing early: %d packets", got)
	}
	g.clk.Advance(300 * time.Millisecond)
	g.rt.Tick()
	if ids := g.kf.take(); !slices.Equal(ids, []string{"B"}) {
		t.Fatalf("repeat request %v", ids)
	}
	lastA := mustHeader(t, g.sinks["C"].all()[len(g.sinks["C"].all())-1])
	bIDR := g.frame("B", true)
	after := g.sinks["C"].all()[before+len(aFrame):]
	// In-band SPS/PPS STAP-A arrived while waiting; the cut is at the IDR
	// slice, with the parameter sets re-sent in front.
	if len(after) != len(bIDR) {
		t.Fatalf("cut-over sent %d packets for %d", len(after), len(bIDR))
	}
	if !bytes.Equal(payloadOf(t, after[0]), stapA(testSPS, testPPS)) {
		t.Fatal("no SPS/PPS in front of the IDR")
	}
	if ts := mustHeader(t, after[0]).Timestamp; ts != lastA.Timestamp+3000 {
		t.Fatalf("new source starts at ts %d, want %d", ts, lastA.Timestamp+3000)
	}
	g.frame("A", false)
	g.frame("B", false)
	g.clk.Advance(300 * time.Millisecond)
	g.rt.Tick()
	if ids := g.kf.take(); len(ids) != 0 {
		t.Fatalf("still asking after the IDR: %v", ids)
	}
	if g.seen("C") != "B" || g.seen("A") != "B" || g.seen("B") != "A" {
		t.Fatal("wrong view after the switch")
	}
	all := g.sinks["C"].all()
	checkContinuous(t, all, 0x0c0c)
	// After the cut, C's stream carries B's IDR (its in-band STAP-A was
	// replaced by the cached copy), not A's.
	for i := 1; i < len(bIDR); i++ {
		if !bytes.Equal(payloadOf(t, after[i]), payloadOf(t, bIDR[i])) {
			t.Fatalf("cut-over packet %d is not B's", i)
		}
	}
	markers := 0
	for _, p := range all {
		if mustHeader(t, p).Marker {
			markers++
		}
	}
	var snapFrames uint64
	for _, r := range g.rt.Snapshot().Receivers {
		if r.ID == "C" {
			snapFrames = r.FramesOut
		}
	}
	if uint64(markers) != snapFrames || markers == 0 {
		t.Fatalf("markers %d, frames out %d", markers, snapFrames)
	}
	checkContinuous(t, g.sinks["A"].all(), 0x0a0a)
	checkContinuous(t, g.sinks["B"].all(), 0x0b0b)
}

func TestRouterPinAndCameraOff(t *testing.T) {
	g := threeLegs(t, Config{Hold: time.Second, SourceTimeout: 2 * time.Second})
	if err := g.rt.Pin("C"); err != nil {
		t.Fatal(err)
	}
	if g.pending("A") != "C" || g.pending("B") != "C" || g.pending("C") != "" || g.seen("C") != "A" {
		t.Fatal("pin did not override the speaker")
	}
	if ids := g.kf.take(); !slices.Equal(ids, []string{"C"}) {
		t.Fatalf("pin requests %v", ids)
	}
	g.frame("C", true)
	if g.seen("A") != "C" || g.seen("B") != "C" {
		t.Fatal("pinned source not on screen after its IDR")
	}
	g.rt.Unpin()
	if g.pending("B") != "A" || g.pending("A") != "B" {
		t.Fatalf("unpin: B pending %q, A pending %q", g.pending("B"), g.pending("A"))
	}
	g.kf.take()
	g.frame("A", true)
	g.frame("B", true)
	if err := g.rt.Pin("nobody"); !errors.Is(err, ErrUnknownSource) {
		t.Fatalf("pin unknown: %v", err)
	}

	// The speaker's camera goes quiet: after the timeout everyone falls
	// back to the previous speaker or any live camera.
	g.step(2100*time.Millisecond, "B", "C")
	if g.pending("C") != "B" {
		t.Fatalf("C pending %q after A's camera went off", g.pending("C"))
	}
	g.frame("B", true)
	g.frame("C", true)
	if g.seen("C") != "B" || g.seen("B") != "C" {
		t.Fatalf("after camera off: C sees %s, B sees %s", g.seen("C"), g.seen("B"))
	}
	// Video muted by signalling.
	if err := g.rt.SetSourceEnabled("B", false); err != nil {
		t.Fatal(err)
	}
	if g.pending("C") != "" && g.pending("C") != "B" {
		t.Fatalf("C switched to %q", g.pending("C"))
	}
	if g.pending("A") != "C" {
		t.Fatalf("A should move from B to C, pending %q", g.pending("A"))
	}
	for _, s := range g.rt.Snapshot().Sources {
		if want := s.ID == "C"; s.Active != want {
			t.Errorf("source %s active=%v", s.ID, s.Active)
		}
	}
	if err := g.rt.SetSourceEnabled("nobody", true); !errors.Is(err, ErrUnknownSource) {
		t.Fatalf("enable unknown: %v", err)
	}
}

func TestRouterKeyframeRepeatLimit(t *testing.T) {
	g := newRig(t, Config{KeyframeRepeat: 300 * time.Millisecond, KeyframeRetries: 5})
	g.source("A", 0xa, false)
	g.receiver("C", 0xc)
	g.frame("A", false)
	g.rt.Tick()
	var times []time.Duration
	start := g.clk.Now()
	times = append(times, 0)
	g.kf.take()
	for range 50 {
		g.clk.Advance(100 * time.Millisecond)
		g.frame("A", false)
		g.rt.Tick()
		for range g.kf.take() {
			times = append(times, g.clk.Now().Sub(start))
		}
	}
	want := []time.Duration{0, 300 * time.Millisecond, 600 * time.Millisecond, 900 * time.Millisecond, 1200 * time.Millisecond}
	if !slices.Equal(times, want) {
		t.Fatalf("requests at %v, want %v", times, want)
	}
	if g.pending("C") != "A" || len(g.sinks["C"].all()) != 0 {
		t.Fatal("gave up asking but must still wait for a keyframe")
	}
	// A receiver PLI while waiting does not add to the switch's requests.
	if ok, err := g.rt.RequestFromReceiver("C"); ok || err != nil {
		t.Fatalf("PLI while pending: %v %v", ok, err)
	}
	g.frame("A", true)
	if g.seen("C") != "A" {
		t.Fatal("late IDR not taken")
	}
}

func TestRouterReceiverRequests(t *testing.T) {
	g := threeLegs(t, Config{ReceiverRequestInterval: 500 * time.Millisecond})
	call := func(id string) bool {
		ok, err := g.rt.RequestFromReceiver(id)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !call("C") {
		t.Fatal("first PLI not forwarded")
	}
	if call("B") || call("C") {
		t.Fatal("PLIs for the same source within 500 ms forwarded")
	}
	if !call("A") {
		t.Fatal("a PLI for another source is limited separately")
	}
	g.clk.Advance(499 * time.Millisecond)
	if call("C") {
		t.Fatal("forwarded at 499 ms")
	}
	g.clk.Advance(time.Millisecond)
	if !call("B") {
		t.Fatal("not forwarded at 500 ms")
	}
	if ids := g.kf.take(); !slices.Equal(ids, []string{"A", "B", "A"}) {
		t.Fatalf("requests %v", ids)
	}
	if _, err := g.rt.RequestFromReceiver("nobody"); !errors.Is(err, ErrUnknownReceiver) {
		t.Fatalf("unknown receiver: %v", err)
	}
	var reqs uint64
	for _, s := range g.rt.Snapshot().Sources {
		if s.ID == "A" {
			reqs = s.KeyframeRequests
		}
	}
	if reqs < 3 {
		t.Fatalf("source A keyframe requests counted %d", reqs)
	}
}

func TestRouterNack(t *testing.T) {
	g := newRig(t, Config{})
	g.source("A", 0xa, true)
	g.receiver("C", 0xc)
	g.frame("A", false)
	g.rt.Tick()
	g.frame("A", true)
	for range 10 {
		g.frame("A", false)
	}
	out := g.sinks["C"].take()
	want := [][]byte{out[3], out[4], out[9]}
	h := mustHeader(t, out[3])
	nack := &rtcp.TransportLayerNack{MediaSSRC: 0xc, Nacks: []rtcp.NackPair{{PacketID: h.SequenceNumber, LostPackets: 1<<0 | 1<<5}, {PacketID: h.SequenceNumber - 2000}}}
	resent, missing, err := g.rt.HandleNack("C", nack)
	if err != nil || resent != 3 || missing != 1 {
		t.Fatalf("HandleNack = %d %d %v", resent, missing, err)
	}
	got := g.sinks["C"].take()
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("retransmission %d differs from the original", i)
		}
	}
	if _, _, err := g.rt.HandleNack("nobody", nack); !errors.Is(err, ErrUnknownReceiver) {
		t.Fatalf("unknown receiver: %v", err)
	}
}

func TestRouterSSRCChangeAndReorder(t *testing.T) {
	g := newRig(t, Config{})
	g.source("A", 0xa, true)
	g.receiver("C", 0xc)
	g.frame("A", false)
	g.rt.Tick()
	g.kf.take()
	// An old packet of the previous frame arrives after the IDR: dropped.
	early := g.streams["A"].frame(false, 500)
	for _, p := range g.frame("A", true) {
		_ = p
	}
	if err := g.rt.Forward("A", early[0]); err != nil {
		t.Fatal(err)
	}
	g.frame("A", false)
	// The leg's encoder restarts with a new SSRC (re-INVITE).
	g.streams["A"].ssrc = 0xaaaa
	g.streams["A"].seq += 30000
	g.frame("A", false)
	if g.pending("C") != "A" {
		t.Fatal("a new source stream must wait for its keyframe")
	}
	g.rt.Tick()
	if ids := g.kf.take(); !slices.Equal(ids, []string{"A"}) {
		t.Fatalf("restart requests %v", ids)
	}
	g.frame("A", true)
	g.frame("A", false)
	checkContinuous(t, g.sinks["C"].all(), 0xc)
}

func TestRouterBandwidthAndLifecycle(t *testing.T) {
	g := threeLegs(t, Config{})
	for id, bps := range map[string]uint64{"A": 300_000, "B": 1_000_000, "C": 500_000} {
		if err := g.rt.SetReceiverBandwidth(id, bps); err != nil {
			t.Fatal(err)
		}
	}
	// B and C see A, A sees B.
	if bw, _ := g.rt.SourceBandwidth("A"); bw != 500_000 {
		t.Fatalf("A limit %d", bw)
	}
	if bw, _ := g.rt.SourceBandwidth("B"); bw != 300_000 {
		t.Fatalf("B limit %d", bw)
	}
	if bw, _ := g.rt.SourceBandwidth("C"); bw != 0 {
		t.Fatalf("C limit %d", bw)
	}
	if _, err := g.rt.SourceBandwidth("x"); !errors.Is(err, ErrUnknownSource) {
		t.Fatal(err)
	}
	if err := g.rt.SetReceiverBandwidth("x", 1); !errors.Is(err, ErrUnknownReceiver) {
		t.Fatal(err)
	}
	if err := g.rt.AddSource("A", nil); !errors.Is(err, ErrDuplicate) {
		t.Fatal(err)
	}
	if err := g.rt.AddReceiver("A", ReceiverConfig{Sink: &recSink{}}); !errors.Is(err, ErrDuplicate) {
		t.Fatal(err)
	}
	if err := g.rt.AddReceiver("Z", ReceiverConfig{}); !errors.Is(err, ErrBadConfig) {
		t.Fatal("nil sink accepted")
	}
	if err := g.rt.RemoveSource("A"); err != nil {
		t.Fatal(err)
	}
	if g.pending("C") != "B" || g.pending("B") != "C" {
		t.Fatalf("after A left: C pending %q, B pending %q", g.pending("C"), g.pending("B"))
	}
	if err := g.rt.Forward("A", g.streams["A"].frame(false, 100)[0]); !errors.Is(err, ErrUnknownSource) {
		t.Fatalf("forward from removed source: %v", err)
	}
	if err := g.rt.RemoveReceiver("C"); err != nil {
		t.Fatal(err)
	}
	if err := g.rt.RemoveReceiver("C"); !errors.Is(err, ErrUnknownReceiver) {
		t.Fatal(err)
	}
	if err := g.rt.RemoveSource("A"); !errors.Is(err, ErrUnknownSource) {
		t.Fatal(err)
	}
	if len(g.rt.Snapshot().Receivers) != 2 || len(g.rt.Snapshot().Sources) != 2 {
		t.Fatal("snapshot still lists removed legs")
	}
	if _, err := NewRouter(Config{}); !errors.Is(err, ErrBadConfig) {
		t.Fatal("router without keyframe callback")
	}
}

func TestRouterMalformedAndPayloadType(t *testing.T) {
	g := newRig(t, Config{})
	g.source("A", 0xa, true)
	sink := &recSink{}
	if err := g.rt.AddReceiver("C", ReceiverConfig{SSRC: 0xc, PayloadType: 109, Sink: sink}); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string][]byte{
		"short":     {0x80, 0x60},
		"forbidden": rtpPacket(1, 1, 0xa, false, []byte{0xe5, 0x88}),
		"too big":   rtpPacket(1, 1, 0xa, false, append([]byte{0x41}, make([]byte, 1600)...)),
	} {
		if err := g.rt.Forward("A", p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	padOnly := rtpPacket(1, 1, 0xa, false, []byte{0, 0, 3})
	padOnly[0] |= 0x20
	if err := g.rt.Forward("A", padOnly); err != nil {
		t.Fatalf("padding-only probe: %v", err)
	}
	g.frame("A", false)
	g.rt.Tick()
	g.frame("A", true)
	for _, p := range sink.all() {
		if p[1]&0x7f != 109 {
			t.Fatalf("payload type %d", p[1]&0x7f)
		}
	}
	if s := g.rt.Snapshot().Sources[0]; s.Malformed != 2 || !s.HasParamSets || s.KeyframesIn != 1 {
		t.Fatalf("source stats %+v", s)
	}
}

func TestRouterSpeakerEvents(t *testing.T) {
	var mu sync.Mutex
	var events []string
	g := newRig(t, Config{Hold: time.Second, OnSpeakerChange: func(id string) {
		mu.Lock()
		events = append(events, id)
		mu.Unlock()
	}})
	g.source("A", 0xa, true)
	g.rt.SetSpeaker("A")
	g.rt.SetSpeaker("B") // reported once, on change
	g.clk.Advance(999 * time.Millisecond)
	g.rt.Tick()
	g.clk.Advance(time.Millisecond)
	g.rt.Tick()
	g.rt.SetSpeaker("")
	g.rt.SetSpeaker("A")
	g.clk.Advance(2 * time.Second)
	g.rt.Tick()
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(events, []string{"A", "B", "A"}) {
		t.Fatalf("speaker events %v", events)
	}
}

func TestRouterRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		kf := &kfLog{}
		rt, err := NewRouter(Config{RequestKeyframe: kf.request, KeyframeRepeat: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := rt.AddSource("A", nil); err != nil {
			t.Fatal(err)
		}
		if err := rt.AddReceiver("C", ReceiverConfig{SSRC: 1, Sink: &recSink{}}); err != nil {
			t.Fatal(err)
		}
		s := &stream{ssrc: 5}
		for _, p := range s.frame(false, 100) {
			if err := rt.Forward("A", p); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			rt.Run(ctx, 100*time.Millisecond)
			close(done)
		}()
		time.Sleep(750 * time.Millisecond)
		synctest.Wait()
		cancel()
		<-done
		if n := len(kf.take()); n != 3 {
			t.Fatalf("%d keyframe requests in 750 ms, want 3 (at 0.1, 0.4 and 0.7 s)", n)
		}
	})
}

func TestRouterSpeakerHistory(t *testing.T) {
	g := newRig(t, Config{Hold: time.Second})
	for i, id := range []string{"A", "B", "D"} {
		g.source(id, uint32(0x100*(i+1)), true)
	}
	g.receiver("B", 0xb)
	g.receiver("X", 0xe) // audio-only participant, no camera
	for _, id := range []string{"A", "B", "D"} {
		g.frame(id, false)
	}
	for _, sp := range []string{"D", "A", "B", "X"} {
		g.rt.SetSpeaker(sp)
		g.step(1100*time.Millisecond, "A", "B", "D")
	}
	// X (no video) speaks: B sees the most recent speaker with video that
	// is not B itself, i.e. A; X sees B.
	if g.rt.Speaker() != "X" || g.pending("B") != "A" || g.pending("X") != "B" {
		t.Fatalf("speaker %s, B pending %q, X pending %q", g.rt.Speaker(), g.pending("B"), g.pending("X"))
	}
}

type failSink struct{}

func (failSink) WriteRTP([]byte) error { return errors.New("queue full") }

func TestRouterSinkErrorsCounted(t *testing.T) {
	g := newRig(t, Config{})
	g.source("A", 0xa, true)
	if err := g.rt.AddReceiver("C", ReceiverConfig{SSRC: 1, Sink: failSink{}}); err != nil {
		t.Fatal(err)
	}
	g.frame("A", false)
	g.rt.Tick()
	g.frame("A", true)
	r := g.rt.Snapshot().Receivers[0]
	if r.SendErrors == 0 || r.SendErrors != r.PacketsOut {
		t.Fatalf("send errors %d of %d", r.SendErrors, r.PacketsOut)
	}
	if err := g.rt.AddSource("B", &H264Fmtp{SpropParameterSets: [][]byte{{0x78, 0, 9}}}); err != nil {
		t.Fatal("bad sprop must not refuse the source")
	}
}
