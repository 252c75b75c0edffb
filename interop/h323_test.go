package interop

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSIPPhonesAcrossH323 joins two Roomgate servers over H.323: a baresip
// phone in a conference of server A, another in a conference of server B,
// and A invites B's conference by an h323: call string through the REST API.
// Each phone must hear the other's tone: SIP → bridge → H.323 → bridge → SIP
// and back, with real processes on both ends.
func TestSIPPhonesAcrossH323(t *testing.T) {
	t.Parallel()
	requirePeer(t, "baresip")
	srvA := startServer(t, serverOpts{})
	srvB := startServer(t, serverOpts{})
	srvA.createConference(t, "3600", "H.323 side A")
	srvB.createConference(t, "3601", "H.323 side B")

	dir := t.TempDir()
	phones := []phoneTone{{name: "alice", codec: "PCMU", freq: 440, rate: 8000}, {name: "bob", codec: "G722", freq: 1000, rate: 16000}}
	src := make([]string, len(phones))
	for i, ph := range phones {
		src[i] = filepath.Join(dir, ph.name+"-tone.wav")
		if err := WriteToneWAV(src[i], ph.rate, ph.freq, toneAmp, 90*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	alice := startBaresip(t, baresipOpts{name: "alice", codecs: "PCMU/8000/1", source: src[0]})
	bob := startBaresip(t, baresipOpts{name: "bob", codecs: "G722/16000/1", source: src[1]})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	alice.dial(t, ctx, "sip:3600@"+srvA.sipAddr)
	bob.dial(t, ctx, "sip:3601@"+srvB.sipAddr)

	var res map[string]any
	srvA.api(t, http.MethodPost, "/api/v1/conferences/3600/invite",
		map[string]any{"participants": []string{"h323:3601@" + srvB.h323Addr}}, &res)
	h323In := func(ps []participant) bool {
		for _, p := range ps {
			if p.Protocol == "h323" && mediaFlows(p) {
				return true
			}
		}
		return false
	}
	srvA.waitParticipants(t, "3600", 20*time.Second, "the H.323 call to B with media", h323In)
	srvB.waitParticipants(t, "3601", 20*time.Second, "the H.323 call from A with media", h323In)
	together := time.Now()
	time.Sleep(6 * time.Second)
	for _, ps := range [][]participant{srvA.participants(t, "3600"), srvB.participants(t, "3601")} {
		for _, p := range ps {
			t.Logf("participant %s %s %s: %+v", p.Protocol, p.DisplayName, p.Codec, p.Stats)
		}
	}
	if err := alice.hangup(ctx); err != nil {
		t.Error(err)
	}
	if err := bob.hangup(ctx); err != nil {
		t.Error(err)
	}
	heard := time.Since(together)
	for i, ph := range phones {
		other := phones[1-i]
		a, err := ReadWAVFile([]*baresip{alice, bob}[i].recording(t))
		if err != nil {
			t.Fatal(err)
		}
		end := a.Duration() - 500*time.Millisecond
		start := max(time.Second, a.Duration()-heard+500*time.Millisecond)
		lv, err := AnalyzeTones(a.Slice(start, end), []float64{other.freq, ph.freq}, 100*time.Millisecond)
		if err != nil {
			t.Fatalf("%s: %v", ph.name, err)
		}
		sum, err := SummarizeTones(lv, []float64{other.freq, ph.freq}, presentMarginDB)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, s := range sum {
			b.WriteString("\n    " + s.String())
		}
		t.Logf("%s heard over H.323:%s", ph.name, b.String())
		if sum[0].PresentRatio < presentRatio {
			t.Errorf("%s does not hear %s's %g Hz tone across H.323: %v", ph.name, other.name, other.freq, sum[0])
		}
	}
}
