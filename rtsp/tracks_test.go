package rtsp

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/sdpunmarshaler"
)

// parseSDP reads an SDP the way the client reads a DESCRIBE answer.
func parseSDP(b []byte) (*description.Session, error) {
	ssd, err := sdpunmarshaler.Unmarshal(b)
	if err != nil {
		return nil, err
	}
	var d description.Session
	if err := d.Unmarshal2(ssd); err != nil {
		return nil, err
	}
	return &d, nil
}

func TestSelectTracksVectors(t *testing.T) {
	cases := []struct {
		file               string
		video, audio, note string
		width, height      int
		wantErr            error
	}{
		{"gstreamer-h264-pcmu.sdp", "H264/90000", "PCMU/8000", "", 640, 360, nil},
		{"gstreamer-h264-aac.sdp", "H264/90000", "", NoteAACNeedsCgo, 640, 360, nil},
		{"gstreamer-h264-opus.sdp", "H264/90000", "opus/48000", "", 640, 360, nil},
		{"gstreamer-vp8-aac.sdp", "", "", NoteAACNeedsCgo, 0, 0, ErrNoUsableTrack},
		// H.265 is left out; the recvonly PCMA is the camera's audio, the
		// sendonly PCMU its back channel (ONVIF), which a camera leg never
		// uses although PCMU would rank first.
		{"onvif-h265-pcma-backchannel.sdp", "", "PCMA/8000", "", 0, 0, nil},
		// Mode 2 cannot be forwarded; the mode 0 encoder is taken.
		{"h264-mode2-and-mode0.sdp", "H264/90000", "PCMU/8000", "", 0, 0, nil},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "sdp", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			desc, err := parseSDP(b)
			if err != nil {
				t.Fatalf("parsing: %v", err)
			}
			sel, err := selectTracks(desc)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tr := sel.tracks
			if got := fmtOrNone(tr.Video); (tc.video == "" && got != "none") || (tc.video != "" && got != tc.video) {
				t.Errorf("video %s, want %q", got, tc.video)
			}
			if got := fmtOrNone(tr.Audio); (tc.audio == "" && got != "none") || (tc.audio != "" && got != tc.audio) {
				t.Errorf("audio %s, want %q", got, tc.audio)
			}
			if tr.AudioNote != tc.note || tr.Width != tc.width || tr.Height != tc.height {
				t.Errorf("note %q size %dx%d", tr.AudioNote, tr.Width, tr.Height)
			}
			if tc.file == "h264-mode2-and-mode0.sdp" && tr.Video.PayloadType != 96 {
				t.Errorf("picked pt %d, want the mode 0 stream 96", tr.Video.PayloadType)
			}
		})
	}
}

func TestSameMedia(t *testing.T) {
	a := testTracks
	b := Tracks{Video: &Format{Codec: CodecH264, PayloadType: 96, ClockRate: 90000, Fmtp: "other"},
		Audio: &Format{Codec: CodecPCMU, PayloadType: 0, ClockRate: 8000, Channels: 1}}
	if !a.sameMedia(b) {
		t.Fatal("fmtp (parameter sets) must not count as a change")
	}
	b.Audio = &Format{Codec: CodecPCMA, PayloadType: 8, ClockRate: 8000, Channels: 1}
	if a.sameMedia(b) {
		t.Fatal("another audio codec is a change")
	}
	b.Audio = nil
	if a.sameMedia(b) {
		t.Fatal("losing audio is a change")
	}
}
