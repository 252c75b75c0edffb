package bridge

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/roomgate/roomgate/bridge/video"
)

// videoClock is a manual clock for video tests. Its timers never fire: the
// tests run the video room's timers themselves (vidTick), so that every
// switch happens exactly when the test says.
type videoClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *videoClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *videoClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (c *videoClock) NewTimer(time.Duration) timer { return idleTimer{} }

type idleTimer struct{}

func (idleTimer) C() <-chan time.Time { return nil }
func (idleTimer) Reset(time.Duration) {}
func (idleTimer) Stop()               {}

// newVideoBridge returns a bridge on 127.0.0.1 driven by a manual clock,
// closed when the test ends.
func newVideoBridge(t testing.TB) (*Bridge, *videoClock) {
	t.Helper()
	lo, hi := testPortRange(t, 200)
	clk := &videoClock{now: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
	b, err := newBridge(Config{BindAddr: netip.MustParseAddr("127.0.0.1"), PortMin: lo, PortMax: hi}, clk, stdMedia{})
	if err != nil {
		t.Fatalf("newBridge: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b, clk
}

// vidRoom returns the running video room name.
func vidRoom(t testing.TB, b *Bridge, name string) *videoRoom {
	t.Helper()
	vr := b.videoRooms().room(name)
	if vr == nil {
		t.Fatalf("no video room %q", name)
	}
	return vr
}

// vidTick runs the video room's timers once, as its goroutine does.
func vidTick(t testing.TB, b *Bridge, name string) {
	t.Helper()
	vidRoom(t, b, name).rt.Tick()
}

// goldenVideo loads the recorded libx264 stream of bridge/video: 1.5 s of
// 320x240 baseline at 30 fps, an IDR every 10 frames, packetization-mode 1.
func goldenVideo(t testing.TB) [][]byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("video", "testdata", "x264-baseline-320x240.rtp"))
	if err != nil {
		t.Fatal(err)
	}
	var pkts [][]byte
	for len(b) >= 2 {
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			t.Fatal("golden video truncated")
		}
		pkts = append(pkts, b[2:2+n])
		b = b[2+n:]
	}
	return pkts
}

// videoPeer is a test endpoint on 127.0.0.1:0 with an RTP and an RTCP
// socket. It sends the golden stream as its camera, tagged with its own
// SSRC and, in an RFC 8285 one-byte header extension (ID 1), its tag byte,
// so that a receiver can tell whose video it gets (the router forwards
// extensions untouched).
type videoPeer struct {
	t          testing.TB
	rtp, rtcp  *net.UDPConn
	addr, rAdr netip.AddrPort
	leg        *VideoLeg
	tag        byte
	ssrc       uint32
	golden     [][]byte
	next       int    // index into golden
	seq        uint16 // our sequence numbers
	tsBase     uint32 // added to the golden timestamps, per loop
	sent       uint64 // packets sent that the leg must accept
	got        [][]byte
}

func newVideoPeer(t testing.TB, tag byte, golden [][]byte) *videoPeer {
	t.Helper()
	listen := func() (*net.UDPConn, netip.AddrPort) {
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
		if err != nil {
			t.Fatalf("listen: %v", err)
		}
		_ = c.SetReadBuffer(4 << 20)
		t.Cleanup(func() { _ = c.Close() })
		return c, netip.MustParseAddrPort(c.LocalAddr().String())
	}
	p := &videoPeer{t: t, tag: tag, ssrc: 0x5000 + uint32(tag), golden: golden, seq: 100 * uint16(tag)}
	p.rtp, p.addr = listen()
	p.rtcp, p.rAdr = listen()
	return p
}

// params are the peer's negotiated video: PT 96, PLI, FIR, NACK and REMB.
func (p *videoPeer) params() VideoParams {
	f, _ := video.ParseH264Fmtp("profile-level-id=42e01f;packetization-mode=1")
	return VideoParams{
		PayloadType: 96, Fmtp: f, Remote: p.addr, RemoteRTCP: p.rAdr, Direction: SendRecv,
		Feedback: VideoFeedback{NACK: true, PLI: true, FIR: true, REMB: true},
	}
}

// join creates the peer's video leg in room and starts it.
func (p *videoPeer) join(b *Bridge, room, id string) *VideoLeg {
	p.t.Helper()
	l, err := b.NewVideoLeg(VideoLegOptions{ID: id, Room: room})
	if err != nil {
		p.t.Fatalf("NewVideoLeg %s: %v", id, err)
	}
	p.t.Cleanup(func() { l.Close(nil) })
	if err := l.Start(p.params()); err != nil {
		p.t.Fatalf("Start %s: %v", id, err)
	}
	p.leg = l
	return l
}

// packet returns the next packet of the peer's camera, rewritten.
func (p *videoPeer) packet() []byte {
	if p.next == len(p.golden) {
		p.next = 0
		// Loop seamlessly: one frame after the golden stream's last.
		first := binary.BigEndian.Uint32(p.golden[0][4:])
		last := binary.BigEndian.Uint32(p.golden[len(p.golden)-1][4:])
		p.tsBase += last - first + 3000
	}
	g := p.golden[p.next]
	p.next++
	var h rtp.Packet
	if err := h.Unmarshal(g); err != nil {
		p.t.Fatalf("golden packet: %v", err)
	}
	h.SSRC = p.ssrc
	h.SequenceNumber = p.seq
	h.Timestamp += p.tsBase
	p.seq++
	if err := h.SetExtension(1, []byte{p.tag}); err != nil {
		p.t.Fatal(err)
	}
	h.Header.ExtensionProfile = 0xbede
	b, err := h.Marshal()
	if err != nil {
		p.t.Fatal(err)
	}
	return b
}

// atIDR reports whether the next packet starts an IDR picture (the STAP-A
// of SPS and PPS that precedes each one in the golden stream).
func (p *videoPeer) atIDR() bool {
	i := p.next % len(p.golden)
	return p.golden[i][12]&0x1f == byte(video.NALSTAPA)
}

// send sends n packets of its camera and waits until the leg took them.
func (p *videoPeer) send(n int) {
	p.t.Helper()
	for range n {
		if _, err := p.rtp.WriteToUDPAddrPort(p.packet(), netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(p.leg.LocalPort()))); err != nil {
			p.t.Fatalf("send: %v", err)
		}
		p.sent++
		vidWait(p.t, "video leg to take a packet", func() bool { return p.leg.packetsIn.Load() >= p.sent })
	}
}

// sendUntilIDR sends up to (not including) the start of the next IDR.
func (p *videoPeer) sendUntilIDR() {
	p.t.Helper()
	p.send(1)
	for !p.atIDR() {
		p.send(1)
	}
}

// sendIDR sends the next IDR picture (after skipping to it) completely.
func (p *videoPeer) sendIDR() {
	p.t.Helper()
	if !p.atIDR() {
		p.sendUntilIDR()
	}
	p.send(1) // SPS/PPS
	for p.golden[p.next-1][1]&0x80 == 0 {
		p.send(1)
	}
}

// collect reads every packet the leg has sent the peer so far.
func (p *videoPeer) collect() [][]byte {
	p.t.Helper()
	want := p.leg.packetsOut.Load()
	buf := make([]byte, 2000)
	for uint64(len(p.got)) < want {
		_ = p.rtp.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := p.rtp.Read(buf)
		if err != nil {
			p.t.Fatalf("peer %d: %d of %d packets: %v", p.tag, len(p.got), want, err)
		}
		p.got = append(p.got, append([]byte(nil), buf[:n]...))
	}
	return p.got
}

// readRTCP returns the next compound RTCP packet sent to the peer's RTCP
// socket, parsed.
func (p *videoPeer) readRTCP() []rtcp.Packet {
	p.t.Helper()
	buf := make([]byte, 2000)
	_ = p.rtcp.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, err := p.rtcp.Read(buf)
	if err != nil {
		p.t.Fatalf("peer %d: no RTCP: %v", p.tag, err)
	}
	pkts, err := rtcp.Unmarshal(buf[:n])
	if err != nil {
		p.t.Fatalf("peer %d: bad RTCP: %v", p.tag, err)
	}
	return pkts
}

// readRawRTCP returns the next datagram sent to the peer's RTCP socket.
func (p *videoPeer) readRawRTCP() []byte {
	p.t.Helper()
	buf := make([]byte, 2000)
	_ = p.rtcp.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, err := p.rtcp.Read(buf)
	if err != nil {
		p.t.Fatalf("peer %d: no RTCP: %v", p.tag, err)
	}
	return buf[:n]
}

// sendRTCP sends RTCP packets to the peer's leg's RTCP port.
func (p *videoPeer) sendRTCP(pkts ...rtcp.Packet) {
	p.t.Helper()
	b, err := rtcp.Marshal(pkts)
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.rtcp.WriteToUDPAddrPort(b, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(p.leg.LocalPort()+1))); err != nil {
		p.t.Fatal(err)
	}
}

// tagOf returns the tag byte of a forwarded packet's header extension.
func tagOf(t testing.TB, pkt []byte) byte {
	t.Helper()
	var h rtp.Packet
	if err := h.Unmarshal(pkt); err != nil {
		t.Fatalf("forwarded packet: %v", err)
	}
	if e := h.GetExtension(1); len(e) == 1 {
		return e[0]
	}
	return 0 // a packet the router made (SPS/PPS before an IDR)
}

// vidWait polls cond until it holds or 3 s pass: loopback packets take a
// moment to reach the reader goroutines.
func vidWait(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// hasKeyframeRequest reports which of PLI and FIR pkts hold, for media SSRC.
func hasKeyframeRequest(pkts []rtcp.Packet, ssrc uint32) (pli, fir bool) {
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.PictureLossIndication:
			pli = pli || p.MediaSSRC == ssrc
		case *rtcp.FullIntraRequest:
			for _, e := range p.FIR {
				fir = fir || e.SSRC == ssrc
			}
		}
	}
	return pli, fir
}
