package video

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"
)

func TestParseH264Fmtp(t *testing.T) {
	sprop := base64.StdEncoding.EncodeToString(testSPS) + "," + base64.StdEncoding.EncodeToString(testPPS)
	tests := []struct {
		name string
		in   string
		want H264Fmtp
		err  bool
	}{
		{"empty means baseline 1.0 mode 0", "", H264Fmtp{ProfileLevelID: DefaultProfileLevelID}, false},
		{"webrtc style", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
			H264Fmtp{ProfileLevelID: ProfileLevelID{0x42, 0xe0, 0x1f}, PacketizationMode: 1, LevelAsymmetryAllowed: true}, false},
		{"room system with limits", "profile-level-id=428016; max-mbps=245000; max-fs=8160; max-br=5000; packetization-mode=0",
			H264Fmtp{ProfileLevelID: ProfileLevelID{0x42, 0x80, 0x16}, MaxMBPS: 245000, MaxFS: 8160, MaxBR: 5000}, false},
		{"upper case and unknown keys", "Profile-Level-Id=64001F;x-google-foo=1;max-fps=3000",
			H264Fmtp{ProfileLevelID: ProfileLevelID{0x64, 0x00, 0x1f}, MaxFPS: 3000}, false},
		{"bad profile", "profile-level-id=42e0", H264Fmtp{}, true},
		{"non-hex profile", "profile-level-id=42zz1f", H264Fmtp{}, true},
		{"mode 3", "packetization-mode=3", H264Fmtp{}, true},
		{"negative max-fs", "max-fs=-1", H264Fmtp{}, true},
		{"huge max-mbps", "max-mbps=99999999999", H264Fmtp{}, true},
		{"bad sprop", "sprop-parameter-sets=!!!", H264Fmtp{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseH264Fmtp(tc.in)
			if tc.err {
				if !errors.Is(err, ErrBadFmtp) {
					t.Fatalf("err = %v, want ErrBadFmtp", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.SpropParameterSets = nil
			if got.ProfileLevelID != tc.want.ProfileLevelID || got.PacketizationMode != tc.want.PacketizationMode ||
				got.LevelAsymmetryAllowed != tc.want.LevelAsymmetryAllowed || got.MaxFS != tc.want.MaxFS ||
				got.MaxMBPS != tc.want.MaxMBPS || got.MaxBR != tc.want.MaxBR || got.MaxFPS != tc.want.MaxFPS {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}

	f, err := ParseH264Fmtp("packetization-mode=1;sprop-parameter-sets=" + sprop)
	if err != nil {
		t.Fatal(err)
	}
	var c ParamSets
	if err := f.SeedParamSets(&c); err != nil || !c.Complete() || !bytes.Equal(c.SPS(), testSPS) || !bytes.Equal(c.PPS(), testPPS) {
		t.Fatalf("sprop did not seed the cache: %v", err)
	}
	raw := base64.RawStdEncoding.EncodeToString(testPPS)
	if f, err := ParseH264Fmtp("sprop-parameter-sets=" + raw); err != nil || len(f.SpropParameterSets) != 1 {
		t.Fatalf("unpadded sprop: %v", err)
	}
}

func TestProfileLevelID(t *testing.T) {
	tests := []struct {
		in     string
		cb     bool
		level  uint8
		maxFS  uint32
		maxMBs uint32
	}{
		{"42e01f", true, 31, 3600, 108000},
		{"42c01e", true, 30, 1620, 40500},
		{"42001f", false, 31, 3600, 108000},
		{"4d801f", true, 31, 3600, 108000},
		{"4d001f", false, 31, 3600, 108000},
		{"58c01f", true, 31, 3600, 108000},
		{"42f00b", true, 9, 99, 1485}, // level 1b
		{"640028", false, 40, 8192, 245760},
	}
	for _, tc := range tests {
		p, err := ParseProfileLevelID(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if p.String() != tc.in {
			t.Errorf("%s: String() = %s", tc.in, p)
		}
		if p.ConstrainedBaseline() != tc.cb || p.Level() != tc.level {
			t.Errorf("%s: cb=%v level=%d", tc.in, p.ConstrainedBaseline(), p.Level())
		}
		f := H264Fmtp{ProfileLevelID: p}
		if f.MaxFrameMBs() != tc.maxFS || f.MaxMBsPerSecond() != tc.maxMBs {
			t.Errorf("%s: fs=%d mbps=%d", tc.in, f.MaxFrameMBs(), f.MaxMBsPerSecond())
		}
		f.MaxFS, f.MaxMBPS = 1_000_000, 1
		if f.MaxFrameMBs() != 1_000_000 || f.MaxMBsPerSecond() != tc.maxMBs {
			t.Errorf("%s: explicit max-fs not honoured or max-mbps lowered the level", tc.in)
		}
	}
	if _, _, ok := LevelLimits(77); ok {
		t.Error("unknown level accepted")
	}
}

func TestFmtpFormatRoundTrip(t *testing.T) {
	in := H264Fmtp{ProfileLevelID: ProfileLevelID{0x42, 0xe0, 0x1f}, PacketizationMode: 1, LevelAsymmetryAllowed: true, MaxFS: 3600, MaxMBPS: 108000, MaxBR: 2000}
	s := in.Format()
	if s != "profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1;max-fs=3600;max-mbps=108000;max-br=2000" {
		t.Fatalf("Format = %q", s)
	}
	out, err := ParseH264Fmtp(s)
	if err != nil {
		t.Fatal(err)
	}
	out.SpropParameterSets = nil
	if out.Format() != s {
		t.Fatalf("round trip: %q", out.Format())
	}
}
