package sip

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/roomgate/roomgate/bridge/codec"
	"github.com/roomgate/roomgate/conf"
)

// uasPeer is a sipgo peer whose INVITE handler the test scripts.
func uasPeer(t *testing.T, h *harness, invite func(req *sipmsg.Request, tx sipmsg.ServerTransaction)) *peer {
	t.Helper()
	p := newPeer(t, h.s.Addr().String(), "udp")
	p.mu.Lock()
	p.onInvite = invite
	p.mu.Unlock()
	return p
}

func respond(tx sipmsg.ServerTransaction, req *sipmsg.Request, code int, body []byte, hdrs ...sipmsg.Header) {
	res := sipmsg.NewResponseFromRequest(req, code, "Test", body)
	if len(body) > 0 {
		res.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
	}
	for _, hd := range hdrs {
		res.AppendHeader(hd)
	}
	if code >= 200 {
		if to := res.To(); to != nil {
			to.Params.Remove("tag")
			to.Params.Add("tag", "uas1")
		}
		res.AppendHeader(&sipmsg.ContactHeader{Address: sipmsg.Uri{Scheme: "sip", User: "room", Host: "127.0.0.1", Port: req.Recipient.Port}})
	}
	_ = tx.Respond(res)
}

func dialRequest(t *testing.T, callString string) conf.DialRequest {
	t.Helper()
	tg, err := conf.ParseCallString(callString)
	if err != nil {
		t.Fatal(err)
	}
	return conf.DialRequest{ConferenceID: "1000", Target: tg, DisplayName: "Board"}
}

// nextRequest returns the next request of method the peer received.
func (p *peer) nextRequest(t *testing.T, method sipmsg.RequestMethod) *sipmsg.Request {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case r := <-p.reqs:
			if r.Method == method {
				return r
			}
		case <-deadline:
			t.Fatalf("peer got no %s", method)
			return nil
		}
	}
}

func TestDialOutAnswered(t *testing.T) {
	h := newHarness(t, Config{})
	p := uasPeer(t, h, func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		respond(tx, req, 180, nil)
		respond(tx, req, 200, offer(30000, ""), sipmsg.NewHeader("Allow", "INVITE, ACK, BYE, CANCEL, INFO"))
	})
	ctx, cancel := contextWithTimeout()
	defer cancel()
	req := dialRequest(t, fmt.Sprintf("sip:room@127.0.0.1:%d", p.port))
	req.UserID = "alice" // her registered device: it answers as her
	res, err := h.s.Dialer().Dial(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	inv := p.nextRequest(t, sipmsg.INVITE)
	if inv.Recipient.User != "room" || !isSDP(inv) || !strings.Contains(string(inv.Body()), "telephone-event") {
		t.Errorf("INVITE %s\n%s", inv.StartLine(), inv.Body())
	}
	for _, name := range []string{"PCMU", "PCMA", "G722", "opus"} {
		if !strings.Contains(string(inv.Body()), name) {
			t.Errorf("offer lacks %s:\n%s", name, inv.Body())
		}
	}
	ack := p.nextRequest(t, sipmsg.ACK)
	if ack.CallID().Value() != inv.CallID().Value() {
		t.Errorf("ACK of another call")
	}
	leg := h.leg()
	if c := leg.next(t); c.op != "start" || c.p.Codec.Name != "PCMU" || c.p.Remote.Port() != 30000 {
		t.Errorf("leg %+v", c)
	}
	part := <-h.confs.joins
	if res.ParticipantID != part.id || part.req.ConferenceID != "1000" || part.req.Protocol != "sip" {
		t.Errorf("result %+v, joined %+v", res, part.req)
	}
	if dl, ok := part.req.Leg.(conf.DialledLeg); !ok || !dl.Dialled() {
		t.Errorf("the leg does not say it was dialled")
	}
	if al, ok := part.req.Leg.(conf.AuthenticatedLeg); !ok || al.UserID() != "alice" {
		t.Errorf("the answered device does not join as the user it belongs to")
	}
	// conf hangs up: BYE reaches the peer within the dialog.
	part.req.Leg.Hangup(conf.ErrKicked)
	bye := p.nextRequest(t, sipmsg.BYE)
	if tag, _ := bye.To().Params.Get("tag"); tag != "uas1" || bye.CallID().Value() != inv.CallID().Value() {
		t.Errorf("BYE outside the dialog: %s", bye.String())
	}
	if cause := h.left(); !errors.Is(cause, conf.ErrKicked) {
		t.Errorf("left with %v", cause)
	}
}

func TestDialOutPeerHangsUp(t *testing.T) {
	h := newHarness(t, Config{})
	p := uasPeer(t, h, func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		respond(tx, req, 200, offer(30002, ""))
	})
	ctx, cancel := contextWithTimeout()
	defer cancel()
	if _, err := h.s.Dialer().Dial(ctx, dialRequest(t, fmt.Sprintf("#sip:room@127.0.0.1:%d", p.port))); err != nil {
		t.Fatal(err)
	}
	inv := p.nextRequest(t, sipmsg.INVITE)
	<-h.confs.joins
	// The peer ends the call: a BYE from the UAS side of our dialog.
	bye := sipmsg.NewRequest(sipmsg.BYE, *inv.Contact().Address.Clone())
	fromParams := sipmsg.NewParams()
	fromParams.Add("tag", "uas1")
	bye.AppendHeader(&sipmsg.FromHeader{Address: inv.To().Address, Params: fromParams})
	bye.AppendHeader(&sipmsg.ToHeader{Address: inv.From().Address, Params: inv.From().Params.Clone()})
	sipmsg.CopyHeaders("Call-ID", inv, bye)
	bye.AppendHeader(&sipmsg.CSeqHeader{SeqNo: 1, MethodName: sipmsg.BYE})
	bye.SetDestination(h.s.Addr().String())
	bye.SetTransport("UDP")
	res, err := p.cli.Do(ctx, bye)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("BYE: %v %v", res, err)
	}
	if cause := h.left(); !errors.Is(cause, ErrBye) {
		t.Errorf("left with %v", cause)
	}
}

func TestDialOutFailures(t *testing.T) {
	tests := []struct {
		code int
		want error
	}{
		{486, ErrBusy}, {600, ErrBusy}, {603, ErrDeclined}, {404, ErrUnknownTarget}, {480, ErrNoAnswer}, {500, ErrCallFailed},
		{401, ErrAuthFailed},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			h := newHarness(t, Config{})
			p := uasPeer(t, h, func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
				respond(tx, req, tc.code, nil, sipmsg.NewHeader("WWW-Authenticate", `Digest realm="x", nonce="n"`))
			})
			ctx, cancel := contextWithTimeout()
			defer cancel()
			_, err := h.s.Dialer().Dial(ctx, dialRequest(t, fmt.Sprintf("sip:room@127.0.0.1:%d", p.port)))
			var se *StatusError
			if !errors.Is(err, tc.want) || !errors.As(err, &se) || se.Status != tc.code {
				t.Fatalf("Dial: %v, want %v with status %d", err, tc.want, tc.code)
			}
			if l := h.leg(); l.Cause() == nil {
				t.Errorf("media leg left open")
			}
			if h.confs.count() != 0 {
				t.Errorf("a failed call joined")
			}
		})
	}
}

func TestDialOutDigest(t *testing.T) {
	h := newHarness(t, Config{Trunks: []Trunk{{Name: "carrier", Host: "127.0.0.1", Username: "carrier", Password: "s3cret"}}})
	p := uasPeer(t, h, func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		auth := req.GetHeader("Proxy-Authorization")
		if auth == nil {
			respond(tx, req, 407, nil, sipmsg.NewHeader("Proxy-Authenticate", `Digest realm="trunk", nonce="abc123", algorithm=MD5`))
			return
		}
		cred, err := digest.ParseCredentials(auth.Value())
		if err != nil {
			respond(tx, req, 400, nil)
			return
		}
		md := func(s string) string { b := md5.Sum([]byte(s)); return hex.EncodeToString(b[:]) }
		want := md(md("carrier:trunk:s3cret") + ":abc123:" + md("INVITE:"+cred.URI))
		if cred.Username != "carrier" || cred.Response != want || cred.URI != req.Recipient.String() {
			respond(tx, req, 403, nil)
			return
		}
		respond(tx, req, 200, offer(30004, ""))
	})
	ctx, cancel := contextWithTimeout()
	defer cancel()
	if _, err := h.s.Dialer().Dial(ctx, dialRequest(t, fmt.Sprintf("sip:room@127.0.0.1:%d", p.port))); err != nil {
		t.Fatal(err)
	}
	first, second := p.nextRequest(t, sipmsg.INVITE), p.nextRequest(t, sipmsg.INVITE)
	if first.CallID().Value() != second.CallID().Value() || second.CSeq().SeqNo != first.CSeq().SeqNo+1 {
		t.Errorf("challenge answered outside the call: %d then %d", first.CSeq().SeqNo, second.CSeq().SeqNo)
	}
}

func TestDialOutRedirect(t *testing.T) {
	h := newHarness(t, Config{})
	target := uasPeer(t, h, func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		respond(tx, req, 200, offer(30006, ""))
	})
	p := uasPeer(t, h, func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		res := sipmsg.NewResponseFromRequest(req, 302, "Moved", nil)
		res.AppendHeader(&sipmsg.ContactHeader{Address: sipmsg.Uri{Scheme: "sip", User: "elsewhere", Host: "127.0.0.1", Port: target.port}})
		_ = tx.Respond(res)
	})
	ctx, cancel := contextWithTimeout()
	defer cancel()
	if _, err := h.s.Dialer().Dial(ctx, dialRequest(t, fmt.Sprintf("sip:room@127.0.0.1:%d", p.port))); err != nil {
		t.Fatal(err)
	}
	if inv := target.nextRequest(t, sipmsg.INVITE); inv.Recipient.User != "elsewhere" {
		t.Errorf("redirected INVITE to %s", inv.Recipient.String())
	}
}

func TestDialOutRingTimeoutCancels(t *testing.T) {
	h := newHarness(t, Config{RingTimeout: 30 * time.Second})
	p := uasPeer(t, h, func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		respond(tx, req, 180, nil)
		<-tx.Done() // sipgo answers the CANCEL and the INVITE (487)
	})
	ctx, cancel := contextWithTimeout()
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := h.s.Dialer().Dial(ctx, dialRequest(t, fmt.Sprintf("sip:room@127.0.0.1:%d", p.port)))
		done <- err
	}()
	p.nextRequest(t, sipmsg.INVITE)
	leg := h.leg()
	// Wait for the ring timer (the fake clock holds it), then let it fire.
	for deadline := time.Now().Add(waitFor); h.clock.pending() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no ring timer")
		}
	}
	h.clock.Advance(30 * time.Second)
	select {
	case err := <-done:
		if !errors.Is(err, ErrNoAnswer) {
			t.Errorf("Dial: %v, want ErrNoAnswer", err)
		}
	case <-time.After(waitFor):
		t.Fatal("Dial did not return after the ring timeout")
	}
	if leg.Cause() == nil {
		t.Errorf("media leg left open")
	}
}

func TestDialOutRefusesWhatItCannotCall(t *testing.T) {
	h := newHarness(t, Config{})
	ctx, cancel := contextWithTimeout()
	defer cancel()
	for _, cs := range []string{"sips:room@127.0.0.1", "sip:room@127.0.0.1;transport=tls", "#sip:alice"} {
		if _, err := h.s.Dialer().Dial(ctx, dialRequest(t, cs)); !errors.Is(err, ErrNotSupported) && !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v", cs, err)
		}
	}
	if got := h.s.Dialer().Schemes(); strings.Join(got, ",") != "sip,sips" {
		t.Errorf("schemes %v", got)
	}
}

func TestWithoutTelephoneEvent(t *testing.T) {
	l := withoutTelephoneEvent(OfferLine(h264lessPrefs(t), 4000, dirSendRecv))
	for _, f := range l.Formats {
		if f == "101" || f == "102" {
			t.Errorf("formats %v", l.Formats)
		}
	}
	for _, a := range l.Attributes {
		if strings.Contains(a, "telephone-event") || strings.HasPrefix(a, "fmtp:101") {
			t.Errorf("attribute %q kept", a)
		}
	}
}

func h264lessPrefs(t *testing.T) []codec.Info {
	t.Helper()
	_, prefs, err := Config{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return prefs
}

func TestDialOutTelThroughTrunk(t *testing.T) {
	trunkPeer := func(h *harness) *peer {
		return uasPeer(t, h, func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
			respond(tx, req, 200, offer(30008, ""))
		})
	}
	h := newHarness(t, Config{})
	ctx, cancel := contextWithTimeout()
	defer cancel()
	if _, err := h.s.Dialer().Dial(ctx, dialRequest(t, "#tel:+15551234")); !errors.Is(err, ErrConfig) {
		t.Errorf("tel without a trunk: %v", err)
	}
	// The trunk's port is only known once its peer listens.
	probe := newHarness(t, Config{})
	p := trunkPeer(probe)
	h2 := newHarness(t, Config{Trunks: []Trunk{{Name: "carrier", Host: "127.0.0.1", Port: p.port, Username: "u", Password: "p"}}})
	p.server = h2.s.Addr().String()
	if got := strings.Join(h2.s.Dialer().Schemes(), ","); got != "sip,sips,tel" {
		t.Errorf("schemes %s", got)
	}
	if _, err := h2.s.Dialer().Dial(ctx, dialRequest(t, "#tel:+1-555-1234")); err != nil {
		t.Fatal(err)
	}
	inv := p.nextRequest(t, sipmsg.INVITE)
	if inv.Recipient.User != "+15551234" || inv.Recipient.Port != p.port {
		t.Errorf("INVITE %s", inv.Recipient.String())
	}
	if v, _ := inv.Recipient.UriParams.Get("user"); v != "phone" {
		t.Errorf("no user=phone in %s", inv.Recipient.String())
	}
}
