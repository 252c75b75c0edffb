package video

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"testing"
	"time"

	"github.com/pion/rtcp"
)

func FuzzParseRTPHeader(f *testing.F) {
	f.Add(rtpPacket(1, 2, 3, true, idrNAL(20, true)))
	f.Add([]byte{0x92, 0x60, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0xbe, 0xde, 0, 1, 0x10, 0xff, 0, 0, 0x41})
	f.Add([]byte{0xa0, 0x60, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0x41, 0, 2})
	f.Add([]byte{0x80})
	for _, p := range goldenSeeds(f) {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		h, err := ParseRTPHeader(pkt)
		if err != nil {
			return
		}
		if h.PayloadOffset < 12 || h.PayloadOffset > h.PayloadEnd || h.PayloadEnd > len(pkt) {
			t.Fatalf("bounds %d..%d of %d", h.PayloadOffset, h.PayloadEnd, len(pkt))
		}
	})
}

func FuzzInspectPayload(f *testing.F) {
	f.Add(testSPS)
	f.Add(idrNAL(30, true))
	f.Add(stapA(testSPS, testPPS, idrNAL(30, true)))
	f.Add(fuA(idrNAL(300, true), 100)[0])
	f.Add(fuA(sliceNAL(300), 100)[2])
	f.Add([]byte{0x78, 0x00, 0x10, 0x67})
	f.Add([]byte{0x7c})
	for _, p := range goldenSeeds(f) {
		h, err := ParseRTPHeader(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(p[h.PayloadOffset:h.PayloadEnd])
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		info, err := InspectPayload(p)
		k := IsKeyframeStart(p)
		if err != nil {
			if k {
				t.Fatal("malformed payload is a keyframe start")
			}
			return
		}
		if info.IDRStart && !info.HasIDR {
			t.Fatal("IDR start without IDR")
		}
		if info.IDRStart && !k {
			t.Fatal("IDR start not a keyframe start")
		}
		var c ParamSets
		_ = c.Update(p)
		if c.Complete() {
			st := c.AppendSTAPA(nil)
			if len(st) != c.STAPASize() {
				t.Fatal("STAP-A size mismatch")
			}
			it := NewSTAPAIterator(st)
			sps, _ := it.Next()
			pps, _ := it.Next()
			if it.Err() != nil || !bytes.Equal(sps, c.SPS()) || !bytes.Equal(pps, c.PPS()) {
				t.Fatal("rebuilt STAP-A does not round-trip")
			}
		}
	})
}

func FuzzParseH264Fmtp(f *testing.F) {
	f.Add("profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1")
	f.Add("profile-level-id=428016; max-mbps=245000; max-fs=8160; max-br=5000")
	f.Add("sprop-parameter-sets=" + base64.StdEncoding.EncodeToString(testSPS) + "," + base64.StdEncoding.EncodeToString(testPPS))
	f.Add("packetization-mode=;;=;profile-level-id")
	f.Fuzz(func(t *testing.T, s string) {
		fm, err := ParseH264Fmtp(s)
		if err != nil {
			return
		}
		var c ParamSets
		_ = fm.SeedParamSets(&c)
		_ = fm.MaxFrameMBs()
		back, err := ParseH264Fmtp(fm.Format())
		if err != nil {
			t.Fatalf("Format output %q does not parse: %v", fm.Format(), err)
		}
		if back.ProfileLevelID != fm.ProfileLevelID || back.PacketizationMode != fm.PacketizationMode || back.MaxFS != fm.MaxFS {
			t.Fatalf("round trip changed %+v to %+v", fm, back)
		}
	})
}

func FuzzParseMediaControl(f *testing.F) {
	f.Add([]byte(PictureFastUpdateBody))
	f.Add([]byte(`<media_control><general_error>x</general_error></media_control>`))
	f.Add([]byte(`<media_control><vc_primitive><stream_id>1</stream_id></vc_primitive>`))
	f.Add([]byte(`<?xml version="1.0" encoding="UTF-16"?><media_control/>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _ = ParseMediaControl(body)
	})
}

func FuzzParseTMMBR(f *testing.F) {
	f.Add(tmmbrPacket(1, 4, 62500, 40))
	f.Add(tmmbrPacket(1, 63, 0x1ffff, 0))
	f.Add([]byte{0x83, 205, 0, 1})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		_, _ = ParseTMMBR(pkt)
	})
}

// FuzzRouterForward feeds hostile packets, interleaved with a valid stream,
// to a router and checks that the receiver's stream stays continuous.
func FuzzRouterForward(f *testing.F) {
	s := &stream{ssrc: 9, inBand: true}
	for _, idr := range []bool{true, false} {
		for _, p := range s.frame(idr, 2500) {
			f.Add(p)
		}
	}
	f.Add([]byte{0x80, 0x60, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 9, 0x7c, 0x85, 0x88})
	for _, p := range goldenSeeds(f) {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		clk := newFakeClock()
		rt, err := NewRouter(Config{RequestKeyframe: func(string) {}, Clock: clk, Logger: slog.New(slog.DiscardHandler), NackHistory: 32})
		if err != nil {
			t.Fatal(err)
		}
		sink := &recSink{}
		_ = rt.AddSource("A", nil)
		_ = rt.AddReceiver("C", ReceiverConfig{SSRC: 7, Sink: sink})
		good := &stream{ssrc: 9, inBand: true}
		feed := func(pkts [][]byte) {
			for _, p := range pkts {
				_ = rt.Forward("A", p)
			}
		}
		feed(good.frame(false, 100))
		rt.Tick()
		_ = rt.Forward("A", pkt)
		feed(good.frame(true, 2500))
		_ = rt.Forward("A", pkt)
		feed(good.frame(false, 2500))
		_, _, _ = rt.HandleNack("C", &rtcp.TransportLayerNack{Nacks: []rtcp.NackPair{{PacketID: 0, LostPackets: 0xffff}}})
		out := sink.all()
		for _, p := range out {
			h, err := ParseRTPHeader(p)
			if err != nil {
				t.Fatalf("router emitted a malformed packet: %v", err)
			}
			if h.SSRC != 7 {
				t.Fatalf("SSRC %x", h.SSRC)
			}
		}
		if len(out) == 0 {
			t.Fatal("valid keyframe after hostile input not forwarded")
		}
	})
}

// goldenSeeds returns the first real x264 packets of the golden capture:
// the in-band parameter sets, an IDR in FU-A and non-IDR frames.
func goldenSeeds(f *testing.F) [][]byte {
	pkts, err := readPackets(goldenX264)
	if err != nil {
		f.Fatal(err)
	}
	return pkts[:min(len(pkts), 24)]
}

// FuzzRouterScript drives a two-source router with a fuzzed script: each
// step is an opcode byte (forward from A or B, tick, speaker change, pin,
// NACK, receiver PLI, clock advance) and, for forwards, a length-prefixed
// packet. Every packet a receiver gets must be well-formed RTP with its SSRC
// and an H.264 payload the router accepts.
func FuzzRouterScript(f *testing.F) {
	seeds := goldenSeeds(f)
	var script []byte
	for i, p := range seeds {
		script = append(script, byte(i%2), byte(len(p)>>8), byte(len(p)))
		script = append(script, p...)
		script = append(script, 2, 3, 6)
	}
	f.Add(script)
	f.Add([]byte{0, 0, 3, 0x80, 0x60, 0, 2, 3, 4, 5, 6, 7})
	f.Fuzz(func(t *testing.T, script []byte) {
		clk := newFakeClock()
		rt, err := NewRouter(Config{RequestKeyframe: func(string) {}, Clock: clk, Logger: slog.New(slog.DiscardHandler), Hold: 100 * time.Millisecond, NackHistory: 32})
		if err != nil {
			t.Fatal(err)
		}
		sinks := map[string]*recSink{"A": {}, "B": {}, "C": {}}
		for i, id := range []string{"A", "B", "C"} {
			if id != "C" {
				_ = rt.AddSource(id, nil)
			}
			_ = rt.AddReceiver(id, ReceiverConfig{SSRC: uint32(i + 1), PayloadType: 100, Sink: sinks[id]})
		}
		ids := []string{"A", "B", "C", ""}
		for len(script) > 0 {
			op := script[0]
			script = script[1:]
			switch op % 8 {
			case 0, 1:
				if len(script) < 2 {
					return
				}
				n := min(int(script[0])<<8|int(script[1]), len(script)-2)
				_ = rt.Forward(ids[op%2], script[2:2+n])
				script = script[2+n:]
			case 2:
				rt.Tick()
			case 3:
				rt.SetSpeaker(ids[(op>>3)%4])
			case 4:
				if op&0x80 != 0 {
					rt.Unpin()
				} else {
					_ = rt.Pin(ids[(op>>3)%4])
				}
			case 5:
				_, _, _ = rt.HandleNack(ids[(op>>3)%3], &rtcp.TransportLayerNack{Nacks: []rtcp.NackPair{{PacketID: uint16(op) << 8, LostPackets: 0xffff}}})
			case 6:
				clk.Advance(time.Duration(op>>3) * 20 * time.Millisecond)
			case 7:
				_, _ = rt.RequestFromReceiver(ids[(op>>3)%3])
			}
		}
		for i, id := range []string{"A", "B", "C"} {
			for _, p := range sinks[id].all() {
				h, err := ParseRTPHeader(p)
				if err != nil {
					t.Fatalf("receiver %s got malformed RTP: %v", id, err)
				}
				if h.SSRC != uint32(i+1) || h.PayloadType != 100 {
					t.Fatalf("receiver %s got SSRC %d PT %d", id, h.SSRC, h.PayloadType)
				}
				if _, err := InspectPayload(p[h.PayloadOffset:h.PayloadEnd]); err != nil {
					t.Fatalf("receiver %s got a bad payload: %v", id, err)
				}
			}
		}
	})
}
