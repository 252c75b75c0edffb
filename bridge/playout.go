package bridge

import (
	"github.com/roomgate/roomgate/bridge/codec"
)

// Playout delay bounds and adaptation steps, in milliseconds.
const (
	minPlayoutMs = 20
	maxPlayoutMs = 200
	// underrunStepMs is added to the playout delay on every underrun, so a
	// leg whose packets arrive later than the delay allows gets more room.
	underrunStepMs = 10
	// shrinkAfter pulls with the buffer at least two frames over the target
	// drop one packet, bringing the delay back down (and absorbing a sender
	// clock that runs faster than ours).
	shrinkAfter = 50
	// decayEvery pulls, one underrun step is given back.
	decayEvery = 500
	// maxTSJumpMs between consecutive packets is treated as a restart.
	maxTSJumpMs = 2000
	// jitterFactor scales the RFC 3550 interarrival jitter into delay.
	jitterFactor = 3
)

// playout turns the jitter buffer's packets into exactly one 20 ms frame of
// PCM per mixer tick. Packets of 10, 20, 30 ms (any length the decoder takes)
// are decoded into a small FIFO; lost packets are concealed by the decoder.
// It starts playing once the buffer holds the target delay and stops (the
// leg is silent) when it runs dry, to start again at the target.
type playout struct {
	jb        jitterBuffer
	dec       codec.Decoder
	frame     int    // PCM samples per 20 ms
	clockRate int    // RTP clock rate
	frameTS   uint32 // RTP clock units per 20 ms

	fifo    []int16 // decoded samples not yet played
	lastN   int     // samples of the last decoded packet: the length to conceal
	playing bool

	minDelay, maxDelay uint32  // RTP clock units
	extra              uint32  // grown on underruns
	jitter             float64 // RFC 3550 J, RTP clock units
	over, pulls        int

	concealed, underruns, shrinks uint64
}

// configure prepares the playout for a decoder; it discards buffered audio.
func (p *playout) configure(dec codec.Decoder) {
	info := dec.Info()
	p.dec = dec
	p.frame = info.SamplesPerFrame()
	p.clockRate = info.ClockRate
	p.frameTS = info.TimestampStep()
	maxSamples := info.SampleRate * codec.MaxPacketDuration / 1000
	if need := p.frame + maxSamples; cap(p.fifo) < need {
		p.fifo = make([]int16, 0, need)
	}
	// A slot holds the longest payload a decoder accepts: 120 ms of G.711
	// (8 bits per 8 kHz sample) or G.722 (4 bits per 16 kHz sample) is
	// ClockRate*0.12 bytes; Opus and unknown codecs get a full datagram.
	slot := info.ClockRate * codec.MaxPacketDuration / 1000
	if info.ClockRate > 16000 || slot < 160 {
		slot = maxDatagram
	}
	p.jb.init(slot, p.frameTS, uint32(p.clockRate*maxTSJumpMs/1000))
	p.minDelay = uint32(p.clockRate * minPlayoutMs / 1000)
	p.maxDelay = uint32(p.clockRate * maxPlayoutMs / 1000)
	p.reset()
}

// reset drops buffered audio and the adaptation state (new remote, restart).
func (p *playout) reset() {
	p.jb.reset()
	p.fifo = p.fifo[:0]
	p.lastN = 0
	p.playing = false
	p.extra = 0
	p.over = 0
}

// target is the current playout delay in RTP clock units.
func (p *playout) target() uint32 {
	t := p.frameTS + uint32(jitterFactor*p.jitter) + p.extra
	return min(max(t, p.minDelay), p.maxDelay)
}

// pull writes one 20 ms frame into out (len >= p.frame) and reports whether
// it did; false means the leg has nothing to contribute this tick.
func (p *playout) pull(out []int16) bool {
	if p.dec == nil {
		return false
	}
	p.pulls++
	if p.pulls%decayEvery == 0 && p.extra > 0 {
		p.extra -= min(p.extra, uint32(p.clockRate*underrunStepMs/1000))
	}
	if !p.playing {
		if p.jb.count == 0 || p.jb.buffered() < p.target() {
			return false
		}
		p.playing = true
		p.over = 0
	}
	for len(p.fifo) < p.frame {
		payload, kind := p.jb.pop()
		switch kind {
		case popPacket:
			room := p.fifo[len(p.fifo):cap(p.fifo)]
			n, err := p.dec.Decode(payload, room)
			if err != nil || n <= 0 {
				p.conceal()
				continue
			}
			p.lastN = n
			p.fifo = p.fifo[:len(p.fifo)+n]
		case popLost:
			p.conceal()
		case popSkip:
		case popEmpty:
			p.playing = false
			p.underruns++
			p.extra = min(p.extra+uint32(p.clockRate*underrunStepMs/1000), p.maxDelay)
			if len(p.fifo) == 0 {
				return false
			}
			n := copy(out[:p.frame], p.fifo)
			clear(out[n:p.frame])
			p.fifo = p.fifo[:0]
			return true
		}
	}
	copy(out[:p.frame], p.fifo)
	rest := copy(p.fifo, p.fifo[p.frame:])
	p.fifo = p.fifo[:rest]
	p.shrink()
	return true
}

// conceal appends one lost packet's worth of concealment to the FIFO.
func (p *playout) conceal() {
	p.concealed++
	need := p.lastN
	if need <= 0 {
		need = p.frame
	}
	for need > 0 {
		room := p.fifo[len(p.fifo):cap(p.fifo)]
		n, err := p.dec.Conceal(room)
		if err != nil || n <= 0 {
			n = min(need, len(room))
			clear(room[:n])
		}
		n = min(n, need)
		p.fifo = p.fifo[:len(p.fifo)+n]
		need -= n
	}
}

// shrink drops one packet when the buffer has stayed well above the target.
func (p *playout) shrink() {
	if p.jb.buffered() <= p.target()+2*p.frameTS {
		p.over = 0
		return
	}
	p.over++
	if p.over < shrinkAfter {
		return
	}
	p.over = 0
	payload, kind := p.jb.pop()
	if kind == popPacket {
		// Decode into the scratch space beyond the FIFO so a stateful
		// decoder stays in step, then forget the samples.
		_, _ = p.dec.Decode(payload, p.fifo[len(p.fifo):cap(p.fifo)])
	}
	p.shrinks++
}
