package bridge

import (
	"fmt"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/roomgate/roomgate/bridge/codec"
	"github.com/roomgate/roomgate/bridge/prompt"
)

// benchLeg returns a started leg whose remote is sink.
func benchLeg(b *testing.B, br *Bridge, room, id string, info codec.Info, pt uint8, sink netip.AddrPort) *Leg {
	return benchLegEvents(b, br, room, id, info, pt, 101, sink)
}

// benchLegEvents is benchLeg with telephone-event payload type eventPT (-1
// for none: the leg's audio is scanned for in-band DTMF).
func benchLegEvents(b *testing.B, br *Bridge, room, id string, info codec.Info, pt uint8, eventPT int, sink netip.AddrPort) *Leg {
	b.Helper()
	l, err := br.NewLeg(LegOptions{ID: id, Room: room})
	if err != nil {
		b.Fatal(err)
	}
	if err := l.Start(StreamParams{Codec: info, PayloadType: pt, EventPayloadType: eventPT, Remote: sink, Direction: SendRecv}); err != nil {
		b.Fatal(err)
	}
	return l
}

func BenchmarkLegReceive(b *testing.B) {
	br, clk := newTestBridge(b, Config{})
	sink := newPeer(b)
	l := benchLeg(b, br, "bench", "rx", mustLookup(b, "PCMU"), 0, sink.addr)
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SSRC: 7}, Payload: make([]byte, 160)}
	raw, _ := pkt.Marshal()
	from := sink.addr
	now := clk.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		seq := uint16(i)
		raw[2], raw[3] = byte(seq>>8), byte(seq)
		ts := uint32(i) * 160
		raw[4], raw[5], raw[6], raw[7] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
		l.handleRTP(raw, from, now)
		// Keep the buffer at a steady depth, as the mixer would.
		if i%2 == 1 {
			l.mu.Lock()
			l.play.jb.pop()
			l.play.jb.pop()
			l.mu.Unlock()
		}
	}
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// feeder keeps legs' jitter buffers supplied without going through sockets.
type feeder struct {
	legs    []*Leg
	payload [][]byte
	seq     []uint16
	ts      []uint32
	step    []uint32
}

func (f *feeder) add(l *Leg, payload []byte, step uint32) {
	f.legs = append(f.legs, l)
	f.payload = append(f.payload, payload)
	f.seq = append(f.seq, 1)
	f.ts = append(f.ts, 1)
	f.step = append(f.step, step)
}

// fill puts n packets into every leg's jitter buffer.
func (f *feeder) fill(n int) {
	for i, l := range f.legs {
		l.mu.Lock()
		for range n {
			l.play.jb.insert(f.seq[i], f.ts[i], f.payload[i], false)
			f.seq[i]++
			f.ts[i] += f.step[i]
		}
		l.mu.Unlock()
	}
}

// encodeTone returns one 20 ms payload of a tone (or silence for freq 0).
func encodeTone(b *testing.B, info codec.Info, freq float64) []byte {
	b.Helper()
	enc, err := codec.NewEncoder(info)
	if err != nil {
		b.Fatal(err)
	}
	pcm := make([]int16, info.SamplesPerFrame())
	if freq > 0 {
		tone(pcm, info.SampleRate, freq, 6000, 0)
	}
	out := make([]byte, codec.MaxPayload)
	n, err := enc.Encode(pcm, out)
	if err != nil {
		b.Fatal(err)
	}
	return out[:n]
}

// benchRoom runs the mixer tick of one room; every leg sends its mix to a
// sink socket that nobody reads (the kernel drops what overflows), so the
// figure includes the send system calls.
func benchRoom(b *testing.B, infos []codec.Info, pts []uint8, talkers int) {
	benchRoomTo(b, infos, pts, talkers, true, 101)
}

// benchRoomTo is benchRoom; with send false the legs have no remote address,
// which leaves out the system calls and measures the mixing alone.
// eventPT is every leg's telephone-event payload type (-1: none).
func benchRoomTo(b *testing.B, infos []codec.Info, pts []uint8, talkers int, send bool, eventPT int) {
	benchRoomWith(b, infos, pts, talkers, send, eventPT, nil)
}

// benchRoomWith is benchRoomTo with a hook, called with the legs before the
// warm-up and then between ticks, outside the timed part (to set gains,
// start prompts and restart them when they end).
func benchRoomWith(b *testing.B, infos []codec.Info, pts []uint8, talkers int, send bool, eventPT int, hook func([]*Leg)) {
	lo, hi := testPortRange(b, 2*len(infos)+200)
	cfg := Config{PortMin: lo, PortMax: hi}
	if hook != nil {
		cfg.Prompts = testPrompts(b) // the hooks play prompts
	}
	br, clk := newTestBridge(b, cfg)
	sink := newPeer(b)
	var f feeder
	var first *Leg
	var legs []*Leg
	for i, info := range infos {
		dest := sink.addr
		if !send {
			dest = netip.AddrPort{}
		}
		l := benchLegEvents(b, br, "bench", fmt.Sprint(i), info, pts[i], eventPT, dest)
		if first == nil {
			first = l
		}
		legs = append(legs, l)
		freq := 0.0
		if i < talkers {
			freq = 300 + 170*float64(i)
		}
		f.add(l, encodeTone(b, info, freq), info.TimestampStep())
	}
	r := roomOf(b, first)
	// One packet per leg per tick over a standing depth of two, as a
	// steady sender gives: a batch fill would leave the buffers deeper than
	// their target, and compression would drop packets.
	f.fill(2)
	if hook != nil {
		hook(legs)
	}
	for range 10 { // warm up: talkers selected, groups and resamplers built
		f.fill(1)
		clk.Advance(tickPeriod)
		r.tick(clk.Now())
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for range b.N {
		b.StopTimer()
		f.fill(1)
		if hook != nil {
			hook(legs)
		}
		b.StartTimer()
		clk.Advance(tickPeriod)
		r.tick(clk.Now())
	}
	b.StopTimer()
	// CPU time rather than wall time: on a shared machine it is the honest
	// figure for "how many legs per core". It includes the filling, which
	// stands in for the receive path's jitter buffer inserts.
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/tick")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/float64(len(infos)), "cpu-ns/leg")
}

func BenchmarkMixerTick(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("legs=%d", n), func(b *testing.B) {
			pcmu := mustLookup(b, "PCMU")
			infos := make([]codec.Info, n)
			pts := make([]uint8, n)
			for i := range infos {
				infos[i] = pcmu
			}
			benchRoom(b, infos, pts, 3)
		})
	}
}

func BenchmarkMixerTickNoSend(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("legs=%d", n), func(b *testing.B) {
			pcmu := mustLookup(b, "PCMU")
			infos := make([]codec.Info, n)
			for i := range infos {
				infos[i] = pcmu
			}
			benchRoomTo(b, infos, make([]uint8, n), 3, false, 101)
		})
	}
}

// BenchmarkMixerTickInband is BenchmarkMixerTickNoSend with legs that
// negotiated no telephone-event, so that every leg's audio also passes the
// in-band DTMF suppressor: the difference per leg is its cost.
func BenchmarkMixerTickInband(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("legs=%d", n), func(b *testing.B) {
			pcmu := mustLookup(b, "PCMU")
			infos := make([]codec.Info, n)
			for i := range infos {
				infos[i] = pcmu
			}
			benchRoomTo(b, infos, make([]uint8, n), 3, false, -1)
		})
	}
}

func BenchmarkMixerTickMixedCodecs(b *testing.B) {
	// 30 legs: a third each on PCMU, G.722 and Opus; one talker per codec.
	var infos []codec.Info
	var pts []uint8
	names := []string{"PCMU", "G722", "opus"}
	ptOf := []uint8{0, 9, 111}
	for i := range 30 {
		k := i % 3
		infos = append(infos, mustLookup(b, names[k]))
		pts = append(pts, ptOf[k])
	}
	benchRoom(b, infos, pts, 3)
}

// BenchmarkMixerTickPromptGain is BenchmarkMixerTick with, in each room,
// one leg hearing a prompt and one talker and one listener with a gain: the
// cost over the plain room is their own encodes and the extra passes over
// their frames.
func BenchmarkMixerTickPromptGain(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("legs=%d", n), func(b *testing.B) {
			pcmu := mustLookup(b, "PCMU")
			infos := make([]codec.Info, n)
			for i := range infos {
				infos[i] = pcmu
			}
			started := false
			benchRoomWith(b, infos, make([]uint8, n), 3, true, 101, func(legs []*Leg) {
				if !started {
					legs[1].SetGain(0, 2)
					legs[n-1].SetGain(-2, 0)
					started = true
				}
				if !legs[n-2].Playing() {
					if _, err := legs[n-2].Play(prompt.Help); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkGainFrame is the listen or talk gain of one 20 ms frame at each
// rate.
func BenchmarkGainFrame(b *testing.B) {
	for _, rate := range []int{8000, 48000} {
		b.Run(fmt.Sprintf("%dHz", rate), func(b *testing.B) {
			pcm := make([]int16, rate/50)
			tone(pcm, rate, 440, 12000, 0)
			up, down := gainQ14(2), gainQ14(-2)
			b.ReportAllocs()
			for b.Loop() {
				scaleQ14(pcm, up)
				scaleQ14(pcm, down)
			}
		})
	}
}
