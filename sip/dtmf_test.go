package sip

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/bridge/dtmf"
)

// digitRecorder collects what Config.OnDigit hands out.
type digitRecorder chan DigitEvent

func (r digitRecorder) onDigit(ev DigitEvent) {
	select {
	case r <- ev:
	default:
		panic("digit recorder full: OnDigit would have blocked")
	}
}

// next waits for the next delivered digit.
func (r digitRecorder) next(t *testing.T) DigitEvent {
	t.Helper()
	select {
	case ev := <-r:
		return ev
	case <-time.After(waitFor):
		t.Fatal("no digit delivered")
		return DigitEvent{}
	}
}

// none checks that nothing more was delivered. Every delivery happens before
// the request that caused it is answered, so after the answer there is
// nothing to wait for.
func (r digitRecorder) none(t *testing.T) {
	t.Helper()
	select {
	case ev := <-r:
		t.Errorf("unexpected digit %q from %v", ev.Digit, ev.Source)
	default:
	}
}

func newDTMFHarness(t *testing.T) (*harness, digitRecorder) {
	t.Helper()
	rec := make(digitRecorder, 256)
	return newHarness(t, Config{OnDigit: rec.onDigit}), rec
}

// info sends an in-dialog INFO with ct and body and returns the answer.
func (d *dialog) info(ct, body string) *sipmsg.Response {
	d.p.t.Helper()
	d.cseq++
	req := d.newRequest(sipmsg.INFO, d.cseq, nil)
	if ct != "" {
		req.AppendHeader(sipmsg.NewHeader("Content-Type", ct))
	}
	req.SetBody([]byte(body))
	return d.p.mustDo(req)
}

// callOf returns the server's call of d.
func (h *harness) callOf(d *dialog) *call {
	h.t.Helper()
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	c := h.s.calls[dialogKey(d.invite.CallID().Value(), mustTag(d.res))]
	if c == nil {
		h.t.Fatal("call is gone")
	}
	return c
}

// dtmfMetric reads roomgate_sip_dtmf_total{source,verdict}.
func dtmfMetric(t *testing.T, h *harness, source, verdict string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "roomgate_sip_dtmf_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var src, v string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "source":
					src = l.GetValue()
				case "verdict":
					v = l.GetValue()
				}
			}
			if src == source && v == verdict {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no roomgate_sip_dtmf_total{source=%q,verdict=%q}", source, verdict)
	return 0
}

func TestInfoDeliversDigits(t *testing.T) {
	h, rec := newDTMFHarness(t)
	p := newPeer(t, h.s.Addr().String(), "udp")
	d, _, _ := answered(t, h, p)
	part := <-h.confs.joins

	for _, tc := range []struct {
		ct, body string
		want     rune
	}{
		{"application/dtmf-relay", "Signal=5\r\nDuration=160\r\n", '5'},
		{"application/dtmf-relay", "Signal= *\r\n", '*'},
		{"Application/DTMF-Relay; charset=utf-8", "signal=11\nduration=100\n", '#'},
		{"application/dtmf", "a", 'A'},
		{"application/dtmf", "0\r\n", '0'},
		{"application/dtmf", "5", '5'}, // the same key again is a new press
	} {
		if res := d.info(tc.ct, tc.body); res.StatusCode != 200 {
			t.Fatalf("INFO %s %q answered %d %s, want 200", tc.ct, tc.body, res.StatusCode, res.Reason)
		}
		ev := rec.next(t)
		if ev.Digit != tc.want || ev.Source != dtmf.SourceINFO {
			t.Errorf("INFO %s %q delivered %q from %v, want %q from info", tc.ct, tc.body, ev.Digit, ev.Source, tc.want)
		}
		if ev.CallID != d.invite.CallID().Value() || ev.ConferenceID != "1000" || ev.ParticipantID != part.ID() ||
			!ev.At.Equal(h.clock.Now()) {
			t.Errorf("digit event %+v: want call %s, conference 1000, participant %s, at %v",
				ev, d.invite.CallID().Value(), part.ID(), h.clock.Now())
		}
	}
	rec.none(t)
	if got := dtmfMetric(t, h, "info", "accepted"); got != 6 {
		t.Errorf("accepted INFO digits counted %v, want 6", got)
	}
	d.do(sipmsg.BYE, nil)
	h.left()
}

func TestInfoBadBodies(t *testing.T) {
	h, rec := newDTMFHarness(t)
	p := newPeer(t, h.s.Addr().String(), "udp")
	d, _, _ := answered(t, h, p)

	for _, tc := range []struct {
		ct, body string
		want     int
		reason   string // part of the reason phrase
	}{
		{"application/dtmf-relay", "Signal=X\r\n", 400, "not a DTMF digit"},
		{"application/dtmf-relay", "Duration=100\r\n", 400, "Bad Request"},
		{"application/dtmf-relay", "Signal=5\r\nDuration=-3\r\n", 400, "duration"},
		{"application/dtmf-relay", "Signal 5\r\n", 400, "no '='"},
		{"application/dtmf", "55", 400, "Bad Request"},
		{"application/dtmf", strings.Repeat("5", 5000), 400, "too large"},
		{"text/plain", "5", 415, "Unsupported Media Type"},
		{"application/media_control+xml", "<media_control>", 400, "media_control"},
		{"", "Signal=5\r\n", 415, "Unsupported Media Type"},
	} {
		res := d.info(tc.ct, tc.body)
		if res.StatusCode != tc.want || !strings.Contains(strings.ToLower(res.Reason), strings.ToLower(tc.reason)) {
			t.Errorf("INFO %q %.40q answered %d %q, want %d with %q", tc.ct, tc.body, res.StatusCode, res.Reason, tc.want, tc.reason)
		}
		if tc.want == 415 {
			a := res.GetHeader("Accept")
			if a == nil || !strings.Contains(a.Value(), "application/dtmf-relay") || !strings.Contains(a.Value(), "application/dtmf,") &&
				!strings.HasSuffix(a.Value(), "application/dtmf") {
				t.Errorf("415 Accept %v, want both DTMF body types", a)
			}
		}
		if strings.ContainsAny(res.Reason, "\r\n") {
			t.Errorf("reason phrase %q carries a line break", res.Reason)
		}
	}
	// An INFO without a body is a keep-alive.
	if res := d.info("", ""); res.StatusCode != 200 {
		t.Errorf("empty INFO answered %d, want 200", res.StatusCode)
	}
	rec.none(t)
	if got := dtmfMetric(t, h, "info", "garbage"); got != 6 {
		t.Errorf("garbage INFO counted %v, want 6", got)
	}
	// The call survived all of it.
	if res := d.info("application/dtmf", "9"); res.StatusCode != 200 {
		t.Fatalf("INFO after bad ones answered %d", res.StatusCode)
	}
	if ev := rec.next(t); ev.Digit != '9' {
		t.Errorf("delivered %q, want 9", ev.Digit)
	}
	d.do(sipmsg.BYE, nil)
	h.left()
}

// A phone sending each press both as RFC 4733 and as INFO: one digit.
func TestDTMFBothMethodsDeliveredOnce(t *testing.T) {
	h, rec := newDTMFHarness(t)
	p := newPeer(t, h.s.Addr().String(), "udp")
	d, leg, _ := answered(t, h, p)
	rfc := func(digit rune) {
		leg.opts.OnEvent(bridge.Event{Kind: bridge.EventDTMF, Digit: digit, At: time.Now()})
	}

	// RTP first, INFO trailing within the window.
	rfc('7')
	if ev := rec.next(t); ev.Digit != '7' || ev.Source != dtmf.SourceRFC4733 {
		t.Errorf("RFC 4733 digit delivered as %q from %v", ev.Digit, ev.Source)
	}
	h.clock.Advance(dtmf.DefaultDedupWindow / 2)
	if res := d.info("application/dtmf-relay", "Signal=7\r\nDuration=100\r\n"); res.StatusCode != 200 {
		t.Fatalf("INFO answered %d", res.StatusCode)
	}
	rec.none(t)

	// INFO first, RTP trailing.
	h.clock.Advance(time.Second)
	d.info("application/dtmf", "3")
	if ev := rec.next(t); ev.Digit != '3' || ev.Source != dtmf.SourceINFO {
		t.Errorf("INFO digit delivered as %q from %v", ev.Digit, ev.Source)
	}
	rfc('3')
	rec.none(t)

	// Outside the window the same key by the other method is a new press.
	h.clock.Advance(dtmf.DefaultDedupWindow + time.Millisecond)
	rfc('3')
	if ev := rec.next(t); ev.Digit != '3' || ev.Source != dtmf.SourceRFC4733 {
		t.Errorf("later RFC 4733 press delivered as %q from %v", ev.Digit, ev.Source)
	}
	if got := dtmfMetric(t, h, "info", "duplicate"); got != 1 {
		t.Errorf("duplicate INFO digits %v, want 1", got)
	}
	if got := dtmfMetric(t, h, "rfc4733", "duplicate"); got != 1 {
		t.Errorf("duplicate RFC 4733 digits %v, want 1", got)
	}
	if got := dtmfMetric(t, h, "rfc4733", "accepted"); got != 2 {
		t.Errorf("accepted RFC 4733 digits %v, want 2", got)
	}

	// After hang-up the leg's late events go nowhere.
	d.do(sipmsg.BYE, nil)
	h.left()
	rfc('9')
	rec.none(t)
}

func TestInfoFloodLimited(t *testing.T) {
	h, rec := newDTMFHarness(t)
	p := newPeer(t, h.s.Addr().String(), "udp")
	d, _, _ := answered(t, h, p)
	c := h.callOf(d)

	// Time stands still: the INFO bucket lets infoBurst requests be read,
	// and the digit stream takes its own burst of them.
	const sent = infoBurst + 25
	for i := 0; i < sent; i++ {
		if res := d.info("application/dtmf", string(dtmf.Digits[i%len(dtmf.Digits)])); res.StatusCode != 200 {
			t.Fatalf("INFO %d of a flood answered %d, want 200", i, res.StatusCode)
		}
	}
	delivered := 0
	for len(rec) > 0 {
		<-rec
		delivered++
	}
	if delivered != dtmf.DefaultBurst {
		t.Errorf("%d digits of a flood delivered, want the stream's burst of %d", delivered, dtmf.DefaultBurst)
	}
	if st := c.dtmf.digits.Stats(); st.Accepted+st.Limited != infoBurst {
		t.Errorf("digit stream saw %d INFO digits (%+v), want the INFO burst of %d", st.Accepted+st.Limited, st, infoBurst)
	}
	if got := dtmfMetric(t, h, "info", "limited"); got != sent-dtmf.DefaultBurst {
		t.Errorf("limited INFO counted %v, want %d", got, sent-dtmf.DefaultBurst)
	}
	// Once the flood stops, digits flow again.
	h.clock.Advance(5 * time.Second)
	d.info("application/dtmf", "#")
	if ev := rec.next(t); ev.Digit != '#' {
		t.Errorf("after the flood delivered %q, want #", ev.Digit)
	}
	d.do(sipmsg.BYE, nil)
	h.left()
}

func TestTokenBucket(t *testing.T) {
	b := tokenBucket{rate: 10, burst: 3}
	t0 := time.Unix(1000, 0)
	for i := 0; i < 3; i++ {
		if !b.take(t0) {
			t.Fatalf("take %d of a full bucket refused", i)
		}
	}
	if b.take(t0) {
		t.Fatal("empty bucket gave a token")
	}
	if b.take(t0.Add(50 * time.Millisecond)) {
		t.Error("half a token taken")
	}
	if !b.take(t0.Add(100 * time.Millisecond)) {
		t.Error("refilled token refused")
	}
	// A long pause refills up to the burst, not beyond.
	t1 := t0.Add(time.Hour)
	n := 0
	for b.take(t1) {
		n++
	}
	if n != 3 {
		t.Errorf("after a pause %d tokens, want the burst of 3", n)
	}
	// Time going backwards refills nothing.
	if b.take(t0) {
		t.Error("token taken from the past")
	}
}

func TestInfoOutsideDialog481(t *testing.T) {
	h, rec := newDTMFHarness(t)
	p := newPeer(t, h.s.Addr().String(), "udp")
	uri := sipmsg.Uri{Scheme: "sip", User: "1000", Host: "127.0.0.1", Port: int(h.s.Addr().Port())}
	for _, tag := range []string{"", "nosuchdialog"} {
		req := sipmsg.NewRequest(sipmsg.INFO, uri)
		req.SetTransport("UDP")
		if tag != "" {
			to := &sipmsg.ToHeader{Address: uri, Params: sipmsg.NewParams()}
			to.Params.Add("tag", tag)
			req.AppendHeader(to)
		}
		req.AppendHeader(sipmsg.NewHeader("Content-Type", "application/dtmf-relay"))
		req.SetBody([]byte("Signal=1\r\n"))
		if res := p.mustDo(req); res.StatusCode != 481 {
			t.Errorf("INFO with To tag %q answered %d, want 481", tag, res.StatusCode)
		}
	}
	// INFO after the call ended.
	d, _, _ := answered(t, h, p)
	d.do(sipmsg.BYE, nil)
	h.left()
	if res := d.info("application/dtmf", "1"); res.StatusCode != 481 {
		t.Errorf("INFO after BYE answered %d, want 481", res.StatusCode)
	}
	rec.none(t)
}

// offerNoEvents is a G.711 offer without telephone-event.
func offerNoEvents(port int) []byte {
	return []byte("v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio " + strconv.Itoa(port) + " RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=ptime:20\r\n")
}

// answeredWith runs INVITE → 200 → ACK with the given offer.
func answeredWith(t *testing.T, h *harness, p *peer, sdp []byte, hdrs ...sipmsg.Header) (*dialog, *fakeLeg) {
	t.Helper()
	d := p.call(p.newInvite("1000", sdp, hdrs...))
	if d.res.StatusCode != 200 {
		t.Fatalf("INVITE answered %d %s, want 200", d.res.StatusCode, d.res.Reason)
	}
	d.ack(nil)
	leg := h.leg()
	leg.next(t)
	h.waitConfirmed(d)
	return d, leg
}

func TestSendDTMFByInfo(t *testing.T) {
	h, _ := newDTMFHarness(t)
	p := newPeer(t, h.s.Addr().String(), "udp")
	d, _ := answeredWith(t, h, p, offerNoEvents(30000))
	callID := d.invite.CallID().Value()

	base := h.clock.pending()
	done := make(chan error, 1)
	go func() { done <- h.s.SendDTMF(callID, "1#a") }()
	for i, want := range []rune{'1', '#', 'A'} {
		if i > 0 {
			// The next press waits for the pause between presses.
			h.waitTimers(base + 1)
			h.clock.Advance(sendDuration + sendPause)
		}
		req := p.request(sipmsg.INFO)
		ct := req.ContentType()
		if ct == nil {
			t.Fatalf("INFO %d without Content-Type", i)
		}
		got, err := dtmf.ParseInfo(ct.Value(), req.Body())
		if err != nil || got.Digit != want || got.Duration != sendDuration || ct.Value() != dtmf.ContentTypeRelay {
			t.Errorf("INFO %d: %s %q read as %+v, %v; want %q for %v", i, ct.Value(), req.Body(), got, err, want, sendDuration)
		}
		if tag, _ := req.From().Params.Get("tag"); tag != mustTag(d.res) || req.CallID().Value() != callID {
			t.Errorf("INFO %d is not in the call's dialog: From tag %q, Call-ID %s", i, tag, req.CallID().Value())
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("SendDTMF: %v", err)
		}
	case <-time.After(waitFor):
		t.Fatal("SendDTMF did not return")
	}

	// A peer that refuses INFO.
	p.answerWith(func(req *sipmsg.Request) (int, []byte) {
		if req.Method == sipmsg.INFO {
			return 489, nil
		}
		return 200, nil
	})
	err := h.s.SendDTMF(callID, "5")
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 489 {
		t.Errorf("SendDTMF to a peer answering 489: %v, want a StatusError 489", err)
	}
	p.answerWith(nil)

	for _, tc := range []struct {
		call, digits string
		want         error
	}{
		{callID, "", dtmf.ErrDigit},
		{callID, "12x", dtmf.ErrDigit},
		{callID, strings.Repeat("1", maxSendDigits+1), ErrNotSupported},
		{"no-such-call", "1", ErrNoSuchCall},
	} {
		if err := h.s.SendDTMF(tc.call, tc.digits); !errors.Is(err, tc.want) {
			t.Errorf("SendDTMF(%q, %.10q) = %v, want %v", tc.call, tc.digits, err, tc.want)
		}
	}
	d.do(sipmsg.BYE, nil)
	h.left()
	if err := h.s.SendDTMF(callID, "1"); !errors.Is(err, ErrNoSuchCall) {
		t.Errorf("SendDTMF after BYE: %v, want ErrNoSuchCall", err)
	}
}

// waitTimers waits until at least n timers are armed on the fake clock.
func (h *harness) waitTimers(n int) {
	h.t.Helper()
	for deadline := time.Now().Add(waitFor); h.clock.pending() < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			h.t.Fatalf("%d timers armed, want %d", h.clock.pending(), n)
		}
	}
}

func TestSendDTMFNotSupported(t *testing.T) {
	h, _ := newDTMFHarness(t)
	p := newPeer(t, h.s.Addr().String(), "udp")

	// telephone-event negotiated: digits go as RFC 4733 events in RTP.
	d, leg, _ := answered(t, h, p)
	if err := h.s.SendDTMF(d.invite.CallID().Value(), "1#"); err != nil {
		t.Errorf("SendDTMF with telephone-event: %v", err)
	}
	if ops := leg.recorded(); !slices.Contains(ops, "send 1#") {
		t.Errorf("media leg calls %q, want the digits sent as events", ops)
	}
	d.do(sipmsg.BYE, nil)
	h.left()

	// No INFO in the peer's Allow.
	d, _ = answeredWith(t, h, p, offerNoEvents(30000), sipmsg.NewHeader("Allow", "INVITE, ACK, BYE, CANCEL"))
	if err := h.s.SendDTMF(d.invite.CallID().Value(), "1"); !errors.Is(err, ErrNotSupported) ||
		!strings.Contains(err.Error(), "Allow") {
		t.Errorf("SendDTMF without INFO allowed: %v, want ErrNotSupported naming Allow", err)
	}
	d.do(sipmsg.BYE, nil)
	h.left()
}

// SendDTMF in progress when the call ends returns the call's cause.
func TestSendDTMFCallEnds(t *testing.T) {
	h, _ := newDTMFHarness(t)
	p := newPeer(t, h.s.Addr().String(), "udp")
	d, _ := answeredWith(t, h, p, offerNoEvents(30000))
	base := h.clock.pending()
	done := make(chan error, 1)
	go func() { done <- h.s.SendDTMF(d.invite.CallID().Value(), "12") }()
	p.request(sipmsg.INFO)
	h.waitTimers(base + 1) // pausing before the second press
	d.do(sipmsg.BYE, nil)
	h.left()
	select {
	case err := <-done:
		if !errors.Is(err, ErrBye) {
			t.Errorf("SendDTMF on a call hung up: %v, want ErrBye", err)
		}
	case <-time.After(waitFor):
		t.Fatal("SendDTMF did not return when the call ended")
	}
}

// Counting a digit and passing it on allocates nothing.
func BenchmarkPushDigit(b *testing.B) {
	var got int
	c := newOfflineCall(b, func(DigitEvent) { got++ })
	st, err := dtmf.NewStream(dtmf.StreamConfig{Rate: 1_000_000, Burst: 1_000_000})
	if err != nil {
		b.Fatal(err)
	}
	c.dtmf.digits = st
	at := time.Unix(1_700_000_000, 0)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		at = at.Add(time.Second) // each report a new press
		src := dtmf.SourceRFC4733
		if i&1 == 1 {
			src = dtmf.SourceINFO
		}
		c.pushDigit(rune(dtmf.Digits[i&15]), src, at)
	}
	if got == 0 {
		b.Fatal("no digit delivered")
	}
}

// recordingTx is a server transaction that keeps the responses sent on it.
type recordingTx struct {
	sipmsg.ServerTransaction
	res []*sipmsg.Response
}

func (tx *recordingTx) Respond(res *sipmsg.Response) error {
	tx.res = append(tx.res, res)
	return nil
}

// newOfflineCall is a confirmed call with no sockets, for fuzzing and
// benchmarks of its handlers.
func newOfflineCall(tb testing.TB, onDigit func(DigitEvent)) *call {
	tb.Helper()
	m, err := newMetrics(nil)
	if err != nil {
		tb.Fatal(err)
	}
	s := &Server{m: m, clock: newFakeClock(), log: discardLogger(), cfg: Config{UserAgent: "Roomgate", OnDigit: onDigit}}
	c := &call{s: s, log: discardLogger(), callID: "offline", confID: "1000", part: &fakeParticipant{id: "p1"},
		state: stateConfirmed}
	c.ctx, c.cancel = context.WithCancelCause(context.Background())
	tb.Cleanup(func() { c.cancel(nil) })
	return c
}

// INFO with any Content-Type and body is answered 200, 400 or 415, with a
// clean reason phrase, and yields at most one digit, only when answered 200.
func FuzzInfoRequest(f *testing.F) {
	f.Add("application/dtmf-relay", []byte("Signal=5\r\nDuration=160\r\n"))
	f.Add("application/dtmf-relay", []byte("Signal=11\r\n"))
	f.Add("application/dtmf-relay", []byte("Signal=5\r\nDuration=99999999999999\r\n"))
	f.Add("application/dtmf-relay; x=\"y\"", []byte("Duration=1\r\nSignal\r\n"))
	f.Add("application/dtmf", []byte("#"))
	f.Add("application/dtmf", []byte("\x00\xff"))
	f.Add("application/media_control+xml", []byte("<media_control/>"))
	f.Add("", []byte("5"))
	f.Add(";;;", []byte("5"))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		var got []DigitEvent
		c := newOfflineCall(t, func(ev DigitEvent) { got = append(got, ev) })
		req := sipmsg.NewRequest(sipmsg.INFO, sipmsg.Uri{Scheme: "sip", User: "1000", Host: "127.0.0.1"})
		if ct != "" {
			req.AppendHeader(sipmsg.NewHeader("Content-Type", ct))
		}
		req.SetBody(body)
		if err := c.initDTMF(req); err != nil {
			t.Fatal(err)
		}
		tx := &recordingTx{}
		c.handleInfo(req, tx)
		if len(tx.res) != 1 {
			t.Fatalf("%d responses, want 1", len(tx.res))
		}
		res := tx.res[0]
		switch res.StatusCode {
		case 200:
		case 400:
			if len(got) > 0 {
				t.Fatalf("400 delivered %v", got)
			}
		case 415:
			if a := res.GetHeader("Accept"); a == nil || a.Value() != infoAccept || len(got) > 0 {
				t.Fatalf("415 with Accept %v, delivered %v", a, got)
			}
		default:
			t.Fatalf("INFO %q %q answered %d", ct, body, res.StatusCode)
		}
		if strings.ContainsAny(res.Reason, "\r\n") || len(res.Reason) > 200 {
			t.Fatalf("reason phrase %q", res.Reason)
		}
		if len(got) > 1 || len(got) == 1 && (len(body) == 0 || !strings.ContainsRune(dtmf.Digits, got[0].Digit)) {
			t.Fatalf("delivered %v for %q %q", got, ct, body)
		}
	})
}
