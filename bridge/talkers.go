package bridge

// Talker selection: only the loudest few legs enter the mix. Energy is the
// mean square of a leg's 20 ms frame. Whether a frame is loud or quiet is
// judged on the frame itself; legs are ranked by a smoothed level (fast
// attack, slow release). Hysteresis keeps the set stable:
//   - a leg joins a free seat after attackFrames loud frames in a row;
//   - a talker keeps its seat through up to hangoverFrames quiet frames, so
//     pauses between words do not drop it;
//   - with every seat taken, a newcomer displaces the quietest talker only
//     after displaceFrames frames in a row at displaceRatio times its level,
//     so a cough or a door slam does not take a seat from someone speaking.
const (
	// floorEnergy is the smoothed mean square under which a leg is quiet:
	// about -50 dBFS (an RMS of about 100).
	floorEnergy    = 100 * 100
	attackFrames   = 2
	hangoverFrames = 25 // 500 ms
	displaceFrames = 15 // 300 ms
	displaceRatio  = 2  // 3 dB
	attackWeight   = 0.5
	releaseWeight  = 0.1
)

// speaker is one leg's state in talker selection; the mixer owns it.
type speaker struct {
	level   float64 // smoothed energy
	loud    int     // consecutive frames above the floor
	quiet   int     // consecutive frames below the floor
	talking bool
	changed bool // talking flipped in the last select
}

// observe feeds one frame's energy; present is false when the leg contributed
// no audio this tick (held, underrun), which counts as silence.
func (s *speaker) observe(energy float64, present bool) {
	if !present {
		energy = 0
	}
	w := releaseWeight
	if energy > s.level {
		w = attackWeight
	}
	s.level += (energy - s.level) * w
	if present && energy >= floorEnergy {
		s.loud++
		s.quiet = 0
	} else {
		s.quiet++
		s.loud = 0
	}
}

// frameEnergy is the mean square of pcm.
func frameEnergy(pcm []int16) float64 {
	if len(pcm) == 0 {
		return 0
	}
	var acc int64
	for _, v := range pcm {
		acc += int64(v) * int64(v)
	}
	return float64(acc) / float64(len(pcm))
}

// selectTalkers updates the talking flags of sp (after observe) so that at
// most seats are talking, and sets changed on those that flipped. It
// allocates nothing and costs O(len(sp)) per seat that changes hands.
func selectTalkers(sp []*speaker, seats int) {
	talking := 0
	for _, s := range sp {
		s.changed = false
		if s.talking && s.quiet >= hangoverFrames {
			s.talking, s.changed = false, true
		}
		if s.talking {
			talking++
		}
	}
	for range seats + 1 {
		// The loudest eligible newcomer.
		var best *speaker
		for _, s := range sp {
			if s.talking || s.changed || s.loud < attackFrames {
				continue
			}
			if best == nil || s.level > best.level {
				best = s
			}
		}
		if best == nil {
			return
		}
		if talking < seats {
			best.talking, best.changed = true, true
			talking++
			continue
		}
		if best.loud < displaceFrames {
			return
		}
		var weakest *speaker
		for _, s := range sp {
			if s.talking && !s.changed && (weakest == nil || s.level < weakest.level) {
				weakest = s
			}
		}
		if weakest == nil || best.level < displaceRatio*weakest.level {
			return
		}
		weakest.talking, weakest.changed = false, true
		best.talking, best.changed = true, true
	}
}
