package sip

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pion/sdp/v3"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/bridge/video"
)

// Offers written after room systems' and phones' real ones, for cases the
// captured files in testdata/sdp do not cover.
const (
	// Lifesize Icon: level 3.0 raised to 720p30 by max-fs/max-mbps.
	lifesizeOffer = "v=0\r\no=LifeSize 1 1 IN IP4 198.51.100.7\r\ns=LifeSize SIP Call\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n" +
		"m=audio 60000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n" +
		"m=video 60002 RTP/AVP 97 96 34\r\nb=AS:1920\r\n" +
		"a=rtpmap:97 H264/90000\r\na=fmtp:97 profile-level-id=42801e; max-mbps=108000; max-fs=3600; packetization-mode=1\r\n" +
		"a=rtpmap:96 H263-1998/90000\r\na=rtpmap:34 H263/90000\r\na=rtcp-fb:* ccm fir\r\na=rtcp-fb:* ccm tmmbr\r\na=sendrecv\r\n"
	// Older Lifesize: level 3.0 only, which cannot take 720p.
	lifesizeSDOffer = "v=0\r\no=LifeSize 1 1 IN IP4 198.51.100.8\r\ns=-\r\nc=IN IP4 198.51.100.8\r\nt=0 0\r\n" +
		"m=video 60002 RTP/AVP 97\r\na=rtpmap:97 H264/90000\r\na=fmtp:97 profile-level-id=42801e;packetization-mode=1\r\n"
	// Cisco Webex Room (CE): two H.264 modes, full feedback, rtcp-mux.
	ciscoCEOffer = "v=0\r\no=tandberg 1 2 IN IP4 203.0.113.9\r\ns=-\r\nc=IN IP4 203.0.113.9\r\nt=0 0\r\n" +
		"m=video 2326 RTP/AVPF 126 97 34\r\nb=TIAS:6000000\r\n" +
		"a=rtpmap:126 H264/90000\r\na=fmtp:126 profile-level-id=42e016;max-mbps=490000;max-fs=8160;max-cpb=200;max-dpb=16320;max-br=5000;max-smbps=490000;max-fps=6000;packetization-mode=0;level-asymmetry-allowed=1\r\n" +
		"a=rtpmap:97 H264/90000\r\na=fmtp:97 profile-level-id=42e016;max-mbps=490000;max-fs=8160;max-cpb=200;max-dpb=16320;max-br=5000;max-smbps=490000;max-fps=6000;packetization-mode=1;max-rcmd-nalu-size=3456000;level-asymmetry-allowed=1\r\n" +
		"a=rtpmap:34 H263/90000\r\n" +
		"a=rtcp-fb:* nack pli\r\na=rtcp-fb:* ccm fir\r\na=rtcp-fb:* ccm tmmbr\r\na=rtcp-fb:* nack\r\na=rtcp-fb:97 goog-remb\r\na=rtcp-mux\r\na=content:main\r\na=label:11\r\na=sendrecv\r\n"
	highOnlyOffer = "v=0\r\no=- 1 1 IN IP4 192.0.2.50\r\ns=-\r\nc=IN IP4 192.0.2.50\r\nt=0 0\r\n" +
		"m=video 5000 RTP/AVP 100\r\na=rtpmap:100 H264/90000\r\na=fmtp:100 profile-level-id=640028;packetization-mode=1\r\n"
	mode2Offer = "v=0\r\no=- 1 1 IN IP4 192.0.2.51\r\ns=-\r\nc=IN IP4 192.0.2.51\r\nt=0 0\r\n" +
		"m=video 5000 RTP/AVP 100\r\na=rtpmap:100 H264/90000\r\na=fmtp:100 profile-level-id=42e01f;packetization-mode=2\r\n"
	vp8Offer = "v=0\r\no=- 1 1 IN IP4 192.0.2.52\r\ns=-\r\nc=IN IP4 192.0.2.52\r\nt=0 0\r\n" +
		"m=video 5000 RTP/AVP 100\r\na=rtpmap:100 VP8/90000\r\n"
	noLevelOffer = "v=0\r\no=- 1 1 IN IP4 192.0.2.53\r\ns=-\r\nc=IN IP4 192.0.2.53\r\nt=0 0\r\n" +
		"m=video 5000 RTP/AVP 99\r\na=rtpmap:99 H264/90000\r\n"
	savpVideoOffer = "v=0\r\no=- 1 1 IN IP4 192.0.2.54\r\ns=-\r\nc=IN IP4 192.0.2.54\r\nt=0 0\r\n" +
		"m=video 5000 RTP/SAVP 99\r\na=rtpmap:99 H264/90000\r\na=fmtp:99 profile-level-id=42e01f\r\n"
	holdVideoOffer = "v=0\r\no=- 1 2 IN IP4 192.0.2.55\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n" +
		"m=video 5000 RTP/AVP 99\r\na=rtpmap:99 H264/90000\r\na=fmtp:99 profile-level-id=42e01f;packetization-mode=1\r\n"
	sendonlyVideoOffer = "v=0\r\no=- 1 2 IN IP4 192.0.2.56\r\ns=-\r\nc=IN IP4 192.0.2.56\r\nt=0 0\r\n" +
		"m=video 5000 RTP/AVP 99\r\na=rtpmap:99 H264/90000\r\na=fmtp:99 profile-level-id=42c01f;packetization-mode=1\r\na=sendonly\r\n"
	// A Baseline offer whose level (4.0) is above ours: we answer 3.1.
	baselineL40Offer = "v=0\r\no=- 1 1 IN IP4 192.0.2.57\r\ns=-\r\nc=IN IP4 192.0.2.57\r\nt=0 0\r\n" +
		"m=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 profile-level-id=420028;packetization-mode=1;sprop-parameter-sets=Z0LAH9kAUAW7ARAAAAMAEAAAAwCg8YMkgA==,aM4yyA==\r\n"
)

func sdpFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "sdp", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAnswerVideoOffers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		offer  []byte
		index  int    // the video line FindVideoLine picks
		reason string // expected substring of the rejection; "" = accepted
		pt     uint8
		fmtp   string // our answer's fmtp
		fb     bridge.VideoFeedback
		remote string
		rtcp   string
		mux    bool
		maxBR  uint64
		dir    bridge.Direction
	}{
		{name: "baresip", offer: sdpFile(t, "baresip.sdp"), index: 1, pt: 97,
			fmtp: "profile-level-id=42e01f;packetization-mode=1", fb: bridge.VideoFeedback{PLI: true},
			remote: "127.0.0.1:10024", maxBR: 2_000_000},
		{name: "cisco-mxp", offer: sdpFile(t, "cisco.sdp"), index: 1, pt: 97,
			fmtp:   "profile-level-id=42e016;packetization-mode=0;max-fs=3600;max-mbps=108000",
			remote: "192.0.2.44:2328", maxBR: 768_000},
		{name: "linphone", offer: sdpFile(t, "linphone.sdp"), index: 1, pt: 103,
			fmtp: "profile-level-id=42801f;packetization-mode=0", fb: bridge.VideoFeedback{TMMBR: true},
			remote: "127.0.0.1:7092", rtcp: "127.0.0.1:7093"},
		{name: "polycom", offer: sdpFile(t, "polycom.sdp"), index: 1, pt: 110,
			fmtp: "profile-level-id=42e01f;packetization-mode=1", fb: bridge.VideoFeedback{FIR: true},
			remote: "10.1.2.30:49172", maxBR: 1_856_000},
		{name: "lifesize", offer: []byte(lifesizeOffer), index: 1, pt: 97,
			fmtp: "profile-level-id=42801e;packetization-mode=1;max-fs=3600;max-mbps=108000", fb: bridge.VideoFeedback{FIR: true, TMMBR: true},
			remote: "198.51.100.7:60002", maxBR: 1_920_000},
		{name: "cisco-ce", offer: []byte(ciscoCEOffer), index: 0, pt: 97,
			fmtp:   "profile-level-id=42e016;packetization-mode=1;max-fs=3600;max-mbps=108000",
			fb:     bridge.VideoFeedback{NACK: true, PLI: true, FIR: true, TMMBR: true, REMB: true},
			remote: "203.0.113.9:2326", mux: true, maxBR: 6_000_000},
		{name: "baseline-level-4", offer: []byte(baselineL40Offer), pt: 96,
			fmtp: "profile-level-id=42001f;packetization-mode=1", remote: "192.0.2.57:5000"},
		{name: "hold-0.0.0.0", offer: []byte(holdVideoOffer), pt: 99,
			fmtp: "profile-level-id=42e01f;packetization-mode=1", remote: "0.0.0.0:5000", dir: bridge.RecvOnly},
		{name: "sendonly", offer: []byte(sendonlyVideoOffer), pt: 99,
			fmtp: "profile-level-id=42c01f;packetization-mode=1", remote: "192.0.2.56:5000", dir: bridge.RecvOnly},
		{name: "lifesize-sd", offer: []byte(lifesizeSDOffer), reason: "frames of at most 1620 macroblocks"},
		{name: "high-only", offer: []byte(highOnlyOffer), reason: "cannot carry the conference's profile"},
		{name: "mode-2", offer: []byte(mode2Offer), reason: "packetization-mode 2"},
		{name: "vp8-only", offer: []byte(vp8Offer), reason: "no H.264"},
		{name: "no-profile-level-id", offer: []byte(noLevelOffer), reason: "frames of at most 99 macroblocks"},
		{name: "srtp", offer: []byte(savpVideoOffer), reason: "RTP/SAVP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sd, err := ParseSDP(tc.offer)
			if err != nil {
				t.Fatal(err)
			}
			i := FindVideoLine(sd)
			if i != tc.index {
				t.Fatalf("video line %d, want %d", i, tc.index)
			}
			ans, err := AnswerVideo(sd, sd.MediaDescriptions[i], DefaultVideoFormat(), 40000)
			if err != nil {
				t.Fatal(err)
			}
			if tc.reason != "" {
				if ans.Accepted || !strings.Contains(ans.Reason, tc.reason) {
					t.Fatalf("accepted %v, reason %q; want rejected with %q", ans.Accepted, ans.Reason, tc.reason)
				}
				if ans.Line.Port != 0 || len(ans.Line.Formats) == 0 || ans.Line.Media != "video" {
					t.Fatalf("rejected line %+v", ans.Line)
				}
				return
			}
			if !ans.Accepted {
				t.Fatalf("rejected: %s", ans.Reason)
			}
			p := ans.Params
			if p.PayloadType != tc.pt || p.Feedback != tc.fb || p.MaxBitrate != tc.maxBR || p.RTCPMux != tc.mux || p.Direction != tc.dir {
				t.Fatalf("params %+v", p)
			}
			if p.Remote != netip.MustParseAddrPort(tc.remote) {
				t.Fatalf("remote %s, want %s", p.Remote, tc.remote)
			}
			if tc.rtcp != "" && p.RemoteRTCP != netip.MustParseAddrPort(tc.rtcp) {
				t.Fatalf("RTCP %s, want %s", p.RemoteRTCP, tc.rtcp)
			}
			l := ans.Line
			if l.Port != 40000 || !slices.Equal(l.Formats, []string{itoa(tc.pt)}) {
				t.Fatalf("line %+v", l)
			}
			if want := "fmtp:" + itoa(tc.pt) + " " + tc.fmtp; !slices.Contains(l.Attributes, want) {
				t.Fatalf("answer lacks a=%s: %q", want, l.Attributes)
			}
			for _, a := range l.Attributes {
				if strings.Contains(a, "sprop") {
					t.Fatalf("sprop-parameter-sets echoed: %s", a)
				}
			}
			// Feedback answered is exactly what was offered and we do.
			nfb := 0
			for _, a := range l.Attributes {
				if strings.HasPrefix(a, "rtcp-fb:") {
					nfb++
				}
			}
			if want := countFeedback(tc.fb); nfb != want {
				t.Fatalf("%d rtcp-fb lines, want %d: %q", nfb, want, l.Attributes)
			}
			if !slices.Equal(ans.Bandwidth, []string{"AS:2100", "TIAS:2000000"}) {
				t.Fatalf("bandwidth %q", ans.Bandwidth)
			}
			// Our answer's level is never above the offer's.
			ours, _ := video.ParseH264Fmtp(tc.fmtp)
			if ours.ProfileLevelID.Level() > p.Fmtp.ProfileLevelID.Level() {
				t.Fatalf("answered level %d above offered %d", ours.ProfileLevelID.Level(), p.Fmtp.ProfileLevelID.Level())
			}
		})
	}
}

func itoa(pt uint8) string { return strconv.Itoa(int(pt)) }

func countFeedback(fb bridge.VideoFeedback) int {
	n := 0
	for _, on := range []bool{fb.NACK, fb.PLI, fb.FIR, fb.TMMBR, fb.REMB} {
		if on {
			n++
		}
	}
	return n
}

// TestAnswerVideoSprop checks that the offer's sprop-parameter-sets reach
// the bridge, which seeds its SPS/PPS cache with them.
func TestAnswerVideoSprop(t *testing.T) {
	sd, err := ParseSDP([]byte(baselineL40Offer))
	if err != nil {
		t.Fatal(err)
	}
	ans, err := AnswerVideo(sd, sd.MediaDescriptions[0], DefaultVideoFormat(), 4000)
	if err != nil || !ans.Accepted {
		t.Fatalf("%v %s", err, ans.Reason)
	}
	var ps video.ParamSets
	if err := ans.Params.Fmtp.SeedParamSets(&ps); err != nil || !ps.Complete() {
		t.Fatalf("sprop: %v complete %v", err, ps.Complete())
	}
}

// TestVideoAnswerInSDP checks the answer's text: the b= lines, the video
// line next to the audio one, and that pion parses it back.
func TestVideoAnswerInSDP(t *testing.T) {
	sd, err := ParseSDP(sdpFile(t, "polycom.sdp"))
	if err != nil {
		t.Fatal(err)
	}
	ans, err := AnswerVideo(sd, sd.MediaDescriptions[1], DefaultVideoFormat(), 40002)
	if err != nil || !ans.Accepted {
		t.Fatalf("%v %s", err, ans.Reason)
	}
	body := buildWithBandwidth(LocalSession{Username: "roomgate", SessionID: 1, Version: 1, Addr: "192.0.2.1"},
		[]MediaLine{OfferLine(nil, 40000, "sendrecv"), ans.Line}, map[int][]string{1: ans.Bandwidth})
	back, err := ParseSDP(body)
	if err != nil {
		t.Fatalf("our answer does not parse: %v\n%s", err, body)
	}
	v := back.MediaDescriptions[1]
	if len(v.Bandwidth) != 2 || v.Bandwidth[0].Type != "AS" || v.Bandwidth[1].Bandwidth != 2_000_000 {
		t.Fatalf("bandwidth %+v", v.Bandwidth)
	}
	if fb, _ := v.Attribute("rtcp-fb"); fb != "110 ccm fir" {
		t.Fatalf("rtcp-fb %q", fb)
	}
}

// buildWithBandwidth is BuildSDP with the b= lines of the m-lines given by
// index put on those lines (replacing what they carry).
func buildWithBandwidth(ls LocalSession, lines []MediaLine, bw map[int][]string) []byte {
	lines = slices.Clone(lines)
	for i := range lines {
		lines[i].Bandwidth = bw[i]
	}
	return BuildSDP(ls, lines)
}

// TestVideoOfferLine checks our own offer: both packetization modes, the
// format's parameters and feedback; a peer like us accepts mode 1, and its
// answer reads back into the parameters of the bridge.
func TestVideoOfferLine(t *testing.T) {
	line, bw, err := VideoOfferLine(DefaultVideoFormat(), 41000, "sendrecv")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(line.Formats, []string{"97", "98"}) {
		t.Fatalf("formats %q", line.Formats)
	}
	for _, want := range []string{"rtpmap:97 H264/90000", "fmtp:97 profile-level-id=42e01f;packetization-mode=1",
		"fmtp:98 profile-level-id=42e01f;packetization-mode=0", "rtcp-fb:97 nack pli", "rtcp-fb:98 ccm fir", "sendrecv"} {
		if !slices.Contains(line.Attributes, want) {
			t.Fatalf("offer lacks a=%s: %q", want, line.Attributes)
		}
	}
	offer := buildWithBandwidth(LocalSession{Username: "rg", SessionID: 2, Version: 1, Addr: "127.0.0.1"}, []MediaLine{line}, map[int][]string{0: bw})
	sd, err := ParseSDP(offer)
	if err != nil {
		t.Fatal(err)
	}
	ans, err := AnswerVideo(sd, sd.MediaDescriptions[0], DefaultVideoFormat(), 42000)
	if err != nil || !ans.Accepted {
		t.Fatalf("our own offer rejected: %v %s", err, ans.Reason)
	}
	if ans.Params.PayloadType != 97 || ans.Params.Fmtp.PacketizationMode != 1 || ans.Params.MaxBitrate != 2_000_000 {
		t.Fatalf("params %+v", ans.Params)
	}
	if ans.Params.Feedback != (bridge.VideoFeedback{NACK: true, PLI: true, FIR: true, TMMBR: true, REMB: true}) {
		t.Fatalf("feedback %+v", ans.Params.Feedback)
	}

	// The answer, read back as the answer to our offer.
	answer := buildWithBandwidth(LocalSession{Username: "peer", SessionID: 3, Version: 1, Addr: "127.0.0.2"}, []MediaLine{ans.Line}, map[int][]string{0: ans.Bandwidth})
	asd, err := ParseSDP(answer)
	if err != nil {
		t.Fatal(err)
	}
	p, ok, reason, err := ParseVideoAnswer(asd, asd.MediaDescriptions[0], DefaultVideoFormat())
	if err != nil || !ok {
		t.Fatalf("%v %s", err, reason)
	}
	if p.PayloadType != 97 || p.Remote != netip.MustParseAddrPort("127.0.0.2:42000") || p.Direction != bridge.SendRecv || !p.Feedback.PLI || p.MaxBitrate != 2_000_000 {
		t.Fatalf("answer params %+v", p)
	}

	// A peer that rejected video, or answered what we did not offer.
	for _, body := range []string{
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=video 0 RTP/AVP 97\r\n",
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=video 5000 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n",
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=video 5000 RTP/AVP 97\r\na=rtpmap:97 H264/90000\r\na=fmtp:97 profile-level-id=640028\r\n",
	} {
		sd, err := ParseSDP([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok, reason, err := ParseVideoAnswer(sd, sd.MediaDescriptions[0], DefaultVideoFormat()); ok || err != nil || reason == "" {
			t.Fatalf("answer %q: ok %v reason %q err %v", body, ok, reason, err)
		}
	}
}

func TestVideoFormatConfig(t *testing.T) {
	sd, err := ParseSDP([]byte(lifesizeOffer))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []VideoFormat{
		{ProfileLevelID: "42e0zz"},
		{ProfileLevelID: "42e0ff"},
		{PayloadType: 34},
	} {
		if _, err := AnswerVideo(sd, sd.MediaDescriptions[1], f, 1); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v, want ErrConfig", f, err)
		}
		if _, _, err := VideoOfferLine(f, 1, "sendrecv"); !errors.Is(err, ErrConfig) {
			t.Errorf("offer %+v: %v, want ErrConfig", f, err)
		}
	}
	// A smaller conference format (CIF at level 1.3) accepts the SD peer
	// and answers its own level, with nothing on top of it.
	small := VideoFormat{ProfileLevelID: "42e00d"}
	sd2, _ := ParseSDP([]byte(lifesizeSDOffer))
	ans, err := AnswerVideo(sd2, sd2.MediaDescriptions[0], small, 1)
	if err != nil || !ans.Accepted {
		t.Fatalf("%v %s", err, ans.Reason)
	}
	if !slices.Contains(ans.Line.Attributes, "fmtp:97 profile-level-id=42800d;packetization-mode=1") {
		t.Fatalf("answer %q", ans.Line.Attributes)
	}
	// max-br is sent only above the level's own.
	withBR := DefaultVideoFormat()
	withBR.MaxBR = 20000
	ans, _ = AnswerVideo(sd, sd.MediaDescriptions[1], withBR, 1)
	if !slices.Contains(ans.Line.Attributes, "fmtp:97 profile-level-id=42801e;packetization-mode=1;max-fs=3600;max-mbps=108000;max-br=20000") {
		t.Fatalf("answer %q", ans.Line.Attributes)
	}
}

func TestFindVideoLineSkipsSlides(t *testing.T) {
	body := "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n" +
		"m=video 5000 RTP/AVP 97\r\na=content:slides\r\n" +
		"m=video 0 RTP/AVP 97\r\n" +
		"m=video 5004 RTP/AVP 97\r\na=content:main\r\n"
	sd, err := ParseSDP([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if i := FindVideoLine(sd); i != 2 {
		t.Fatalf("line %d, want 2", i)
	}
	if i := FindVideoLine(&sdp.SessionDescription{}); i != -1 {
		t.Fatalf("line %d in an empty SDP", i)
	}
}

func TestVideoFormatFor(t *testing.T) {
	for _, tc := range []struct {
		w, h, fps, kbps int
		pli             string
		fs, mbps        uint32
	}{
		{1280, 720, 30, 2000, "42e01f", 3600, 108000},
		{640, 360, 30, 800, "42e01e", 920, 27600},
		{1920, 1080, 30, 4000, "42e028", 8160, 244800},
		{176, 144, 15, 128, "42e00a", 99, 1485},
		{1920, 1080, 60, 8000, "42e02a", 8160, 489600},
	} {
		f, err := VideoFormatFor(tc.w, tc.h, tc.fps, tc.kbps)
		if err != nil {
			t.Fatalf("%dx%d@%d: %v", tc.w, tc.h, tc.fps, err)
		}
		if f.ProfileLevelID != tc.pli || f.MaxFS != tc.fs || f.MaxMBPS != tc.mbps || f.Bitrate != uint64(tc.kbps)*1000 {
			t.Errorf("%dx%d@%d: %+v", tc.w, tc.h, tc.fps, f)
		}
		if _, err := f.compile(); err != nil {
			t.Errorf("%dx%d@%d does not compile: %v", tc.w, tc.h, tc.fps, err)
		}
	}
	if f, _ := VideoFormatFor(1280, 720, 30, 2000); f.ProfileLevelID != DefaultVideoFormat().ProfileLevelID ||
		f.MaxFS != DefaultVideoFormat().MaxFS || f.MaxMBPS != DefaultVideoFormat().MaxMBPS {
		t.Error("720p30 is not the default format")
	}
	for _, bad := range [][4]int{{0, 720, 30, 1}, {1280, 720, 0, 1}, {8192, 4320, 60, 1}, {1280, 720, 30, 0}} {
		if _, err := VideoFormatFor(bad[0], bad[1], bad[2], bad[3]); !errors.Is(err, ErrConfig) {
			t.Errorf("%v: %v", bad, err)
		}
	}
}
