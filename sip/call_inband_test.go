package sip

import (
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/bridge/dtmf"
)

// Digits the bridge detected in a leg's audio reach OnDigit as in-band, and
// merge with the other methods' copies of the same press.
func TestInbandDigitsDelivered(t *testing.T) {
	h, rec := newDTMFHarness(t)
	p := newPeer(t, h.s.Addr().String(), "udp")
	d, leg, _ := answered(t, h, p)
	send := func(digit rune, src uint8) {
		leg.opts.OnEvent(bridge.Event{Kind: bridge.EventDTMF, Digit: digit, Source: src, At: time.Now()})
	}

	send('5', bridge.SourceInband)
	if ev := rec.next(t); ev.Digit != '5' || ev.Source != dtmf.SourceInband {
		t.Errorf("in-band digit delivered as %q from %v", ev.Digit, ev.Source)
	}
	// The same press also sent by INFO is the same press.
	h.clock.Advance(dtmf.DefaultDedupWindow / 2)
	if res := d.info("application/dtmf", "5"); res.StatusCode != 200 {
		t.Fatalf("INFO answered %d", res.StatusCode)
	}
	rec.none(t)

	// The zero source is RFC 4733, as before.
	h.clock.Advance(time.Second)
	send('8', bridge.SourceRFC4733)
	if ev := rec.next(t); ev.Digit != '8' || ev.Source != dtmf.SourceRFC4733 {
		t.Errorf("RFC 4733 digit delivered as %q from %v", ev.Digit, ev.Source)
	}
	if got := dtmfMetric(t, h, "info", "duplicate"); got != 1 {
		t.Errorf("duplicate INFO digits %v, want 1", got)
	}
	d.do(sipmsg.BYE, nil)
	h.left()
}

func TestDigitSource(t *testing.T) {
	for in, want := range map[uint8]dtmf.Source{
		bridge.SourceRFC4733: dtmf.SourceRFC4733,
		bridge.SourceInband:  dtmf.SourceInband,
	} {
		if got := digitSource(in); got != want {
			t.Errorf("digitSource(%d) = %v, want %v", in, got, want)
		}
	}
}
