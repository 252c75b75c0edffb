package bridge

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roomgate/roomgate/bridge/codec"
)

// tickPeriod is the mixer's clock: one 20 ms frame per tick.
const tickPeriod = codec.FrameDuration * time.Millisecond

// room is one conference's mixer. Its goroutine starts when the first leg
// joins and stops when the last leaves; joins and leaves only edit the member
// list, which the mixer copies between ticks, so they never restart or stall
// the clock.
//
// Every tick the mixer pulls one frame from each receiving leg, measures its
// energy, picks the talkers (talkers.go), sums the talkers at the room's mix
// rate (the highest rate of its legs) and sends:
//   - to each talker, the sum minus its own voice, encoded by its own encoder;
//   - to everyone else, the full sum, encoded once per codec and shared: the
//     same payload goes out under each leg's own SSRC, sequence number and
//     timestamp.
//
// So the work per tick is one cheap decode, energy sum and send per leg, plus
// a handful of encodes, whatever the size of the room.
type room struct {
	b      *Bridge
	name   string
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	members []*Leg
	changed atomic.Bool

	// Owned by the mixer goroutine.
	legs   []*Leg // the members as of the last sync
	active []*Leg // the legs this tick works on (their mxMu held)
	spk    []*speaker
	rate   int
	frame  int
	acc    []int32
	full   []int16
	groups []*encGroup
	tickN  uint64
	work   chan sendRange // to the send workers of a large room
	sendWG sync.WaitGroup

	// Announcements (announce.go): annQ waits under mu, annPending says
	// it is not empty without taking mu every tick; ann is playing and
	// annPCM holds its frame. mixRate is rate, for Announce's player.
	annQ       []*announcement
	annPending atomic.Bool
	ann        *announcement
	annPCM     []int16
	mixRate    atomic.Int32

	catchUp    bool      // this tick is part of a burst of overdue frames
	skipped    int       // frames skipped since skipLogged
	skipLogged time.Time // when skipped frames were last logged
}

// skipLogEvery limits the warning about skipped frames: a starved machine
// skips often, and the counter already has the numbers.
const skipLogEvery = 10 * time.Second

// encGroup is the shared encode of the full mix for all non-talkers of one
// codec.
type encGroup struct {
	name    string
	rate    int
	enc     codec.Encoder
	rs      resampler
	rsFrom  int
	pcm     []int16
	payload []byte
	n       int
	tick    uint64
	err     error
}

func newRoom(b *Bridge, name string) *room {
	r := &room{
		b:    b,
		name: name,
		acc:  make([]int32, maxFrame),
		full: make([]int16, maxFrame),

		annPCM: make([]int16, maxFrame),
	}
	r.ctx, r.cancel = context.WithCancel(b.ctx)
	r.setRate(8000)
	return r
}

// setRate switches the mix rate; per-leg and shared resamplers are rebuilt
// lazily for the new rate.
func (r *room) setRate(rate int) {
	r.rate = rate
	r.frame = rate * codec.FrameDuration / 1000
	r.mixRate.Store(int32(rate))
}

// run is the mixer goroutine. It produces exactly one frame per 20 ms of the
// room's clock: wake-ups are scheduled at absolute deadlines (see pacer), and
// a late wake-up is followed by the frames it missed, so that every leg gets
// 50 packets a second with continuous timestamps however the goroutine is
// scheduled. Only a stall of more than maxCatchUp frames loses frames; they
// are counted, and the legs' timestamps still advance over the gap.
func (r *room) run() {
	clk := r.b.clk
	p := pacer{start: clk.Now(), period: tickPeriod}
	t := clk.NewTimer(tickPeriod)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C():
		}
		now := clk.Now()
		produce, skip := p.advance(now)
		if skip > 0 {
			r.skip(skip)
			r.b.ticks.skip(skip, r.b.metrics)
			r.skipped += skip
			if now.Sub(r.skipLogged) >= skipLogEvery {
				r.b.log.Warn("mixer fell behind: frames skipped", "conf", r.name, "frames", r.skipped)
				r.skipped, r.skipLogged = 0, now
			}
		}
		r.catchUp = produce > 1
		for i := range produce {
			if i > 0 {
				if r.ctx.Err() != nil {
					return
				}
				r.b.ticks.late(r.b.metrics)
				now = clk.Now()
			}
			start := time.Now()
			r.tick(now)
			r.b.ticks.record(time.Since(start), r.b.metrics)
		}
		t.Reset(p.wait(clk.Now()))
	}
}

// skip accounts for frames the mixer could not produce in time: each leg's
// RTP timestamp advances over the gap and its next packet carries the marker
// bit, so that its peer sees the elapsed time (RFC 3550 §5.1) instead of
// silently shifted audio.
func (r *room) skip(frames int) {
	r.sync()
	r.acquire()
	defer r.release()
	for _, l := range r.active {
		mx := &l.mx
		if mx.enc == nil {
			continue
		}
		mx.ts += uint32(frames) * mx.info.TimestampStep()
		mx.marker = true
	}
}

// sync copies the member list when it changed.
func (r *room) sync() {
	if !r.changed.Swap(false) {
		return
	}
	r.mu.Lock()
	clear(r.legs)
	r.legs = append(r.legs[:0], r.members...)
	r.mu.Unlock()
}

// acquire takes the legs this tick works on: those whose mixer state is free
// and belongs to this room. A leg being moved to another room is skipped for
// a tick rather than waited for.
func (r *room) acquire() {
	clear(r.active)
	r.active = r.active[:0]
	clear(r.spk)
	r.spk = r.spk[:0]
	for _, l := range r.legs {
		if !l.mxMu.TryLock() {
			continue
		}
		if l.mx.room != r {
			l.mxMu.Unlock()
			continue
		}
		r.active = append(r.active, l)
		r.spk = append(r.spk, &l.mx.spk)
	}
}

// release gives the legs' mixer state back.
func (r *room) release() {
	for _, l := range r.active {
		l.mxMu.Unlock()
	}
}

// tick mixes and sends one 20 ms frame. It allocates nothing in steady state.
func (r *room) tick(now time.Time) {
	r.tickN++
	r.sync()
	r.acquire()
	defer r.release()

	// 1. Pull a frame from every leg; find the mix rate.
	rate := 8000
	for _, l := range r.active {
		timeout, report := l.prepare(now, r.catchUp)
		mx := &l.mx
		if (mx.send || mx.recv) && mx.info.SampleRate > rate {
			rate = mx.info.SampleRate
		}
		if timeout {
			r.b.metrics.mediaTimeouts.Inc()
			l.log.Warn("media timeout: no RTP received", "timeout", r.b.cfg.MediaTimeout)
			l.emit(Event{Kind: EventMediaTimeout, At: now})
			r.b.wg.Go(func() { l.Close(ErrMediaTimeout) })
		}
		if report != nil {
			if err := l.rtcpOut.send(report, mx.rtcp); err != nil {
				r.b.metrics.sendErrors.Inc()
			} else {
				r.b.metrics.rtcpOut.Inc()
			}
		}
	}
	if rate != r.rate {
		r.setRate(rate)
	}

	// 2. Talker selection on each leg's own-rate frame.
	for _, l := range r.active {
		mx := &l.mx
		e := 0.0
		if mx.have {
			e = frameEnergy(mx.pcm[:mx.frame()])
		}
		mx.spk.observe(e, mx.have)
		if !mx.recv && mx.spk.talking {
			mx.spk.quiet = hangoverFrames // held or gone: leave the mix now
		}
	}
	selectTalkers(r.spk, r.b.maxTalkers)
	r.noteVideoSpeaker()

	// 3. Sum the talkers, the DTMF tones legs pass and the room's
	// announcement at the mix rate.
	acc := r.acc[:r.frame]
	clear(acc)
	for _, l := range r.active {
		mx := &l.mx
		voice := mx.spk.talking && mx.have
		tone := mx.passTone()
		mx.contrib = voice || tone
		if !mx.contrib {
			mx.wasContrib = false
			continue
		}
		if tone {
			n := mx.frame()
			if !voice {
				clear(mx.pcm[:n])
			}
			addSat(mx.pcm[:n], mx.tonePCM[:n])
		}
		if !mx.wasContrib && mx.inRS != nil {
			// The input resampler only runs while the leg is heard:
			// start it from silence rather than from its last talkspurt.
			mx.inRS.Reset()
		}
		if in := mx.toMix(r); in != nil {
			accumulate(acc, in)
		} else {
			mx.contrib = false
		}
		mx.wasContrib = mx.contrib
	}
	r.mixAnnouncement(acc)
	saturateInto(r.full[:r.frame], acc)

	// 4. Decide what every leg hears: legs heard in the mix, legs playing
	// a prompt and legs with a listen gain get their own encode, the
	// others share one encode per codec.
	for _, l := range r.active {
		mx := &l.mx
		mx.next = nil
		if mx.spk.changed {
			l.talking.Store(mx.spk.talking)
			l.emit(Event{Kind: EventTalking, Talking: mx.spk.talking, At: now})
		}
		withPrompt := mx.fillPrompt() // even when not sending: prompts keep time
		if mx.enc == nil || !mx.send || !mx.dest.IsValid() || mx.evNow {
			mx.private = false
			continue
		}
		var err error
		if mx.contrib || withPrompt || mx.listenQ != unityQ14 {
			if !mx.private && mx.outRS != nil {
				mx.outRS.Reset() // from silence, not from its last use
			}
			mx.private = true
			if mx.contrib {
				in := mx.pcm[:r.frame]
				if mx.info.SampleRate != r.rate {
					in = mx.atMix[:r.frame]
				}
				mixMinus(mx.out[:r.frame], acc, in)
			} else {
				copy(mx.out[:r.frame], r.full[:r.frame])
			}
			mx.next, err = mx.encodeOwn(r, withPrompt)
		} else {
			mx.private = false
			mx.next, err = r.shared(mx)
		}
		if err != nil {
			mx.next = nil
			r.b.metrics.sendErrors.Inc()
		}
	}

	// 5. Send. This is most of a tick's cost (one system call per leg), so
	// large rooms spread it over the CPUs.
	if len(r.active) < parallelSendMin || r.b.sendWorkers == 0 {
		r.sendRange(0, len(r.active))
		return
	}
	r.startWorkers()
	parts := r.b.sendWorkers + 1
	chunk := (len(r.active) + parts - 1) / parts
	for lo := chunk; lo < len(r.active); lo += chunk {
		w := sendRange{lo, min(lo+chunk, len(r.active))}
		r.sendWG.Add(1)
		select {
		case r.work <- w:
		case <-r.ctx.Done(): // the workers are gone: finish the tick here
			r.sendRange(w.lo, w.hi)
			r.sendWG.Done()
		}
	}
	r.sendRange(0, min(chunk, len(r.active)))
	r.sendWG.Wait()
}

// parallelSendMin is the room size from which sending is spread over workers.
const parallelSendMin = 128

// sendRange is a slice of r.active for a send worker.
type sendRange struct{ lo, hi int }

// sendRange sends legs [lo, hi) their payloads of this tick.
func (r *room) sendRange(lo, hi int) {
	for _, l := range r.active[lo:hi] {
		mx := &l.mx
		if mx.enc == nil {
			continue // not started
		}
		if mx.evNow {
			l.sendEvent() // instead of audio while a telephone-event plays
		} else if mx.next != nil {
			l.sendRTP(mx.next)
		} else {
			mx.marker = true // the next packet starts a talkspurt again
		}
		// The timestamp follows the clock even while nothing is sent, so that
		// after a hold the receiver sees the elapsed time (RFC 3550 §5.1).
		mx.ts += mx.info.TimestampStep()
	}
}

// startWorkers starts the room's send workers once; they stop with the room.
func (r *room) startWorkers() {
	if r.work != nil {
		return
	}
	r.work = make(chan sendRange)
	for range r.b.sendWorkers {
		r.b.wg.Go(func() {
			for {
				select {
				case <-r.ctx.Done():
					return
				case w := <-r.work:
					r.sendRange(w.lo, w.hi)
					r.sendWG.Done()
				}
			}
		})
	}
}

// shared returns the full mix encoded in mx's codec, encoding it at most once
// per tick per codec.
func (r *room) shared(mx *legMix) ([]byte, error) {
	g := mx.group
	if g == nil {
		for _, c := range r.groups {
			if c.name == mx.info.Name && c.rate == mx.info.SampleRate {
				g = c
				break
			}
		}
		if g == nil {
			enc, err := r.b.media.newEncoder(mx.info)
			if err != nil {
				return nil, err
			}
			g = &encGroup{
				name: mx.info.Name, rate: mx.info.SampleRate, enc: enc,
				pcm: make([]int16, maxFrame), payload: make([]byte, codec.MaxPayload),
			}
			r.groups = append(r.groups, g)
		}
		mx.group = g
	}
	if g.tick == r.tickN {
		return g.payload[:g.n], g.err
	}
	g.tick = r.tickN
	pcm := r.full[:r.frame]
	if g.rate != r.rate {
		if g.rs == nil || g.rsFrom != r.rate {
			rs, err := r.b.media.newResampler(r.rate, g.rate)
			if err != nil {
				g.err = err
				return nil, err
			}
			g.rs, g.rsFrom = rs, r.rate
		}
		n := g.rate * codec.FrameDuration / 1000
		w := g.rs.Process(g.pcm[:n], pcm)
		clear(g.pcm[w:n])
		pcm = g.pcm[:n]
	}
	g.n, g.err = g.enc.Encode(pcm, g.payload)
	if g.err != nil {
		g.n = 0
	}
	return g.payload[:g.n], g.err
}
