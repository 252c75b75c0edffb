package interop

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cameraExtra makes reconnection quick: a lost camera is noticed within
// two seconds and called again every half second at most.
const cameraExtra = `rtsp:
  read_timeout: 2s
  backoff_initial: 200ms
  backoff_max: 500ms
`

// cameraPackages are the Debian packages the GStreamer camera needs.
const cameraPackages = "python3-gi python3-gst-1.0 gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly"

var reCameraReady = regexp.MustCompile(`ready rtsp://[0-9.]+:(\d+)/`)

// rtspCamera is the GStreamer camera of rtsp/testdata (H.264 and a PCMU
// tone of 1000 Hz, digest authentication).
type rtspCamera struct {
	t    *testing.T
	args []string
	port int
	p    *proc
}

// startRTSPCamera runs the camera on a port the OS picks and waits for its
// ready line. A missing interpreter or plug-in fails the test.
func startRTSPCamera(t *testing.T, args ...string) *rtspCamera {
	t.Helper()
	c := &rtspCamera{t: t, args: args}
	c.start(0)
	return c
}

// start runs the camera on port (0: any) and waits until it listens.
func (c *rtspCamera) start(port int) {
	c.t.Helper()
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		c.t.Fatalf("the GStreamer camera needs /usr/bin/python3 and the Debian packages %s: %v", cameraPackages, err)
	}
	script, err := filepath.Abs(filepath.Join("..", "rtsp", "testdata", "rtsp_cam.py"))
	if err != nil {
		c.t.Fatal(err)
	}
	args := append([]string{script, "--address", "127.0.0.1", "--port", strconv.Itoa(port)}, c.args...)
	c.p = startProc(c.t, "rtsp camera", procOpts{}, "/usr/bin/python3", args...)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, _, err := c.p.out.waitFor(ctx, 0, reCameraReady)
	if err != nil {
		c.t.Fatalf("the GStreamer camera did not start (needs the Debian packages %s): %v\n%s", cameraPackages, err, c.p.out.tail(20))
	}
	c.port, _ = strconv.Atoi(m[1])
}

// kill ends the camera at once (SIGKILL to its process group), as a
// camera that loses power: no TEARDOWN, no goodbye.
func (c *rtspCamera) kill() {
	c.t.Helper()
	if err := syscall.Kill(-c.p.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		c.t.Fatalf("killing the camera: %v", err)
	}
	<-c.p.done
}

// eventStream reads a conference's live events (server-sent events).
type eventStream struct {
	events chan eventLine
	cancel context.CancelFunc
}

type eventLine struct {
	Type   string `json:"type"`
	Target string `json:"target"`
	Cause  string `json:"cause"`
}

// subscribeEvents opens GET /api/v1/events?conference=id and returns once
// the subscription exists (the stream's greeting comment arrived).
func (s *server) subscribeEvents(t *testing.T, id string) *eventStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.httpURL+"/api/v1/events?conference="+id, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		cancel()
		t.Fatalf("event stream: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		t.Fatalf("event stream: HTTP %d", resp.StatusCode)
	}
	rd := bufio.NewReader(resp.Body)
	if line, err := rd.ReadString('\n'); err != nil || !strings.HasPrefix(line, ":") {
		resp.Body.Close()
		cancel()
		t.Fatalf("event stream greeting %q: %v", line, err)
	}
	es := &eventStream{events: make(chan eventLine, 256), cancel: cancel}
	go func() {
		defer resp.Body.Close()
		defer close(es.events)
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				return
			}
			data, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), "data: ")
			if !ok {
				continue
			}
			var ev eventLine
			if json.Unmarshal([]byte(data), &ev) == nil {
				select {
				case es.events <- ev:
				default:
				}
			}
		}
	}()
	t.Cleanup(cancel)
	return es
}

// wait returns the first event of type typ about a target containing
// target, or fails after timeout.
func (es *eventStream) wait(t *testing.T, typ, target string, timeout time.Duration) eventLine {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-es.events:
			if !ok {
				t.Fatalf("event stream closed before %s", typ)
			}
			if ev.Type == typ && strings.Contains(ev.Target, target) {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s event for %s within %v", typ, target, timeout)
		}
	}
}

// cameraIn finds the camera among the participants.
func cameraIn(ps []participant, name string) (participant, bool) {
	for _, p := range ps {
		if p.Protocol == "rtsp" && p.DisplayName == name {
			return p, true
		}
	}
	return participant{}, false
}

// TestCameraInConference invites the GStreamer camera (digest auth, H.264
// and a 1000 Hz PCMU tone) into a conference with a baresip phone: the
// camera is listed as an rtsp participant and the phone hears its tone; the
// camera server is killed and started again on the same port, and the
// camera comes back on its own and is heard again; an invitation with a
// wrong password fails and adds nobody.
func TestCameraInConference(t *testing.T) {
	t.Parallel()
	requirePeer(t, "baresip")
	srv := startServer(t, serverOpts{extra: cameraExtra})
	srv.createConference(t, "3700", "camera room")
	cam := startRTSPCamera(t, "--user", "admin", "--password", "s3cret", "--audio", "pcmu", "--freq", "1000")
	name := fmt.Sprintf("127.0.0.1:%d/cam", cam.port)

	dir := t.TempDir()
	quiet := filepath.Join(dir, "quiet.wav")
	f, err := os.Create(quiet)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteWAV(f, 8000, make([]int16, 120*8000)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	alice := startBaresip(t, baresipOpts{name: "alice", codecs: "PCMU/8000/1", source: quiet})
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	alice.dial(t, ctx, "sip:3700@"+srv.sipAddr)
	answered := time.Now()
	at := func(w time.Time) time.Duration { return w.Sub(answered) }
	events := srv.subscribeEvents(t, "3700")

	srv.api(t, http.MethodPost, "/api/v1/conferences/3700/invite",
		map[string]any{"participants": []string{fmt.Sprintf("rtsp://admin:s3cret@127.0.0.1:%d/cam", cam.port)}}, nil)
	ps := srv.waitParticipants(t, "3700", 20*time.Second, "the camera with media", func(ps []participant) bool {
		p, ok := cameraIn(ps, name)
		return ok && p.Stats.PacketsIn > 0
	})
	joined := time.Now()
	p, _ := cameraIn(ps, name)
	t.Logf("camera: %+v", p)
	if !strings.Contains(p.Codec, "PCMU") {
		t.Errorf("camera codec %q, want H264+PCMU", p.Codec)
	}
	time.Sleep(4 * time.Second)

	// The camera dies and comes back on the same port.
	cam.kill()
	killed := time.Now()
	time.Sleep(time.Second)
	cam.start(cam.port)
	restarted := time.Now()
	before := srv.participants(t, "3700")
	bp, listed := cameraIn(before, name)
	if !listed {
		t.Fatalf("the camera left the conference while its server restarted: %+v", before)
	}
	srv.waitParticipants(t, "3700", 15*time.Second, "the camera's media again after the restart", func(ps []participant) bool {
		p, ok := cameraIn(ps, name)
		return ok && p.Stats.PacketsIn > bp.Stats.PacketsIn+100
	})
	back := time.Now()
	t.Logf("camera killed at %v, restarted at %v, media again at %v (%v after the restart)",
		at(killed), at(restarted), at(back), back.Sub(restarted).Round(10*time.Millisecond))
	time.Sleep(4 * time.Second)

	// A wrong password: the invitation fails, nobody joins.
	srv.api(t, http.MethodPost, "/api/v1/conferences/3700/invite",
		map[string]any{"participants": []string{fmt.Sprintf("rtsp://admin:wrong@127.0.0.1:%d/cam", cam.port)}}, nil)
	ev := events.wait(t, "invite_failed", fmt.Sprintf("127.0.0.1:%d", cam.port), 20*time.Second)
	t.Logf("wrong password: %s (%s)", ev.Type, ev.Cause)
	rtspCount := 0
	for _, p := range srv.participants(t, "3700") {
		if p.Protocol == "rtsp" {
			rtspCount++
		}
	}
	if rtspCount != 1 {
		t.Errorf("%d rtsp participants after the failed invitation, want 1", rtspCount)
	}

	if err := alice.hangup(ctx); err != nil {
		t.Fatal(err)
	}
	a, err := ReadWAVFile(alice.recording(t))
	if err != nil {
		t.Fatal(err)
	}
	summary := func(what string, from, to time.Duration) ToneSummary {
		t.Helper()
		lv, err := AnalyzeTones(a.Slice(from, to), []float64{1000}, 100*time.Millisecond)
		if err != nil {
			t.Fatalf("analysing the recording %s: %v", what, err)
		}
		sum, err := SummarizeTones(lv, []float64{1000}, presentMarginDB)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("the camera's tone %s (%v to %v): %v", what, from, to, sum[0])
		return sum[0]
	}
	heard := func(what string, from, to time.Duration) {
		t.Helper()
		if s := summary(what, from, to); s.PresentRatio < presentRatio {
			t.Errorf("the phone does not hear the camera's tone %s: %v", what, s)
		}
	}
	// While the camera is dead the tone stops (after the jitter buffer
	// ran dry): what the phone hears is the camera, live.
	if s := summary("while the camera is dead", at(killed)+500*time.Millisecond, at(restarted)); s.PresentRatio > 0.2 {
		t.Errorf("the phone still hears a tone while the camera is dead: %v", s)
	}
	heard("before the restart", at(joined)+time.Second, at(killed)-200*time.Millisecond)
	heard("after the restart", at(back)+time.Second, at(back)+4*time.Second)
}

// writeSilence writes d of silence at 8 kHz to path, a microphone that
// never takes the floor.
func writeSilence(t *testing.T, path string, d time.Duration) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteWAV(f, 8000, make([]int16, int(d/time.Second)*8000)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// videoParticipant is the part of a participant-list entry the camera
// video test reads: who he is and his video state.
type videoParticipant struct {
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	Protocol    string `json:"protocol"`
	Muted       bool   `json:"muted"`
	Video       *struct {
		Width    int    `json:"width"`
		Height   int    `json:"height"`
		OnScreen bool   `json:"on_screen"`
		Pinned   bool   `json:"pinned"`
		Watching string `json:"watching"`
	} `json:"video"`
}

// videoParticipants lists conference confID's participants with their
// video state (the list is a bare array or wrapped as "participants").
func (s *server) videoParticipants(t testing.TB, confID string) []videoParticipant {
	t.Helper()
	var raw json.RawMessage
	s.api(t, http.MethodGet, "/api/v1/conferences/"+confID+"/participants", nil, &raw)
	var ps []videoParticipant
	var err error
	if trimmed := strings.TrimSpace(string(raw)); strings.HasPrefix(trimmed, "{") {
		var env struct {
			Participants []videoParticipant `json:"participants"`
		}
		err = json.Unmarshal(raw, &env)
		ps = env.Participants
	} else {
		err = json.Unmarshal(raw, &ps)
	}
	if err != nil {
		t.Fatalf("participants of %s: decoding %s: %v", confID, raw, err)
	}
	return ps
}

// waitVideo polls the participant list until ok holds, or fails after
// timeout saying what it waited for.
func (s *server) waitVideo(t testing.TB, confID string, timeout time.Duration, what string, ok func(map[string]videoParticipant) bool) map[string]videoParticipant {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		byName := map[string]videoParticipant{}
		ps := s.videoParticipants(t, confID)
		for _, p := range ps {
			switch {
			case p.Protocol == "rtsp":
				byName["camera"] = p
			case strings.Contains(p.DisplayName, "alice"):
				byName["alice"] = p
			case strings.Contains(p.DisplayName, "bob"):
				byName["bob"] = p
			}
		}
		if ok(byName) {
			return byName
		}
		if time.Now().After(deadline) {
			t.Fatalf("conference %s: %s not seen within %v; participants: %+v", confID, what, timeout, ps)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestCameraVideoPinned puts the GStreamer camera (digest, H.264 640x360
// and a PCMU tone) into a conference with bob, a baresip phone with video
// who talks. The camera is muted, so bob is the speaker whom a newcomer
// would see; a moderator pins the camera over REST, and alice, a silent
// phone with video who calls in then, decodes the camera's 640x360 picture
// (baresip logs the resolution of the first picture it decodes, so hers
// is the camera's, not bob's 352x288). The participant list shows the
// camera pinned and on screen, watched by both phones; unpinned, alice
// watches bob.
func TestCameraVideoPinned(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOpts{codecs: []string{"PCMU"}, extra: cameraExtra})
	srv.createConference(t, "3710", "camera video")
	cam := startRTSPCamera(t, "--user", "admin", "--password", "s3cret", "--audio", "pcmu", "--freq", "1000")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	dir := t.TempDir()
	quiet, tone := filepath.Join(dir, "quiet.wav"), filepath.Join(dir, "tone.wav")
	writeSilence(t, quiet, 150*time.Second)
	if err := WriteToneWAV(tone, 8000, 440, 0.5, 150*time.Second); err != nil {
		t.Fatal(err)
	}
	bob := startVideoBaresip(t, "bob", tone)
	bob.dial(t, ctx, "sip:3710@"+srv.sipAddr)
	srv.api(t, http.MethodPost, "/api/v1/conferences/3710/invite",
		map[string]any{"participants": []string{fmt.Sprintf("rtsp://admin:s3cret@127.0.0.1:%d/cam", cam.port)}}, nil)
	ps := srv.waitVideo(t, "3710", 30*time.Second, "the camera's 640x360 picture and bob's video", func(ps map[string]videoParticipant) bool {
		c, b := ps["camera"], ps["bob"]
		return c.Video != nil && c.Video.Width == 640 && c.Video.Height == 360 && b.Video != nil && b.Video.Width == 352
	})
	camID, bobID := ps["camera"].ID, ps["bob"].ID
	srv.api(t, http.MethodPost, "/api/v1/conferences/3710/participants/"+camID+"/mute", nil, nil)
	srv.api(t, http.MethodPost, "/api/v1/conferences/3710/video/pin", map[string]any{"participant": camID}, nil)

	pinned := time.Now()
	alice := startVideoBaresip(t, "alice", quiet)
	alice.dial(t, ctx, "sip:3710@"+srv.sipAddr)
	if m, _, err := alice.p.out.waitFor(ctx, 0, regexp.MustCompile(`video: receiving with resolution (\d+) x (\d+)`)); err != nil {
		t.Fatalf("alice decodes no video: %v\n%s", err, alice.p.out.tail(40))
	} else if m[1] != "640" || m[2] != "360" {
		t.Fatalf("alice's first picture is %s x %s, not the pinned camera's 640 x 360", m[1], m[2])
	}
	t.Logf("alice decodes the pinned camera %v after she was started", time.Since(pinned).Round(10*time.Millisecond))
	if _, _, err := bob.p.out.waitFor(ctx, 0, regexp.MustCompile(`video: receiving with resolution 640 x 360`)); err != nil {
		t.Fatalf("bob does not decode the pinned camera: %v\n%s", err, bob.p.out.tail(40))
	}
	ps = srv.waitVideo(t, "3710", 10*time.Second, "the camera pinned, on screen, watched by alice and bob", func(ps map[string]videoParticipant) bool {
		c, a, b := ps["camera"], ps["alice"], ps["bob"]
		return c.Video != nil && c.Video.Pinned && c.Video.OnScreen &&
			a.Video != nil && a.Video.Watching == camID && b.Video != nil && b.Video.Watching == camID
	})
	t.Logf("camera %s: muted %v, video %+v", camID, ps["camera"].Muted, *ps["camera"].Video)
	var cv struct {
		Pinned string `json:"pinned"`
	}
	srv.api(t, http.MethodGet, "/api/v1/conferences/3710/video", nil, &cv)
	if cv.Pinned != camID {
		t.Errorf("conference video pinned %q, want the camera %s", cv.Pinned, camID)
	}
	if !ps["camera"].Muted {
		t.Error("the camera's mute was lost")
	}

	// Unpinned: alice watches the speaker, bob.
	srv.api(t, http.MethodDelete, "/api/v1/conferences/3710/video/pin", nil, nil)
	srv.waitVideo(t, "3710", 10*time.Second, "alice watching bob after the unpin", func(ps map[string]videoParticipant) bool {
		c, a := ps["camera"], ps["alice"]
		return c.Video != nil && !c.Video.Pinned && a.Video != nil && a.Video.Watching == bobID
	})
	for _, b := range []*baresip{alice, bob} {
		if err := b.hangup(ctx); err != nil {
			t.Error(err)
		}
	}
}

// TestCameraAudioMuted: in a conference with mute_camera_audio the camera
// joins muted (the participant list says so) and a phone does not hear
// its tone; a moderator unmutes it and the phone hears it.
func TestCameraAudioMuted(t *testing.T) {
	t.Parallel()
	requirePeer(t, "baresip")
	srv := startServer(t, serverOpts{extra: cameraExtra})
	// No join tones: what alice hears is the camera or nothing.
	srv.createConference(t, "3720", "quiet camera", map[string]any{"mute_camera_audio": true, "tones": "off"})
	cam := startRTSPCamera(t, "--user", "admin", "--password", "s3cret", "--audio", "pcmu", "--freq", "1000")
	name := fmt.Sprintf("127.0.0.1:%d/cam", cam.port)

	quiet := filepath.Join(t.TempDir(), "quiet.wav")
	writeSilence(t, quiet, 120*time.Second)
	alice := startBaresip(t, baresipOpts{name: "alice", codecs: "PCMU/8000/1", source: quiet})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	alice.dial(t, ctx, "sip:3720@"+srv.sipAddr)
	answered := time.Now()
	at := func(w time.Time) time.Duration { return w.Sub(answered) }

	srv.api(t, http.MethodPost, "/api/v1/conferences/3720/invite",
		map[string]any{"participants": []string{fmt.Sprintf("rtsp://admin:s3cret@127.0.0.1:%d/cam", cam.port)}}, nil)
	ps := srv.waitParticipants(t, "3720", 20*time.Second, "the camera with media", func(ps []participant) bool {
		p, ok := cameraIn(ps, name)
		return ok && p.Stats.PacketsIn > 0
	})
	joined := time.Now()
	p, _ := cameraIn(ps, name)
	if !p.Muted {
		t.Fatalf("the camera joined a mute_camera_audio conference unmuted: %+v", p)
	}
	time.Sleep(5 * time.Second)
	unmuted := time.Now()
	srv.api(t, http.MethodPost, "/api/v1/conferences/3720/participants/"+p.ID+"/unmute", nil, nil)
	if p, _ := cameraIn(srv.participants(t, "3720"), name); p.Muted {
		t.Error("the camera is still listed muted after the unmute")
	}
	time.Sleep(4 * time.Second)
	if err := alice.hangup(ctx); err != nil {
		t.Fatal(err)
	}
	a, err := ReadWAVFile(alice.recording(t))
	if err != nil {
		t.Fatal(err)
	}
	summary := func(what string, from, to time.Duration) ToneSummary {
		t.Helper()
		lv, err := AnalyzeTones(a.Slice(from, to), []float64{1000}, 100*time.Millisecond)
		if err != nil {
			t.Fatalf("analysing the recording %s: %v", what, err)
		}
		sum, err := SummarizeTones(lv, []float64{1000}, presentMarginDB)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("the camera's tone %s (%v to %v): %v", what, from, to, sum[0])
		return sum[0]
	}
	// After the greeting prompt alice hears as she joins (it ends within
	// two seconds) to just before the unmute; rtsp's unit tests show that
	// no audio of the camera reaches the room before its mute on join.
	t.Logf("the camera joined %v after alice's answer", at(joined).Round(10*time.Millisecond))
	if s := summary("while muted", max(at(joined), 2*time.Second), at(unmuted)-300*time.Millisecond); s.PresentRatio > 0 {
		t.Errorf("the phone hears the muted camera: %v", s)
	}
	// The same recording hears the camera once unmuted: the check above
	// would have caught its tone.
	if s := summary("after the unmute", at(unmuted)+time.Second, at(unmuted)+3500*time.Millisecond); s.PresentRatio < presentRatio {
		t.Errorf("the phone does not hear the unmuted camera: %v", s)
	}
}
