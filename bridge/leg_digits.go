package bridge

import (
	"fmt"

	"github.com/roomgate/roomgate/bridge/dtmf"
)

// DTMF out of the bridge, two ways:
//
//   - PassDigit, for a conference's "DTMF pass-through": the others in the
//     room hear the key the leg pressed as a tone in the leg's own audio
//     contribution, whatever way the press reached us (RFC 4733, SIP INFO,
//     in-band: conf decides which presses pass). The tone is generated at
//     the leg's rate after its in-band suppressor, which therefore never
//     cuts it, and it enters the mix even while the leg is muted or quiet;
//     mix-minus keeps it out of what the presser hears. It does not count
//     as talking.
//   - SendDigits sends RFC 4733 telephone-events to the leg (an IVR or a
//     gateway on the other side), stepped by the mixer's tick so that the
//     packets keep the 20 ms clock: one packet per tick, in the leg's SSRC
//     and sequence space, carrying the RTP timestamp of the tick the event
//     started in (RFC 4733 §2.5.1.2), and no audio until its three end
//     packets are out (§2.5.1.4). The event clock is the audio codec's RTP
//     clock, since the bridge negotiates telephone-event at that rate.

// Timing of sent events, in 20 ms ticks.
const (
	// eventToneTicks is how long each sent digit lasts: 100 ms, like the
	// in-band generator's tones and well above what receivers need.
	eventToneTicks = 5
	// eventEndPackets is how many packets carry the end bit (RFC 4733
	// §2.5.1.4 recommends three).
	eventEndPackets = 3
	// eventGapTicks of audio separate consecutive digits.
	eventGapTicks = 3
	// eventPauseTicks is the pause that a ',' asks for: 500 ms.
	eventPauseTicks = 25
	// eventVolume is the power level of sent events, -10 dBm0.
	eventVolume = 10
	// maxSendDigits bounds the digits and pauses waiting to be sent.
	maxSendDigits = 64
	// eventPause marks a ',' in the send queue (event codes stop at 16).
	eventPause = 0xff
	// maxPassDigits bounds the digits waiting for the mixer to pass.
	maxPassDigits = 16
)

// PassDigit makes the other legs of the leg's room hear the DTMF tone of d
// (100 ms, then an 80 ms pause before the next) as part of this leg's
// audio. Characters that are not DTMF digits are ignored, as are presses
// beyond a backlog of 16.
func (l *Leg) PassDigit(d rune) {
	c, err := dtmf.Normalize(d)
	if err != nil {
		l.log.Debug("digit not passed", "digit", string(d), "err", err)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.passN == len(l.passQ) {
		l.log.Warn("digit not passed: backlog full", "digit", string(c))
		return
	}
	l.passQ[l.passN] = c
	l.passN++
	l.b.metrics.dtmfPassed.Inc()
}

// SendDigits sends digits to the leg as RFC 4733 telephone-events, after
// any still being sent: 0-9, *, #, A-D (a-d taken as A-D), and ',' for a
// 500 ms pause. The leg's audio pauses while an event plays. It returns
// once the digits are queued; it fails, sending nothing, with
// ErrNoTelephoneEvent when the leg negotiated no telephone-event (so that
// signalling can fall back to SIP INFO), ErrBadDigit for any other
// character, ErrDigitQueueFull, ErrNotStarted or ErrClosed.
func (l *Leg) SendDigits(digits string) error {
	var codes [maxSendDigits]byte
	n := 0
	for _, c := range digits {
		if n == len(codes) {
			return fmt.Errorf("sending %d DTMF digits to leg %q: %w", len(digits), l.id, ErrDigitQueueFull)
		}
		code, ok := eventCode(c)
		if !ok {
			return fmt.Errorf("sending DTMF %q to leg %q: %q: %w", digits, l.id, c, ErrBadDigit)
		}
		codes[n] = code
		n++
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.ctx.Err() != nil:
		return fmt.Errorf("sending DTMF to leg %q: %w", l.id, ErrClosed)
	case !l.started:
		return fmt.Errorf("sending DTMF to leg %q: %w", l.id, ErrNotStarted)
	case l.params.EventPayloadType < 0:
		return fmt.Errorf("sending DTMF to leg %q: %w", l.id, ErrNoTelephoneEvent)
	}
	if !l.evOut.push(codes[:n]) {
		return fmt.Errorf("sending %d DTMF digits to leg %q: %d queued: %w", n, l.id, l.evOut.size, ErrDigitQueueFull)
	}
	l.log.Debug("DTMF queued for sending", "digits", digits)
	return nil
}

// eventCode maps a digit or ',' to its RFC 4733 §3.2 event code (eventPause
// for ','), the reverse of eventDigit.
func eventCode(c rune) (byte, bool) {
	if c == ',' {
		return eventPause, true
	}
	d, err := dtmf.Normalize(c)
	if err != nil {
		return 0, false
	}
	switch {
	case d >= '0' && d <= '9':
		return byte(d - '0'), true
	case d == '*':
		return 10, true
	case d == '#':
		return 11, true
	}
	return byte(12 + d - 'A'), true
}

// eventSender paces the telephone-events of SendDigits; the leg's mutex
// guards it and the mixer steps it once per tick (prepare).
type eventSender struct {
	queue      [maxSendDigits]byte
	head, size int

	state sendState
	left  int    // ticks left of a gap or pause
	code  byte   // the event playing
	n     int    // packets of it sent
	ts    uint32 // its RTP timestamp
}

// sendState is what an eventSender is doing.
type sendState uint8

const (
	sendIdle  sendState = iota
	sendEvent           // sending an event's packets
	sendGap             // letting audio through: between digits or a ','
)

// push queues codes, all or none.
func (s *eventSender) push(codes []byte) bool {
	if s.size+len(codes) > len(s.queue) {
		return false
	}
	for _, c := range codes {
		s.queue[(s.head+s.size)%len(s.queue)] = c
		s.size++
	}
	return true
}

// busy reports whether anything is queued or playing.
func (s *eventSender) busy() bool { return s.size > 0 || s.state != sendIdle }

// reset drops everything (telephone-event renegotiated away).
func (s *eventSender) reset() { *s = eventSender{} }

// next steps one tick whose audio packet would carry RTP timestamp ts, the
// codec's clock advancing by step per tick. It returns the telephone-event
// payload to send instead of audio this tick, the packet's timestamp and
// marker, or ok false to send audio.
func (s *eventSender) next(ts, step uint32, payload *[4]byte) (evTS uint32, marker, ok bool) {
	for {
		switch s.state {
		case sendIdle:
			if s.size == 0 {
				return 0, false, false
			}
			c := s.queue[s.head]
			s.head = (s.head + 1) % len(s.queue)
			s.size--
			if c == eventPause {
				s.state, s.left = sendGap, eventPauseTicks
			} else {
				s.state, s.code, s.n, s.ts = sendEvent, c, 0, ts
			}
		case sendGap:
			s.left--
			if s.left <= 0 {
				s.state = sendIdle
			}
			return 0, false, false
		case sendEvent:
			s.n++
			// The duration counts from the event's timestamp to the end of
			// this packet; the end packets repeat the final duration.
			dur := uint32(min(s.n, eventToneTicks)) * step
			end := s.n >= eventToneTicks
			payload[0] = s.code
			payload[1] = eventVolume
			if end {
				payload[1] |= 0x80
			}
			payload[2], payload[3] = byte(dur>>8), byte(dur)
			if s.n == eventToneTicks+eventEndPackets-1 {
				s.state, s.left = sendGap, eventGapTicks
			}
			return s.ts, s.n == 1, true
		}
	}
}

// prepareDigits, at the start of a tick, hands the digits to pass to the
// leg's tone generator and steps the telephone-event sender. l.mu must be
// held; mx.send, mx.dest and mx.info are this tick's.
func (l *Leg) prepareDigits(mx *legMix) {
	if l.passN > 0 {
		if mx.passGen == nil {
			g, err := dtmf.NewGenerator(mx.info.SampleRate, 0, 0, 0)
			if err != nil {
				l.log.Warn("cannot pass DTMF at the leg's rate", "rate", mx.info.SampleRate, "err", err)
				l.passN = 0
			}
			mx.passGen = g
			if mx.tonePCM == nil {
				mx.tonePCM = make([]int16, maxFrame) // made with the first passed digit, like its generator
			}
		}
		for _, d := range l.passQ[:l.passN] {
			if err := mx.passGen.QueueDigit(d); err != nil {
				l.log.Warn("digit not passed", "digit", string(d), "err", err)
			}
		}
		l.passN = 0
	}
	mx.evPT = l.params.EventPayloadType
	mx.evNow = false
	if !l.evOut.busy() {
		return
	}
	if mx.evPT < 0 {
		l.evOut.reset() // renegotiated without telephone-event
		return
	}
	ts, marker, ok := l.evOut.next(mx.ts, mx.info.TimestampStep(), &mx.evPayload)
	mx.evTS, mx.evMarker = ts, marker
	mx.evNow = ok && mx.send && mx.dest.IsValid()
	if ok && marker {
		l.b.metrics.dtmfSent.Inc()
	}
}

// passTone writes this tick's frame of a passed DTMF tone into mx.tonePCM
// and reports whether there is one.
func (mx *legMix) passTone() bool {
	if mx.passGen == nil || !mx.passGen.Busy() {
		return false
	}
	mx.passGen.Fill(mx.tonePCM[:mx.frame()])
	return true
}

// sendEvent sends this tick's telephone-event packet instead of audio.
func (l *Leg) sendEvent() {
	mx := &l.mx
	l.sendPacket(uint8(mx.evPT), mx.evMarker, mx.evTS, mx.evPayload[:])
	// The audio after an event starts a talkspurt again.
	mx.marker = true
}
