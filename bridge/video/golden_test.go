package video

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// goldenX264 holds 1.5 s of RTP from ffmpeg's libx264 (baseline, 320x240,
// GOP 10, packetization-mode 1): each packet as a 16-bit big-endian length
// and the bytes. Regenerate with VIDEO_UPDATE_GOLDEN=1 go test -run
// TestFFmpegKeyframeDetection.
var goldenX264 = filepath.Join("testdata", "x264-baseline-320x240.rtp")

func writePackets(path string, pkts [][]byte) error {
	var b []byte
	for _, p := range pkts {
		b = binary.BigEndian.AppendUint16(b, uint16(len(p)))
		b = append(b, p...)
	}
	return os.WriteFile(path, b, 0o644)
}

func readPackets(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var pkts [][]byte
	for len(b) > 0 {
		if len(b) < 2 || len(b) < 2+int(binary.BigEndian.Uint16(b)) {
			return nil, fmt.Errorf("%s: truncated", path)
		}
		n := int(binary.BigEndian.Uint16(b))
		pkts = append(pkts, b[2:2+n])
		b = b[2+n:]
	}
	return pkts, nil
}

// TestGoldenX264 checks payload inspection on recorded x264 packets: every
// packet parses, IDR pictures start where an FU-A or single NAL IDR with
// first_mb_in_slice 0 begins, the first is preceded by the in-band SPS/PPS,
// and the router delivers a stream that starts with them.
func TestGoldenX264(t *testing.T) {
	pkts, err := readPackets(goldenX264)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkts) < 45 {
		t.Fatalf("only %d packets", len(pkts))
	}
	var idrStarts, markers int
	var cache ParamSets
	for i, p := range pkts {
		h, err := ParseRTPHeader(p)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		pl := p[h.PayloadOffset:h.PayloadEnd]
		info, err := InspectPayload(pl)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if info.IDRStart {
			idrStarts++
			if !cache.Complete() {
				t.Fatalf("packet %d: IDR before any SPS/PPS", i)
			}
		}
		if h.Marker {
			markers++
		}
		_ = cache.Update(pl)
	}
	// 1.5 s at 30 fps with an IDR every 10 frames.
	if markers < 40 || idrStarts < markers/10 || idrStarts > markers/10+1 {
		t.Fatalf("%d frames, %d IDR starts", markers, idrStarts)
	}

	g := newRig(t, Config{})
	if err := g.rt.AddSource("A", nil); err != nil {
		t.Fatal(err)
	}
	g.receiver("C", 0xc)
	// Start forwarding after the first keyframe so that the router has to
	// wait for the second one and use its cached parameter sets.
	h0 := mustHeader(t, pkts[0])
	skip := 0
	for skip < len(pkts) && mustHeader(t, pkts[skip]).Timestamp == h0.Timestamp {
		skip++
	}
	if err := g.rt.Forward("A", pkts[0]); err != nil { // in-band SPS/PPS
		t.Fatal(err)
	}
	for _, p := range pkts[skip:] {
		if err := g.rt.Forward("A", p); err != nil {
			t.Fatal(err)
		}
		g.rt.Tick()
	}
	out := g.sinks["C"].all()
	if len(out) == 0 {
		t.Fatal("nothing forwarded")
	}
	first, _ := InspectPayload(payloadOf(t, out[0]))
	second, _ := InspectPayload(payloadOf(t, out[1]))
	if !first.HasSPS || !first.HasPPS || !second.IDRStart {
		t.Fatalf("stream starts with %+v then %+v", first, second)
	}
	checkContinuous(t, out, 0xc)
}
