package interop

import (
	"context"
	"fmt"
	"github.com/roomgate/roomgate/h323/ras/rastest"
	"net/http"
	"path/filepath"
	"regexp"
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

// TestH323ModesBetweenServers has two server processes call each other
// over H.323 in the modes room systems use: slow start with tunnelled
// H.245, slow start with a separate H.245 channel, and a call by alias
// alone through a gatekeeper of our own (h323/ras/rastest, in the test
// process), with RTP flowing both ways into each server's conference.
func TestH323ModesBetweenServers(t *testing.T) {
	t.Parallel()
	gk, err := rastest.Listen("127.0.0.1:0", rastest.Options{ID: "interop-gk"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gk.Close() })
	gkConfig := fmt.Sprintf("  gatekeeper: %q\n  gatekeeper_id: interop-gk\n", gk.Addr().String())

	for _, tc := range []struct {
		name         string
		callerH323   string // the caller's h323 settings
		calleeH323   string
		viaAlias     bool   // dial the conference ID alone: the gatekeeper resolves it
		wantLogMatch string // in the callee's log: how the call was set up
	}{
		{"SlowStartTunnelled", "  fast_start: false\n", "", false, `fast_start=false tunnelling=true`},
		{"SlowStartSeparateH245", "  fast_start: false\n  tunnelling: false\n", "", false, `fast_start=false tunnelling=false`},
		{"FastStartThroughGatekeeper", gkConfig, gkConfig, true, `fast_start=true tunnelling=true`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			caller := startServer(t, serverOpts{h323: tc.callerH323})
			callee := startServer(t, serverOpts{h323: tc.calleeH323})
			id := map[string]string{"SlowStartTunnelled": "3621", "SlowStartSeparateH245": "3622", "FastStartThroughGatekeeper": "3623"}[tc.name]
			caller.createConference(t, "3620", "caller side")
			callee.createConference(t, id, "callee side")
			target := "h323:" + id + "@" + callee.h323Addr
			if tc.viaAlias {
				target = "h323:" + id
				deadline := time.Now().Add(20 * time.Second)
				for { // the callee registers the new conference ID as an alias
					if _, ok := gk.Lookup(id); ok {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("conference %s never registered with the gatekeeper: %+v", id, gk.Endpoints())
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
			var res map[string]any
			caller.api(t, http.MethodPost, "/api/v1/conferences/3620/invite",
				map[string]any{"participants": []string{target}}, &res)
			h323Flowing := func(ps []participant) bool {
				for _, p := range ps {
					if p.Protocol == "h323" && p.Stats.PacketsIn > 50 && p.Stats.PacketsOut > 50 {
						return true
					}
				}
				return false
			}
			caller.waitParticipants(t, "3620", 20*time.Second, "the H.323 call with RTP both ways", h323Flowing)
			callee.waitParticipants(t, id, 20*time.Second, "the H.323 call with RTP both ways", h323Flowing)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, _, err := callee.p.out.waitFor(ctx, 0, regexp.MustCompile(`h323 call connected[^\n]*`+tc.wantLogMatch)); err != nil {
				t.Errorf("the callee did not connect with %s: %v", tc.wantLogMatch, err)
			}
			if arq, rrq := gk.Count("admissionRequest"), gk.Count("registrationRequest"); tc.viaAlias && (arq < 2 || rrq < 2) {
				t.Errorf("gatekeeper saw %d ARQ and %d RRQ, want both servers registered and both sides admitted", arq, rrq)
			}
		})
	}
}
