package call

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/zaf/g711"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/bridge/codec"
	"github.com/roomgate/roomgate/bridge/prompt"
)

// promptBridge is a bridge on loopback that can announce.
func promptBridge(t *testing.T) *bridge.Bridge {
	t.Helper()
	lib, err := prompt.New(prompt.Config{})
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := freeRange(t, 40)
	b, err := bridge.New(bridge.Config{BindAddr: netip.MustParseAddr("127.0.0.1"), PortMin: lo, PortMax: hi,
		MediaTimeout: time.Hour, Logger: testLogger(t), Prompts: lib})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// plainLeg is a non-H.323 leg of a bridge room, as a SIP call makes one: a
// G.711 µ-law stream to a UDP socket of the test.
type plainLeg struct {
	leg  *bridge.Leg
	sock net.PacketConn
}

func newPlainLeg(t *testing.T, b *bridge.Bridge, id, room string) *plainLeg {
	t.Helper()
	sock, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sock.Close() })
	leg, err := b.NewLeg(bridge.LegOptions{ID: id, Room: room, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { leg.Close(nil) })
	info, err := codec.Lookup("PCMU")
	if err != nil {
		t.Fatal(err)
	}
	if err := leg.Start(bridge.StreamParams{Codec: info, PayloadType: 0, EventPayloadType: -1,
		Remote: sock.LocalAddr().(*net.UDPAddr).AddrPort(), Direction: bridge.SendRecv}); err != nil {
		t.Fatal(err)
	}
	return &plainLeg{leg: leg, sock: sock}
}

// loudest returns the largest sample the leg's socket hears within d.
func (p *plainLeg) loudest(t *testing.T, d time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(d)
	buf := make([]byte, 1500)
	peak := 0
	for time.Now().Before(deadline) {
		if err := p.sock.SetReadDeadline(deadline); err != nil {
			t.Fatal(err)
		}
		n, _, err := p.sock.ReadFrom(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break
			}
			t.Fatal(err)
		}
		var pkt rtp.Packet
		if pkt.Unmarshal(buf[:n]) != nil || pkt.PayloadType != 0 {
			continue
		}
		pcm := g711.DecodeUlaw(pkt.Payload)
		for i := 0; i+1 < len(pcm); i += 2 {
			s := int(int16(binary.LittleEndian.Uint16(pcm[i:])))
			peak = max(peak, s, -s)
		}
	}
	return peak
}

// loud is a sample level no silence or comfort noise reaches; the join
// chime is far above it.
const loud = 2000

// An H.323 leg and a plain RTP leg (what a SIP phone becomes) in one
// conference hear each other: a chime announced in the caller's room
// crosses the H.323 call and reaches the plain leg in the callee's room,
// and one announced in the callee's room crosses back to a plain leg in the
// caller's room. This is the bridge-level half of "a SIP phone and an H.323
// endpoint in one conference"; the whole server wiring is cmd's.
func TestH323AndPlainLegShareAudio(t *testing.T) {
	calleeBridge, callerBridge := promptBridge(t), promptBridge(t)
	callee := startServer(t, BridgeMedia(calleeBridge), newFakeConfs(), Config{Codecs: []string{"PCMU"}})
	callerConfs := newFakeConfs()
	caller := startServer(t, BridgeMedia(callerBridge), callerConfs, Config{Codecs: []string{"PCMU"}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := caller.Dialer().Dial(ctx, dialReq(t, "out", "h323:4711@"+callee.Addr().String())); err != nil {
		t.Fatal(err)
	}
	out := <-callerConfs.joins
	waitPackets(t, "caller leg", out.req.Leg.Stats)

	phone := newPlainLeg(t, calleeBridge, "sip-phone", "4711")
	if quiet := phone.loudest(t, 200*time.Millisecond); quiet >= loud {
		t.Fatalf("the plain leg hears %d before anything is played", quiet)
	}
	if err := callerBridge.Announce("out", prompt.Join); err != nil {
		t.Fatal(err)
	}
	if peak := phone.loudest(t, 2*time.Second); peak < loud {
		t.Errorf("the plain leg in the callee's room heard at most %d of the caller's chime", peak)
	}
	// The other way, once the caller's room is quiet again.
	watcher := newPlainLeg(t, callerBridge, "watcher", "out")
	for range 50 {
		if watcher.loudest(t, 100*time.Millisecond) < loud {
			break
		}
	}
	if err := calleeBridge.Announce("4711", prompt.Join); err != nil {
		t.Fatal(err)
	}
	if peak := watcher.loudest(t, 2*time.Second); peak < loud {
		t.Errorf("a plain leg in the caller's room heard at most %d of the callee's chime", peak)
	}
}
