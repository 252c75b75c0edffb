package call

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/conf"
	"github.com/roomgate/roomgate/h323/h225"
	"github.com/roomgate/roomgate/h323/q931"
	"github.com/roomgate/roomgate/h323/ras"
	"github.com/roomgate/roomgate/h323/ras/rastest"
)

// stack is one Roomgate H.323 stack: its own bridge, conferences, digit
// hook and listener on loopback.
type stack struct {
	b      *bridge.Bridge
	confs  *fakeConfs
	digits digitSink
	s      *Server
}

func newStack(t *testing.T, cfg Config) *stack {
	t.Helper()
	st := &stack{b: newBridge(t), confs: newFakeConfs(), digits: make(digitSink, 32)}
	cfg.OnDigit = st.digits.hook
	st.s = startServer(t, BridgeMedia(st.b), st.confs, cfg)
	return st
}

func dialReq(t *testing.T, room, target string) conf.DialRequest {
	t.Helper()
	tg, err := conf.ParseCallString(target)
	if err != nil {
		t.Fatal(err)
	}
	return conf.DialRequest{ConferenceID: room, Target: tg, DisplayName: "Weekly meeting"}
}

// callOf returns the call behind a joined participant's leg.
func callOf(t *testing.T, p *fakeParticipant) *call {
	t.Helper()
	h, ok := p.req.Leg.(legHandle)
	if !ok {
		t.Fatalf("leg %T", p.req.Leg)
	}
	return h.c
}

// read runs f on c's loop.
func read[T any](t *testing.T, c *call, f func() T) T {
	t.Helper()
	var v T
	if err := c.doWait(context.Background(), func() { v = f() }); err != nil {
		t.Fatal(err)
	}
	return v
}

// One stack dials the other through conf.Dialer, in Fast Connect and,
// when the callee refuses it, slow start: the answered leg joins as a
// dialled leg, audio flows both ways in both bridges, and hang-up by conf
// releases both sides with normal clearing.
func TestDialerFastAndSlowStart(t *testing.T) {
	for _, tc := range []struct {
		name   string
		refuse bool
	}{{"fast start", false}, {"slow start fallback", true}} {
		t.Run(tc.name, func(t *testing.T) {
			callee := newStack(t, Config{RefuseFastStart: tc.refuse})
			caller := newStack(t, Config{Alias: "roomgate-a"})
			d := caller.s.Dialer()
			if got := d.Schemes(); len(got) != 1 || got[0] != conf.SchemeH323 {
				t.Fatalf("schemes %v", got)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res, err := d.Dial(ctx, dialReq(t, "out-room", "h323:4711@"+callee.s.Addr().String()))
			if err != nil {
				t.Fatal(err)
			}
			out := <-caller.confs.joins
			in := <-callee.confs.joins
			if res.ParticipantID != out.id || res.Remote != callee.s.Addr().String() {
				t.Errorf("result %+v", res)
			}
			dl, ok := out.req.Leg.(conf.DialledLeg)
			if !ok || !dl.Dialled() || out.req.ConferenceID != "out-room" || out.req.Protocol != "h323" ||
				out.req.DisplayName != "Roomgate" {
				t.Errorf("dialled join %+v", out.req)
			}
			if dl, ok := in.req.Leg.(conf.DialledLeg); !ok || dl.Dialled() {
				t.Error("the answered side counts as dialled")
			}
			if in.req.ConferenceID != "4711" || in.req.DisplayName != "Weekly meeting" {
				t.Errorf("callee join %+v", in.req)
			}
			oc, ic := callOf(t, out), callOf(t, in)
			if fs := read(t, oc, func() bool { return oc.fastStart }); fs == tc.refuse {
				t.Errorf("caller fast start %v with refusal %v", fs, tc.refuse)
			}
			st := waitPackets(t, "caller leg", out.req.Leg.Stats)
			sst := waitPackets(t, "callee leg", in.req.Leg.Stats)
			if st.Codec != "G722" || sst.Codec != "G722" || sst.Remote.Port() != uint16(st.LocalPort) {
				t.Errorf("caller %+v callee %+v", st, sst)
			}
			out.req.Leg.Hangup(errors.New("moderator hung up"))
			<-ic.done
			var ce *CauseError
			if cause := <-callee.confs.leaves; !errors.As(cause, &ce) || ce.Cause != q931.CauseNormalClearing {
				t.Errorf("callee leave cause %v", cause)
			}
			if cause := <-caller.confs.leaves; cause == nil || cause.Error() != "moderator hung up" {
				t.Errorf("caller leave cause %v", cause)
			}
			<-oc.done
		})
	}
}

// A callee's refusals come back as the errors conf reports, and the
// released call leaves nothing behind.
func TestDialerFailures(t *testing.T) {
	callee := newStack(t, Config{})
	caller := newStack(t, Config{RingTimeout: 5 * time.Second})
	d := caller.s.Dialer()
	for _, tc := range []struct {
		id   string
		want error
	}{{"486486", ErrBusy}, {"403403", ErrDeclined}, {"404404", ErrUnknownTarget}} {
		_, err := d.Dial(context.Background(), dialReq(t, "r", "h323:"+tc.id+"@"+callee.s.Addr().String()))
		if !errors.Is(err, tc.want) || !errors.Is(err, ErrRejected) {
			t.Errorf("%s: %v, want %v", tc.id, err, tc.want)
		}
	}
	// Nobody listens there.
	ln := callee.s.Addr()
	dead := netip.AddrPortFrom(ln.Addr(), 1)
	if _, err := d.Dial(context.Background(), dialReq(t, "r", "h323:1@"+dead.String())); !errors.Is(err, ErrUnreachable) {
		t.Errorf("unreachable: %v", err)
	}
	// An alias without a host needs a gatekeeper.
	if _, err := d.Dial(context.Background(), dialReq(t, "r", "#h323:4711")); !errors.Is(err, ErrNoRoute) {
		t.Errorf("no gatekeeper: %v", err)
	}
	// The conference refuses the answered call: it is released with the join cause.
	caller.confs.mu.Lock()
	caller.confs.errs["full-room"] = conf.ErrFull
	caller.confs.mu.Unlock()
	_, err := d.Dial(context.Background(), dialReq(t, "full-room", "h323:4711@"+callee.s.Addr().String()))
	var ce *CauseError
	if !errors.As(err, &ce) || ce.Cause != q931.CauseUserBusy || !errors.Is(err, conf.ErrFull) {
		t.Errorf("refused join: %v", err)
	}
	<-callee.confs.joins
	if cause := <-callee.confs.leaves; !errors.As(cause, &ce) || ce.Cause != q931.CauseUserBusy {
		t.Errorf("callee's leave cause %v", cause)
	}
	if caller.confs.count() != 0 || callee.confs.count() != 0 {
		t.Error("participants left behind")
	}
	caller.s.Close()
	if _, err := d.Dial(context.Background(), dialReq(t, "r", "h323:4711@"+callee.s.Addr().String())); !errors.Is(err, ErrClosed) {
		t.Errorf("closed server: %v", err)
	}
}

// gkStack is a stack registered with the test gatekeeper, wired as cmd
// wires it: the RAS client is made first and given to the server, then
// told the listener's address once it is bound, then started.
func gkStack(t *testing.T, gk *rastest.Gatekeeper, cfg Config, alias string, ids ...string) (*stack, *ras.Client) {
	t.Helper()
	c, err := ras.New(ras.Config{Gatekeeper: gk.Addr().String(), Alias: alias,
		Listen: "127.0.0.1:0", MinBackoff: 50 * time.Millisecond}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	c.SetAliases(ids)
	cfg.Gatekeeper, cfg.Alias = c, alias
	st := newStack(t, cfg)
	if err := c.SetCallSignal(st.s.Addr()); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil { // Start's ctx is the client's lifetime
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() }) // before the server's Close: cleanups run last-in first-out
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitRegistered(ctx); err != nil {
		t.Fatal(err)
	}
	return st, c
}

// Both stacks registered with the test gatekeeper: a call by alias alone
// is admitted (ARQ/ACF on both sides) and routed to the callee; the
// gatekeeper's IRQ lists it; DRQ follows the hang-up on both sides; the
// gatekeeper's URQ is confirmed and the callee registers again.
func TestGatekeeperRoutedCall(t *testing.T) {
	gk, err := rastest.Listen("127.0.0.1:0", rastest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gk.Close() }) // after the clients' URQs
	callee, calleeRAS := gkStack(t, gk, Config{}, "roomgate-b", "4711")
	caller, callerRAS := gkStack(t, gk, Config{}, "roomgate-a")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := caller.s.Dialer().Dial(ctx, dialReq(t, "out", "#h323:4711")); err != nil {
		t.Fatalf("%v (registered: %+v)", err, gk.Endpoints())
	}
	out, in := <-caller.confs.joins, <-callee.confs.joins
	if in.req.ConferenceID != "4711" {
		t.Errorf("callee joined %q", in.req.ConferenceID)
	}
	var arqs []*h225.RAS
	for len(arqs) < 2 {
		r := <-gk.Received()
		if r.Msg.Kind == "admissionRequest" {
			arqs = append(arqs, r.Msg)
		}
	}
	if arqs[0].AnswerCall || !arqs[1].AnswerCall || arqs[0].CallID != arqs[1].CallID ||
		len(arqs[0].DestAliases) == 0 || arqs[0].DestAliases[0].Value != "4711" ||
		len(arqs[1].Aliases) != 1 || arqs[1].Aliases[0] != h225.H323ID("roomgate-a") {
		t.Errorf("ARQs %+v / %+v", arqs[0], arqs[1])
	}
	waitPackets(t, "caller leg", out.req.Leg.Stats)
	irr, err := gk.InfoRequest(callerRAS.State().EndpointID, 5*time.Second)
	if err != nil || irr.Kind != "infoRequestResponse" {
		t.Errorf("IRQ: %+v %v", irr, err)
	}
	out.req.Leg.Hangup(nil)
	<-caller.confs.leaves
	<-callee.confs.leaves
	var drqs []*h225.RAS
	for len(drqs) < 2 {
		select {
		case r := <-gk.Received():
			if r.Msg.Kind == "disengageRequest" {
				drqs = append(drqs, r.Msg)
			}
		case <-ctx.Done():
			t.Fatalf("DRQs seen: %d", len(drqs))
		}
	}
	if drqs[0].CallID != arqs[0].CallID || drqs[1].CallID != arqs[0].CallID || drqs[0].AnswerCall == drqs[1].AnswerCall {
		t.Errorf("DRQs %+v / %+v", drqs[0], drqs[1])
	}
	// The gatekeeper unregisters the callee: UCF, then a new registration.
	m, err := gk.Unregister(calleeRAS.State().EndpointID, "maintenance", 5*time.Second)
	if err != nil || m.Kind != "unregistrationConfirm" {
		t.Fatalf("URQ: %+v %v", m, err)
	}
	if err := calleeRAS.WaitRegistered(ctx); err != nil {
		t.Fatal(err)
	}
	if e, ok := gk.Lookup("4711"); !ok || e.CallSignal[0] != callee.s.Addr() {
		t.Errorf("4711 resolves to %+v %v after re-registration", e, ok)
	}
	// The gatekeeper ends a call (its DRQ): both sides release it.
	if _, err := caller.s.Dialer().Dial(ctx, dialReq(t, "out", "#h323:4711")); err != nil {
		t.Fatal(err)
	}
	<-caller.confs.joins
	in = <-callee.confs.joins
	var arq *h225.RAS
	for arq == nil {
		if r := <-gk.Received(); r.Msg.Kind == "admissionRequest" && r.Msg.AnswerCall {
			arq = r.Msg
		}
	}
	m, err = gk.Disengage(calleeRAS.State().EndpointID, arq.CallRef, arq.CallID, arq.ConferenceID, 5*time.Second)
	if err != nil || m.Kind != "disengageConfirm" {
		t.Fatalf("gatekeeper DRQ: %+v %v", m, err)
	}
	if cause := <-callee.confs.leaves; !errors.Is(cause, ErrDropped) {
		t.Errorf("callee's leave cause %v", cause)
	}
	if cause := <-caller.confs.leaves; !errors.Is(cause, ErrReleased) {
		t.Errorf("caller's leave cause %v", cause)
	}
	// An alias nobody registered: ARJ, reported as an unknown target.
	if _, err := caller.s.Dialer().Dial(ctx, dialReq(t, "out", "#h323:999")); !errors.Is(err, ErrUnknownTarget) {
		t.Errorf("unknown alias: %v", err)
	}
}

// Digits sent as H.245 UserInputIndication and as RFC 2833 events (the
// capability negotiated in both TCSs) reach the callee's hook once each;
// a press sent both ways at once counts once.
func TestDigitsUIIAndRFC2833(t *testing.T) {
	callee := newStack(t, Config{})
	caller := newStack(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := caller.s.Dialer().Dial(ctx, dialReq(t, "out", "h323:4711@"+callee.s.Addr().String())); err != nil {
		t.Fatal(err)
	}
	out, in := <-caller.confs.joins, <-callee.confs.joins
	oc, ic := callOf(t, out), callOf(t, in)
	// Telephone events are negotiated by the TCS exchange that follows Fast Connect.
	for read(t, oc, func() int { return oc.eventPT }) != eventPayloadType ||
		read(t, ic, func() int { return ic.eventPT }) != eventPayloadType {
		select {
		case <-ctx.Done():
			t.Fatal("telephone-event never negotiated")
		case <-time.After(5 * time.Millisecond):
		}
	}
	events, ok := oc.leg.(interface{ SendDigits(string) error })
	if !ok {
		t.Fatalf("leg %T sends no telephone events", oc.leg)
	}
	expect := func(want rune, source string) {
		t.Helper()
		select {
		case d := <-callee.digits:
			if d.Digit != want || (source != "" && d.Source != source) || d.Conference != "4711" || d.Participant != in.id {
				t.Errorf("digit %+v, want %c from %s", d, want, source)
			}
		case <-ctx.Done():
			t.Fatalf("digit %c never arrived", want)
		}
	}
	if err := events.SendDigits("5"); err != nil {
		t.Fatal(err)
	}
	expect('5', "rfc2833")
	// conf sends digits through the leg it holds (conf.DigitSender).
	if err := out.req.Leg.(conf.DigitSender).SendDigits("7"); err != nil {
		t.Fatal(err)
	}
	expect('7', "uii")
	// The same press both ways: one digit.
	if err := (&Call{c: oc}).SendDigits(ctx, "9"); err != nil {
		t.Fatal(err)
	}
	if err := events.SendDigits("9"); err != nil {
		t.Fatal(err)
	}
	expect('9', "") // whichever method came first
	// The next distinct press proves the copy of 9 was collapsed, not late.
	if err := (&Call{c: oc}).SendDigits(ctx, "#"); err != nil {
		t.Fatal(err)
	}
	expect('#', "uii")
	select {
	case d := <-callee.digits:
		t.Errorf("extra digit %+v", d)
	case <-time.After(300 * time.Millisecond):
	}
	if st := ic.keys.Stats(); st.Accepted != 4 || st.Duplicates != 1 {
		t.Errorf("callee's DTMF stream %+v", st)
	}
}

// Post-dial digits of the call string go to the callee after the join.
func TestDialerPostdial(t *testing.T) {
	callee := newStack(t, Config{})
	caller := newStack(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := dialReq(t, "out", "h323:4711@"+callee.s.Addr().String()+";postd=12#")
	if req.Target.Postdial == "" {
		t.Fatalf("call string parsed without post-dial digits: %+v", req.Target)
	}
	if _, err := caller.s.Dialer().Dial(ctx, req); err != nil {
		t.Fatal(err)
	}
	var got []rune
	for len(got) < 3 {
		select {
		case d := <-callee.digits:
			got = append(got, d.Digit)
		case <-ctx.Done():
			t.Fatalf("post-dial digits received: %q (target %+v)", string(got), req.Target)
		}
	}
	if string(got) != "12#" {
		t.Errorf("post-dial digits %q", string(got))
	}
}

// A call that reaches a registered stack directly is admitted with
// ARQ answerCall; the gatekeeper's refusal releases it with cause 21.
func TestGatekeeperRefusesIncoming(t *testing.T) {
	gk, err := rastest.Listen("127.0.0.1:0", rastest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gk.Close() })
	callee, _ := gkStack(t, gk, Config{}, "roomgate-b", "4711")
	gk.RejectNext("admissionRequest", "requestDenied")
	_, err = Dial(context.Background(), "h323:4711@"+callee.s.Addr().String(),
		DialOptions{Media: &fakeMedia{}, Room: "r", FastStart: true, Tunnelling: true})
	var ce *CauseError
	if !errors.As(err, &ce) || ce.Cause != q931.CauseCallRejected || !errors.Is(err, ErrDeclined) {
		t.Errorf("Dial error %v", err)
	}
	if callee.confs.count() != 0 || gk.Count("admissionRequest") != 1 || gk.Count("disengageRequest") != 0 {
		t.Errorf("joined %d, ARQ %d, DRQ %d", callee.confs.count(), gk.Count("admissionRequest"), gk.Count("disengageRequest"))
	}
}

// "#h323:@ip" names no alias: the callee puts the call in its default
// conference (or releases it as unallocated without one).
func TestDialerAddressOnly(t *testing.T) {
	callee := newStack(t, Config{DefaultConference: "lobby"})
	caller := newStack(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := caller.s.Dialer().Dial(ctx, dialReq(t, "out", "#h323:@"+callee.s.Addr().String())); err != nil {
		t.Fatal(err)
	}
	if in := <-callee.confs.joins; in.req.ConferenceID != "lobby" {
		t.Errorf("callee joined %q", in.req.ConferenceID)
	}
	// Without a default conference the callee's lobby answers.
	bare := newStack(t, Config{})
	if _, err := caller.s.Dialer().Dial(ctx, dialReq(t, "out", "#h323:@"+bare.s.Addr().String())); err != nil {
		t.Errorf("no default conference: %v, want the lobby to answer", err)
	}
}
