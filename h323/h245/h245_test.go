package h245

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/roomgate/roomgate/h323/h225"
	"github.com/roomgate/roomgate/h323/internal/tsharktest"
	"github.com/roomgate/roomgate/h323/internal/vectors"
	"github.com/roomgate/roomgate/h323/per"
	"github.com/roomgate/roomgate/h323/schema"
	"github.com/roomgate/roomgate/h323/tpkt"
)

var (
	rtcp = netip.MustParseAddrPort("127.0.0.1:5001")
	rtp  = netip.MustParseAddrPort("127.0.0.1:5000")
)

func roomCaps() Capabilities {
	return Capabilities{
		Audio:     []AudioCap{{Codec: G711Alaw}, {Codec: G711Ulaw}, {Codec: G722}, {Codec: G7221At24k}, {Codec: G7221At32k}},
		Video:     []H264{{Profile: 64, Level: 71, MaxBitRate: 20480, MaxMBPS: 216, MaxFS: 14}},
		Content:   &H264{Profile: 64, Level: 85, MaxBitRate: 5400, MaxFS: 34, MaxMBPS: 492},
		UserInput: true, RFC2833: 101,
	}
}

type built struct {
	name string
	b    []byte
	want func(*Message) bool
}

func allMessages(t *testing.T) []built {
	t.Helper()
	var out []built
	add := func(name string, b []byte, err error, want func(*Message) bool) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, built{name, b, want})
	}
	b, err := TCS(1, roomCaps())
	add("terminalCapabilitySet", b, err, func(m *Message) bool { return m.Sequence == 1 })
	b, err = TCSAck(1)
	add("terminalCapabilitySetAck", b, err, func(m *Message) bool { return m.Sequence == 1 })
	b, err = TCSReject(2, "undefinedTableEntryUsed")
	add("terminalCapabilitySetReject", b, err, func(m *Message) bool { return m.Cause == "undefinedTableEntryUsed" })
	b, err = TCSRelease()
	add("terminalCapabilitySetRelease", b, err, nil)
	b, err = MSD(TerminalTypeMCU, 12345)
	add("masterSlaveDetermination", b, err, func(m *Message) bool { return m.TerminalType == 190 && m.SDN == 12345 })
	b, err = MSDAck(false)
	add("masterSlaveDeterminationAck", b, err, func(m *Message) bool { return m.Decision == "slave" })
	b, err = MSDReject()
	add("masterSlaveDeterminationReject", b, err, func(m *Message) bool { return m.Cause == "identicalNumbers" })
	b, err = MSDRelease()
	add("masterSlaveDeterminationRelease", b, err, nil)
	b, err = OLC(Channel{Number: 101, SessionID: 1, Audio: &AudioCap{Codec: G711Alaw}, MediaControl: rtcp})
	add("openLogicalChannel", b, err, func(m *Message) bool { return m.Channel == 101 && m.SessionID == 1 && m.MediaControl == rtcp })
	b, err = OLC(Channel{Number: 102, SessionID: 2, Video: &H264{Profile: 64, Level: 71, MaxBitRate: 20480, MaxBR: 800},
		MediaControl: rtcp, PayloadType: 109, Packetization: PacketizationNonInterleaved})
	add("openLogicalChannel", b, err, func(m *Message) bool {
		return m.Channel == 102 && m.SessionID == 2 && m.OLC.PayloadType == 109 && m.OLC.Video != nil &&
			m.OLC.Video.Level == 71 && m.OLC.Video.MaxBR == 800 && m.OLC.Packetization == PacketizationNonInterleaved
	})
	b, err = OLC(Channel{Number: 105, SessionID: 2, Video: &H264{Profile: 64, Level: 36, MaxBitRate: 3840},
		MediaControl: rtcp, PayloadType: 96, Packetization: PacketizationSingleNAL})
	add("openLogicalChannel", b, err, func(m *Message) bool {
		return m.OLC.Packetization == PacketizationSingleNAL && m.OLC.PayloadType == 96
	})
	b, err = OLC(Channel{Number: 103, SessionID: 3, Video: &H264{Profile: 64, Level: 85, MaxBitRate: 5400}, Content: true, MediaControl: rtcp, PayloadType: 109})
	add("openLogicalChannel", b, err, func(m *Message) bool { return m.Channel == 103 })
	b, err = OLCAck(101, 1, rtp, rtcp)
	add("openLogicalChannelAck", b, err, func(m *Message) bool { return m.Channel == 101 && m.Media == rtp && m.MediaControl == rtcp })
	b, err = OLCReject(104, "dataTypeNotSupported")
	add("openLogicalChannelReject", b, err, func(m *Message) bool { return m.Channel == 104 && m.Cause == "dataTypeNotSupported" })
	b, err = CLC(101)
	add("closeLogicalChannel", b, err, func(m *Message) bool { return m.Channel == 101 })
	b, err = CLCAck(101)
	add("closeLogicalChannelAck", b, err, func(m *Message) bool { return m.Channel == 101 })
	b, err = RequestChannelClose(102)
	add("requestChannelClose", b, err, func(m *Message) bool { return m.Channel == 102 })
	b, err = RequestChannelCloseAck(102)
	add("requestChannelCloseAck", b, err, func(m *Message) bool { return m.Channel == 102 })
	b, err = FlowControl(102, -1)
	add("flowControlCommand", b, err, func(m *Message) bool { return m.MaxBitRate == -1 && m.Scope == "logicalChannelNumber" })
	b, err = RoundTripDelayRequest(7)
	add("roundTripDelayRequest", b, err, func(m *Message) bool { return m.Sequence == 7 })
	b, err = RoundTripDelayResponse(7)
	add("roundTripDelayResponse", b, err, func(m *Message) bool { return m.Sequence == 7 })
	b, err = VideoFastUpdatePicture(102)
	add("miscellaneousCommand", b, err, func(m *Message) bool { return m.Channel == 102 && m.Command == "videoFastUpdatePicture" })
	b, err = FlowControl(102, 3840)
	add("flowControlCommand", b, err, func(m *Message) bool { return m.Channel == 102 && m.MaxBitRate == 3840 })
	b, err = EndSession()
	add("endSessionCommand", b, err, nil)
	b, err = UserInputString("1234#")
	add("userInput", b, err, func(m *Message) bool { return m.UserInput == "1234#" })
	b, err = UserInputSignal('#', 100)
	add("userInput", b, err, func(m *Message) bool { return m.UserInput == "#" })
	b, err = H239TokenRequestMsg(0, 103, 37)
	add("genericRequest", b, err, func(m *Message) bool { return m.H239 == H239TokenRequest && m.H239Params[42] == 103 })
	b, err = H239TokenResponseMsg(true, 0, 103)
	add("genericResponse", b, err, func(m *Message) bool { return m.H239 == H239TokenResponse && m.H239Params[126] == 1 })
	b, err = H239TokenReleaseMsg(0, 103)
	add("genericCommand", b, err, func(m *Message) bool { return m.H239 == H239TokenRelease })
	b, err = H239TokenOwnerMsg(0, 103)
	add("genericIndication", b, err, func(m *Message) bool { return m.H239 == H239TokenIndicateOwner })
	b, err = H239FlowControlReleaseResponseMsg(false, 103)
	add("genericResponse", b, err, func(m *Message) bool { return m.H239Params[127] == 1 })
	vfu, _ := VideoFastUpdatePicture(5)
	b, err = FunctionNotUnderstood(vfu)
	add("functionNotUnderstood", b, err, nil)
	return out
}

func TestBuildAndParse(t *testing.T) {
	for _, m := range allMessages(t) {
		p, err := Parse(m.b)
		if err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
		if p.Kind != m.name {
			t.Errorf("%s parsed as %s", m.name, p.Kind)
		}
		if m.want != nil && !m.want(p) {
			t.Errorf("%s: parsed %+v", m.name, p)
		}
	}
}

func TestBadParameters(t *testing.T) {
	if _, err := MSD(50, 1<<24); err == nil {
		t.Error("SDN out of range accepted")
	}
	if _, err := VideoFastUpdatePicture(0); err == nil {
		t.Error("channel 0 accepted")
	}
	if _, err := OLC(Channel{Number: 1, MediaControl: rtcp}); err == nil {
		t.Error("channel without data type accepted")
	}
	if _, err := TCS(1, Capabilities{RFC2833: 5}); err == nil {
		t.Error("static payload type for RFC 2833 accepted")
	}
	if _, err := TCS(1, Capabilities{Video: []H264{{}}}); err == nil {
		t.Error("H.264 without profile accepted")
	}
	if _, err := Parse([]byte{0xFF}); err == nil {
		t.Error("garbage parsed")
	}
	ind, _ := UserInputString("1")
	if _, err := FunctionNotUnderstood(ind); err == nil {
		t.Error("functionNotUnderstood for an indication accepted")
	}
}

func TestFastStartOLC(t *testing.T) {
	b, err := FastStartOLC(Channel{Number: 1, SessionID: 1, Audio: &AudioCap{Codec: G711Ulaw}, MediaControl: rtcp})
	if err != nil {
		t.Fatal(err)
	}
	var d per.Decoder
	v, err := d.Decode(schema.OpenLogicalChannel, b)
	if err != nil || v.Field("forwardLogicalChannelNumber").Int != 1 {
		t.Fatalf("fastStart OLC decode: %v", err)
	}
}

func TestParseCaptured(t *testing.T) {
	seen := map[string]bool{}
	for _, v := range vectors.Load(t, "h245") {
		m, err := Parse(v.Data)
		if err != nil {
			t.Fatalf("%s: %v", v.Name(), err)
		}
		seen[m.Kind] = true
		if m.Kind == "openLogicalChannelAck" && (!m.Media.IsValid() || m.SessionID != 1) {
			t.Errorf("%s: OLCAck = %+v", v.Name(), m)
		}
	}
	for _, k := range []string{"terminalCapabilitySet", "masterSlaveDetermination", "openLogicalChannel", "openLogicalChannelAck", "userInput", "endSessionCommand"} {
		if !seen[k] {
			t.Errorf("no %s among the captured H.245 vectors", k)
		}
	}
	// H.239 token request tunnelled in the video capture.
	found := false
	for _, v := range vectors.Load(t, "uuie") {
		if v.Capture != "h323plus-video-h239.pcapng" || v.Frame != "1783" {
			continue
		}
		uu, err := h225.Parse(v.Data)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Parse(uu.H245[0])
		if err != nil {
			t.Fatal(err)
		}
		found = m.H239 == H239TokenRequest && m.H239Params[42] == 103 && m.H239Params[43] == 37
	}
	if !found {
		t.Error("captured H.239 presentationTokenRequest not parsed")
	}
}

// TestTsharkDecodesBuiltMessages tunnels every built H.245 message in a Facility (body empty)
// and lets tshark dissect it: no malformed or expert-error field may appear.
func TestTsharkDecodesBuiltMessages(t *testing.T) {
	msgs := allMessages(t)
	var frames []tsharktest.Frame
	c := &h225.Call{Tunnelling: true}
	for _, m := range msgs {
		c.H245 = [][]byte{m.b}
		uu, err := c.Empty()
		if err != nil {
			t.Fatal(err)
		}
		q, err := h225.Wrap(h225.BodyEmpty, 1, false, uu, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		qb, err := q.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		frame, _ := tpkt.Append(nil, qb)
		frames = append(frames, tsharktest.Frame{Name: m.name, Payload: frame})
	}
	// A Setup offering fast connect (send and receive proposals) with H.245 in Setup.
	send, err := FastStartOLC(Channel{Number: 101, SessionID: 1, Audio: &AudioCap{Codec: G722}, MediaControl: rtcp})
	if err != nil {
		t.Fatal(err)
	}
	recv, err := FastStartOLC(Channel{Number: 1, SessionID: 1, Audio: &AudioCap{Codec: G722}, Reverse: true, Media: rtp, MediaControl: rtcp})
	if err != nil {
		t.Fatal(err)
	}
	video, err := FastStartOLC(Channel{Number: 2, SessionID: 2, Video: &H264{Profile: 64, Level: 71, MaxBitRate: 20480},
		Reverse: true, Media: rtp, MediaControl: rtcp, PayloadType: 109})
	if err != nil {
		t.Fatal(err)
	}
	tcs, _ := TCS(1, roomCaps())
	msd, _ := MSD(TerminalTypeMCU, 99)
	setupCall := &h225.Call{Tunnelling: true, FastStart: [][]byte{recv, send, video}, H245: [][]byte{tcs, msd}}
	uu, err := setupCall.Setup(h225.SetupInfo{Dest: []h225.Alias{h225.H323ID("conf")}, DestSignal: netip.MustParseAddrPort("127.0.0.1:1720")})
	if err != nil {
		t.Fatal(err)
	}
	q, err := h225.Wrap(h225.BodySetup, 2, false, uu, "Roomgate", 0)
	if err != nil {
		t.Fatal(err)
	}
	qb, _ := q.AppendBinary(nil)
	frame, _ := tpkt.Append(nil, qb)
	frames = append(frames, tsharktest.Frame{Name: "setup with fastStart", Payload: frame})
	msgs = append(msgs, built{name: "OpenLogicalChannel terminalCapabilitySet masterSlaveDetermination"})

	lines := tsharktest.Check(t, frames)
	for i, l := range lines {
		if !strings.Contains(l, msgs[i].name) && !strings.Contains(strings.ToLower(l), strings.ToLower(msgs[i].name)) {
			t.Errorf("%s: tshark summary %q does not name the message", msgs[i].name, l)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, v := range vectors.Load(f, "h245") {
		f.Add(v.Data)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err == nil && m.Kind == "" {
			t.Fatal("parsed message without a kind")
		}
	})
}

func TestFastStartProposals(t *testing.T) {
	send, err := FastStartOLC(Channel{Number: 101, SessionID: 1, Audio: &AudioCap{Codec: G711Alaw}, MediaControl: rtcp})
	if err != nil {
		t.Fatal(err)
	}
	recv, err := FastStartOLC(Channel{Number: 1, SessionID: 1, Audio: &AudioCap{Codec: G711Alaw}, Reverse: true, Media: rtp, MediaControl: rtcp})
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseOLC(send)
	if err != nil || s.Reverse || s.Number != 101 || s.Codec != "g711Alaw64k" || s.DataType != "audioData" || s.MediaControl != rtcp {
		t.Fatalf("send proposal = %+v, %v", s, err)
	}
	r, err := ParseOLC(recv)
	if err != nil || !r.Reverse || r.Media != rtp || r.SessionID != 1 || r.Codec != "g711Alaw64k" {
		t.Fatalf("receive proposal = %+v, %v", r, err)
	}
	// The captured h323plus proposals parse the same way.
	for _, v := range vectors.Load(t, "uuie") {
		if v.Capture != "h323plus-fast-tunnel.pcapng" || v.Frame != "4" {
			continue
		}
		uu, err := h225.Parse(v.Data)
		if err != nil {
			t.Fatal(err)
		}
		var rev, fwd int
		for _, fs := range uu.FastStart {
			o, err := ParseOLC(fs)
			if err != nil {
				t.Fatal(err)
			}
			if o.Reverse {
				rev++
				if !o.Media.IsValid() {
					t.Errorf("receive proposal without media address: %+v", o)
				}
			} else {
				fwd++
			}
		}
		if rev == 0 || fwd == 0 {
			t.Errorf("captured fastStart: %d receive, %d send proposals", rev, fwd)
		}
		return
	}
	t.Fatal("captured fast-start Setup not found")
}
