package sip

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/bridge/codec"
)

func mustPrefs(t testing.TB, names ...string) []codec.Info {
	t.Helper()
	_, prefs, err := Config{Listen: "127.0.0.1:0", Codecs: names}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return prefs
}

func readSDP(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "sdp", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNegotiateRealOffers(t *testing.T) {
	all := []string{"opus", "G722", "PCMU", "PCMA"}
	for _, tc := range []struct {
		file      string
		prefs     []string
		codec     string
		pt        uint8
		event     int
		remote    string
		dir       bridge.Direction
		rejected  int    // m-lines answered with port 0
		contains  string // a line the answer must carry
		status    int    // expected error status (0: success)
		warning   int
		errSubstr string
	}{
		{file: "baresip.sdp", prefs: all, codec: "opus", pt: 96, event: -1, remote: "127.0.0.1:10016", rejected: 1,
			contains: "a=fmtp:96 minptime=10;useinbandfec=1"},
		{file: "baresip.sdp", prefs: []string{"G722", "PCMU"}, codec: "G722", pt: 9, event: 101, remote: "127.0.0.1:10016", rejected: 1,
			contains: "a=fmtp:101 0-15"},
		{file: "baresip.sdp", prefs: []string{"PCMA", "PCMU"}, codec: "PCMA", pt: 8, event: 101, remote: "127.0.0.1:10016", rejected: 1,
			contains: "m=video 0 RTP/AVP 96 97 34 98 99 100"},
		{file: "linphone.sdp", prefs: all, codec: "opus", pt: 96, event: 99, remote: "127.0.0.1:7090", rejected: 1,
			contains: "a=rtpmap:99 telephone-event/48000"},
		{file: "linphone.sdp", prefs: []string{"PCMU"}, codec: "PCMU", pt: 0, event: 101, remote: "127.0.0.1:7090", rejected: 1,
			contains: "a=rtpmap:0 PCMU/8000"},
		{file: "sipp.sdp", prefs: all, codec: "PCMU", pt: 0, event: 101, remote: "127.0.0.1:6000",
			contains: "a=fmtp:101 0-16"},
		{file: "polycom.sdp", prefs: all, codec: "G722", pt: 9, event: 101, remote: "10.1.2.30:49170", rejected: 3,
			contains: "m=application 0 TCP/BFCP *"},
		{file: "cisco.sdp", prefs: all, codec: "G722", pt: 9, event: 105, remote: "192.0.2.44:2326", rejected: 2},
		{file: "cisco.sdp", prefs: []string{"PCMU", "PCMA"}, codec: "PCMU", pt: 0, event: 105, remote: "192.0.2.44:2326", rejected: 2},
		{file: "ipv6.sdp", prefs: all, codec: "G722", pt: 9, event: 101, remote: "[::1]:5004"},
		{file: "static-no-rtpmap.sdp", prefs: all, codec: "PCMU", pt: 0, event: -1, remote: "192.0.2.8:4000",
			contains: "m=audio 4000 RTP/AVP 0"},
		{file: "static-no-rtpmap.sdp", prefs: []string{"PCMA", "PCMU"}, codec: "PCMA", pt: 8, event: -1, remote: "192.0.2.8:4000",
			contains: "a=rtpmap:8 PCMA/8000"},
		{file: "hold-sendonly.sdp", prefs: all, codec: "PCMA", pt: 8, event: 101, remote: "192.0.2.10:4000", dir: bridge.RecvOnly,
			contains: "a=recvonly"},
		{file: "hold-0000.sdp", prefs: all, codec: "PCMU", pt: 0, event: -1, remote: "0.0.0.0:4000", dir: bridge.RecvOnly},
		{file: "media-level-c.sdp", prefs: all, codec: "PCMU", pt: 0, event: -1, remote: "192.0.2.12:4000", dir: bridge.SendOnly, rejected: 1,
			contains: "a=sendonly"},
		{file: "multi-audio.sdp", prefs: all, codec: "opus", pt: 96, event: -1, remote: "192.0.2.20:4004", rejected: 2},
		{file: "savp-only.sdp", prefs: all, status: 488, warning: 304},
		{file: "webrtc.sdp", prefs: all, status: 488, warning: 304},
		{file: "no-common.sdp", prefs: all, status: 488, warning: 305},
	} {
		t.Run(tc.file+"/"+strings.Join(tc.prefs, ","), func(t *testing.T) {
			n, err := Negotiate(readSDP(t, tc.file), mustPrefs(t, tc.prefs...), 4000)
			if tc.status != 0 {
				var se *SDPError
				if !errors.As(err, &se) || se.Status != tc.status || se.Warning != tc.warning {
					t.Fatalf("err %v, want status %d warning %d", err, tc.status, tc.warning)
				}
				if !errors.Is(err, ErrNoCommonMedia) {
					t.Errorf("err %v does not wrap ErrNoCommonMedia", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			a := n.Audio
			if a.Codec.Name != tc.codec || a.PayloadType != tc.pt || a.EventPayloadType != tc.event ||
				a.Remote.String() != tc.remote || a.Direction != tc.dir {
				t.Errorf("got %s pt %d event %d remote %s dir %v; want %s pt %d event %d remote %s dir %v",
					a.Codec.Name, a.PayloadType, a.EventPayloadType, a.Remote, a.Direction,
					tc.codec, tc.pt, tc.event, tc.remote, tc.dir)
			}
			rejected := 0
			for _, l := range n.Lines {
				if l.Port == 0 {
					rejected++
				}
			}
			if rejected != tc.rejected {
				t.Errorf("%d m-lines rejected, want %d", rejected, tc.rejected)
			}
			body := string(BuildSDP(LocalSession{Username: "roomgate", SessionID: 1, Version: 1, Addr: "192.0.2.1"}, n.Lines))
			if tc.contains != "" && !strings.Contains(body, tc.contains+"\r\n") {
				t.Errorf("answer lacks %q:\n%s", tc.contains, body)
			}
			// One codec (and maybe telephone-event) on the audio line.
			audio := n.Lines[n.AudioIndex]
			if want := 1 + boolInt(tc.event >= 0); len(audio.Formats) != want {
				t.Errorf("audio formats %v, want %d", audio.Formats, want)
			}
			if !strings.Contains(body, "a=ptime:20") {
				t.Error("answer without ptime 20")
			}
			// Our answer must parse, and reading it as an answer gives the same stream.
			if _, err := ParseSDP([]byte(body)); err != nil {
				t.Fatalf("our answer does not parse: %v\n%s", err, body)
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestNegotiateErrors(t *testing.T) {
	prefs := mustPrefs(t)
	head := "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n"
	for _, tc := range []struct {
		name, sdp string
		status    int
		warning   int
		text      string
	}{
		{"empty", "", 400, 0, "empty body"},
		{"garbage", "hello", 400, 0, "malformed session description"},
		{"no m-line", head + "c=IN IP4 192.0.2.1\r\nt=0 0\r\n", 488, 304, "no m-line"},
		{"no c-line", head + "t=0 0\r\nm=audio 4000 RTP/AVP 0\r\n", 400, 0, "no c= line"},
		{"bad pt", head + "c=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 200\r\n", 400, 0, "payload type"},
		{"bad rtpmap", head + "c=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 96\r\na=rtpmap:96 opus\r\n", 400, 0, "rtpmap"},
		{"bad clock", head + "c=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 96\r\na=rtpmap:96 opus/x/2\r\n", 400, 0, "rtpmap"},
		{"fqdn c", head + "c=IN IP4 media.example.com\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n", 488, 301, "not an IP address"},
		{"ip4 says ip6", head + "c=IN IP4 ::1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n", 488, 301, "IP4 address"},
		{"bad rtcp", head + "c=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=rtcp:abc\r\n", 400, 0, "a=rtcp"},
		{"wrong clock", head + "c=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 96\r\na=rtpmap:96 PCMU/16000\r\n", 488, 305, "no audio codec"},
		{"audio port 0", head + "c=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n", 488, 304, "usable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Negotiate([]byte(tc.sdp), prefs, 4000)
			var se *SDPError
			if !errors.As(err, &se) {
				t.Fatalf("err %v, want an *SDPError", err)
			}
			if se.Status != tc.status || se.Warning != tc.warning || !strings.Contains(se.Error(), tc.text) {
				t.Errorf("got %d/%d %q, want %d/%d containing %q", se.Status, se.Warning, se.Error(), tc.status, tc.warning, tc.text)
			}
			if tc.status == 400 && !errors.Is(err, ErrBadSDP) {
				t.Errorf("400 error %v does not wrap ErrBadSDP", err)
			}
		})
	}
}

func TestOfferAndAnswerRoundTrip(t *testing.T) {
	prefs := mustPrefs(t, "opus", "G722", "PCMU", "PCMA")
	offer := BuildSDP(LocalSession{Username: "roomgate", SessionID: 7, Version: 3, Addr: "192.0.2.1"},
		[]MediaLine{OfferLine(prefs, 4000, dirSendRecv)})
	want := "m=audio 4000 RTP/AVP 96 9 0 8 101 102\r\n"
	if !strings.Contains(string(offer), want) {
		t.Fatalf("offer lacks %q:\n%s", want, offer)
	}
	// A peer answering our offer with G.722 and events.
	n, err := Negotiate(offer, mustPrefs(t, "G722"), 5000)
	if err != nil {
		t.Fatal(err)
	}
	answer := BuildSDP(LocalSession{Username: "peer", SessionID: 1, Version: 1, Addr: "192.0.2.2"}, n.Lines)
	st, err := ParseAnswer(answer, prefs)
	if err != nil {
		t.Fatal(err)
	}
	if st.Codec.Name != "G722" || st.PayloadType != 9 || st.EventPayloadType != 101 || st.Remote.String() != "192.0.2.2:5000" {
		t.Errorf("answer read as %+v", st)
	}
	// An answer in the peer's order: its first format we know wins.
	ans := "v=0\r\no=- 1 1 IN IP4 192.0.2.3\r\ns=-\r\nc=IN IP4 192.0.2.3\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8 0\r\na=recvonly\r\n"
	st, err = ParseAnswer([]byte(ans), prefs)
	if err != nil {
		t.Fatal(err)
	}
	if st.Codec.Name != "PCMA" || st.Direction != bridge.SendOnly {
		t.Errorf("answer read as %s %v, want PCMA SendOnly", st.Codec.Name, st.Direction)
	}
	if _, err := ParseAnswer([]byte(strings.Replace(ans, "6000", "0", 1)), prefs); !errors.Is(err, ErrNoCommonMedia) {
		t.Errorf("rejected audio answer: err %v", err)
	}
}

func TestDirections(t *testing.T) {
	for offered, want := range map[string]struct {
		answer string
		dir    bridge.Direction
	}{
		"":         {"sendrecv", bridge.SendRecv},
		"sendrecv": {"sendrecv", bridge.SendRecv},
		"sendonly": {"recvonly", bridge.RecvOnly},
		"recvonly": {"sendonly", bridge.SendOnly},
		"inactive": {"inactive", bridge.Inactive},
	} {
		extra := ""
		if offered != "" {
			extra = "a=" + offered + "\r\n"
		}
		n, err := Negotiate(offer(4000, extra), mustPrefs(t), 5000)
		if err != nil {
			t.Fatal(err)
		}
		lines := n.Lines[0].Attributes
		if n.Audio.Direction != want.dir || lines[len(lines)-1] != want.answer {
			t.Errorf("offer %q: answered %q (%v), want %q (%v)", offered, lines[len(lines)-1], n.Audio.Direction, want.answer, want.dir)
		}
	}
}

func TestVersionBumpsOnlyOnChange(t *testing.T) {
	c := &call{session: LocalSession{SessionID: 1, Version: 5}, contactHost: "192.0.2.1"}
	lines := []MediaLine{OfferLine(mustPrefs(t, "PCMU"), 4000, dirSendRecv)}
	c.sdpLocked(lines)
	c.sdpLocked(lines)
	if c.session.Version != 5 {
		t.Errorf("version %d after the same SDP, want 5", c.session.Version)
	}
	c.sdpLocked([]MediaLine{OfferLine(mustPrefs(t, "PCMU"), 4000, dirSendOnly)})
	if c.session.Version != 6 {
		t.Errorf("version %d after a change, want 6", c.session.Version)
	}
}

// FuzzNegotiate feeds hostile SDP to the offer/answer code: it must never
// panic, and whatever it accepts must give an answer that parses and reads
// back as the same stream.
func FuzzNegotiate(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "sdp", "*.sdp"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 1 RTP/AVP 0\r\n"))
	f.Add([]byte("v=0\r\no=- 0 0 IN IP6 ::\r\ns=-\r\nt=0 0\r\nm=audio 65535 RTP/AVPF 127\r\nc=IN IP6 ::ffff:1.2.3.4\r\na=rtpmap:127 opus/48000/1\r\n"))
	prefs := mustPrefs(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := Negotiate(data, prefs, 4000)
		if err != nil {
			var se *SDPError
			if !errors.As(err, &se) || (se.Status != 400 && se.Status != 488) {
				t.Fatalf("error %v is not a 400/488 SDPError", err)
			}
			return
		}
		answer := BuildSDP(LocalSession{Username: "roomgate", SessionID: 1, Version: 1, Addr: "192.0.2.1"}, n.Lines)
		st, err := ParseAnswer(answer, prefs)
		if err != nil {
			t.Fatalf("our answer %q does not read back: %v", answer, err)
		}
		if st.Codec != n.Audio.Codec || st.PayloadType != n.Audio.PayloadType || st.EventPayloadType != n.Audio.EventPayloadType {
			t.Fatalf("answer reads back as %+v, negotiated %+v", st, n.Audio)
		}
		// Reading the offer as an answer must not panic either.
		_, _ = ParseAnswer(data, prefs)
	})
}

func BenchmarkNegotiate(b *testing.B) {
	offer := readSDP(b, "polycom.sdp")
	prefs := mustPrefs(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Negotiate(offer, prefs, 4000); err != nil {
			b.Fatal(err)
		}
	}
}
