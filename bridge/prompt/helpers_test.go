package prompt

import (
	"encoding/binary"
	"math"
)

// encodeWAV returns a WAV file holding pcm at rate.
func encodeWAV(pcm []int16, rate int) []byte {
	b := make([]byte, 44+2*len(pcm))
	copy(b, "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+2*len(pcm)))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1)
	binary.LittleEndian.PutUint16(b[22:], 1)
	binary.LittleEndian.PutUint32(b[24:], uint32(rate))
	binary.LittleEndian.PutUint32(b[28:], uint32(2*rate))
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(2*len(pcm)))
	for i, v := range pcm {
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(v))
	}
	return b
}

// rmsDB returns the RMS level of pcm in dBFS.
func rmsDB(pcm []int16) float64 {
	if len(pcm) == 0 {
		return math.Inf(-1)
	}
	var e float64
	for _, v := range pcm {
		e += float64(v) * float64(v)
	}
	return 10 * math.Log10(e/float64(len(pcm))/(32768*32768))
}

func sqrt(x float64) float64 { return math.Sqrt(x) }
func sin(x float64) float64  { return math.Sin(x) }
