package bridge

import (
	"errors"
	"math"
	"testing"

	"github.com/roomgate/roomgate/bridge/codec"
	"github.com/roomgate/roomgate/bridge/prompt"
)

// testPrompts returns the shipped prompt library.
func testPrompts(t testing.TB) *prompt.Library {
	t.Helper()
	lib, err := prompt.New(prompt.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return lib
}

// ear is a leg whose peer decodes everything the bridge sends it, one
// packet per tick; it sends nothing unless told.
type ear struct {
	*peer
	leg   *Leg
	info  codec.Info
	pt    uint8
	dec   codec.Decoder
	heard []int16
	// frames counts the ticks it was driven through, sent to or not.
	frames int
}

func newEar(t *testing.T, b *Bridge, room, id string, info codec.Info, pt uint8, eventPT int) *ear {
	t.Helper()
	dec, err := codec.NewDecoder(info)
	if err != nil {
		t.Fatal(err)
	}
	l, err := b.NewLeg(LegOptions{ID: id, Room: room})
	if err != nil {
		t.Fatal(err)
	}
	e := &ear{peer: newPeer(t), leg: l, info: info, pt: pt, dec: dec}
	e.to = netipLocal(l.LocalPort())
	if err := l.Start(StreamParams{Codec: info, PayloadType: pt, EventPayloadType: eventPT, Remote: e.addr}); err != nil {
		t.Fatal(err)
	}
	return e
}

// receive reads and decodes one packet.
func (e *ear) receive() {
	e.t.Helper()
	pkt, _ := e.recvRTP()
	if pkt.PayloadType != e.pt {
		e.t.Fatalf("%s: payload type %d, want %d", e.leg.id, pkt.PayloadType, e.pt)
	}
	pcm := make([]int16, codec.MaxDecodeSamples)
	n, err := e.dec.Decode(pkt.Payload, pcm)
	if err != nil {
		e.t.Fatalf("%s: decoding: %v", e.leg.id, err)
	}
	e.heard = append(e.heard, pcm[:n]...)
}

// frameDB returns the RMS level in dBFS of the i-th 20 ms frame heard.
func (e *ear) frameDB(i int) float64 {
	n := e.info.SampleRate / 50
	return rmsDBFS(e.heard[i*n : (i+1)*n])
}

// activeFrames counts the frames heard above -45 dBFS.
func (e *ear) activeFrames() int {
	k := 0
	for i := range len(e.heard) / (e.info.SampleRate / 50) {
		if e.frameDB(i) > -45 {
			k++
		}
	}
	return k
}

func rmsDBFS(pcm []int16) float64 {
	if len(pcm) == 0 {
		return math.Inf(-1)
	}
	return 10 * math.Log10(frameEnergy(pcm)/(32768*32768)+1e-20)
}

// drive runs n ticks of r; after each, every ear in recv receives its
// packet (an ear whose leg is held is left out).
func drive(t *testing.T, clk *fakeClock, r *room, n int, recv ...*ear) {
	t.Helper()
	for range n {
		clk.Advance(tickPeriod)
		r.tick(clk.Now())
		for _, e := range recv {
			e.receive()
			e.frames++
		}
	}
}

// closed reports whether ch is closed.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// promptFrames is how many 20 ms frames the prompts take.
func promptFrames(t *testing.T, lib *prompt.Library, names ...string) int {
	t.Helper()
	p, err := lib.Player(8000, names...)
	if err != nil {
		t.Fatal(err)
	}
	return int((p.Duration() + tickPeriod - 1) / tickPeriod)
}

// A prompt played to one leg reaches that leg, for as long as the prompt
// lasts, and nobody else in the room; the channel closes on the tick after
// its last frame.
func TestLegPlayIsPrivate(t *testing.T) {
	lib := testPrompts(t)
	b, clk := newTestBridge(t, Config{Prompts: lib})
	pcmu := mustLookup(t, "PCMU")
	a := newEar(t, b, "room", "a", pcmu, 0, 101)
	o1 := newEar(t, b, "room", "o1", pcmu, 0, 101)
	o2 := newEar(t, b, "room", "o2", mustLookup(t, "G722"), 9, 101)
	r := roomOf(t, a.leg)
	done, err := a.leg.Play(prompt.Welcome, prompt.EnterPIN)
	if err != nil {
		t.Fatal(err)
	}
	frames := promptFrames(t, lib, prompt.Welcome, prompt.EnterPIN)
	drive(t, clk, r, frames, a, o1, o2)
	if closed(done) || !a.leg.Playing() {
		t.Fatal("prompt finished early")
	}
	drive(t, clk, r, 1, a, o1, o2)
	if !closed(done) || a.leg.Playing() {
		t.Fatal("prompt channel still open a tick after its last frame")
	}
	drive(t, clk, r, 10, a, o1, o2)
	// Speech: most of the prompt's frames are loud, nothing after it.
	if k := a.activeFrames(); k < frames/2 || k > frames {
		t.Errorf("leg heard %d active frames of a %d-frame prompt", k, frames)
	}
	for i := frames; i < a.frames; i++ {
		if db := a.frameDB(i); db > -45 {
			t.Errorf("frame %d after the prompt at %.1f dBFS", i, db)
		}
	}
	loudest := -200.0
	for i := range frames {
		loudest = max(loudest, a.frameDB(i))
	}
	if loudest < -20 {
		t.Errorf("prompt peaks at %.1f dBFS", loudest)
	}
	for _, o := range []*ear{o1, o2} {
		if k := o.activeFrames(); k != 0 {
			t.Errorf("%s heard %d frames of another leg's prompt", o.leg.id, k)
		}
	}
}

// The room goes on being heard under a prompt, ducked by about 10 dB.
func TestLegPlayDucksRoom(t *testing.T) {
	lib := testPrompts(t)
	b, clk := newTestBridge(t, Config{Prompts: lib})
	pcmu := mustLookup(t, "PCMU")
	talker := newTonePeer(t, b, "duck", "talker", pcmu, 0, 400)
	listener := newTonePeer(t, b, "duck", "listener", pcmu, 0, 0)
	peers := []*tonePeer{talker, listener}
	runRoom(t, clk, peers, 20)
	before := goertzel(listener.heard[len(listener.heard)-800:], 8000, 400)
	if _, err := listener.leg.Play(prompt.Help); err != nil {
		t.Fatal(err)
	}
	listener.heard = nil
	runRoom(t, clk, peers, 50)
	during := goertzel(listener.heard[len(listener.heard)-4000:], 8000, 400)
	db := 10 * math.Log10(during/before)
	if db < -12 || db > -8 {
		t.Errorf("room under a prompt changed by %.1f dB, want about -10", db)
	}
}

// A muted leg alone in its room (an IVR lobby) hears its prompts; a held
// leg hears nothing, yet its prompt ends on time.
func TestLegPlayLobbyMutedAndHeld(t *testing.T) {
	lib := testPrompts(t)
	b, clk := newTestBridge(t, Config{Prompts: lib})
	opus := mustLookup(t, "opus")
	lobby := newEar(t, b, "lobby/a", "a", opus, 111, 101)
	lobby.leg.SetMuted(true)
	done, err := lobby.leg.Play(prompt.EnterConferenceID)
	if err != nil {
		t.Fatal(err)
	}
	frames := promptFrames(t, lib, prompt.EnterConferenceID)
	drive(t, clk, roomOf(t, lobby.leg), frames+1, lobby)
	if !closed(done) {
		t.Fatal("lobby prompt not done")
	}
	if k := lobby.activeFrames(); k < frames/2 {
		t.Errorf("muted lobby leg heard %d active frames of %d", k, frames)
	}

	held := newEar(t, b, "lobby/h", "h", mustLookup(t, "PCMU"), 0, 101)
	if err := held.leg.Update(StreamParams{Codec: held.info, EventPayloadType: 101, Remote: held.addr, Direction: RecvOnly}); err != nil {
		t.Fatal(err)
	}
	done, err = held.leg.Play(prompt.Welcome)
	if err != nil {
		t.Fatal(err)
	}
	frames = promptFrames(t, lib, prompt.Welcome)
	drive(t, clk, roomOf(t, held.leg), frames)
	if closed(done) {
		t.Fatal("held leg's prompt ended early")
	}
	drive(t, clk, roomOf(t, held.leg), 1)
	if !closed(done) {
		t.Fatal("held leg's prompt did not end on time")
	}
	if s := held.leg.Stats(); s.PacketsOut != 0 {
		t.Errorf("held leg was sent %d packets", s.PacketsOut)
	}
}

// A prompt keeps its place when the room's mix rate changes under it and
// when the leg's own codec changes.
func TestLegPlayAcrossRateChanges(t *testing.T) {
	lib := testPrompts(t)
	b, clk := newTestBridge(t, Config{Prompts: lib})
	g722 := newEar(t, b, "rates", "g722", mustLookup(t, "G722"), 9, 101)
	r := roomOf(t, g722.leg)
	done, err := g722.leg.Play(prompt.Help)
	if err != nil {
		t.Fatal(err)
	}
	frames := promptFrames(t, lib, prompt.Help)
	drive(t, clk, r, 20, g722)
	if r.rate != 16000 {
		t.Fatalf("mix rate %d, want 16000", r.rate)
	}
	opus := newEar(t, b, "rates", "opus", mustLookup(t, "opus"), 111, 101)
	drive(t, clk, r, 20, g722, opus)
	if r.rate != 48000 {
		t.Fatalf("mix rate %d, want 48000", r.rate)
	}
	// The leg's codec changes to PCMU (8 kHz) mid-prompt.
	pcmu := mustLookup(t, "PCMU")
	if err := g722.leg.Update(StreamParams{Codec: pcmu, EventPayloadType: 101, Remote: g722.addr}); err != nil {
		t.Fatal(err)
	}
	g722.info, g722.pt = pcmu, 0
	if g722.dec, err = codec.NewDecoder(pcmu); err != nil {
		t.Fatal(err)
	}
	mark := len(g722.heard)
	drive(t, clk, r, frames-40, g722, opus)
	if closed(done) {
		t.Fatal("prompt ended early")
	}
	drive(t, clk, r, 1, g722, opus)
	if !closed(done) {
		t.Fatal("prompt did not end on time across the rate changes")
	}
	if db := rmsDBFS(g722.heard[mark:]); db < -35 {
		t.Errorf("prompt after the codec change at %.1f dBFS", db)
	}
	if k := opus.activeFrames(); k != 0 {
		t.Errorf("the other leg heard %d frames of the prompt", k)
	}
}

// StopPlaying cuts the prompt and drops the queue; Close ends what is
// queued too.
func TestLegStopPlaying(t *testing.T) {
	lib := testPrompts(t)
	b, clk := newTestBridge(t, Config{Prompts: lib})
	a := newEar(t, b, "stop", "a", mustLookup(t, "PCMU"), 0, 101)
	r := roomOf(t, a.leg)
	first, err := a.leg.Play(prompt.Help)
	if err != nil {
		t.Fatal(err)
	}
	second, err := a.leg.Play(prompt.Goodbye)
	if err != nil {
		t.Fatal(err)
	}
	drive(t, clk, r, 25, a)
	if a.activeFrames() < 10 {
		t.Fatal("prompt not heard before stopping")
	}
	a.leg.StopPlaying()
	if !closed(first) || !closed(second) {
		t.Fatal("channels not closed by StopPlaying")
	}
	a.heard = nil
	drive(t, clk, r, 1, a) // the tick may have taken its frame already
	a.heard = nil
	drive(t, clk, r, 20, a)
	if k := a.activeFrames(); k != 0 {
		t.Errorf("%d frames heard after StopPlaying", k)
	}

	again, err := a.leg.Play(prompt.Help)
	if err != nil {
		t.Fatal(err)
	}
	a.leg.Close(nil)
	if !closed(again) {
		t.Error("prompt channel open after Close")
	}
	if _, err := a.leg.Play(prompt.Welcome); !errors.Is(err, ErrClosed) {
		t.Errorf("Play after Close: %v", err)
	}
}

func TestLegPlayErrors(t *testing.T) {
	b, _ := newTestBridge(t, Config{})
	l, err := b.NewLeg(LegOptions{ID: "x", Room: "r"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(nil)
	if _, err := l.Play(prompt.Welcome); !errors.Is(err, ErrNoPrompts) {
		t.Errorf("no library: %v", err)
	}
	if err := b.Announce("r", prompt.Join); !errors.Is(err, ErrNoPrompts) {
		t.Errorf("announce without library: %v", err)
	}
	b2, _ := newTestBridge(t, Config{Prompts: testPrompts(t)})
	l2, err := b2.NewLeg(LegOptions{ID: "y", Room: "r"})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close(nil)
	if _, err := l2.Play(prompt.Welcome, "no-such-prompt"); !errors.Is(err, prompt.ErrUnknown) {
		t.Errorf("unknown prompt: %v", err)
	}
	if l2.Playing() {
		t.Error("a failed Play queued prompts")
	}
	if err := b2.Announce("r", "no-such-prompt"); !errors.Is(err, prompt.ErrUnknown) {
		t.Errorf("announce unknown prompt: %v", err)
	}
	if err := b2.Announce("nobody-here", prompt.Join); err != nil {
		t.Errorf("announce in an empty room: %v", err)
	}
	done, err := l2.Play()
	if err != nil || !closed(done) {
		t.Errorf("Play of nothing: %v, closed %v", err, closed(done))
	}
}

// An announcement reaches every leg of the room, talkers included, and a
// second one plays after the first: the join tone (660 then 880 Hz), then
// the leave tone (880 then 660 Hz).
func TestAnnounce(t *testing.T) {
	lib := testPrompts(t)
	b, clk := newTestBridge(t, Config{Prompts: lib})
	pcmu := mustLookup(t, "PCMU")
	talker := newTonePeer(t, b, "ann", "talker", pcmu, 0, 300)
	quiet := newTonePeer(t, b, "ann", "quiet", pcmu, 0, 0)
	wide := newTonePeer(t, b, "ann", "wide", mustLookup(t, "G722"), 9, 0)
	peers := []*tonePeer{talker, quiet, wide}
	runRoom(t, clk, peers, 10)
	if err := b.Announce("ann", prompt.Join); err != nil {
		t.Fatal(err)
	}
	if err := b.Announce("ann", prompt.Leave); err != nil {
		t.Fatal(err)
	}
	for _, p := range peers {
		p.heard = nil
	}
	runRoom(t, clk, peers, 30)
	// Notes of 120 ms: 6 frames each, from the first frame of the tick
	// after Announce. Look at the middle 4 frames of each note.
	notes := []struct{ hi, lo float64 }{{660, 880}, {880, 660}, {880, 660}, {660, 880}}
	for _, p := range peers {
		rate := p.info.SampleRate
		fr := rate / 50
		for k, n := range notes {
			seg := p.heard[(6*k+1)*fr : (6*k+5)*fr]
			if hi, lo := goertzel(seg, rate, n.hi), goertzel(seg, rate, n.lo); hi < 1e4 || hi < 10*lo {
				t.Errorf("%s, note %d: %.0f Hz power %.3g, %.0f Hz %.3g", p.leg.id, k, n.hi, hi, n.lo, lo)
			}
		}
		// The talker hears only the announcements (the others are silent).
		if p == talker {
			if db := rmsDBFS(p.heard[26*fr:]); db > -45 {
				t.Errorf("%s: %.1f dBFS after the announcements", p.leg.id, db)
			}
		}
	}
}

// Prompts queued before Start play once the leg starts, and a prompt goes
// on, on time, when the leg moves from its lobby into a conference.
func TestLegPlayBeforeStartAndAcrossSetRoom(t *testing.T) {
	lib := testPrompts(t)
	b, clk := newTestBridge(t, Config{Prompts: lib})
	pcmu := mustLookup(t, "PCMU")
	l, err := b.NewLeg(LegOptions{ID: "caller", Room: "lobby/caller"})
	if err != nil {
		t.Fatal(err)
	}
	done, err := l.Play(prompt.EnterConferenceID)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := codec.NewDecoder(pcmu)
	if err != nil {
		t.Fatal(err)
	}
	caller := &ear{peer: newPeer(t), leg: l, info: pcmu, pt: 0, dec: dec}
	caller.to = netipLocal(l.LocalPort())
	if err := l.Start(StreamParams{Codec: pcmu, EventPayloadType: 101, Remote: caller.addr}); err != nil {
		t.Fatal(err)
	}
	member := newEar(t, b, "conf", "member", pcmu, 0, 101)
	frames := promptFrames(t, lib, prompt.EnterConferenceID)
	drive(t, clk, roomOf(t, l), 30, caller)
	if err := l.SetRoom("conf"); err != nil {
		t.Fatal(err)
	}
	r := roomOf(t, l)
	drive(t, clk, r, frames-30, caller, member)
	if closed(done) {
		t.Fatal("prompt ended early")
	}
	drive(t, clk, r, 1, caller, member)
	if !closed(done) {
		t.Fatal("prompt did not end on time after moving rooms")
	}
	if k := caller.activeFrames(); k < frames/2 {
		t.Errorf("caller heard %d active frames of %d", k, frames)
	}
	if k := member.activeFrames(); k != 0 {
		t.Errorf("the conference heard %d frames of the caller's prompt", k)
	}
}
