package video

import (
	"encoding/hex"
	"errors"
	"testing"
)

// SPS units from libx264 (ffmpeg -f lavfi -i testsrc=size=WxH -c:v libx264
// -profile:v P -f h264), covering cropping (360 is not a multiple of 16),
// the High profile's extra fields and level 3.1.
var spsVectors = []struct {
	name          string
	hex           string
	profile, lvl  uint8
	width, height int
}{
	{"high-640x360", "67640016acd940a02ff970110000030001000003000a0f162d96", 100, 22, 640, 360},
	{"baseline-1280x720", "6742c01fd9005005bb0110000003001000000300a0f1832480", 66, 31, 1280, 720},
	{"main-176x144", "674d400aeca16276022000000300200000030141e244b2c0", 77, 10, 176, 144},
}

func TestParseSPS(t *testing.T) {
	for _, v := range spsVectors {
		t.Run(v.name, func(t *testing.T) {
			nal, err := hex.DecodeString(v.hex)
			if err != nil {
				t.Fatal(err)
			}
			info, err := ParseSPS(nal)
			if err != nil {
				t.Fatalf("ParseSPS: %v", err)
			}
			want := SPSInfo{ProfileIDC: v.profile, LevelIDC: v.lvl, Width: v.width, Height: v.height}
			if info != want {
				t.Fatalf("got %+v, want %+v", info, want)
			}
			// Truncations into the fields read are errors; cutting only
			// the VUI that follows them still gives the right size.
			for n := range len(nal) - 1 {
				if got, err := ParseSPS(nal[:n]); err == nil && got != want {
					t.Fatalf("truncated to %d bytes: %+v", n, got)
				}
			}
			if _, err := ParseSPS(nal[:5]); !errors.Is(err, ErrBadSPS) {
				t.Fatalf("5-byte SPS: %v, want ErrBadSPS", err)
			}
		})
	}
}

func TestParseSPSGolden(t *testing.T) {
	pkts, err := readPackets(goldenX264)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range pkts {
		h, err := ParseRTPHeader(p)
		if err != nil {
			t.Fatal(err)
		}
		sps, ok := FindSPS(p[h.PayloadOffset:h.PayloadEnd])
		if !ok {
			continue
		}
		info, err := ParseSPS(sps)
		if err != nil {
			t.Fatalf("golden SPS: %v", err)
		}
		if info.Width != 320 || info.Height != 240 || info.ProfileIDC != 66 {
			t.Fatalf("golden SPS: %+v, want baseline 320x240", info)
		}
		found = true
	}
	if !found {
		t.Fatal("no SPS in the golden stream")
	}
}

func TestParseSPSRejects(t *testing.T) {
	for name, nal := range map[string][]byte{
		"empty":     nil,
		"pps":       {0x68, 0xce, 0x38, 0x80},
		"forbidden": {0xe7, 0x42, 0xc0, 0x1f},
		"short":     {0x67, 0x42, 0xc0, 0x1f},
		"long-ue":   {0x67, 0x42, 0xc0, 0x1f, 0, 0, 0, 0, 0, 0},
	} {
		if _, err := ParseSPS(nal); !errors.Is(err, ErrBadSPS) {
			t.Errorf("%s: err %v, want ErrBadSPS", name, err)
		}
	}
}

func TestParseSPSAllocs(t *testing.T) {
	nal, _ := hex.DecodeString(spsVectors[0].hex)
	if n := testing.AllocsPerRun(100, func() { _, _ = ParseSPS(nal) }); n != 0 {
		t.Fatalf("%v allocations per parse", n)
	}
}

func TestFindSPS(t *testing.T) {
	if s, ok := FindSPS(stapA(testSPS, testPPS)); !ok || len(s) != len(testSPS) {
		t.Fatalf("STAP-A: %v %v", s, ok)
	}
	if _, ok := FindSPS(idrNAL(10, true)); ok {
		t.Fatal("SPS found in an IDR")
	}
	if _, ok := FindSPS([]byte{0x78, 0, 9, 0x67}); ok {
		t.Fatal("SPS found in a broken STAP-A")
	}
}

func FuzzParseSPS(f *testing.F) {
	for _, v := range spsVectors {
		nal, _ := hex.DecodeString(v.hex)
		f.Add(nal)
	}
	f.Add(testSPS)
	f.Add([]byte{0x67, 0x64, 0, 0x1f, 0xff})
	f.Fuzz(func(t *testing.T, nal []byte) {
		info, err := ParseSPS(nal)
		if err != nil {
			return
		}
		if info.Width <= 0 || info.Height <= 0 || info.Width > maxPicDimension || info.Height > 2*maxPicDimension {
			t.Fatalf("impossible size %dx%d", info.Width, info.Height)
		}
	})
}
