package bridge

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/pion/rtp"

	"github.com/roomgate/roomgate/bridge/codec"
	"github.com/roomgate/roomgate/bridge/dtmf"
	"github.com/roomgate/roomgate/bridge/prompt"
)

// maxFrame is the largest 20 ms frame: 48 kHz.
const maxFrame = 48000 * codec.FrameDuration / 1000

// rtpHeaderLen is the size of the RTP header we send: no CSRCs, no extension.
const rtpHeaderLen = 12

// legMix is the part of a leg that only its room's mixer goroutine touches
// (under Leg.mxMu, so that a leg can move between rooms):
// the leg's frame for this tick, its talker state, its own encoder and
// resamplers, and the RTP sender state.
type legMix struct {
	room *room // the room whose mixer may use this state
	gen  uint64
	info codec.Info
	enc  codec.Encoder
	pt   uint8

	send, recv bool           // started and sending / receiving this tick
	dest, rtcp netip.AddrPort // where RTP and RTCP go
	have       bool           // pcm holds a frame this tick

	pcm    []int16 // this tick's frame at the leg's rate
	atMix  []int16 // the same at the mix rate (talkers only)
	out    []int16 // what the leg hears, at the mix rate
	outLeg []int16 // the same at the leg's rate

	inRS, outRS resampler
	rsRate      int // the mix rate inRS and outRS were built for
	group       *encGroup

	spk speaker

	// In-band DTMF, for streams without telephone-event: sup is built at the
	// decoder's rate on the first tick that needs it after a codec change
	// (nil with supFailed when the rate has no detector), tones is its
	// preallocated output.
	sup       *dtmf.Suppressor
	supFailed bool
	scanning  bool // the last tick scanned; a new run starts from a reset
	wasRecv   bool // the last tick mixed the leg's audio (recv)
	tones     []dtmf.Tone

	// Prompts, volume and passed digits: the prompt player of this tick
	// (nil for none) and its frame, the Q14 gain factors, the generator of
	// passed DTMF and its frame. contrib: the leg's audio is in this tick's
	// sum (a talker, or a passed tone); wasContrib and private: last tick it
	// was, and it had its own encode, for the resamplers' resets.
	player         *prompt.Player
	promptPCM      []int16
	listenQ, talkQ int32
	passGen        *dtmf.Generator
	tonePCM        []int16
	contrib        bool
	wasContrib     bool
	private        bool

	// Telephone-events to send (leg_digits.go): evNow says this tick sends
	// evPayload with evTS and evMarker instead of audio.
	evPT      int
	evNow     bool
	evMarker  bool
	evTS      uint32
	evPayload [4]byte

	// RTP sending: one SSRC for the leg's life; sequence and timestamp
	// continue across holds and codec changes.
	ssrc    uint32
	seq     uint16
	ts      uint32
	marker  bool
	hdr     rtp.Header
	pkt     []byte
	payload []byte
	next    []byte // the payload to send this tick, nil for none

	rtcpBuf         []byte
	packets, octets uint32 // for sender reports
	sentSinceReport bool
	nextRTCP        time.Time
	concealed       uint64 // playout.concealed already counted in metrics
	compressed      uint64 // playout.compressed already counted in metrics
}

// init preallocates the buffers and picks random initial sequence number and
// timestamp (RFC 3550 §5.1).
func (mx *legMix) init(ssrc uint32) {
	mx.pcm = make([]int16, maxFrame)
	mx.atMix = make([]int16, maxFrame)
	mx.out = make([]int16, maxFrame)
	mx.outLeg = make([]int16, maxFrame)
	mx.listenQ, mx.talkQ = unityQ14, unityQ14
	mx.pkt = make([]byte, rtpHeaderLen+codec.MaxPayload)
	mx.payload = make([]byte, codec.MaxPayload)
	mx.rtcpBuf = make([]byte, 0, 512)
	mx.tones = make([]dtmf.Tone, 0, 8)
	mx.ssrc = ssrc
	r := nonZeroRand()
	mx.seq = uint16(r)
	mx.ts = nonZeroRand()
	mx.marker = true
	mx.hdr = rtp.Header{Version: 2, SSRC: ssrc}
}

// prepare runs at the start of a tick: it takes the leg's current media
// settings and pulls its 20 ms frame (catchUp: an overdue frame of a burst).
// It returns whether the media timeout fired and an RTCP report to send, if
// one is due.
func (l *Leg) prepare(now time.Time, catchUp bool) (timeout bool, report []byte) {
	mx := &l.mx
	l.mu.Lock()
	if l.gen != mx.gen {
		mx.gen = l.gen
		mx.info = l.info
		mx.enc = l.enc
		mx.inRS, mx.outRS, mx.rsRate = nil, nil, 0
		mx.group = nil
		mx.sup, mx.supFailed = nil, false
		mx.passGen = nil // its tone was at the old rate
	}
	mx.pt = l.params.PayloadType
	dir := l.params.Direction
	mx.send = l.started && (dir == SendRecv || dir == SendOnly)
	live := l.started && dir == SendRecv && l.ctx.Err() == nil
	mx.recv = live && !l.muted
	mx.dest = l.rtpDest()
	l.play.catchUp = catchUp
	// Without telephone-event, digits can only be in the audio: scan it even
	// while the leg is muted, and mix only what the suppressor lets through.
	scan := live && l.params.EventPayloadType < 0 && l.inj == nil // injected: leg_inject.go
	pulled := (mx.recv || scan) && l.play.pull(mx.pcm)
	if c := l.play.concealed; c != mx.concealed {
		l.b.metrics.concealed.Add(float64(c - mx.concealed))
		mx.concealed = c
	}
	if c := l.play.compressed; c != mx.compressed {
		l.b.metrics.compressed.Add(float64(c - mx.compressed))
		mx.compressed = c
	}
	if to := l.mediaTimeout(); live && !l.timedOut && to > 0 && now.Sub(l.activity) >= to { // leg_inject.go
		l.timedOut = true
		timeout = true
	}
	if l.started && !now.Before(mx.nextRTCP) {
		if !mx.nextRTCP.IsZero() {
			mx.rtcp = l.rtcpDest()
			if mx.rtcp.IsValid() {
				report = l.buildReport(now, mx)
			}
		}
		mx.nextRTCP = nextReport(now)
	}
	l.preparePrompt(mx)
	l.prepareDigits(mx)
	mx.listenQ, mx.talkQ = gainQ14(l.listenGain), gainQ14(l.talkGain)
	l.mu.Unlock()
	if scan && !mx.scanning && mx.sup != nil {
		mx.sup.Reset() // after a hold or telephone-event: drop the stale frame
	}
	mx.scanning = scan
	if pulled && scan {
		pulled = l.suppressInband(now)
		// The suppressor's output lags a frame: on the first tick after a
		// mute it is audio from while the leg was muted, which stays private.
		pulled = pulled && mx.wasRecv
	}
	mx.wasRecv = mx.recv
	mx.have = pulled && mx.recv
	if mx.have && mx.talkQ != unityQ14 {
		// Before talker detection, so that the volume the room hears is
		// the one it judges.
		scaleQ14(mx.pcm[:mx.frame()], mx.talkQ)
	}
	return timeout, report
}

// suppressInband passes the leg's pulled frame through its DTMF suppressor:
// detected presses become EventDTMF, and mx.pcm becomes the previous frame
// with any tone silenced. It reports whether mx.pcm holds a frame to mix.
func (l *Leg) suppressInband(now time.Time) bool {
	mx := &l.mx
	if mx.sup == nil {
		if mx.supFailed {
			return true
		}
		sup, err := newSuppressor(mx.info.SampleRate, mx.frame())
		if err != nil {
			// Logged once per codec: the audio is mixed unscanned.
			mx.supFailed = true
			l.log.Warn("in-band DTMF detection unavailable", "codec", mx.info.Name, "err", err)
			return true
		}
		mx.sup = sup
	}
	tones, err := mx.sup.Process(mx.tones[:0], mx.pcm[:mx.frame()])
	if err != nil {
		// Process fails only for a frame of the wrong size, a bug: stop
		// scanning with this codec rather than log every tick.
		mx.sup, mx.supFailed = nil, true
		l.log.Error("in-band DTMF detection failed", "codec", mx.info.Name, "err", err)
		return false
	}
	for _, t := range tones {
		l.b.metrics.dtmfEvents.Inc()
		l.emit(Event{Kind: EventDTMF, Digit: t.Digit, Source: SourceInband, At: now})
	}
	return true
}

// newSuppressor returns an in-band DTMF suppressor with the default
// detector for frames of frame samples at rate.
func newSuppressor(rate, frame int) (*dtmf.Suppressor, error) {
	det, err := dtmf.NewDetector(dtmf.DetectorConfig{Rate: rate})
	if err != nil {
		return nil, fmt.Errorf("creating DTMF detector at %d Hz: %w", rate, err)
	}
	sup, err := dtmf.NewSuppressor(det, frame)
	if err != nil {
		return nil, fmt.Errorf("creating DTMF suppressor for %d-sample frames: %w", frame, err)
	}
	return sup, nil
}

// frame is the leg's 20 ms frame length at its own rate.
func (mx *legMix) frame() int { return mx.info.SamplesPerFrame() }

// toMix returns the leg's frame at the mix rate.
func (mx *legMix) toMix(r *room) []int16 {
	n := mx.frame()
	if mx.info.SampleRate == r.rate {
		return mx.pcm[:n]
	}
	if !mx.ensureResamplers(r) {
		return nil
	}
	out := mx.atMix[:r.frame]
	w := mx.inRS.Process(out, mx.pcm[:n])
	clear(out[w:])
	return out
}

// ensureResamplers builds the leg's resamplers for the room's mix rate.
func (mx *legMix) ensureResamplers(r *room) bool {
	if mx.rsRate == r.rate && mx.inRS != nil {
		return true
	}
	in, err := r.b.media.newResampler(mx.info.SampleRate, r.rate)
	if err != nil {
		r.b.log.Error("creating resampler", "from", mx.info.SampleRate, "to", r.rate, "err", err)
		return false
	}
	out, err := r.b.media.newResampler(r.rate, mx.info.SampleRate)
	if err != nil {
		r.b.log.Error("creating resampler", "from", r.rate, "to", mx.info.SampleRate, "err", err)
		return false
	}
	mx.inRS, mx.outRS, mx.rsRate = in, out, r.rate
	return true
}

// encodeOwn encodes what a leg hears on its own (mx.out at the mix rate:
// a talker's mix-minus, or the room's mix for a leg with a prompt or a
// listen gain) with the leg's own encoder and returns the payload. At the
// leg's rate, the listen gain applies to the room's audio and the prompt
// frame, when withPrompt says there is one, is mixed over it ducked.
func (mx *legMix) encodeOwn(r *room, withPrompt bool) ([]byte, error) {
	n := mx.frame()
	pcm := mx.out[:r.frame]
	if mx.info.SampleRate != r.rate {
		if !mx.ensureResamplers(r) {
			return nil, ErrBadParams
		}
		w := mx.outRS.Process(mx.outLeg[:n], pcm)
		clear(mx.outLeg[w:n])
		pcm = mx.outLeg[:n]
	}
	if mx.listenQ != unityQ14 {
		scaleQ14(pcm, mx.listenQ)
	}
	if withPrompt {
		duckAndAdd(pcm, mx.promptPCM[:n])
	}
	k, err := mx.enc.Encode(pcm, mx.payload)
	if err != nil {
		return nil, err
	}
	return mx.payload[:k], nil
}

// sendRTP sends payload as the leg's next RTP packet. A failed write is
// counted and not retried: the mixer never waits for a leg.
func (l *Leg) sendRTP(payload []byte) {
	mx := &l.mx
	if l.sendPacket(mx.pt, mx.marker, mx.ts, payload) {
		mx.marker = false
	}
}

// sendPacket sends payload with the leg's SSRC and next sequence number and
// the given payload type, marker and timestamp: audio, or a
// telephone-event. It reports whether the packet was built (its sequence
// number used); a failed write is counted and not retried.
func (l *Leg) sendPacket(pt uint8, marker bool, ts uint32, payload []byte) bool {
	mx := &l.mx
	mx.hdr.Marker = marker
	mx.hdr.PayloadType = pt
	mx.hdr.SequenceNumber = mx.seq
	mx.hdr.Timestamp = ts
	n, err := mx.hdr.MarshalTo(mx.pkt)
	if err != nil {
		l.b.metrics.sendErrors.Inc()
		return false
	}
	n += copy(mx.pkt[n:], payload)
	mx.seq++
	if err := l.rtpOut.send(mx.pkt[:n], mx.dest); err != nil {
		l.b.metrics.sendErrors.Inc()
		return true
	}
	mx.packets++
	mx.octets += uint32(len(payload))
	mx.sentSinceReport = true
	l.packetsOut.Add(1)
	l.bytesOut.Add(uint64(n))
	l.b.metrics.packetsOut.Inc()
	l.b.metrics.bytesOut.Add(float64(n))
	return true
}
