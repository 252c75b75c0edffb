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
	// compressWindow is the number of pulls over which the buffer's
	// standing depth is measured: the smallest depth seen before a pull in
	// the window. Jitter makes the depth swing, but its minimum only stays
	// above the target when audio is piling up: a sender clock faster than
	// ours, a burst after a network stall, frames a late mixer could not
	// take. The excess is then dropped ("compressed") down to the target.
	compressWindow = 25 // 500 ms
	// compressWaitPulls is how long a pending drop waits for a silent packet
	// (dropping silence is inaudible) before it drops whatever comes next.
	compressWaitPulls = 25 // 500 ms
	// compressNowFrames of excess are dropped without waiting for silence:
	// that much extra delay hurts the conversation more than a glitch.
	compressNowFrames = 4
	// silentEnergy is the mean square under which a decoded packet counts as
	// silent for compression: about -50 dBFS, the talker floor.
	silentEnergy = floorEnergy
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
// leg is silent) when it runs dry, to start again at the target. When the
// buffer stays deeper than the target for a while (a sender clock faster than
// ours, a burst, frames a late mixer skipped), it drops packets down to the
// target, silent ones by preference, so that the delay cannot creep up; the
// ring's overflow (dropping the oldest) is only the last resort.
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
	pulls              int
	// catchUp is set while the mixer produces overdue frames in a burst:
	// an empty buffer then most likely means that the packets are as late
	// as the mixer (the whole process was descheduled), not that the sender
	// needs more delay, so it is not an underrun (see pull).
	catchUp bool

	// Compression (see compressWindow).
	window   int    // pulls in the current window
	minDepth uint32 // smallest depth before a pull in the window
	drop     uint32 // RTP clock units still to drop
	dropWait int    // pulls the pending drop has waited for silence

	concealed, underruns, compressed, catchUpGaps uint64
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
	p.restartWindow()
	p.drop, p.dropWait = 0, 0
}

// restartWindow starts a new measurement of the standing depth.
func (p *playout) restartWindow() {
	p.window = 0
	p.minDepth = ^uint32(0)
}

// depth is the audio waiting to be played, in RTP clock units: the jitter
// buffer (one packet duration per occupied slot) and the decoded samples not
// yet played.
func (p *playout) depth() uint32 {
	return p.jb.buffered() + uint32(len(p.fifo))*p.frameTS/uint32(p.frame)
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
		p.restartWindow()
	}
	p.measure()
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
			if p.drop > 0 && p.dropThis(room[:n]) {
				continue // decoded (a stateful decoder stays in step), not played
			}
			p.fifo = p.fifo[:len(p.fifo)+n]
		case popLost:
			p.conceal()
		case popSkip:
		case popEmpty:
			if p.catchUp {
				// Keep playing at the same target: the packets this frame
				// needed arrive with the readers' own catch-up, one frame
				// deeper, and compression evens that out.
				p.catchUpGaps++
			} else {
				p.playing = false
				p.underruns++
				p.extra = min(p.extra+uint32(p.clockRate*underrunStepMs/1000), p.maxDelay)
			}
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
	if p.drop > 0 {
		p.dropWait++
	}
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

// measure notes the depth before a pull and, at the end of each window,
// schedules the drop of whatever the depth never fell below the target.
func (p *playout) measure() {
	p.minDepth = min(p.minDepth, p.depth())
	p.window++
	if p.window < compressWindow {
		return
	}
	// Playout starts once the buffer holds the target; in whole packets
	// that is the target rounded up, which is the depth to come back to.
	pkt := max(p.jb.frameTS, 1)
	level := (p.target() + pkt - 1) / pkt * pkt
	if p.drop == 0 && p.minDepth >= level+p.frameTS {
		p.drop, p.dropWait = p.minDepth-level, 0
		if p.drop >= compressNowFrames*p.frameTS {
			p.dropWait = compressWaitPulls // too much to wait for silence
		}
	}
	p.restartWindow()
}

// dropThis decides whether the packet just decoded into pcm is dropped to
// pay off a pending drop: a silent one at once, any one when the excess is
// large or has waited too long for silence. It never drops the last packet
// buffered, so compression cannot cause an underrun.
func (p *playout) dropThis(pcm []int16) bool {
	if p.jb.count == 0 {
		return false
	}
	if p.dropWait < compressWaitPulls && frameEnergy(pcm) >= silentEnergy {
		return false
	}
	d := uint32(len(pcm)) * p.frameTS / uint32(p.frame)
	p.drop -= min(p.drop, max(d, 1))
	if p.drop < p.jb.frameTS/2 {
		p.drop, p.dropWait = 0, 0 // less than half a packet: not worth a drop
	}
	p.compressed++
	return true
}
