package sip

import (
	"slices"
	"strings"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
)

func TestDialInTarget(t *testing.T) {
	for _, tc := range []struct{ user, id, pin string }{
		{"1000", "1000", ""},
		{"1000**1234", "1000", "1234"},
		{"1000$$987654", "1000", "987654"},
		{"", "", ""},
		{"**1234", "**1234", ""},         // no conference ID before the separator
		{"1000**", "1000**", ""},         // no PIN after it
		{"1000**12a4", "1000**12a4", ""}, // not a PIN: conf decides what the whole user names
		{"alice", "alice", ""},
	} {
		id, pin := dialInTarget(tc.user)
		if id != tc.id || pin != tc.pin {
			t.Errorf("dialInTarget(%q) = %q, %q; want %q, %q", tc.user, id, pin, tc.id, tc.pin)
		}
	}
}

// A call that names no conference is answered into conf's lobby room: conf
// runs its dialogue after the ACK, gets every key press, and moves the
// media into the conference it chose through Enter.
func TestDialInLobby(t *testing.T) {
	h := newHarness(t, Config{})
	p := newPeer(t, h.s.Addr().String(), "udp")
	d := p.call(p.newInvite("", offer(30000, "")))
	if d.res.StatusCode != 200 {
		t.Fatalf("INVITE without a conference answered %d, want 200 (lobby)", d.res.StatusCode)
	}
	leg := <-h.media.legs
	if leg.opts.Room != "lobby/test" {
		t.Errorf("media leg in room %q, want conf's lobby room", leg.opts.Room)
	}
	h.confs.mu.Lock()
	fd := h.confs.lobby[0]
	h.confs.mu.Unlock()
	select {
	case <-fd.ran:
		t.Fatal("conf's dialogue ran before the ACK")
	case <-time.After(20 * time.Millisecond):
	}
	d.ack(nil)
	select {
	case <-fd.ran:
	case <-time.After(waitFor):
		t.Fatal("conf's dialogue did not run after the ACK")
	}
	if res := d.info("application/dtmf-relay", "Signal=4\r\nDuration=100\r\n"); res.StatusCode != 200 {
		t.Fatalf("INFO answered %d", res.StatusCode)
	}
	select {
	case r := <-fd.digits:
		if r != '4' {
			t.Errorf("digit %q, want '4'", r)
		}
	case <-time.After(waitFor):
		t.Fatal("the digit did not reach conf")
	}

	c := h.callOf(d)
	<-c.Play("welcome")
	c.StopPlaying()
	c.SetGain(2, -1)
	if err := c.Enter("1000"); err != nil {
		t.Fatal(err)
	}
	want := []string{"play welcome", "stop", "gain 2 -1", "room 1000"}
	if ops := leg.recorded(); !slices.Equal(ops, want) {
		t.Errorf("media leg calls %q, want %q", ops, want)
	}
	c.mu.Lock()
	room := c.room
	c.mu.Unlock()
	if room != "1000" {
		t.Errorf("call's room %q after Enter, want 1000", room)
	}
	d.do(sipmsg.BYE, nil)
	select {
	case <-fd.ended:
	case <-time.After(waitFor):
		t.Fatal("conf's call did not end with the BYE")
	}
}

// A Polycom dial string carries the PIN to conf; the conference ID alone
// names the room.
func TestDialInPINInDialString(t *testing.T) {
	h := newHarness(t, Config{})
	p := newPeer(t, h.s.Addr().String(), "udp")
	d := p.call(p.newInvite("1000**4321", offer(30000, "")))
	if d.res.StatusCode != 200 {
		t.Fatalf("answered %d", d.res.StatusCode)
	}
	part := <-h.confs.joins
	if part.req.ConferenceID != "1000" || part.pin != "4321" {
		t.Errorf("conf asked for conference %q with PIN %q, want 1000 and 4321", part.req.ConferenceID, part.pin)
	}
	if leg := <-h.media.legs; leg.opts.Room != "1000" {
		t.Errorf("media in room %q, want 1000", leg.opts.Room)
	}
	d.ack(nil)
	d.do(sipmsg.BYE, nil)
	h.left()
}

// With telephone-event configured off the answer leaves it out, so that the
// caller sends DTMF in-band (detected by the bridge) or by INFO; our own
// offers (late offer) leave it out too.
func TestNoTelephoneEvent(t *testing.T) {
	h := newHarness(t, Config{NoTelephoneEvent: true})
	p := newPeer(t, h.s.Addr().String(), "udp")
	d := p.call(p.newInvite("1000", offer(30000, "")))
	if d.res.StatusCode != 200 {
		t.Fatalf("answered %d", d.res.StatusCode)
	}
	if body := string(d.res.Body()); strings.Contains(body, "telephone-event") || strings.Contains(body, " 101") {
		t.Errorf("answer offers telephone-event:\n%s", body)
	}
	leg := <-h.media.legs
	if lc := <-leg.calls; lc.p.EventPayloadType != -1 {
		t.Errorf("media started with event payload type %d, want -1", lc.p.EventPayloadType)
	}
	d.ack(nil)
	d.do(sipmsg.BYE, nil)
	h.left()

	d = p.call(p.newInvite("1000", nil))
	if d.res.StatusCode != 200 {
		t.Fatalf("late offer answered %d", d.res.StatusCode)
	}
	if body := string(d.res.Body()); strings.Contains(body, "telephone-event") {
		t.Errorf("our offer has telephone-event:\n%s", body)
	}
	d.ack(d.res.Body())
	d.do(sipmsg.BYE, nil)
	h.left()
}
