package interop

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tonePcap writes a PCMU pcap of a 1 kHz tone lasting d into the test's
// temp dir and returns its path.
func tonePcap(t testing.TB, d time.Duration) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), fmt.Sprintf("tone-%v.pcap", d))
	writePCMUPcap(t, p, 1000, d)
	return p
}

// mediaFlows reports whether a participant both sent and received RTP.
func mediaFlows(p participant) bool { return p.Stats.PacketsIn > 0 && p.Stats.PacketsOut > 0 }

// TestSippCalls runs the short sipp scenarios against one server, each into
// its own conference.
func TestSippCalls(t *testing.T) {
	t.Parallel()
	requirePeer(t, "sipp")
	srv := startServer(t, serverOpts{})
	pcap := tonePcap(t, 4*time.Second)

	// callWithMedia runs a scenario that holds a call for a few seconds and
	// checks, while it is up, that the participants API shows one PCMU leg
	// with RTP flowing both ways.
	callWithMedia := func(t *testing.T, confID, scenario, transport string) {
		srv.createConference(t, confID, "sipp "+scenario)
		r := startSipp(t, sippOpts{scenario: scenario, service: confID, target: srv.sipAddr, transport: transport,
			pause: 3 * time.Second, keys: map[string]string{"pcap": pcap}, traceMsg: true})
		ps := srv.waitParticipants(t, confID, 10*time.Second, "one leg with RTP both ways", func(ps []participant) bool {
			return len(ps) == 1 && mediaFlows(ps[0])
		})
		if c := strings.ToUpper(ps[0].Codec); c != "PCMU" {
			t.Errorf("leg codec %q, want PCMU", ps[0].Codec)
		}
		expectSippOK(t, r.finish(t, time.Minute), 1)
		srv.waitParticipants(t, confID, 5*time.Second, "the leg gone after BYE", func(ps []participant) bool { return len(ps) == 0 })
	}

	t.Run("LateOffer", func(t *testing.T) {
		t.Parallel()
		callWithMedia(t, "2001", "uac_late_offer.xml", "u1")
	})
	t.Run("TCP", func(t *testing.T) {
		t.Parallel()
		callWithMedia(t, "2002", "uac_call.xml", "t1")
	})
	t.Run("UDP", func(t *testing.T) {
		t.Parallel()
		callWithMedia(t, "2003", "uac_call.xml", "u1")
	})
	t.Run("HoldResume", func(t *testing.T) {
		t.Parallel()
		srv.createConference(t, "2004", "sipp hold")
		runSipp(t, sippOpts{scenario: "uac_hold_resume.xml", service: "2004", target: srv.sipAddr,
			pause: time.Second, keys: map[string]string{"pcap": pcap}, traceMsg: true})
	})
	t.Run("Options", func(t *testing.T) {
		t.Parallel()
		runSipp(t, sippOpts{scenario: "options.xml", target: srv.sipAddr, traceMsg: true})
	})
}

// TestSippCancelWhileRinging cancels a call during the server's answer delay.
func TestSippCancelWhileRinging(t *testing.T) {
	t.Parallel()
	requirePeer(t, "sipp")
	srv := startServer(t, serverOpts{answerDelay: 3 * time.Second})
	srv.createConference(t, "3000", "cancel")
	start := time.Now()
	runSipp(t, sippOpts{scenario: "uac_cancel.xml", service: "3000", target: srv.sipAddr, traceMsg: true})
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("cancelled call took %v: the server answered before honouring CANCEL?", d)
	}
	if ps := srv.participants(t, "3000"); len(ps) != 0 {
		t.Errorf("cancelled call left participants: %+v", ps)
	}
}

// TestSippByeWhenConferenceDeleted deletes a conference through the API while
// a sipp call is in it: the server must hang up with BYE.
func TestSippByeWhenConferenceDeleted(t *testing.T) {
	t.Parallel()
	requirePeer(t, "sipp")
	srv := startServer(t, serverOpts{})
	srv.createConference(t, "3100", "to be deleted")
	r := startSipp(t, sippOpts{scenario: "uac_wait_bye.xml", service: "3100", target: srv.sipAddr,
		keys: map[string]string{"pcap": tonePcap(t, 20*time.Second)}, traceMsg: true})
	srv.waitParticipants(t, "3100", 10*time.Second, "the sipp leg", func(ps []participant) bool { return len(ps) == 1 })
	srv.api(t, http.MethodDelete, "/api/v1/conferences/3100", nil, nil)
	expectSippOK(t, r.finish(t, 40*time.Second), 1)
	if st := srv.apiStatus(t, http.MethodGet, "/api/v1/conferences/3100"); st != http.StatusNotFound {
		t.Errorf("GET deleted conference: HTTP %d, want 404", st)
	}
}

// TestSippMediaTimeoutBye stops sending RTP after one second: the server must
// hang up with BYE once rtp.timeout has passed, not before.
func TestSippMediaTimeoutBye(t *testing.T) {
	t.Parallel()
	requirePeer(t, "sipp")
	const timeout = 3 * time.Second
	srv := startServer(t, serverOpts{rtpTimeout: timeout})
	srv.createConference(t, "3200", "media timeout")
	start := time.Now()
	r := startSipp(t, sippOpts{scenario: "uac_wait_bye.xml", service: "3200", target: srv.sipAddr,
		keys: map[string]string{"pcap": tonePcap(t, time.Second)}, traceMsg: true})
	expectSippOK(t, r.finish(t, 40*time.Second), 1)
	if d := time.Since(start); d < timeout || d > timeout+10*time.Second {
		t.Errorf("BYE after %v with media stopping at 1s and rtp.timeout %v", d, timeout)
	}
}

// TestSippLoadOneSocket puts 50 concurrent calls from a single sipp SIP
// socket into one conference, each playing PCMU.
func TestSippLoadOneSocket(t *testing.T) {
	requirePeer(t, "sipp")
	const calls = 50
	srv := startServer(t, serverOpts{rtpPorts: 4*calls + 40})
	srv.createConference(t, "5000", "load")
	r := startSipp(t, sippOpts{scenario: "uac_call.xml", service: "5000", target: srv.sipAddr,
		calls: calls, limit: calls, rate: 25, pause: 6 * time.Second,
		keys: map[string]string{"pcap": tonePcap(t, 6*time.Second)}, timeout: 90 * time.Second})
	most, flowing := 0, 0
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
poll:
	for {
		select {
		case <-r.p.done:
			break poll
		case <-tick.C:
			ps := srv.participants(t, "5000")
			n := 0
			for _, p := range ps {
				if mediaFlows(p) {
					n++
				}
			}
			most, flowing = max(most, len(ps)), max(flowing, n)
		}
	}
	res := r.finish(t, time.Minute)
	expectSippOK(t, res, calls)
	t.Logf("sipp: %s successful, %s retransmissions, INVITE→200 %s; API peak %d legs, %d with RTP both ways",
		res.stats["SuccessfulCall(C)"], res.stats["Retransmissions(C)"], res.stats["ResponseTimeinvite(C)"], most, flowing)
	if most != calls || flowing != calls {
		t.Errorf("participants API peaked at %d legs, %d with RTP both ways; want %d", most, flowing, calls)
	}
}

// TestRestartKeepsConference stops the server, checks the CLI sees the
// conference in the data directory, restarts on the same data directory and
// calls into the conference.
func TestRestartKeepsConference(t *testing.T) {
	t.Parallel()
	requirePeer(t, "sipp")
	first := startServer(t, serverOpts{})
	first.createConference(t, "4242", "Survives restarts")
	first.stop(t)
	if out := first.cli(t, "conference", "list"); !strings.Contains(out, "4242") {
		t.Errorf("`roomgate conference list` after stop does not show 4242:\n%s", out)
	}
	second := startServer(t, serverOpts{dataDir: first.dataDir, password: first.password})
	var c conference
	second.api(t, http.MethodGet, "/api/v1/conferences/4242", nil, &c)
	if c.Name != "Survives restarts" {
		t.Errorf("conference after restart = %+v", c)
	}
	runSipp(t, sippOpts{scenario: "uac_call.xml", service: "4242", target: second.sipAddr,
		pause: time.Second, keys: map[string]string{"pcap": tonePcap(t, time.Second)}, traceMsg: true})
}

// TestCLIConferenceWhileRunning manages a conference with the CLI on the data
// directory of a running server: the server must see it appear and go.
func TestCLIConferenceWhileRunning(t *testing.T) {
	t.Parallel()
	requirePeer(t, "sipp")
	srv := startServer(t, serverOpts{})
	srv.cli(t, "conference", "create", "--id", "4343", "--name", "Made by CLI")
	var c conference
	srv.api(t, http.MethodGet, "/api/v1/conferences/4343", nil, &c)
	if c.Name != "Made by CLI" {
		t.Errorf("conference created by CLI = %+v", c)
	}
	runSipp(t, sippOpts{scenario: "uac_call.xml", service: "4343", target: srv.sipAddr,
		pause: time.Second, keys: map[string]string{"pcap": tonePcap(t, time.Second)}, traceMsg: true})
	srv.cli(t, "conference", "delete", "--id", "4343")
	if st := srv.apiStatus(t, http.MethodGet, "/api/v1/conferences/4343"); st != http.StatusNotFound {
		t.Errorf("GET conference deleted by CLI: HTTP %d, want 404", st)
	}
}
