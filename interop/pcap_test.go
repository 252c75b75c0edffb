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
	const spp = 160 // samples per 20 ms packet
	ssrc, seq, ts := uint32(0x52474154), uint16(1000), uint32(160000)
	for i := 0; i+spp <= len(samples); i += spp {
		frame := make([]byte, 14+20+8+12+spp)
		be := binary.BigEndian
		be.PutUint16(frame[12:], 0x0800)
		ip := frame[14:]
		ip[0], ip[8], ip[9] = 0x45, 64, 17
		be.PutUint16(ip[2:], uint16(20+8+12+spp))
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
		be.PutUint16(udp[4:], uint16(8+12+spp))
		rtp := udp[8:]
		rtp[0] = 0x80
		if i == 0 {
			rtp[1] = 0x80 // marker on the first packet, PT 0
		}
		be.PutUint16(rtp[2:], seq)
		be.PutUint32(rtp[4:], ts)
		be.PutUint32(rtp[8:], ssrc)
		for k := 0; k < spp; k++ {
			rtp[12+k] = linearToULaw(samples[i+k])
		}
		at := time.Duration(i/spp) * 20 * time.Millisecond
		var ph [16]byte
		le.PutUint32(ph[0:], uint32(1_700_000_000+at/time.Second))
		le.PutUint32(ph[4:], uint32(at%time.Second/time.Microsecond))
		le.PutUint32(ph[8:], uint32(len(frame)))
		le.PutUint32(ph[12:], uint32(len(frame)))
		w.Write(ph[:])
		w.Write(frame)
		seq++
		ts += spp
	}
	if err := w.Flush(); err != nil {
		t.Fatalf("writing pcap: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("closing pcap: %v", err)
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
