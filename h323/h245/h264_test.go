package h245

import (
	"reflect"
	"testing"

	"github.com/roomgate/roomgate/h323/h225"
	"github.com/roomgate/roomgate/h323/internal/vectors"
	"github.com/roomgate/roomgate/h323/per"
	"github.com/roomgate/roomgate/h323/schema"
)

// capturedTCS returns the tunnelled TerminalCapabilitySet h323plus sent with video.
func capturedTCS(tb testing.TB) []byte {
	tb.Helper()
	for _, v := range vectors.Load(tb, "uuie") {
		if v.Capture != "h323plus-video-h239.pcapng" || v.Frame != "10" {
			continue
		}
		uu, err := h225.Parse(v.Data)
		if err != nil {
			tb.Fatal(err)
		}
		return uu.H245[0]
	}
	tb.Fatal("captured video TCS missing")
	return nil
}

// The H.264 entry of a real h323plus capability set (H.241 profile 64, level 36,
// maxBitRate 3840, an unknown parameter 13) is read; its H.239 content entry is not main
// video and stays out.
func TestTCSVideoCaptured(t *testing.T) {
	m, err := Parse(capturedTCS(t))
	if err != nil {
		t.Fatal(err)
	}
	pv := TCSVideo(m)
	want := []H264{{Profile: 64, Level: 36, MaxBitRate: 3840, Extra: [][2]int{{13, 3000}}}}
	if !reflect.DeepEqual(pv.H264, want) {
		t.Fatalf("H.264 = %+v, want %+v", pv.H264, want)
	}
	if len(pv.Packetizations) != 0 {
		t.Fatalf("packetizations %v from a TCS that lists none", pv.Packetizations)
	}
	if h, ok := pv.Best(H241ProfileBaseline); !ok || h.Level != 36 {
		t.Fatalf("Best = %+v %v", h, ok)
	}
	if _, ok := pv.Best(H241ProfileHigh); ok {
		t.Fatal("a Baseline-only peer offers High")
	}
}

// Our capability set reads back as built: custom parameters and both packetization modes.
func TestTCSVideoRoundTrip(t *testing.T) {
	caps := Capabilities{Audio: []AudioCap{{Codec: G722}},
		Video: []H264{{Profile: 64, Level: 71, MaxBitRate: 20000, MaxBR: 800}, {Profile: 64, Level: 85, MaxBitRate: 40000, MaxFS: 32, MaxMBPS: 490}}}
	b, err := TCS(3, caps)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	pv := TCSVideo(m)
	if !reflect.DeepEqual(pv.H264, caps.Video) {
		t.Fatalf("H.264 = %+v, want %+v", pv.H264, caps.Video)
	}
	if !pv.Supports(PacketizationSingleNAL) || !pv.Supports(PacketizationNonInterleaved) || pv.Supports(PacketizationInterleaved) {
		t.Fatalf("packetizations %v", pv.Packetizations)
	}
	if h, _ := pv.Best(H241ProfileBaseline); h.Level != 85 {
		t.Fatalf("Best picked level %d", h.Level)
	}
	// An audio-only set has no video and no H.264 packetization.
	b, _ = TCS(4, Capabilities{Audio: []AudioCap{{Codec: G711Ulaw}}})
	m, _ = Parse(b)
	if pv := TCSVideo(m); len(pv.H264) != 0 || len(pv.Packetizations) != 0 {
		t.Fatalf("audio-only TCS: %+v", pv)
	}
}

// olcWithDescriptor builds an H.264 OpenLogicalChannel whose payload descriptor OID is oid.
func olcWithDescriptor(t *testing.T, oid string) []byte {
	t.Helper()
	j := obj("forwardLogicalChannelNumber", 7, "forwardLogicalChannelParameters", obj(
		"dataType", obj("videoData", obj("genericVideoCapability", obj("capabilityIdentifier", obj("standard", OIDH264),
			"maxBitRate", 10240, "collapsing", []any{param(H241Profile, "booleanArray", 64), param(H241Level, "unsignedMin", 64)}))),
		"multiplexParameters", obj("h2250LogicalChannelParameters", obj("sessionID", 2, "mediaGuaranteedDelivery", false,
			"dynamicRTPPayloadType", 97, "mediaPacketization", obj("rtpPayloadType", obj("payloadDescriptor", obj("oid", oid), "payloadType", 97))))))
	v, err := per.FromJSON(schema.OpenLogicalChannel, j, nil)
	if err != nil {
		t.Fatal(err)
	}
	var e per.Encoder
	b, err := e.Encode(nil, schema.OpenLogicalChannel, &v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A peer's video OLC gives its payload type and packetization mode; the single NAL unit OID
// one arc short (Polycom) is single NAL unit mode.
func TestOLCPacketization(t *testing.T) {
	for _, c := range []struct {
		oid  string
		want Packetization
	}{
		{OIDH264SingleNAL, PacketizationSingleNAL},
		{"0.0.8.241.0.0.0", PacketizationSingleNAL},
		{OIDH264NonInterleaved, PacketizationNonInterleaved},
		{OIDH264Interleaved, PacketizationInterleaved},
		{"0.0.8.241.0.0.9", PacketizationUnsignalled},
		{"1.2.3", PacketizationUnsignalled},
	} {
		o, err := ParseOLC(olcWithDescriptor(t, c.oid))
		if err != nil {
			t.Fatal(err)
		}
		if o.Packetization != c.want || o.PayloadType != 97 || o.Video == nil || o.Video.Level != 64 || o.Video.MaxBitRate != 10240 {
			t.Errorf("%s: %+v (video %+v)", c.oid, o, o.Video)
		}
	}
}

func TestLevels(t *testing.T) {
	for code, idc := range map[int]uint8{15: 10, 19: 9, 36: 13, 64: 30, 71: 31, 74: 31, 85: 40, 113: 51} {
		if got, ok := LevelIDC(code); !ok || got != idc {
			t.Errorf("LevelIDC(%d) = %d %v, want %d", code, got, ok, idc)
		}
	}
	if _, ok := LevelIDC(14); ok {
		t.Error("code below level 1 accepted")
	}
	if c, ok := LevelCode(31); !ok || c != 71 {
		t.Errorf("LevelCode(31) = %d %v", c, ok)
	}
	if ProfileIDC(64) != 66 || ProfileIDC(64|8) != 100 || ProfileIDC(32) != 77 || ProfileIDC(1) != 0 {
		t.Error("ProfileIDC")
	}
	if _, err := TCS(1, Capabilities{Video: []H264{{Profile: 64, Level: 71, MaxBR: 70000}}}); err == nil {
		t.Error("CustomMaxBR beyond 65535 accepted")
	}
}

// FuzzH264Capability feeds arbitrary bytes to the capability and OLC readers a peer's
// messages reach: they must not panic, and what they accept must be an H.264 capability.
func FuzzH264Capability(f *testing.F) {
	f.Add(capturedTCS(f))
	if b, err := TCS(1, roomCaps()); err == nil {
		f.Add(b)
	}
	if b, err := OLC(Channel{Number: 2, SessionID: 2, Video: &H264{Profile: 64, Level: 71, MaxBitRate: 20000},
		MediaControl: rtcp, PayloadType: 109, Packetization: PacketizationNonInterleaved}); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := Parse(b); err == nil {
			for _, h := range TCSVideo(m).H264 {
				if h.Profile == 0 || h.Level == 0 {
					t.Fatalf("accepted %+v", h)
				}
			}
			if m.OLC != nil && m.OLC.Video != nil && m.OLC.Video.Level == 0 {
				t.Fatalf("OLC video %+v", m.OLC.Video)
			}
		}
		if o, err := ParseOLC(b); err == nil && o.Video != nil && o.Video.Profile == 0 {
			t.Fatalf("fastStart video %+v", o.Video)
		}
	})
}
