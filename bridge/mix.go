package bridge

// saturate clamps a 32-bit sum into the 16-bit sample range: a loud mix
// clips instead of wrapping around into a full-scale crack.
func saturate(v int32) int16 {
	if v > 32767 {
		return 32767
	}
	if v < -32768 {
		return -32768
	}
	return int16(v)
}

// accumulate adds src into acc.
func accumulate(acc []int32, src []int16) {
	n := min(len(acc), len(src))
	acc, src = acc[:n], src[:n]
	for i := range acc {
		acc[i] += int32(src[i])
	}
}

// saturateInto writes acc, clamped, into dst.
func saturateInto(dst []int16, acc []int32) {
	n := min(len(acc), len(dst))
	dst, acc = dst[:n], acc[:n]
	for i := range dst {
		dst[i] = saturate(acc[i])
	}
}

// mixMinus writes acc minus own, clamped, into dst: what a talker hears.
func mixMinus(dst []int16, acc []int32, own []int16) {
	n := min(len(acc), len(dst), len(own))
	dst, acc, own = dst[:n], acc[:n], own[:n]
	for i := range dst {
		dst[i] = saturate(acc[i] - int32(own[i]))
	}
}
