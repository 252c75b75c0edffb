package call

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/roomgate/roomgate/h323/h225"
	"github.com/roomgate/roomgate/h323/h245"
	"github.com/roomgate/roomgate/h323/internal/tsharktest"
	"github.com/roomgate/roomgate/h323/internal/vectors"
	"github.com/roomgate/roomgate/h323/q931"
)

// Every Setup captured from real endpoints gets CallProceeding and then
// Connect (or, without a destination, a release with a cause); Fast Connect
// proposals are answered, a non-tunnelling caller is given an H.245 address,
// and everything we send dissects cleanly in tshark.
func TestReplayCapturedSetups(t *testing.T) {
	var frames []tsharktest.Frame
	for _, lobby := range []string{"", "lobby"} {
		frames = append(frames, replaySetups(t, lobby)...)
	}
	for _, l := range tsharktest.Check(t, frames) {
		t.Log(l)
	}
}

func replaySetups(t *testing.T, lobby string) []tsharktest.Frame {
	confs := newFakeConfs()
	media := &fakeMedia{}
	s := startServer(t, media, confs, Config{DefaultConference: lobby})
	var frames []tsharktest.Frame
	connects := 0
	n := 0
	for _, v := range vectors.Load(t, "q931") {
		if !strings.HasPrefix(v.Info, "CS: setup") || v.Malformed() {
			continue
		}
		n++
		var setup q931.Message
		if err := setup.Unmarshal(v.Data); err != nil {
			t.Fatalf("%s: %v", v.Name(), err)
		}
		raw, err := setup.UserUser()
		if err != nil {
			t.Fatalf("%s: %v", v.Name(), err)
		}
		in, err := h225.Parse(raw)
		if err != nil {
			t.Fatalf("%s: %v", v.Name(), err)
		}
		t.Run(v.Name()+"/lobby="+lobby, func(t *testing.T) {
			conn, err := net.Dial("tcp", s.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			p := newRawPeer(t, conn)
			p.crv = setup.CallRef
			p.sendRaw(v.Data)
			q, uu, ok := p.recv()
			if !ok || q.Type != q931.CallProceeding || !q.FromDestination || q.CallRef != setup.CallRef {
				t.Fatalf("first answer %+v", q)
			}
			if uu.CallID != in.CallID {
				t.Errorf("CallProceeding call ID %x, Setup's %x", uu.CallID, in.CallID)
			}
			q, uu, ok = p.recv()
			if !ok {
				t.Fatal("connection closed after CallProceeding")
			}
			// A Setup without destination is answered too: conf's lobby
			// asks for the conference.
			if q.Type != q931.Connect {
				t.Fatalf("answered %v, want Connect", q.Type)
			}
			connects++
			if _, ok := q.Get(q931.IEBearerCapability); ok {
				t.Error("Connect carries a Bearer capability")
			}
			if q.Display() == "" {
				t.Error("Connect without a Display IE")
			}
			if uu.ConferenceID != in.ConferenceID || uu.Tunnelling != in.Tunnelling {
				t.Errorf("Connect conference %x tunnelling %v; Setup %x %v", uu.ConferenceID, uu.Tunnelling, in.ConferenceID, in.Tunnelling)
			}
			if len(in.FastStart) > 0 {
				if len(uu.FastStart) == 0 {
					t.Fatal("fastStart proposals not answered")
				}
				checkFastAnswer(t, in.FastStart, uu.FastStart)
			}
			if !in.Tunnelling && !in.H245Address.IsValid() && !uu.H245Address.IsValid() {
				t.Error("non-tunnelling caller got no h245Address")
			}
			if in.Tunnelling {
				// Our capabilities follow, one tunnelled PDU per Facility.
				q, uu, ok = p.recv()
				if !ok || q.Type != q931.Facility || len(uu.H245) != 1 {
					t.Fatalf("after Connect: %+v %+v", q, uu)
				}
			}
			p.send(h225.BodyReleaseComplete, mustRC(t, in.Tunnelling))
			for {
				if _, _, ok := p.recv(); !ok {
					break
				}
			}
			if err := <-confs.leaves; err == nil || !strings.Contains(err.Error(), "released by the peer") {
				t.Errorf("leave cause %v", err)
			}
			frames = appendFrames(frames, v.Name(), p.got)
		})
	}
	if n < 8 {
		t.Fatalf("only %d captured Setups", n)
	}
	if connects != n {
		t.Errorf("%d of %d Setups connected to the lobby", connects, n)
	}
	for _, l := range media.all() {
		select {
		case <-l.Done():
		default:
			t.Errorf("media leg %s not released", l.opts.ID)
		}
	}
	return frames
}

func appendFrames(frames []tsharktest.Frame, name string, got [][]byte) []tsharktest.Frame {
	for i, b := range got {
		frames = append(frames, tsharktest.Frame{Name: fmt.Sprintf("%s answer %d", name, i), Payload: b})
	}
	return frames
}

func mustRC(t *testing.T, tunnel bool) []byte {
	t.Helper()
	b, err := peerCall(tunnel).ReleaseComplete("undefinedReason")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkFastAnswer checks an answer selects one audio codec that was proposed,
// with our transmit channel and our receive address.
func checkFastAnswer(t *testing.T, proposals, answer [][]byte) {
	t.Helper()
	offered := map[string]bool{}
	for _, b := range proposals {
		if o, err := h245.ParseOLC(b); err == nil && o.Reverse {
			offered[o.Codec] = true
		}
	}
	var codec string
	var haveSend, haveRecv bool
	for _, b := range answer {
		o, err := h245.ParseOLC(b)
		if err != nil {
			t.Fatalf("answer element: %v", err)
		}
		if codec != "" && o.Codec != codec {
			t.Errorf("answer mixes codecs %s and %s", codec, o.Codec)
		}
		codec = o.Codec
		if !offered[o.Codec] {
			t.Errorf("answer picks %s, not proposed for our transmit direction", o.Codec)
		}
		if o.Reverse {
			haveSend = o.MediaControl.IsValid()
		} else {
			haveRecv = o.Media.IsValid() && o.MediaControl.IsValid()
		}
	}
	if !haveSend {
		t.Error("answer has no transmit channel of ours")
	}
	_ = haveRecv // a caller that proposes no transmit channel gets none back
}

// conferenceID maps every form of called address.
func TestConferenceID(t *testing.T) {
	num := q931.IE{ID: q931.IECalledNumber, Data: q931.AppendPartyNumber(nil, q931.PartyNumber{Plan: 1, Digits: "5555"})}
	for _, tc := range []struct {
		dest []h225.Alias
		ies  []q931.IE
		want string
	}{
		{[]h225.Alias{h225.H323ID("room"), h225.Digits("1000")}, nil, "1000"},
		{[]h225.Alias{h225.H323ID("10.0.0.1##2000")}, nil, "2000"},
		{[]h225.Alias{{Kind: h225.AliasURL, Value: "h323:3000@example.com"}}, nil, "3000"},
		{nil, []q931.IE{num}, "5555"},
		{[]h225.Alias{h225.H323ID(strings.Repeat("x", 200))}, nil, ""},
		{nil, nil, ""},
	} {
		q := &q931.Message{IEs: tc.ies}
		if got := conferenceID(q, &h225.Message{Dest: tc.dest}); got != tc.want {
			t.Errorf("%v %v: %q, want %q", tc.dest, tc.ies, got, tc.want)
		}
	}
}
