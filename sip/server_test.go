package sip

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/conf"
)

// answered runs INVITE → 200 → ACK with an early offer and returns the dialog
// and the call's media leg after Start.
func answered(t *testing.T, h *harness, p *peer, hdrs ...sipmsg.Header) (*dialog, *fakeLeg, legCall) {
	t.Helper()
	d := p.call(p.newInvite("1000", offer(30000, ""), hdrs...))
	if d.res.StatusCode != 200 {
		t.Fatalf("INVITE answered %d %s, want 200", d.res.StatusCode, d.res.Reason)
	}
	d.ack(nil)
	leg := h.leg()
	start := leg.next(t)
	h.waitConfirmed(d)
	return d, leg, start
}

// waitConfirmed waits until the server processed the ACK of d.
func (h *harness) waitConfirmed(d *dialog) {
	h.t.Helper()
	key := dialogKey(d.invite.CallID().Value(), mustTag(d.res))
	for deadline := time.Now().Add(waitFor); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		h.s.mu.Lock()
		c := h.s.calls[key]
		h.s.mu.Unlock()
		if c == nil {
			h.t.Fatal("call is gone")
		}
		c.mu.Lock()
		confirmed := c.state == stateConfirmed && c.ackPending == nil
		c.mu.Unlock()
		if confirmed {
			return
		}
	}
	h.t.Fatal("ACK never processed")
}

func TestEarlyOfferJoinAndPeerBye(t *testing.T) {
	h := newHarness(t, Config{Codecs: []string{"G722", "PCMU", "PCMA"}})
	p := newPeer(t, h.s.Addr().String(), "udp")
	d, leg, start := answered(t, h, p)

	if start.op != "start" || start.p.Codec.Name != "G722" || start.p.PayloadType != 9 || start.p.EventPayloadType != 101 {
		t.Errorf("media started with %+v, want G722 pt 9 event 101", start)
	}
	if got := start.p.Remote.String(); got != "127.0.0.1:30000" {
		t.Errorf("remote %s, want 127.0.0.1:30000", got)
	}
	if leg.opts.Room != "1000" {
		t.Errorf("leg room %q, want 1000", leg.opts.Room)
	}
	body := string(d.res.Body())
	for _, want := range []string{"m=audio 40000 RTP/AVP 9 101", "a=rtpmap:9 G722/8000", "a=rtpmap:101 telephone-event/8000",
		"a=fmtp:101 0-15", "a=ptime:20", "a=sendrecv", "c=IN IP4 127.0.0.1"} {
		if !strings.Contains(body, want) {
			t.Errorf("answer lacks %q:\n%s", want, body)
		}
	}
	if ct := d.res.Contact(); ct == nil || ct.Address.Host != "127.0.0.1" || ct.Address.Port != int(h.s.Addr().Port()) {
		t.Errorf("Contact %v, want 127.0.0.1:%d", ct, h.s.Addr().Port())
	}
	if tag, _ := d.res.To().Params.Get("tag"); tag == "" {
		t.Error("200 OK without To tag")
	}
	var part *fakeParticipant
	select {
	case part = <-h.confs.joins:
	default:
		t.Fatal("nobody joined")
	}
	if part.req.DisplayName != "Room 42" || part.req.Protocol != "sip" || part.req.ConferenceID != "1000" ||
		!strings.HasPrefix(part.req.Remote, "127.0.0.1:") || part.req.Leg == nil {
		t.Errorf("join request %+v", part.req)
	}
	if st := part.req.Leg.Stats(); st.PacketsIn != 7 {
		t.Errorf("LegHandle.Stats = %+v, want the media leg's", st)
	}
	// A moderator's mute reaches the media leg through the LegHandle.
	ml, ok := part.req.Leg.(conf.MutableLeg)
	if !ok {
		t.Fatal("the SIP leg handle is not a conf.MutableLeg")
	}
	ml.SetMuted(true)
	if !leg.isMuted() {
		t.Error("SetMuted(true) did not mute the media leg")
	}
	ml.SetMuted(false)
	if leg.isMuted() {
		t.Error("SetMuted(false) did not unmute the media leg")
	}

	res := d.do(sipmsg.BYE, nil)
	if res.StatusCode != 200 {
		t.Fatalf("BYE answered %d", res.StatusCode)
	}
	if cause := h.left(); !errors.Is(cause, ErrBye) {
		t.Errorf("leave cause %v, want ErrBye", cause)
	}
	<-leg.Done()
	if !errors.Is(leg.Cause(), ErrBye) {
		t.Errorf("leg closed with %v, want ErrBye", leg.Cause())
	}
	// The dialog is gone: another BYE is 481.
	if res := d.do(sipmsg.BYE, nil); res.StatusCode != 481 {
		t.Errorf("BYE after BYE answered %d, want 481", res.StatusCode)
	}
	if got := metricValue(t, h, "roomgate_sip_calls_total", "answered"); got != 1 {
		t.Errorf("answered calls metric %v, want 1", got)
	}
}

func TestJoinFailures(t *testing.T) {
	h := newHarness(t, Config{})
	p := newPeer(t, h.s.Addr().String(), "udp")
	for _, tc := range []struct {
		user string
		want int
	}{{"404404", 404}, {"486486", 486}, {"403403", 403}} {
		d := p.call(p.newInvite(tc.user, offer(30000, "")))
		if d.res.StatusCode != tc.want {
			t.Errorf("INVITE to %q answered %d, want %d", tc.user, d.res.StatusCode, tc.want)
		}
	}
	if n := h.confs.count(); n != 0 {
		t.Errorf("%d participants joined", n)
	}
	// Hung up by conf while being set up: never answered.
	d := p.call(p.newInvite("480480", offer(30000, "")))
	if d.res.StatusCode != 480 {
		t.Errorf("caller hung up during setup answered %d, want 480", d.res.StatusCode)
	}
	if cause := h.left(); !errors.Is(cause, conf.ErrConferenceDeleted) {
		t.Errorf("leave cause %v", cause)
	}
	<-h.confs.joins
	// Refused callers cost no RTP ports.
	select {
	case l := <-h.media.legs:
		t.Errorf("media leg %s created for a refused caller", l.opts.ID)
	default:
	}
	// No ports left: 503, and the admitted participant leaves again.
	h.media.mu.Lock()
	h.media.err = bridge.ErrNoPorts
	h.media.mu.Unlock()
	d = p.call(p.newInvite("1000", offer(30000, "")))
	if d.res.StatusCode != 503 {
		t.Errorf("without ports answered %d, want 503", d.res.StatusCode)
	}
	if cause := h.left(); !errors.Is(cause, bridge.ErrNoPorts) {
		t.Errorf("leave cause %v, want ErrNoPorts", cause)
	}
}

func TestNoCommonCodec488(t *testing.T) {
	h := newHarness(t, Config{Codecs: []string{"opus"}})
	p := newPeer(t, h.s.Addr().String(), "udp")
	d := p.call(p.newInvite("1000", offer(30000, "")))
	if d.res.StatusCode != 488 {
		t.Fatalf("answered %d, want 488", d.res.StatusCode)
	}
	w := d.res.GetHeader("Warning")
	if w == nil || !strings.HasPrefix(w.Value(), "305 ") || !strings.Contains(w.Value(), `"Incompatible media format"`) {
		t.Errorf("Warning %v, want 305 ... \"Incompatible media format\"", w)
	}
	video := []byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=video 3000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n")
	d = p.call(p.newInvite("1000", video))
	if w := d.res.GetHeader("Warning"); d.res.StatusCode != 488 || w == nil || !strings.HasPrefix(w.Value(), "304 ") {
		t.Errorf("video-only offer answered %d with Warning %v, want 488 and 304", d.res.StatusCode, w)
	}
}

func TestBadSDP400(t *testing.T) {
	h := newHarness(t, Config{})
	p := newPeer(t, h.s.Addr().String(), "udp")
	d := p.call(p.newInvite("1000", []byte("v=0\r\nthis is not sdp\r\n")))
	if d.res.StatusCode != 400 || !strings.Contains(d.res.Reason, "SDP") {
		t.Errorf("answered %d %q, want 400 naming the SDP", d.res.StatusCode, d.res.Reason)
	}
	d = p.call(p.newInvite("1000", []byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 3000 RTP/AVP 0 x\r\n")))
	if d.res.StatusCode != 400 || !strings.Contains(d.res.Reason, "payload type") {
		t.Errorf("answered %d %q, want 400 naming the payload type", d.res.StatusCode, d.res.Reason)
	}
}

func TestLateOfferAnswerInAck(t *testing.T) {
	h := newHarness(t, Config{Codecs: []string{"PCMA", "PCMU"}})
	p := newPeer(t, h.s.Addr().String(), "udp")
	d := p.call(p.newInvite("1000", nil))
	if d.res.StatusCode != 200 {
		t.Fatalf("answered %d", d.res.StatusCode)
	}
	body := string(d.res.Body())
	if !strings.Contains(body, "m=audio 40000 RTP/AVP 8 0 101") || !strings.Contains(body, "a=rtpmap:101 telephone-event/8000") {
		t.Fatalf("our offer:\n%s", body)
	}
	leg := h.leg()
	select {
	case c := <-leg.calls:
		t.Fatalf("media %s before the answer", c.op)
	default:
	}
	answer := "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 31000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
	d.ack([]byte(answer))
	c := leg.next(t)
	if c.op != "start" || c.p.Codec.Name != "PCMU" || c.p.Remote.Port() != 31000 || c.p.EventPayloadType != 101 {
		t.Errorf("media %+v, want start PCMU to :31000", c)
	}
	d.do(sipmsg.BYE, nil)
	h.left()
}

func TestLateOfferAckWithoutAnswerByes(t *testing.T) {
	h := newHarness(t, Config{})
	p := newPeer(t, h.s.Addr().String(), "udp")
	d := p.call(p.newInvite("1000", nil))
	if d.res.StatusCode != 200 {
		t.Fatalf("answered %d", d.res.StatusCode)
	}
	d.ack(nil)
	bye := p.request(sipmsg.BYE)
	if r := bye.GetHeader("Reason"); r == nil || !strings.Contains(r.Value(), "488") {
		t.Errorf("BYE Reason %v", r)
	}
	if cause := h.left(); !errors.Is(cause, ErrAckWithoutAnswer) {
		t.Errorf("cause %v", cause)
	}
}

func TestHoldResumeReinvite(t *testing.T) {
	h := newHarness(t, Config{})
	p := newPeer(t, h.s.Addr().String(), "udp")
	d, leg, start := answered(t, h, p)
	firstVersion := originVersion(t, d.res.Body())

	res := d.do(sipmsg.INVITE, offer(30000, "a=sendonly\r\n"))
	if res.StatusCode != 200 || !strings.Contains(string(res.Body()), "a=recvonly") {
		t.Fatalf("hold answered %d:\n%s", res.StatusCode, res.Body())
	}
	if v := originVersion(t, res.Body()); v != firstVersion+1 {
		t.Errorf("o= version %d after a change, want %d", v, firstVersion+1)
	}
	if c := leg.next(t); c.op != "update" || c.p.Direction != bridge.RecvOnly || c.p.Codec != start.p.Codec {
		t.Errorf("hold: %+v", c)
	}

	res = d.do(sipmsg.INVITE, offer(30000, "a=inactive\r\n"))
	if res.StatusCode != 200 || !strings.Contains(string(res.Body()), "a=inactive") {
		t.Fatalf("inactive answered %d", res.StatusCode)
	}
	if c := leg.next(t); c.p.Direction != bridge.Inactive {
		t.Errorf("inactive: %+v", c)
	}

	// Old-style hold: c=0.0.0.0.
	old := strings.Replace(string(offer(30000, "")), "c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0", 1)
	if res := d.do(sipmsg.INVITE, []byte(old)); res.StatusCode != 200 {
		t.Fatalf("0.0.0.0 hold answered %d", res.StatusCode)
	}
	if c := leg.next(t); c.p.Direction != bridge.RecvOnly {
		t.Errorf("c=0.0.0.0 hold: direction %v, want RecvOnly", c.p.Direction)
	}

	// Resume at a new address, and switch codec.
	moved := strings.Replace(string(offer(30100, "")), "RTP/AVP 0 8 9 101", "RTP/AVP 8 101", 1)
	res = d.do(sipmsg.INVITE, []byte(moved))
	if res.StatusCode != 200 {
		t.Fatalf("resume answered %d", res.StatusCode)
	}
	c := leg.next(t)
	if c.p.Direction != bridge.SendRecv || c.p.Remote.Port() != 30100 || c.p.Codec.Name != "PCMA" {
		t.Errorf("resume: %+v", c)
	}
	// The same offer again changes nothing: same o= version.
	v := originVersion(t, res.Body())
	res = d.do(sipmsg.INVITE, []byte(moved))
	if got := originVersion(t, res.Body()); got != v {
		t.Errorf("unchanged answer got version %d, want %d", got, v)
	}
	leg.next(t)

	// An offer without a common codec is refused and changes nothing.
	bad := strings.Replace(string(offer(30100, "")), "RTP/AVP 0 8 9 101", "RTP/AVP 18", 1)
	if res := d.do(sipmsg.INVITE, []byte(bad)); res.StatusCode != 488 {
		t.Errorf("re-INVITE without a common codec answered %d, want 488", res.StatusCode)
	}
	d.do(sipmsg.BYE, nil)
	h.left()
}

func originVersion(t *testing.T, body []byte) uint64 {
	t.Helper()
	sd, err := ParseSDP(body)
	if err != nil {
		t.Fatalf("parsing our SDP: %v", err)
	}
	return sd.Origin.SessionVersion
}

func TestReinviteWithoutSDP(t *testing.T) {
	h := newHarness(t, Config{Codecs: []string{"PCMU", "PCMA"}})
	p := newPeer(t, h.s.Addr().String(), "udp")
	d, leg, _ := answered(t, h, p)
	d.cseq++
	req := d.newRequest(sipmsg.INVITE, d.cseq, nil)
	res := d.p.mustDo(req)
	if res.StatusCode != 200 || !strings.Contains(string(res.Body()), "m=audio 40000 RTP/AVP 0 8 101") {
		t.Fatalf("offerless re-INVITE answered %d:\n%s", res.StatusCode, res.Body())
	}
	answer := "v=0\r\no=phone 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 32000 RTP/AVP 8\r\na=sendonly\r\n"
	ack := d.newRequest(sipmsg.ACK, d.cseq, []byte(answer))
	if err := p.cli.WriteRequest(ack); err != nil {
		t.Fatal(err)
	}
	c := leg.next(t)
	if c.op != "update" || c.p.Codec.Name != "PCMA" || c.p.Remote.Port() != 32000 || c.p.Direction != bridge.RecvOnly {
		t.Errorf("answer in ACK applied as %+v", c)
	}
	d.do(sipmsg.BYE, nil)
	h.left()
}

func (p *peer) mustDo(req *sipmsg.Request) *sipmsg.Response {
	p.t.Helper()
	ctx, cancel := contextWithTimeout()
	defer cancel()
	res, err := p.cli.Do(ctx, req)
	if err != nil {
		p.t.Fatalf("%s: %v", req.Method, err)
	}
	return res
}

func TestUpdateWithSDP(t *testing.T) {
	h := newHarness(t, Config{})
	p := newPeer(t, h.s.Addr().String(), "udp")
	d, leg, _ := answered(t, h, p)
	res := d.do(sipmsg.UPDATE, offer(30200, "a=sendonly\r\n"))
	if res.StatusCode != 200 || !strings.Contains(string(res.Body()), "a=recvonly") {
		t.Fatalf("UPDATE answered %d:\n%s", res.StatusCode, res.Body())
	}
	if c := leg.next(t); c.op != "update" || c.p.Remote.Port() != 30200 || c.p.Direction != bridge.RecvOnly {
		t.Errorf("UPDATE applied as %+v", c)
	}
	// UPDATE without SDP is a bare refresh.
	if res := d.do(sipmsg.UPDATE, nil); res.StatusCode != 200 || len(res.Body()) != 0 {
		t.Errorf("bare UPDATE answered %d with %d bytes", res.StatusCode, len(res.Body()))
	}
	d.do(sipmsg.BYE, nil)
	h.left()
}

func TestHangupSendsByeWithReason(t *testing.T) {
	h := newHarness(t, Config{})
	p := newPeer(t, h.s.Addr().String(), "udp")
	_, leg, _ := answered(t, h, p)
	part := <-h.confs.joins
	part.req.Leg.Hangup(conf.ErrConferenceDeleted)
	bye := p.request(sipmsg.BYE)
	if r := bye.GetHeader("Reason"); r == nil || !strings.Contains(r.Value(), "conference deleted") {
		t.Errorf("BYE Reason %v", r)
	}
	if cause := h.left(); !errors.Is(cause, conf.ErrConferenceDeleted) {
		t.Errorf("leave cause %v", cause)
	}
	<-leg.Done()
}

func TestMediaTimeoutSendsBye(t *testing.T) {
	h := newHarness(t, Config{})
	p := newPeer(t, h.s.Addr().String(), "udp")
	_, leg, _ := answered(t, h, p)
	leg.opts.OnEvent(bridge.Event{Kind: bridge.EventMediaTimeout, At: time.Now()})
	bye := p.request(sipmsg.BYE)
	if r := bye.GetHeader("Reason"); r == nil || !strings.Contains(r.Value(), "media timeout") {
		t.Errorf("BYE Reason %v", r)
	}
	if cause := h.left(); !errors.Is(cause, bridge.ErrMediaTimeout) {
		t.Errorf("leave cause %v", cause)
	}
}

func TestCancelWhileRinging(t *testing.T) {
	h := newHarness(t, Config{AnswerDelay: time.Hour})
	p := newPeer(t, h.s.Addr().String(), "udp")
	inv := p.newInvite("1000", offer(30000, ""))
	ctx, cancel := contextWithTimeout()
	defer cancel()
	tx, err := p.cli.TransactionRequest(ctx, inv)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Terminate()
	for res := range tx.Responses() {
		if res.StatusCode == 180 {
			break
		}
	}
	cancelReq := sipmsg.NewRequest(sipmsg.CANCEL, inv.Recipient)
	cancelReq.AppendHeader(sipmsg.HeaderClone(inv.Via()))
	cancelReq.AppendHeader(sipmsg.HeaderClone(inv.From()))
	cancelReq.AppendHeader(sipmsg.HeaderClone(inv.To()))
	cancelReq.AppendHeader(sipmsg.HeaderClone(inv.CallID()))
	cancelReq.AppendHeader(&sipmsg.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sipmsg.CANCEL})
	cancelReq.SetTransport("UDP")
	cres, err := p.cli.Do(ctx, cancelReq, func(*sipgo.Client, *sipmsg.Request) error { return nil })
	if err != nil || cres.StatusCode != 200 {
		t.Fatalf("CANCEL: %v %v", cres, err)
	}
	for res := range tx.Responses() {
		if res.StatusCode >= 200 {
			if res.StatusCode != 487 {
				t.Errorf("INVITE ended with %d, want 487", res.StatusCode)
			}
			break
		}
	}
	if n := h.confs.count(); n != 0 {
		t.Errorf("%d joined after CANCEL", n)
	}
	select {
	case l := <-h.media.legs:
		t.Errorf("media leg %s created for a cancelled call", l.opts.ID)
	default:
	}
}

func TestAnswerDelayRings(t *testing.T) {
	h := newHarness(t, Config{AnswerDelay: 3 * time.Second})
	p := newPeer(t, h.s.Addr().String(), "udp")
	inv := p.newInvite("1000", offer(30000, ""))
	ctx, cancel := contextWithTimeout()
	defer cancel()
	tx, err := p.cli.TransactionRequest(ctx, inv)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Terminate()
	next := func() *sipmsg.Response {
		t.Helper()
		select {
		case res := <-tx.Responses():
			return res
		case <-tx.Done():
			t.Fatalf("INVITE transaction ended: %v", tx.Err())
		case <-ctx.Done():
			t.Fatal("no response to INVITE")
		}
		return nil
	}
	// Time moves only when we say so: the call rings until it does, and
	// the 180 must have arrived before the answer is allowed to.
	var ring *sipmsg.Response
	for ring == nil {
		res := next()
		switch {
		case res.StatusCode == 180:
			ring = res
		case res.StatusCode >= 200:
			t.Fatalf("answered %d before ringing", res.StatusCode)
		}
	}
	for h.clock.pending() == 0 {
		select {
		case <-tx.Done():
			t.Fatalf("INVITE transaction ended: %v", tx.Err())
		case <-time.After(time.Millisecond):
		}
	}
	h.clock.Advance(3 * time.Second)
	res := next()
	for res.IsProvisional() {
		res = next()
	}
	if res.StatusCode != 200 {
		t.Fatalf("answered %d", res.StatusCode)
	}
	if tag, _ := ring.To().Params.Get("tag"); tag != mustTag(res) {
		t.Errorf("180 tag %q differs from 200 tag %q", tag, mustTag(res))
	}
	d := &dialog{p: p, invite: inv, res: res, cseq: inv.CSeq().SeqNo}
	d.ack(nil)
	d.do(sipmsg.BYE, nil)
	h.left()
}

func mustTag(res *sipmsg.Response) string {
	tag, _ := res.To().Params.Get("tag")
	return tag
}

func TestOptions(t *testing.T) {
	h := newHarness(t, Config{})
	p := newPeer(t, h.s.Addr().String(), "udp")
	req := sipmsg.NewRequest(sipmsg.OPTIONS, sipmsg.Uri{Scheme: "sip", Host: "127.0.0.1", Port: int(h.s.Addr().Port())})
	req.SetTransport("UDP")
	res := p.mustDo(req)
	if res.StatusCode != 200 {
		t.Fatalf("OPTIONS answered %d", res.StatusCode)
	}
	for name, want := range map[string]string{"Allow": "UPDATE", "Accept": "application/sdp", "Supported": "timer"} {
		if v := res.GetHeader(name); v == nil || !strings.Contains(v.Value(), want) {
			t.Errorf("%s = %v, want %q in it", name, v, want)
		}
	}
	// In dialog too, and INFO.
	d, _, _ := answered(t, h, p)
	if res := d.do(sipmsg.OPTIONS, nil); res.StatusCode != 200 || res.GetHeader("Allow") == nil {
		t.Errorf("in-dialog OPTIONS answered %d", res.StatusCode)
	}
	if res := d.do(sipmsg.INFO, nil); res.StatusCode != 200 {
		t.Errorf("INFO answered %d", res.StatusCode)
	}
	d.do(sipmsg.BYE, nil)
	h.left()
}

func TestUnknownAndOutOfDialog(t *testing.T) {
	h := newHarness(t, Config{})
	p := newPeer(t, h.s.Addr().String(), "udp")
	uri := sipmsg.Uri{Scheme: "sip", User: "1000", Host: "127.0.0.1", Port: int(h.s.Addr().Port())}
	for _, tc := range []struct {
		method sipmsg.RequestMethod
		want   int
	}{{"FOO", 501}, {sipmsg.REGISTER, 405}, {sipmsg.MESSAGE, 405}, {sipmsg.BYE, 481}, {sipmsg.UPDATE, 481}} {
		req := sipmsg.NewRequest(tc.method, uri)
		req.SetTransport("UDP")
		if tc.method == sipmsg.BYE || tc.method == sipmsg.UPDATE {
			to := &sipmsg.ToHeader{Address: uri, Params: sipmsg.NewParams()}
			to.Params.Add("tag", "nosuchdialog")
			req.AppendHeader(to)
		}
		res := p.mustDo(req)
		if res.StatusCode != tc.want {
			t.Errorf("%s answered %d, want %d", tc.method, res.StatusCode, tc.want)
		}
		if tc.want == 405 && res.GetHeader("Allow") == nil {
			t.Errorf("405 to %s without Allow", tc.method)
		}
	}
}

func TestTCPCall(t *testing.T) {
	h := newHarness(t, Config{Codecs: []string{"PCMU"}})
	p := newPeer(t, h.s.Addr().String(), "tcp")
	d, leg, start := answered(t, h, p)
	if start.p.Codec.Name != "PCMU" {
		t.Errorf("codec %s", start.p.Codec.Name)
	}
	if ct := d.res.Contact(); ct == nil || !strings.Contains(ct.Address.String(), "transport=tcp") {
		t.Errorf("Contact %v lacks transport=tcp", ct)
	}
	// Our BYE must come back over the caller's connection: its Contact
	// port is unreachable on purpose.
	part := <-h.confs.joins
	part.req.Leg.Hangup(conf.ErrConferenceDeleted)
	p.request(sipmsg.BYE)
	h.left()
	<-leg.Done()
}

func TestNoAckByes(t *testing.T) {
	h := newHarness(t, Config{})
	p := newPeer(t, h.s.Addr().String(), "udp")
	d := p.call(p.newInvite("1000", offer(30000, "")))
	if d.res.StatusCode != 200 {
		t.Fatalf("answered %d", d.res.StatusCode)
	}
	h.leg()
	// Retransmissions of the 200 follow T1, 2*T1, ... up to T2.
	h.clock.Advance(timerT1)
	h.clock.Advance(2 * timerT1)
	h.clock.Advance(ackWait)
	bye := p.request(sipmsg.BYE)
	if r := bye.GetHeader("Reason"); r == nil || !strings.Contains(r.Value(), "ACK") {
		t.Errorf("BYE Reason %v", r)
	}
	if cause := h.left(); !errors.Is(cause, ErrNoAck) {
		t.Errorf("cause %v", cause)
	}
}

func TestCloseByesEveryCall(t *testing.T) {
	h := newHarness(t, Config{})
	p := newPeer(t, h.s.Addr().String(), "udp")
	answered(t, h, p)
	answered(t, h, p)
	if err := h.s.Close(); err != nil {
		t.Fatal(err)
	}
	p.request(sipmsg.BYE)
	p.request(sipmsg.BYE)
	for i := 0; i < 2; i++ {
		if cause := h.left(); !errors.Is(cause, ErrShutdown) {
			t.Errorf("cause %v", cause)
		}
	}
}

func TestStartContextEndsServer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s, err := NewServer(Config{Listen: "127.0.0.1:0"}, newFakeMedia(), newFakeConfs(), testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err == nil {
		t.Error("second Start succeeded")
	}
	cancel()
	select {
	case <-s.done:
	case <-time.After(waitFor):
		t.Fatal("server still up after its context ended")
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close after the context: %v", err)
	}
	if err := s.Start(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close: %v, want ErrClosed", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Listen: "localhost"},
		{Listen: "127.0.0.1:0", Codecs: []string{"G729"}},
		{Listen: "127.0.0.1:0", MinSE: 30 * time.Second},
		{Listen: "127.0.0.1:0", SessionExpires: 100 * time.Second, MinSE: 120 * time.Second},
		{Listen: "127.0.0.1:0", AnswerDelay: -time.Second},
	} {
		if _, err := NewServer(cfg, newFakeMedia(), newFakeConfs(), nil, nil); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: err %v, want ErrConfig", cfg, err)
		}
	}
	if _, err := NewServer(Config{}, nil, newFakeConfs(), nil, nil); !errors.Is(err, ErrConfig) {
		t.Errorf("nil media: err %v", err)
	}
}

// Requests we send follow the Record-Route set (loose routing, RFC 3261 §12.2.1.1).
func TestRouteSet(t *testing.T) {
	h := newHarness(t, Config{})
	p := newPeer(t, h.s.Addr().String(), "udp")
	rr := "<sip:127.0.0.1:" + strconv.Itoa(p.port) + ";lr>"
	answered(t, h, p, hdr("Record-Route", rr))
	part := <-h.confs.joins
	part.req.Leg.Hangup(conf.ErrConferenceDeleted)
	bye := p.request(sipmsg.BYE)
	if r := bye.GetHeader("Route"); r == nil || !strings.Contains(r.Value(), "127.0.0.1:"+strconv.Itoa(p.port)) || !strings.Contains(r.Value(), "lr") {
		t.Errorf("BYE Route %v, want %s", r, rr)
	}
	if bye.Recipient.User != "room42" {
		t.Errorf("BYE Request-URI %s, want the remote target", bye.Recipient.String())
	}
	h.left()
}

func TestInviteChecks(t *testing.T) {
	h := newHarness(t, Config{})
	p := newPeer(t, h.s.Addr().String(), "udp")

	d := p.call(p.newInvite("1000", offer(30000, ""), hdr("Require", "100rel")))
	if u := d.res.GetHeader("Unsupported"); d.res.StatusCode != 420 || u == nil || u.Value() != "100rel" {
		t.Errorf("Require: 100rel answered %d with Unsupported %v", d.res.StatusCode, u)
	}
	inv := p.newInvite("1000", offer(30000, ""))
	inv.ReplaceHeader(sipmsg.NewHeader("Content-Type", "text/plain"))
	if d := p.call(inv); d.res.StatusCode != 415 || d.res.GetHeader("Accept") == nil {
		t.Errorf("text/plain body answered %d", d.res.StatusCode)
	}
	inv = p.newInvite("1000", offer(30000, ""))
	inv.RemoveHeader("Contact")
	if d := p.call(inv); d.res.StatusCode != 400 || !strings.Contains(d.res.Reason, "Contact") {
		t.Errorf("INVITE without Contact answered %d %q", d.res.StatusCode, d.res.Reason)
	}
	if n := h.confs.count(); n != 0 {
		t.Errorf("%d joined", n)
	}
}

// A room system's INVITE and our 200 behind proxies pass 1300 bytes on UDP.
func TestLargeUDPMessages(t *testing.T) {
	h := newHarness(t, Config{})
	p := newPeer(t, h.s.Addr().String(), "udp")
	polycom, err := os.ReadFile(filepath.Join("testdata", "sdp", "polycom.sdp"))
	if err != nil {
		t.Fatal(err)
	}
	var hdrs []sipmsg.Header
	for i := 0; i < 6; i++ {
		hdrs = append(hdrs, hdr("Record-Route", "<sip:127.0.0.1:"+strconv.Itoa(p.port)+";lr;proxy-hop="+strings.Repeat("x", 80)+">"))
	}
	d := p.call(p.newInvite("1000", polycom, hdrs...))
	if d.res.StatusCode != 200 || len(d.res.String()) <= 1300 {
		t.Fatalf("answered %d with %d bytes, want 200 above 1300 bytes", d.res.StatusCode, len(d.res.String()))
	}
	d.ack(nil)
	if c := h.leg().next(t); c.p.Codec.Name != "G722" {
		t.Errorf("Polycom call got %s, want G722", c.p.Codec.Name)
	}
	part := <-h.confs.joins
	part.req.Leg.Hangup(conf.ErrConferenceDeleted)
	p.request(sipmsg.BYE)
	h.left()
}
