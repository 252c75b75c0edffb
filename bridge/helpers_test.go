package bridge

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"go.uber.org/goleak"

	"github.com/roomgate/roomgate/bridge/codec"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeClock is a manual clock; its timers fire only when the test says (the
// mixer then works out from Now how many frames are due).
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) NewTimer(time.Duration) timer {
	t := &fakeTimer{c: make(chan time.Time)}
	c.mu.Lock()
	c.timers = append(c.timers, t)
	c.mu.Unlock()
	return t
}

// lastTimer returns the most recently created timer.
func (c *fakeClock) lastTimer() *fakeTimer {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.timers) == 0 {
		return nil
	}
	return c.timers[len(c.timers)-1]
}

// fakeTimer fires when a test sends on c; an unbuffered channel makes the
// send return only once the mixer has taken the wake-up.
type fakeTimer struct{ c chan time.Time }

func (t *fakeTimer) C() <-chan time.Time { return t.c }
func (t *fakeTimer) Reset(time.Duration) {}
func (t *fakeTimer) Stop()               {}

// l16 is a lossless test codec: 16-bit big-endian linear PCM at any rate, so
// that mixing arithmetic can be checked sample for sample.
type l16 struct{ info codec.Info }

func l16Info(rate int) codec.Info {
	return codec.Info{Name: "L16", ClockRate: rate, Channels: 1, SampleRate: rate, StaticPT: -1}
}

func (c *l16) Info() codec.Info { return c.info }

func (c *l16) Encode(pcm []int16, out []byte) (int, error) {
	if len(pcm) != c.info.SamplesPerFrame() {
		return 0, codec.ErrFrameSize
	}
	for i, v := range pcm {
		binary.BigEndian.PutUint16(out[2*i:], uint16(v))
	}
	return 2 * len(pcm), nil
}

func (c *l16) Decode(payload []byte, pcm []int16) (int, error) {
	if len(payload)%2 != 0 || len(payload) == 0 {
		return 0, codec.ErrCorrupt
	}
	n := len(payload) / 2
	for i := range n {
		pcm[i] = int16(binary.BigEndian.Uint16(payload[2*i:]))
	}
	return n, nil
}

func (c *l16) Conceal(pcm []int16) (int, error) {
	n := c.info.SamplesPerFrame()
	clear(pcm[:n])
	return n, nil
}

// testMedia adds L16 to the production codecs.
type testMedia struct{ stdMedia }

func (m testMedia) newEncoder(i codec.Info) (codec.Encoder, error) {
	if i.Name == "L16" {
		return &l16{i}, nil
	}
	return m.stdMedia.newEncoder(i)
}

func (m testMedia) newDecoder(i codec.Info) (codec.Decoder, error) {
	if i.Name == "L16" {
		return &l16{i}, nil
	}
	return m.stdMedia.newDecoder(i)
}

// mustLookup returns a production codec's Info.
func mustLookup(t testing.TB, name string) codec.Info {
	t.Helper()
	i, err := codec.Lookup(name)
	if err != nil {
		t.Fatalf("codec %s: %v", name, err)
	}
	return i
}

// testPortRange picks a random port range for one bridge below the usual
// ephemeral range (where the test peers' port-0 sockets land), so that
// parallel test binaries rarely collide. Another server on the machine may
// hold a whole block of ports, so a range is only taken when a sample of its
// ports is free; the bridge skips the odd busy port by itself.
func testPortRange(t testing.TB, size int) (int, int) {
	t.Helper()
	for range 50 {
		lo := 12000 + 2*rand.IntN((32000-12000-size)/2)
		if sampleFree(lo, size) {
			return lo, lo + size - 1
		}
	}
	t.Fatal("no free port range found")
	return 0, 0
}

// sampleFree reports whether every 16th port of [lo, lo+size) can be bound.
func sampleFree(lo, size int) bool {
	for p := lo; p < lo+size; p += 16 {
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(p))))
		if err != nil {
			return false
		}
		_ = c.Close()
	}
	return true
}

// freeRange returns the first port of a range of pairs*2 ports that are all
// free right now, for tests that count on every pair binding.
func freeRange(t testing.TB, pairs int) int {
	t.Helper()
	for range 50 {
		lo, _ := testPortRange(t, 2*pairs)
		var held []*net.UDPConn
		ok := true
		for p := lo; p < lo+2*pairs && ok; p++ {
			c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(p))))
			if err != nil {
				ok = false
				break
			}
			held = append(held, c)
		}
		for _, c := range held {
			_ = c.Close()
		}
		if ok {
			return lo
		}
	}
	t.Fatal("no free port range found")
	return 0
}

// newTestBridge returns a bridge on 127.0.0.1 with a fake clock and the test
// codecs; it is closed when the test ends.
func newTestBridge(t testing.TB, cfg Config) (*Bridge, *fakeClock) {
	t.Helper()
	cfg.BindAddr = netip.MustParseAddr("127.0.0.1")
	if cfg.PortMin == 0 {
		cfg.PortMin, cfg.PortMax = testPortRange(t, 400)
	}
	clk := newFakeClock()
	b, err := newBridge(cfg, clk, testMedia{})
	if err != nil {
		t.Fatalf("newBridge: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b, clk
}

// roomOf returns the running room of a started leg.
func roomOf(t testing.TB, l *Leg) *room {
	t.Helper()
	l.b.mu.Lock()
	defer l.b.mu.Unlock()
	r := l.b.rooms[l.roomName]
	if r == nil {
		t.Fatalf("leg %s is in no room", l.id)
	}
	return r
}

// goertzel returns the power of freq in pcm sampled at rate, normalised by
// the length so that values compare across windows.
func goertzel(pcm []int16, rate int, freq float64) float64 {
	w := 2 * math.Pi * freq / float64(rate)
	coeff := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range pcm {
		s0 := float64(v) + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	p := s1*s1 + s2*s2 - coeff*s1*s2
	return p / float64(len(pcm)*len(pcm))
}

// tone writes a sine of freq and amplitude into pcm, continuing from sample
// index start.
func tone(pcm []int16, rate int, freq float64, amp float64, start int) {
	for i := range pcm {
		pcm[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(start+i)/float64(rate)))
	}
}

// peer is a test RTP endpoint on 127.0.0.1:0.
type peer struct {
	t    testing.TB
	conn *net.UDPConn
	addr netip.AddrPort
	to   netip.AddrPort // the leg's RTP port
	seq  uint16
	ts   uint32
	ssrc uint32
	buf  []byte
}

func newPeer(t testing.TB) *peer {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &peer{t: t, conn: c, addr: netip.MustParseAddrPort(c.LocalAddr().String()), ssrc: 0x1234, seq: 1000, ts: 5000, buf: make([]byte, 2000)}
}

// sendRTP sends one packet with the peer's sequence state.
func (p *peer) sendRTP(pt uint8, payload []byte, step uint32) {
	p.t.Helper()
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: p.seq, Timestamp: p.ts, SSRC: p.ssrc}, Payload: payload}
	b, err := pkt.Marshal()
	if err != nil {
		p.t.Fatalf("marshal: %v", err)
	}
	p.seq++
	p.ts += step
	if _, err := p.conn.WriteToUDPAddrPort(b, p.to); err != nil {
		p.t.Fatalf("send: %v", err)
	}
}

// recvRTP reads one RTP packet (skipping nothing) or fails after 2 s.
func (p *peer) recvRTP() (rtp.Packet, netip.AddrPort) {
	p.t.Helper()
	_ = p.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, from, err := p.conn.ReadFromUDPAddrPort(p.buf)
	if err != nil {
		p.t.Fatalf("peer %s: no RTP: %v", p.addr, err)
	}
	var pkt rtp.Packet
	if err := pkt.Unmarshal(p.buf[:n]); err != nil {
		p.t.Fatalf("peer %s: bad RTP: %v", p.addr, err)
	}
	return pkt, from
}

// waitFor polls cond until it holds or 2 s pass: packets on loopback take
// a moment to reach the leg's reader goroutine.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

var errTest = errors.New("test cause")
