package sip

import (
	"errors"
	"strings"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
)

func hdr(name, value string) sipmsg.Header { return sipmsg.NewHeader(name, value) }

func TestSessionTimerTooSmall422(t *testing.T) {
	h := newHarness(t, Config{})
	p := newPeer(t, h.s.Addr().String(), "udp")
	d := p.call(p.newInvite("1000", offer(30000, ""), hdr("Supported", "timer"), hdr("Session-Expires", "30")))
	if d.res.StatusCode != 422 {
		t.Fatalf("answered %d, want 422", d.res.StatusCode)
	}
	if m := d.res.GetHeader("Min-SE"); m == nil || m.Value() != "90" {
		t.Errorf("Min-SE %v, want 90", m)
	}
	d = p.call(p.newInvite("1000", offer(30000, ""), hdr("Session-Expires", "soon")))
	if d.res.StatusCode != 400 {
		t.Errorf("bad Session-Expires answered %d, want 400", d.res.StatusCode)
	}
}

// The peer refreshes; when it stops, we send BYE before the interval ends.
func TestSessionTimerPeerRefreshesThenExpires(t *testing.T) {
	h := newHarness(t, Config{})
	p := newPeer(t, h.s.Addr().String(), "udp")
	d, _, _ := answered(t, h, p, hdr("Supported", "timer"), hdr("Session-Expires", "120;refresher=uac"), hdr("Allow", "INVITE, ACK, BYE, UPDATE"))
	if se := d.res.GetHeader("Session-Expires"); se == nil || se.Value() != "120;refresher=uac" {
		t.Fatalf("Session-Expires %v, want 120;refresher=uac", se)
	}
	if rq := d.res.GetHeader("Require"); rq == nil || !strings.Contains(rq.Value(), "timer") {
		t.Errorf("Require %v, want timer", rq)
	}

	h.clock.Advance(60 * time.Second)
	if res := d.do(sipmsg.UPDATE, nil, hdr("Session-Expires", "120;refresher=uac"), hdr("Supported", "timer")); res.StatusCode != 200 {
		t.Fatalf("refresh UPDATE answered %d", res.StatusCode)
	}
	// 87 s after the refresh the call still stands (BYE is due at 120-32=88 s).
	h.clock.Advance(87 * time.Second)
	select {
	case r := <-p.reqs:
		t.Fatalf("%s before the session expired", r.Method)
	case cause := <-h.confs.leaves:
		t.Fatalf("left before the session expired: %v", cause)
	default:
	}
	h.clock.Advance(time.Second)
	bye := p.request(sipmsg.BYE)
	if r := bye.GetHeader("Reason"); r == nil || !strings.Contains(r.Value(), "session timer") {
		t.Errorf("BYE Reason %v", r)
	}
	if cause := h.left(); !errors.Is(cause, ErrSessionExpired) {
		t.Errorf("cause %v", cause)
	}
}

// A peer without timer support: we refresh at half the interval with
// re-INVITE (no UPDATE allowed) carrying the same SDP, or with UPDATE.
func TestSessionTimerWeRefresh(t *testing.T) {
	for _, tc := range []struct {
		name   string
		allow  string
		method sipmsg.RequestMethod
	}{{"reinvite", "INVITE, ACK, BYE", sipmsg.INVITE}, {"update", "INVITE, ACK, BYE, UPDATE", sipmsg.UPDATE}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{SessionExpires: 100 * time.Second})
			p := newPeer(t, h.s.Addr().String(), "udp")
			p.answerWith(func(req *sipmsg.Request) (int, []byte) {
				if req.Method == sipmsg.INVITE {
					return 200, []byte("v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
						"m=audio 30000 RTP/AVP 9 101\r\na=rtpmap:101 telephone-event/8000\r\n")
				}
				return 200, nil
			})
			d, leg, _ := answered(t, h, p, hdr("Allow", tc.allow))
			h.waitTimer()
			if se := d.res.GetHeader("Session-Expires"); se == nil || se.Value() != "100;refresher=uas" {
				t.Fatalf("Session-Expires %v, want 100;refresher=uas", se)
			}
			if d.res.GetHeader("Require") != nil {
				t.Error("Require: timer sent to a peer that does not support it")
			}
			for round := 0; round < 2; round++ {
				h.clock.Advance(50 * time.Second)
				req := p.request(tc.method)
				if se := req.GetHeader("Session-Expires"); se == nil || !strings.HasPrefix(se.Value(), "100") {
					t.Errorf("refresh Session-Expires %v", se)
				}
				if tc.method == sipmsg.INVITE {
					if originVersion(t, req.Body()) != originVersion(t, d.res.Body()) {
						t.Error("refresh re-INVITE changed the o= version")
					}
					p.request(sipmsg.ACK)
				}
				h.waitTimer() // the refresh re-arms the session timer
			}
			select {
			case c := <-leg.calls:
				t.Errorf("refresh with the same SDP touched the media: %+v", c)
			default:
			}
			// The peer forgot the dialog: the refresh fails and the call ends.
			p.answerWith(func(*sipmsg.Request) (int, []byte) { return 481, nil })
			h.clock.Advance(50 * time.Second)
			p.request(tc.method)
			if cause := h.left(); !errors.Is(cause, ErrRefreshFailed) {
				t.Errorf("cause %v", cause)
			}
		})
	}
}

func TestParseSessionHeaders(t *testing.T) {
	for _, tc := range []struct {
		v         string
		delta     time.Duration
		refresher string
		bad       bool
	}{
		{"1800", 1800 * time.Second, "", false},
		{"90;refresher=uac", 90 * time.Second, "uac", false},
		{" 120 ; refresher = UAS ", 120 * time.Second, "uas", false},
		{"99999999", maxSessionExpires, "", false},
		{"0", 0, "", true},
		{"-5", 0, "", true},
		{"abc", 0, "", true},
		{"90;refresher=me", 0, "", true},
	} {
		req := sipmsg.NewRequest(sipmsg.INVITE, sipmsg.Uri{Host: "x"})
		req.AppendHeader(hdr("x", tc.v))
		se, ok, err := parseSessionExpires(req)
		if !ok || (err != nil) != tc.bad || (!tc.bad && (se.Delta != tc.delta || se.Refresher != tc.refresher)) {
			t.Errorf("%q: %+v ok=%v err=%v", tc.v, se, ok, err)
		}
	}
}

// FuzzSessionExpires checks the RFC 4028 header parsers on hostile values.
func FuzzSessionExpires(f *testing.F) {
	for _, s := range []string{"1800", "90;refresher=uac", "x", "", ";;;", "4294967296", "120;refresher"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		req := sipmsg.NewRequest(sipmsg.INVITE, sipmsg.Uri{Host: "x"})
		req.AppendHeader(hdr("Session-Expires", v))
		req.AppendHeader(hdr("Min-SE", v))
		se, present, err := parseSessionExpires(req)
		if present && err == nil && (se.Delta <= 0 || se.Delta > maxSessionExpires) {
			t.Fatalf("%q parsed as %v", v, se.Delta)
		}
		if d, err := parseMinSE(req); err == nil && (d < 0 || d > maxSessionExpires) {
			t.Fatalf("Min-SE %q parsed as %v", v, d)
		}
	})
}

// waitTimer waits until a timer is armed on the fake clock: the server arms
// them from its own goroutines.
func (h *harness) waitTimer() {
	h.t.Helper()
	for deadline := time.Now().Add(waitFor); h.clock.pending() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			h.t.Fatal("no timer armed")
		}
	}
}

// Glare (RFC 3261 §14.2): while our refresh re-INVITE is pending, the peer's
// re-INVITE gets 491 and nothing changes.
func TestGlare491(t *testing.T) {
	h := newHarness(t, Config{SessionExpires: 100 * time.Second})
	p := newPeer(t, h.s.Addr().String(), "udp")
	release := make(chan struct{})
	p.answerWith(func(req *sipmsg.Request) (int, []byte) {
		if req.Method == sipmsg.INVITE {
			<-release
			return 200, []byte("v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
				"m=audio 30000 RTP/AVP 9 101\r\na=rtpmap:101 telephone-event/8000\r\n")
		}
		return 200, nil
	})
	d, leg, _ := answered(t, h, p)
	h.waitTimer()
	h.clock.Advance(50 * time.Second)
	p.request(sipmsg.INVITE) // our refresh, held by the peer
	if res := d.do(sipmsg.INVITE, offer(30000, "a=sendonly\r\n")); res.StatusCode != 491 {
		t.Errorf("crossing re-INVITE answered %d, want 491", res.StatusCode)
	}
	close(release)
	p.request(sipmsg.ACK)
	h.waitTimer() // the refresh is done
	select {
	case c := <-leg.calls:
		t.Errorf("media changed by a refused offer: %+v", c)
	default:
	}
	d.do(sipmsg.BYE, nil)
	h.left()
}
