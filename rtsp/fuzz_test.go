package rtsp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/pion/rtp"

	"github.com/roomgate/roomgate/bridge/video"
	"github.com/roomgate/roomgate/conf"
)

// FuzzSelectTracks feeds camera SDP (DESCRIBE answers) through the track
// choice and the parameter sets of sprop-parameter-sets.
func FuzzSelectTracks(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "sdp", "*.sdp"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("v=0\r\ns=x\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 sprop-parameter-sets=Z0IAHqtA,aM4=\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		desc, err := parseSDP(b)
		if err != nil {
			return
		}
		sel, err := selectTracks(desc)
		if err != nil {
			if !errors.Is(err, ErrNoUsableTrack) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		tr := sel.tracks
		if tr.Video == nil && tr.Audio == nil {
			t.Fatal("selected nothing without an error")
		}
		if tr.Video != nil && (tr.Video.Codec != CodecH264 || sel.videoMedia == nil) {
			t.Fatalf("video %+v", tr.Video)
		}
		if tr.Audio != nil && sel.audioMedia == nil {
			t.Fatal("audio without media")
		}
		if tr.Width < 0 || tr.Height < 0 || tr.Width > 16384 || tr.Height > 16384 {
			t.Fatalf("size %dx%d", tr.Width, tr.Height)
		}
		var vp videoParams
		vp.seed(tr.SPS, tr.PPS)
		vi := vp.snapshot()
		if len(vi.SPS) > video.MaxSPSSize || len(vi.PPS) > video.MaxPPSSize {
			t.Fatalf("cache exceeded its bounds: %d, %d", len(vi.SPS), len(vi.PPS))
		}
	})
}

// FuzzVideoParams feeds H.264 RTP payloads (length-prefixed in the input)
// through the parameter set cache and the continuity rewriter.
func FuzzVideoParams(f *testing.F) {
	sps := []byte{0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02, 0x80, 0xbf, 0xe5, 0xc0, 0x5a, 0x83, 0x03, 0x03, 0x52, 0x80, 0, 0, 0, 0x03, 0, 0x80, 0, 0, 0x19, 0x47, 0x8b, 0x17, 0x50}
	pps := []byte{0x68, 0xce, 0x3c, 0x80}
	stap := []byte{24}
	stap = binary.BigEndian.AppendUint16(stap, uint16(len(sps)))
	stap = append(stap, sps...)
	stap = binary.BigEndian.AppendUint16(stap, uint16(len(pps)))
	stap = append(stap, pps...)
	frame := func(ps ...[]byte) []byte {
		var b []byte
		for _, p := range ps {
			b = binary.BigEndian.AppendUint16(b, uint16(len(p)))
			b = append(b, p...)
		}
		return b
	}
	f.Add(frame(sps, pps, []byte{0x65, 0x88, 0x84}))
	f.Add(frame(stap, []byte{0x7c, 0x85, 0x88}, []byte{0x7c, 0x45, 0x00}))
	f.Add(frame([]byte{24, 0xff, 0xff, 0x67}, []byte{0x67}, []byte{}))
	f.Fuzz(func(t *testing.T, in []byte) {
		var vp videoParams
		c := continuity{clock: 90000}
		pkt := &rtp.Packet{}
		now := time.Unix(0, 0)
		var ssrc uint32
		for seq := uint16(0); len(in) >= 2; seq++ {
			n := int(binary.BigEndian.Uint16(in))
			in = in[2:]
			n = min(n, len(in))
			pkt.Payload, in = in[:n], in[n:]
			// The length doubles as a camera restart marker, SSRC and
			// sequence jump, so the rewriter sees arbitrary sessions.
			pkt.Header = rtp.Header{SSRC: uint32(n), SequenceNumber: seq * uint16(n|1), Timestamp: uint32(n) * 3000}
			if n%5 == 0 {
				c.fresh = true
			}
			vp.observe(pkt.Payload)
			now = now.Add(time.Duration(n) * time.Millisecond)
			c.rewrite(pkt, now)
			if seq == 0 {
				ssrc = pkt.SSRC
			} else if pkt.SSRC != ssrc {
				t.Fatalf("SSRC changed from %d to %d", ssrc, pkt.SSRC)
			}
		}
		vi := vp.snapshot()
		if len(vi.SPS) > video.MaxSPSSize || len(vi.PPS) > video.MaxPPSSize || vi.Width < 0 || vi.Height < 0 {
			t.Fatalf("snapshot %+v", vi)
		}
		if vi.Width > 0 {
			info, err := video.ParseSPS(vi.SPS)
			if err != nil || info.Width != vi.Width || info.Height != vi.Height {
				t.Fatalf("cached size %dx%d disagrees with the cached SPS (%v)", vi.Width, vi.Height, err)
			}
		}
	})
}

// FuzzTargetURL: every rtsp call string conf accepts becomes a URL the
// client accepts, with the credentials intact, and a name without them.
func FuzzTargetURL(f *testing.F) {
	for _, s := range []string{
		"rtsp://admin:secret@192.0.2.1/Streaming/Channels/101",
		"#rtsp://cam.example.com:8554/live?channel=1&subtype=0",
		"rtsp://user%40corp:p%3Ass@[2001:db8::7]/media.amp",
		"rtsp://10.0.0.2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := conf.ParseCallString(s)
		if err != nil || tg.Scheme != conf.SchemeRTSP {
			return
		}
		u, err := targetURL(tg)
		if err != nil {
			if !errors.Is(err, ErrBadTarget) {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if _, err := base.ParseURL(u.String()); err != nil {
			t.Fatalf("%q: URL %q does not parse back: %v", s, u, err)
		}
		if tg.User != "" {
			if u.User == nil || u.User.Username() != tg.User {
				t.Fatalf("%q: user lost", s)
			}
			if pw, _ := u.User.Password(); pw != tg.Password {
				t.Fatalf("%q: password lost", s)
			}
		}
		if tg.HasPassword && len(tg.Password) > 3 && bytes.Contains([]byte(redact(u)), []byte(":"+tg.Password+"@")) {
			t.Fatalf("%q: redacted URL shows the password", s)
		}
		_ = CameraName(tg)
	})
}
