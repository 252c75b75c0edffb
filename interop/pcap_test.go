package interop

import (
	"bufio"
	"encoding/binary"
	"os"
	"testing"
	"time"
)

// linearToULaw encodes one 16-bit sample as G.711 μ-law (ITU-T G.711,
// segment/quantisation with the 0x84 bias).
func linearToULaw(s int16) byte {
	const bias, clip = 0x84, 32635
	x := int(s)
	sign := 0
	if x < 0 {
		x = -x
		sign = 0x80
	}
	x = min(x, clip) + bias
	exp := 7
	for mask := 0x4000; x&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	mant := (x >> (exp + 3)) & 0x0F
	return ^byte(sign | exp<<4 | mant)
}

// writePCMUPcap writes an RTP stream (PT 0, 20 ms packets, one SSRC) of the
// given tone into a pcap file sipp can replay with play_pcap_audio. The
// addresses in the file do not matter: sipp sends from its media port to the
// port in the server's SDP.
func writePCMUPcap(t testing.TB, path string, freq float64, d time.Duration) {
	t.Helper()
	samples, err := Tone(8000, freq, toneAmp, d)
	if err != nil {
		t.Fatal(err)
	}
	w := newRTPPcap(t, path)
	for i := 0; i+pcmuFrame <= len(samples); i += pcmuFrame {
		w.audio(samples[i : i+pcmuFrame])
	}
	w.close()
}

// pcmuFrame is the number of samples of a 20 ms PCMU packet.
const pcmuFrame = 160

// rtpPcap writes one RTP stream (one SSRC, 20 ms steps) into a pcap file:
// PCMU audio packets and RFC 4733 telephone-event packets (PT 101).
type rtpPcap struct {
	t      testing.TB
	f      *os.File
	w      *bufio.Writer
	seq    uint16
	ts     uint32
	at     time.Duration // capture time of the next packet
	marker bool          // the next audio packet starts a talkspurt
}

func newRTPPcap(t testing.TB, path string) *rtpPcap {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatalf("creating pcap: %v", err)
	}
	w := bufio.NewWriter(f)
	le := binary.LittleEndian
	var gh [24]byte
	le.PutUint32(gh[0:], 0xA1B2C3D4)
	le.PutUint16(gh[4:], 2)
	le.PutUint16(gh[6:], 4)
	le.PutUint32(gh[16:], 65535)
	le.PutUint32(gh[20:], 1) // Ethernet
	w.Write(gh[:])
	return &rtpPcap{t: t, f: f, w: w, seq: 1000, ts: 160000, marker: true}
}

// packet writes one RTP packet at the current capture time.
func (p *rtpPcap) packet(pt byte, marker bool, ts uint32, payload []byte) {
	frame := make([]byte, 14+20+8+12+len(payload))
	be := binary.BigEndian
	be.PutUint16(frame[12:], 0x0800)
	ip := frame[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	be.PutUint16(ip[2:], uint16(20+8+12+len(payload)))
	copy(ip[12:], []byte{127, 0, 0, 1, 127, 0, 0, 1})
	var sum uint32
	for k := 0; k < 20; k += 2 {
		sum += uint32(be.Uint16(ip[k:]))
	}
	sum = (sum & 0xFFFF) + sum>>16
	sum = (sum & 0xFFFF) + sum>>16
	be.PutUint16(ip[10:], ^uint16(sum))
	udp := ip[20:]
	be.PutUint16(udp[0:], 40000)
	be.PutUint16(udp[2:], 40002)
	be.PutUint16(udp[4:], uint16(8+12+len(payload)))
	rtp := udp[8:]
	rtp[0] = 0x80
	rtp[1] = pt
	if marker {
		rtp[1] |= 0x80
	}
	be.PutUint16(rtp[2:], p.seq)
	be.PutUint32(rtp[4:], ts)
	be.PutUint32(rtp[8:], 0x52474154)
	copy(rtp[12:], payload)
	le := binary.LittleEndian
	var ph [16]byte
	le.PutUint32(ph[0:], uint32(1_700_000_000+p.at/time.Second))
	le.PutUint32(ph[4:], uint32(p.at%time.Second/time.Microsecond))
	le.PutUint32(ph[8:], uint32(len(frame)))
	le.PutUint32(ph[12:], uint32(len(frame)))
	p.w.Write(ph[:])
	p.w.Write(frame)
	p.seq++
}

// audio writes one 20 ms PCMU packet of samples and advances the clock.
func (p *rtpPcap) audio(samples []int16) {
	payload := make([]byte, len(samples))
	for k, v := range samples {
		payload[k] = linearToULaw(v)
	}
	p.packet(0, p.marker, p.ts, payload)
	p.marker = false
	p.ts += pcmuFrame
	p.at += 20 * time.Millisecond
}

// silence writes d of PCMU silence.
func (p *rtpPcap) silence(d time.Duration) {
	quiet := make([]int16, pcmuFrame)
	for range int(d / (20 * time.Millisecond)) {
		p.audio(quiet)
	}
}

// tone writes d of a sine at freq (toneAmp) as PCMU audio.
func (p *rtpPcap) tone(freq float64, d time.Duration) {
	samples, err := Tone(8000, freq, toneAmp, d)
	if err != nil {
		p.t.Fatal(err)
	}
	for i := 0; i+pcmuFrame <= len(samples); i += pcmuFrame {
		p.audio(samples[i : i+pcmuFrame])
	}
}

// eventCodes are the RFC 4733 §3.2 event codes of the DTMF keys.
var eventCodes = map[rune]byte{'0': 0, '1': 1, '2': 2, '3': 3, '4': 4, '5': 5, '6': 6, '7': 7, '8': 8, '9': 9,
	'*': 10, '#': 11, 'A': 12, 'B': 13, 'C': 14, 'D': 15}

// event writes one key press as RFC 4733 telephone-event packets (PT 101):
// a marker packet, one every 20 ms while the key is held, and the end
// packet sent three times, as phones do; audio is paused meanwhile. Then a
// gap of silence follows.
func (p *rtpPcap) event(key rune, hold, gap time.Duration) {
	code, ok := eventCodes[key]
	if !ok {
		p.t.Fatalf("no RFC 4733 event for key %q", key)
	}
	start := p.ts
	steps := int(hold / (20 * time.Millisecond))
	for i := 1; i <= steps; i++ {
		dur := uint16(i * pcmuFrame)
		end := i == steps
		repeats := 1
		if end {
			repeats = 3
		}
		for range repeats {
			payload := []byte{code, 10, byte(dur >> 8), byte(dur)} // volume -10 dBm0
			if end {
				payload[1] |= 0x80
			}
			p.packet(101, i == 1, start, payload)
		}
		p.ts += pcmuFrame
		p.at += 20 * time.Millisecond
	}
	p.marker = true
	p.silence(gap)
}

// dtmfFreqs are the row and column frequencies of each key (ITU-T Q.23).
var dtmfFreqs = map[rune][2]float64{
	'1': {697, 1209}, '2': {697, 1336}, '3': {697, 1477}, 'A': {697, 1633},
	'4': {770, 1209}, '5': {770, 1336}, '6': {770, 1477}, 'B': {770, 1633},
	'7': {852, 1209}, '8': {852, 1336}, '9': {852, 1477}, 'C': {852, 1633},
	'*': {941, 1209}, '0': {941, 1336}, '#': {941, 1477}, 'D': {941, 1633},
}

// tonePress writes one key press as in-band DTMF (the two tones of the key
// at about -10 dBm0 each) lasting hold, then a gap of silence.
func (p *rtpPcap) tonePress(key rune, hold, gap time.Duration) {
	f, ok := dtmfFreqs[key]
	if !ok {
		p.t.Fatalf("no DTMF tones for key %q", key)
	}
	n := int(hold/(20*time.Millisecond)) * pcmuFrame
	low, err := Tone(8000, f[0], 0.2, time.Duration(n)*time.Second/8000)
	if err != nil {
		p.t.Fatal(err)
	}
	high, err := Tone(8000, f[1], 0.2, time.Duration(n)*time.Second/8000)
	if err != nil {
		p.t.Fatal(err)
	}
	for i := range low {
		low[i] += high[i]
	}
	for i := 0; i+pcmuFrame <= len(low); i += pcmuFrame {
		p.audio(low[i : i+pcmuFrame])
	}
	p.silence(gap)
}

// close flushes the file.
func (p *rtpPcap) close() {
	if err := p.w.Flush(); err != nil {
		p.t.Fatalf("writing pcap: %v", err)
	}
	if err := p.f.Close(); err != nil {
		p.t.Fatalf("closing pcap: %v", err)
	}
}

// Known G.711 μ-law code words (ITU-T G.711 table 2a, inverted).
func TestLinearToULaw(t *testing.T) {
	for _, c := range []struct {
		in   int16
		want byte
	}{
		{0, 0xFF}, {-1, 0x7F}, {32767, 0x80}, {-32768, 0x00}, {1000, 0xCE}, {-1000, 0x4E},
	} {
		if got := linearToULaw(c.in); got != c.want {
			t.Errorf("linearToULaw(%d) = %#02x, want %#02x", c.in, got, c.want)
		}
	}
}
