package bridge

// Volume. A caller turns what he hears (listen) and what the room hears of
// him (talk) up or down in 3 dB steps, the granularity phones and
// conference bridges use for DTMF volume keys: four steps either way span
// -12..+12 dB, enough to fix a quiet handset or a loud speakerphone without
// letting one caller blast the room. The arithmetic is fixed point (Q14
// factors, rounded, saturated), so that it costs a multiply per sample and
// never allocates: it runs on the mixer's hot path.

// Gain limits, in 3 dB steps.
const (
	minGainStep = -4
	maxGainStep = 4
	// gainStepDB is the size of one step.
	gainStepDB = 3
)

// unityQ14 is a gain of 1 (0 dB) in Q14.
const unityQ14 = 1 << 14

// duckQ14 scales a room's audio while a prompt plays over it: -10 dB keeps
// the room audible, so the caller knows he is still connected, yet well
// under the prompt.
const duckQ14 = 5181 // 10^(-10/20) · 2^14

// gainQ14 returns the Q14 factor of a gain of step·3 dB, step clamped to
// -4..+4: round(2^14 · 10^(3·step/20)). The largest, 65226, times a
// full-scale sample still fits an int32.
func gainQ14(step int) int32 {
	switch clampGain(step) {
	case -4:
		return 4115
	case -3:
		return 5813
	case -2:
		return 8211
	case -1:
		return 11599
	case 1:
		return 23143
	case 2:
		return 32690
	case 3:
		return 46176
	case 4:
		return 65226
	}
	return unityQ14
}

// clampGain limits a gain step to the supported range.
func clampGain(step int) int {
	return min(max(step, minGainStep), maxGainStep)
}

// scaleQ14 multiplies pcm in place by the Q14 factor q, rounding and
// saturating.
func scaleQ14(pcm []int16, q int32) {
	for i, v := range pcm {
		pcm[i] = saturate((int32(v)*q + 1<<13) >> 14)
	}
}

// duckAndAdd ducks dst by duckQ14 and adds over to it, saturating: a prompt
// played over a room's audio.
func duckAndAdd(dst, over []int16) {
	n := min(len(dst), len(over))
	dst, over = dst[:n], over[:n]
	for i, v := range dst {
		dst[i] = saturate((int32(v)*duckQ14+1<<13)>>14 + int32(over[i]))
	}
}

// addSat adds src to dst, saturating.
func addSat(dst, src []int16) {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, v := range dst {
		dst[i] = saturate(int32(v) + int32(src[i]))
	}
}

// SetGain sets the leg's listen and talk volume in steps of 3 dB, each
// clamped to -4..+4; 0 leaves that direction at its natural level. Talk
// gain scales the leg's decoded audio before talker detection and the mix,
// so a quiet caller also wins a talker seat more easily; listen gain scales
// the room's audio the leg hears, but not the prompts played to it, which
// stay at their normalised level so that a caller who turned the room down
// still understands the IVR. A leg with listen gain gets its own encode
// instead of sharing the room's. It takes effect on the next tick.
func (l *Leg) SetGain(listen, talk int) {
	listen, talk = clampGain(listen), clampGain(talk)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.listenGain == listen && l.talkGain == talk {
		return
	}
	l.listenGain, l.talkGain = listen, talk
	l.log.Info("leg gain changed", "listen_db", listen*gainStepDB, "talk_db", talk*gainStepDB)
}

// Gain returns the listen and talk gain steps in force.
func (l *Leg) Gain() (listen, talk int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.listenGain, l.talkGain
}
