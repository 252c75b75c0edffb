package interop

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Point-to-point calls between registered users and their escalation: a
// registered phone calls another user by his address, the server rings
// that user's phone and bridges the two through an ad-hoc room, and a
// third phone invited into that room joins without interrupting the two.

// p2pTones are the three phones' tones, chosen as threePhones' are so
// that no low-order product of two lands near the third.
var p2pTones = []phoneTone{
	{name: "alice", codec: "PCMU", freq: 440, rate: 8000},
	{name: "bob", codec: "PCMU", freq: 1000, rate: 8000},
	{name: "carol", codec: "PCMU", freq: 1700, rate: 8000},
}

const (
	// gapWindow is the analysis window of the gap check: short enough to
	// see a gap of a few packets.
	gapWindow = 20 * time.Millisecond
	// gapMarginDB: in a gap window the tone is less than this above the
	// floor. Lower than presentMarginDB: a 20 ms window resolves the
	// spectrum coarsely, so a tone and the floor are closer.
	gapMarginDB = 10.0
	// maxGap is the longest silence of a voice the escalation may cause.
	maxGap = 100 * time.Millisecond
)

// adHocRoom finds the ad-hoc room owned by owner through the API.
func adHocRoom(t *testing.T, srv *server, owner string) conference {
	t.Helper()
	var list struct {
		Conferences []struct {
			conference
			Owner  string `json:"owner"`
			Access string `json:"access"`
		} `json:"conferences"`
	}
	srv.api(t, http.MethodGet, "/api/v1/conferences", nil, &list)
	for _, c := range list.Conferences {
		if c.Owner == owner && strings.Contains(c.Name, "↔") {
			if c.Access != "internal" {
				t.Errorf("ad-hoc room %+v is not internal", c)
			}
			return c.conference
		}
	}
	t.Fatalf("no ad-hoc room of %s among %+v", owner, list.Conferences)
	return conference{}
}

// longestGap is the longest run of consecutive windows in which the tone
// freq is absent (less than marginDB above the floor).
func longestGap(a Audio, freq float64, others []float64, window time.Duration, marginDB float64) (time.Duration, time.Duration, error) {
	lv, err := AnalyzeTones(a, append([]float64{freq}, others...), window)
	if err != nil {
		return 0, 0, err
	}
	var longest, at time.Duration
	run := 0
	for i, w := range lv {
		if w.ToneDB[0]-w.FloorDB >= marginDB {
			run = 0
			continue
		}
		run++
		if d := time.Duration(run) * window; d > longest {
			longest, at = d, lv[i-run+1].Start
		}
	}
	return longest, at, nil
}

// TestPointToPointCallEscalates: alice calls sip:bob@server from her
// registered phone; bob's registered phone rings and answers by itself and
// the two hear each other. Carol is then invited into their ad-hoc room
// over REST, answers by herself, and everyone hears the two others, while
// bob's recording of alice shows no gap longer than maxGap across carol's
// joining. The room goes away when the call ends.
func TestPointToPointCallEscalates(t *testing.T) {
	requirePeer(t, "baresip")
	srv := startServer(t, serverOpts{})
	dir := t.TempDir()
	phones := make([]*registeredPhone, len(p2pTones))
	for i, ph := range p2pTones {
		src := filepath.Join(dir, ph.name+"-tone.wav")
		if err := WriteToneWAV(src, ph.rate, ph.freq, toneAmp, 120*time.Second); err != nil {
			t.Fatal(err)
		}
		srv.createUser(t, ph.name, ph.name+"-secret-1")
		phones[i] = startRegisteredPhone(t, srv, ph.name, ph.name+"-secret-1", src)
		if ev := phones[i].waitRegistration(t); ev.Type != "REGISTER_OK" {
			t.Fatalf("registration of %s: %+v\n%s", ph.name, ev, srv.p.out.tail(40))
		}
	}
	alice, bob := phones[0], phones[1]

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// Calls leave from baresip's current account: make it alice's.
	if _, err := alice.b.ctrl.command(ctx, "uafind", "sip:alice@"+srv.sipAddr); err != nil {
		t.Fatalf("selecting alice's account: %v", err)
	}
	alice.b.dial(t, ctx, "sip:bob@"+srv.sipAddr)
	room := adHocRoom(t, srv, "alice")
	both := srv.waitParticipants(t, room.ID, 10*time.Second, "alice and bob with media", func(ps []participant) bool {
		return len(ps) == 2 && mediaFlows(ps[0]) && mediaFlows(ps[1])
	})
	bothIn := time.Now()
	roles := map[string]int{}
	for _, p := range both {
		roles[p.Role]++
	}
	if roles["owner"] != 1 || roles["moderator"] != 1 {
		t.Errorf("roles in the 1:1 %v, want the caller owner and the callee moderator", roles)
	}
	t.Logf("1:1 in room %s %q: %+v", room.ID, room.Name, both)
	if !strings.Contains(srv.p.out.String(), "point-to-point call answered") {
		t.Errorf("the point-to-point call was not logged")
	}
	time.Sleep(4 * time.Second)

	// Escalation: carol is invited into the running 1:1.
	var ans struct {
		Results []struct{ Target, Status, Message string } `json:"results"`
	}
	srv.api(t, http.MethodPost, "/api/v1/conferences/"+room.ID+"/invite", map[string]any{"participants": []string{"carol"}}, &ans)
	if len(ans.Results) != 1 || ans.Results[0].Status != "dialing" {
		t.Fatalf("inviting carol: %+v", ans.Results)
	}
	srv.waitParticipants(t, room.ID, 20*time.Second, "carol joined", func(ps []participant) bool { return len(ps) == 3 })
	carolIn := time.Now()
	time.Sleep(6 * time.Second)
	ps := srv.participants(t, room.ID)
	for _, p := range ps {
		t.Logf("participant %s %s %s: %+v", p.DisplayName, p.Role, p.Codec, p.Stats)
		if !mediaFlows(p) {
			t.Errorf("participant %s exchanges no media: %+v", p.DisplayName, p.Stats)
		}
	}
	if len(ps) != 3 {
		t.Fatalf("%d participants after the escalation, want 3: %+v", len(ps), ps)
	}

	// End the call for everyone; the recordings are complete when every
	// phone has seen its call close.
	froms := make([]int, len(phones))
	for i, p := range phones {
		froms[i] = p.b.ctrl.eventCount()
	}
	srv.api(t, http.MethodPost, "/api/v1/conferences/"+room.ID+"/stop", nil, nil)
	ended := time.Now()
	for i, p := range phones {
		if _, err := p.b.ctrl.waitEvent(ctx, froms[i], "CALL_CLOSED"); err != nil {
			t.Fatalf("the call of %s did not end: %v", p.id, err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for srv.apiStatus(t, http.MethodGet, "/api/v1/conferences/"+room.ID) != http.StatusNotFound {
		if time.Now().After(deadline) {
			t.Fatalf("ad-hoc room %s still exists after the call ended", room.ID)
		}
		time.Sleep(100 * time.Millisecond)
	}

	freqs := make([]float64, len(p2pTones))
	for i, ph := range p2pTones {
		freqs[i] = ph.freq
	}
	// Everyone hears the others once carol is in (her recording starts
	// then; each recording ends at `ended`).
	together := ended.Sub(carolIn)
	for i, ph := range p2pTones {
		checkHeardBy(t, ph, phones[i].b.recording(t), together, freqs)
	}
	// Before carol, alice and bob heard each other.
	for i, ph := range p2pTones[:2] {
		a, err := ReadWAVFile(phones[i].b.recording(t))
		if err != nil {
			t.Fatal(err)
		}
		from := max(time.Second, a.Duration()-ended.Sub(bothIn)+time.Second)
		to := a.Duration() - together - 500*time.Millisecond
		other := p2pTones[1-i]
		lv, err := AnalyzeTones(a.Slice(from, to), []float64{other.freq, ph.freq}, 100*time.Millisecond)
		if err != nil {
			t.Fatalf("%s: %v", ph.name, err)
		}
		sum, err := SummarizeTones(lv, []float64{other.freq, ph.freq}, presentMarginDB)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s in the 1:1 (%v..%v): %v; own %v", ph.name, from, to, sum[0], sum[1])
		if sum[0].PresentRatio < presentRatio {
			t.Errorf("%s does not hear %s in the 1:1: %v", ph.name, other.name, sum[0])
		}
	}

	// No gap in bob's hearing of alice across carol's joining: from a
	// second after the 1:1 was up to half a second before the end, in
	// 20 ms windows.
	a, err := ReadWAVFile(bob.b.recording(t))
	if err != nil {
		t.Fatal(err)
	}
	from := max(time.Second, a.Duration()-ended.Sub(bothIn)+time.Second)
	to := a.Duration() - 500*time.Millisecond
	joinAt := a.Duration() - together
	if joinAt-from < 2*time.Second || to-joinAt < 2*time.Second {
		t.Fatalf("bob's recording of %v does not cover carol's joining at %v with 2 s either side (%v..%v)", a.Duration(), joinAt, from, to)
	}
	gap, at, err := longestGap(a.Slice(from, to), p2pTones[0].freq, []float64{p2pTones[2].freq}, gapWindow, gapMarginDB)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("bob's recording of alice, %v..%v (carol joined at about %v): longest gap %v at %v", from, to, joinAt, gap, from+at)
	if gap > maxGap {
		t.Errorf("bob lost alice for %v at %v of his recording (carol joined at about %v); want no gap over %v",
			gap, from+at, joinAt, maxGap)
	}
}

// checkHeardBy checks that phone ph heard every other tone of freqs over
// the last `together` of its recording (half a second off each edge).
func checkHeardBy(t *testing.T, ph phoneTone, path string, together time.Duration, freqs []float64) {
	t.Helper()
	a, err := ReadWAVFile(path)
	if err != nil {
		t.Errorf("%s: %v", ph.name, err)
		return
	}
	end := a.Duration() - 500*time.Millisecond
	start := max(time.Second, a.Duration()-together+500*time.Millisecond)
	if end-start < 3*time.Second {
		t.Errorf("%s: recording of %v leaves only %v to analyse", ph.name, a.Duration(), end-start)
		return
	}
	lv, err := AnalyzeTones(a.Slice(start, end), freqs, 100*time.Millisecond)
	if err != nil {
		t.Errorf("%s: %v", ph.name, err)
		return
	}
	sum, err := SummarizeTones(lv, freqs, presentMarginDB)
	if err != nil {
		t.Errorf("%s: %v", ph.name, err)
		return
	}
	var report strings.Builder
	for _, s := range sum {
		fmt.Fprintf(&report, "\n    %v", s)
	}
	t.Logf("%s heard in the conference of three:%s", ph.name, report.String())
	for i, s := range sum {
		if freqs[i] != ph.freq && s.PresentRatio < presentRatio {
			t.Errorf("%s does not hear the %g Hz tone in the conference of three: %v", ph.name, freqs[i], s)
		}
	}
}

// The gap check must see a gap of a few packets in a steady tone, and
// none in the unbroken tone mixed with another voice.
func TestLongestGap(t *testing.T) {
	const rate = 8000
	mix := func(gapFrom, gapLen time.Duration) Audio {
		a, _ := Tone(rate, 440, toneAmp, 4*time.Second)
		b, _ := Tone(rate, 1700, toneAmp, 4*time.Second)
		out := Audio{Rate: rate, Samples: make([]float64, len(a))}
		for i := range a {
			at := time.Duration(i) * time.Second / rate
			s := float64(b[i])
			if at < gapFrom || at >= gapFrom+gapLen {
				s += float64(a[i])
			}
			out.Samples[i] = s / 32768
		}
		return out
	}
	for _, tc := range []struct {
		gap      time.Duration
		min, max time.Duration
	}{
		{0, 0, 0},
		{60 * time.Millisecond, 20 * time.Millisecond, 80 * time.Millisecond},
		{160 * time.Millisecond, 120 * time.Millisecond, 180 * time.Millisecond},
		{500 * time.Millisecond, 460 * time.Millisecond, 520 * time.Millisecond},
	} {
		got, at, err := longestGap(mix(2*time.Second, tc.gap), 440, []float64{1700}, gapWindow, gapMarginDB)
		if err != nil {
			t.Fatal(err)
		}
		if got < tc.min || got > tc.max {
			t.Errorf("gap of %v measured as %v at %v, want %v..%v", tc.gap, got, at, tc.min, tc.max)
		}
		if tc.gap > 0 && (at < 2*time.Second-gapWindow || at > 2*time.Second+gapWindow) {
			t.Errorf("gap of %v found at %v, want about 2s", tc.gap, at)
		}
		if tc.gap >= 160*time.Millisecond && got <= maxGap {
			t.Errorf("a %v gap passes the %v check", tc.gap, maxGap)
		}
	}
}
