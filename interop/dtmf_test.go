package interop

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// DTMF, the IVR lobby, PINs and in-call commands, proven by their effect:
// the participant list over REST (who joined where, with which role, who is
// muted), SIP answers and BYEs seen by sipp, and what a real phone hears.

// uacScript describes a generated sipp UAC scenario: one call, an optional
// RTP stream from a pcap, SIP INFO key presses, and who hangs up.
type uacScript struct {
	// user is the request-URI user part; "" calls sip:host (no conference).
	user string
	// events offers telephone-event (PT 101) next to PCMU.
	events bool
	// steps run after the ACK, in order.
	steps []uacStep
	// hold is how long the call stays up after the last step.
	hold time.Duration
	// serverHangsUp waits for the server's BYE (and answers it) instead of
	// sending one.
	serverHangsUp bool
	// status, when not 0, is the final answer the INVITE must get instead
	// of 200; the scenario ends there.
	status int
}

// uacStep is a pause and then, when info is set, one key press by SIP INFO
// (application/dtmf-relay).
type uacStep struct {
	pause time.Duration
	info  rune
}

// keys turns a string of keys into INFO steps, gap apart.
func infoKeys(keys string, gap time.Duration) []uacStep {
	var out []uacStep
	for _, k := range keys {
		out = append(out, uacStep{pause: gap, info: k})
	}
	return out
}

// write renders the scenario into dir and returns its path.
func (u uacScript) write(t testing.TB, dir string) string {
	t.Helper()
	var b strings.Builder
	ruri, to := "sip:[remote_ip]:[remote_port]", "<sip:[remote_ip]:[remote_port]>"
	if u.user != "" {
		ruri = "sip:" + u.user + "@[remote_ip]:[remote_port]"
		to = "<" + ruri + ">"
	}
	fmts, rtpmaps := "0", "a=rtpmap:0 PCMU/8000\n"
	if u.events {
		fmts += " 101"
		rtpmaps += "a=rtpmap:101 telephone-event/8000\na=fmtp:101 0-16\n"
	}
	dialog := func(method string, cseq int) string {
		return fmt.Sprintf(`      %s [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "sipp" <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: %s[peer_tag_param]
      Call-ID: [call_id]
      CSeq: %d %s
      Contact: <sip:sipp@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
`, method, to, cseq, method)
	}
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="generated DTMF call">
  <send retrans="500">
    <![CDATA[
      INVITE %s SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=z9hG4bK-[pid]-[call_number]-inv
      From: "sipp" <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: %s
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:sipp@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, INFO
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=sipp 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [auto_media_port] RTP/AVP %s
%sa=ptime:20
      a=sendrecv
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
`, ruri, to, fmts, indent(rtpmaps))
	if u.status != 0 {
		// RFC 3261 §17.1.1.3: the ACK of a non-2xx answer reuses the
		// INVITE's branch and request-URI.
		fmt.Fprintf(&b, `  <recv response="%d"/>
  <send>
    <![CDATA[
      ACK %s SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=z9hG4bK-[pid]-[call_number]-inv
      From: "sipp" <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: %s[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <timewait milliseconds="500"/>
</scenario>
`, u.status, ruri, to)
		return writeScenario(t, dir, b.String())
	}
	fmt.Fprintf(&b, `  <recv response="200" rrs="true"/>
  <send>
    <![CDATA[
%s      Content-Length: 0
    ]]>
  </send>
  <nop><action><exec play_pcap_audio="[pcap]"/></action></nop>
`, dialog("ACK", 1))
	cseq := 2
	for _, st := range u.steps {
		if st.pause > 0 {
			fmt.Fprintf(&b, "  <pause milliseconds=\"%d\"/>\n", st.pause.Milliseconds())
		}
		if st.info == 0 {
			continue
		}
		fmt.Fprintf(&b, `  <send retrans="500">
    <![CDATA[
%s      Content-Type: application/dtmf-relay
      Content-Length: [len]

      Signal=%c
      Duration=160
    ]]>
  </send>
  <recv response="200"/>
`, dialog("INFO", cseq), st.info)
		cseq++
	}
	if u.serverHangsUp {
		fmt.Fprintf(&b, `  <recv request="BYE" timeout="%d"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>
</scenario>
`, (u.hold + 30*time.Second).Milliseconds())
		return writeScenario(t, dir, b.String())
	}
	fmt.Fprintf(&b, `  <pause milliseconds="%d"/>
  <send retrans="500">
    <![CDATA[
%s      Content-Length: 0
    ]]>
  </send>
  <recv response="200" crlf="true"/>
</scenario>
`, u.hold.Milliseconds(), dialog("BYE", cseq))
	return writeScenario(t, dir, b.String())
}

// indent puts sipp's CDATA indentation before every line of s.
func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if l != "" {
			b.WriteString("      " + l)
		}
	}
	return b.String()
}

func writeScenario(t testing.TB, dir, xml string) string {
	t.Helper()
	p := filepath.Join(dir, fmt.Sprintf("generated-%d.xml", time.Now().UnixNano()))
	if err := os.WriteFile(p, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// pcapPress is a key press in a generated RTP stream.
type pcapPress struct {
	at     time.Duration // from the stream's start
	keys   string
	inband bool // tones in the audio instead of RFC 4733 events
}

// keysPcap writes a PCMU stream of total length with the given key presses
// (100 ms each, 150 ms apart) and silence elsewhere.
func keysPcap(t testing.TB, total time.Duration, presses ...pcapPress) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), fmt.Sprintf("keys-%d.pcap", time.Now().UnixNano()))
	w := newRTPPcap(t, path)
	for _, p := range presses {
		if p.at > w.at {
			w.silence(p.at - w.at)
		}
		for _, k := range p.keys {
			if p.inband {
				w.tonePress(k, 100*time.Millisecond, 150*time.Millisecond)
			} else {
				w.event(k, 100*time.Millisecond, 150*time.Millisecond)
			}
		}
	}
	if total > w.at {
		w.silence(total - w.at)
	}
	w.close()
	return path
}

// lobbyExtra is the configuration of the DTMF tests: short timeouts, so
// that a failing dialogue ends quickly, and a lobby number.
const lobbyExtra = `ivr:
  lobby_numbers: ["800"]
  digit_timeout: 3s
  entry_timeout: 40s
  attempts: 3
`

// participantIn waits until conference id shows one participant for which
// ok holds and returns it.
func participantIn(t *testing.T, srv *server, id, what string, ok func(participant) bool) participant {
	t.Helper()
	ps := srv.waitParticipants(t, id, 20*time.Second, what, func(ps []participant) bool {
		for _, p := range ps {
			if ok(p) {
				return true
			}
		}
		return false
	})
	for _, p := range ps {
		if ok(p) {
			return p
		}
	}
	panic("unreachable")
}

// TestLobbyAndPINs drives the IVR lobby and the PIN rules with sipp: keys
// as RFC 4733 events, as SIP INFO and as in-band tones, Polycom dial
// strings, the moderator PIN, wrong PINs and a locked conference.
func TestLobbyAndPINs(t *testing.T) {
	t.Parallel()
	requirePeer(t, "sipp")
	srv := startServer(t, serverOpts{extra: lobbyExtra})
	anyone := func(participant) bool { return true }

	t.Run("RFC4733", func(t *testing.T) {
		t.Parallel()
		srv.createConference(t, "3100", "lobby rfc4733", map[string]any{"pin": "2468"})
		// The keys come while the prompts still play (type-ahead).
		pcap := keysPcap(t, 20*time.Second,
			pcapPress{at: 1500 * time.Millisecond, keys: "3100#"},
			pcapPress{at: 4 * time.Second, keys: "2468#"})
		dir := t.TempDir()
		r := startSipp(t, sippOpts{scenario: uacScript{events: true, hold: 12 * time.Second}.write(t, dir),
			target: srv.sipAddr, keys: map[string]string{"pcap": pcap}, traceMsg: true})
		p := participantIn(t, srv, "3100", "the caller admitted from the lobby", anyone)
		if p.Role != "guest" && p.Role != "participant" {
			t.Errorf("role %q after the conference PIN, want guest or participant", p.Role)
		}
		expectSippOK(t, r.finish(t, time.Minute), 1)
	})

	t.Run("INFOModeratorPIN", func(t *testing.T) {
		t.Parallel()
		srv.createConference(t, "3101", "lobby info", map[string]any{"pin": "1357", "moderator_pin": "9753"})
		// Dialled straight to a conference with a PIN: only the PIN is asked.
		steps := infoKeys("9753#", 300*time.Millisecond)
		steps[0].pause = 2 * time.Second
		dir := t.TempDir()
		r := startSipp(t, sippOpts{scenario: uacScript{user: "3101", events: true, steps: steps,
			hold: 8 * time.Second}.write(t, dir), target: srv.sipAddr,
			keys: map[string]string{"pcap": keysPcap(t, 15*time.Second)}, traceMsg: true})
		p := participantIn(t, srv, "3101", "the caller admitted with the moderator PIN", anyone)
		if p.Role != "moderator" {
			t.Errorf("role %q after the moderator PIN, want moderator", p.Role)
		}
		expectSippOK(t, r.finish(t, time.Minute), 1)
	})

	t.Run("InbandLobbyNumber", func(t *testing.T) {
		t.Parallel()
		srv.createConference(t, "3102", "lobby inband", map[string]any{"pin": "8080"})
		pcap := keysPcap(t, 20*time.Second,
			pcapPress{at: 1500 * time.Millisecond, keys: "3102#", inband: true},
			pcapPress{at: 5 * time.Second, keys: "8080#", inband: true})
		dir := t.TempDir()
		// No telephone-event offered: the bridge must hear the tones.
		r := startSipp(t, sippOpts{scenario: uacScript{user: "800", hold: 12 * time.Second}.write(t, dir),
			target: srv.sipAddr, keys: map[string]string{"pcap": pcap}, traceMsg: true})
		participantIn(t, srv, "3102", "the caller admitted by in-band tones", anyone)
		expectSippOK(t, r.finish(t, time.Minute), 1)
	})

	t.Run("PolycomDialString", func(t *testing.T) {
		t.Parallel()
		srv.createConference(t, "3103", "dial string", map[string]any{"pin": "4242"})
		dir := t.TempDir()
		r := startSipp(t, sippOpts{scenario: uacScript{user: "3103**4242", events: true, hold: 4 * time.Second}.write(t, dir),
			target: srv.sipAddr, keys: map[string]string{"pcap": keysPcap(t, 6*time.Second)}, traceMsg: true})
		participantIn(t, srv, "3103", "the caller joined straight by id**pin", anyone)
		expectSippOK(t, r.finish(t, time.Minute), 1)
	})

	t.Run("ThreeWrongPINsHangUp", func(t *testing.T) {
		t.Parallel()
		srv.createConference(t, "3104", "wrong pins", map[string]any{"pin": "1111"})
		steps := infoKeys("2222#", 250*time.Millisecond)
		steps[0].pause = 2 * time.Second
		for range 2 {
			more := infoKeys("3333#", 250*time.Millisecond)
			more[0].pause = 2 * time.Second
			steps = append(steps, more...)
		}
		dir := t.TempDir()
		r := startSipp(t, sippOpts{scenario: uacScript{user: "3104", events: true, steps: steps, serverHangsUp: true}.write(t, dir),
			target: srv.sipAddr, keys: map[string]string{"pcap": keysPcap(t, 30*time.Second)}, traceMsg: true})
		expectSippOK(t, r.finish(t, time.Minute), 1)
		if ps := srv.participants(t, "3104"); len(ps) != 0 {
			t.Errorf("%d participants after three wrong PINs", len(ps))
		}
	})

	t.Run("UnknownConferenceThreeTries", func(t *testing.T) {
		t.Parallel()
		// An unknown conference is answered by the lobby, which asks again;
		// after three wrong IDs it says why and hangs up.
		var steps []uacStep
		for range 3 {
			more := infoKeys("5555#", 250*time.Millisecond)
			more[0].pause = 2 * time.Second
			steps = append(steps, more...)
		}
		dir := t.TempDir()
		r := startSipp(t, sippOpts{scenario: uacScript{user: "9999", events: true, steps: steps, serverHangsUp: true}.write(t, dir),
			target: srv.sipAddr, keys: map[string]string{"pcap": keysPcap(t, 40*time.Second)}, traceMsg: true})
		expectSippOK(t, r.finish(t, time.Minute), 1)
	})

	t.Run("LockedDirectDialIn", func(t *testing.T) {
		t.Parallel()
		srv.createConference(t, "3105", "locked")
		srv.api(t, http.MethodPost, "/api/v1/conferences/3105/lock", nil, nil)
		dir := t.TempDir()
		r := startSipp(t, sippOpts{scenario: uacScript{user: "3105", events: true, status: 403}.write(t, dir),
			target: srv.sipAddr, traceMsg: true})
		expectSippOK(t, r.finish(t, time.Minute), 1)
	})
}

// TestInCallCommands proves the in-call key map with RFC 4733 events: *6
// mutes the caller (REST shows it), a moderator's ## then 1 ends the
// conference for everyone.
func TestInCallCommands(t *testing.T) {
	t.Parallel()
	requirePeer(t, "sipp")
	srv := startServer(t, serverOpts{extra: lobbyExtra})
	srv.createConference(t, "3200", "commands", map[string]any{"moderator_pin": "7777"})

	// A guest mutes himself with *6 four seconds into the call.
	dir := t.TempDir()
	guest := startSipp(t, sippOpts{scenario: uacScript{user: "3200", events: true, hold: 30 * time.Second, serverHangsUp: true}.write(t, dir),
		target: srv.sipAddr, keys: map[string]string{"pcap": keysPcap(t, 40*time.Second, pcapPress{at: 4 * time.Second, keys: "*6"})}, traceMsg: true})
	g := participantIn(t, srv, "3200", "the guest muted by *6", func(p participant) bool { return p.Muted })

	// A moderator by PIN (*9 PIN #) ends the conference: ## and 1.
	modPcap := keysPcap(t, 40*time.Second,
		pcapPress{at: 3 * time.Second, keys: "*97777#"},
		pcapPress{at: 8 * time.Second, keys: "##"},
		pcapPress{at: 11 * time.Second, keys: "1"})
	mod := startSipp(t, sippOpts{scenario: uacScript{user: "3200", events: true, hold: 30 * time.Second, serverHangsUp: true}.write(t, dir),
		target: srv.sipAddr, keys: map[string]string{"pcap": modPcap}, traceMsg: true})
	participantIn(t, srv, "3200", "the second caller made moderator by *9", func(p participant) bool {
		return p.ID != g.ID && p.Role == "moderator"
	})
	// Both get BYE when the conference ends.
	expectSippOK(t, mod.finish(t, time.Minute), 1)
	expectSippOK(t, guest.finish(t, time.Minute), 1)
	if ps := srv.participants(t, "3200"); len(ps) != 0 {
		t.Errorf("%d participants after end for all", len(ps))
	}
}

// TestPhoneLobbyPromptsAndMute has a real phone (baresip) call the lobby
// number, hear the spoken welcome, type the conference ID and PIN with its
// keypad (RFC 4733), and join; a sipp caller then talks (1 kHz) into the
// conference and mutes himself with *6: the phone heard the prompt, heard
// the tone, and stops hearing it once the caller is muted.
func TestPhoneLobbyPromptsAndMute(t *testing.T) {
	t.Parallel()
	requirePeer(t, "baresip")
	requirePeer(t, "sipp")
	srv := startServer(t, serverOpts{extra: lobbyExtra})
	srv.createConference(t, "3300", "phone lobby", map[string]any{"pin": "5151", "tones": "off"})

	dir := t.TempDir()
	quiet := filepath.Join(dir, "quiet.wav")
	f, err := os.Create(quiet)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteWAV(f, 8000, make([]int16, 90*8000)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	alice := startBaresip(t, baresipOpts{name: "alice", codecs: "PCMU/8000/1", source: quiet})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	alice.dial(t, ctx, "sip:800@"+srv.sipAddr)
	answered := time.Now()

	press := func(keys string) {
		for _, k := range keys {
			if _, err := alice.ctrl.command(ctx, "sndcode", string(k)); err != nil {
				t.Fatalf("baresip sndcode %c: %v", k, err)
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
	time.Sleep(1500 * time.Millisecond) // over the welcome prompt: type-ahead
	press("3300#")
	time.Sleep(2500 * time.Millisecond)
	press("5151#")
	participantIn(t, srv, "3300", "the phone admitted from the lobby", func(participant) bool { return true })

	// The talker: 4 s of tone, *6, 8 s more tone that nobody may hear.
	pcapPath := filepath.Join(dir, "talker.pcap")
	w := newRTPPcap(t, pcapPath)
	w.tone(1000, 4*time.Second)
	w.event('*', 100*time.Millisecond, 150*time.Millisecond)
	w.event('6', 100*time.Millisecond, 150*time.Millisecond)
	w.tone(1000, 8*time.Second)
	w.close()
	talkerStart := time.Now()
	r := startSipp(t, sippOpts{scenario: uacScript{user: "3300**5151", events: true, hold: 13 * time.Second}.write(t, dir),
		target: srv.sipAddr, keys: map[string]string{"pcap": pcapPath}, traceMsg: true})
	participantIn(t, srv, "3300", "the talker muted by *6", func(p participant) bool { return p.Muted })
	mutedSeen := time.Now()
	expectSippOK(t, r.finish(t, time.Minute), 1)
	if err := alice.hangup(ctx); err != nil {
		t.Fatal(err)
	}

	a, err := ReadWAVFile(alice.recording(t))
	if err != nil {
		t.Fatal(err)
	}
	// The welcome prompt: speech in the first seconds, where the phone's
	// own source is silent and nobody else is in the lobby.
	if rms := rmsDB(a.Slice(300*time.Millisecond, 2500*time.Millisecond).Samples); rms < -45 {
		t.Errorf("welcome prompt: %.1f dBFS in the first seconds, want speech above -45 dBFS", rms)
	}
	at := func(w time.Time) time.Duration { return w.Sub(answered) }
	if ws, err := AnalyzeTones(a, []float64{1000}, time.Second); err == nil {
		var b strings.Builder
		for _, w := range ws {
			fmt.Fprintf(&b, " %v:%.0f/%.0f", w.Start, w.ToneDB[0], w.FloorDB)
		}
		t.Logf("recording %v; talker from %v, muted seen at %v; 1 kHz/floor dBFS per second:%s",
			a.Duration(), at(talkerStart), at(mutedSeen), b.String())
	}
	// The talker's first 4 s (he starts when sipp has its answer, a moment
	// after talkerStart) and the tone he sends after *6, until the end.
	heard := toneLevel(t, a.Slice(at(talkerStart)+500*time.Millisecond, at(talkerStart)+4*time.Second))
	after := toneLevel(t, a.Slice(at(mutedSeen)+1*time.Second, a.Duration()))
	t.Logf("1 kHz heard at %.1f dB above the floor before *6, %.1f dB after", heard, after)
	if heard < 20 {
		t.Errorf("the talker's tone stands %.1f dB above the floor before he muted himself, want at least 20", heard)
	}
	if after > 6 {
		t.Errorf("the talker's tone still stands %.1f dB above the floor after *6, want none", after)
	}
}

// toneLevel is how far 1 kHz stands above the noise floor in a, in dB: the
// most of any 200 ms window, so a tone heard for a moment counts.
func toneLevel(t *testing.T, a Audio) float64 {
	t.Helper()
	ws, err := AnalyzeTones(a, []float64{1000}, 200*time.Millisecond)
	if err != nil {
		t.Fatalf("analysing the recording: %v", err)
	}
	d := make([]float64, len(ws))
	for i, w := range ws {
		d[i] = w.ToneDB[0] - w.FloorDB
	}
	return slices.Max(d)
}

// rmsDB is the level of samples in dBFS.
func rmsDB(s []float64) float64 {
	if len(s) == 0 {
		return silenceDB
	}
	var sum float64
	for _, v := range s {
		sum += v * v
	}
	rms := math.Sqrt(sum / float64(len(s)))
	if rms == 0 {
		return silenceDB
	}
	return 20 * math.Log10(rms)
}
