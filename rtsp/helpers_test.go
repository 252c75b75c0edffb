package rtsp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"
	"go.uber.org/goleak"

	"github.com/roomgate/roomgate/conf"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitFor bounds every wait on real processes and sockets; it is a safety
// net, never a timing assertion.
const waitFor = 20 * time.Second

// cameraPackages are the Debian packages the GStreamer camera needs.
const cameraPackages = "python3-gi python3-gst-1.0 gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base " +
	"gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav"

// camera is testdata/rtsp_cam.py running as a real RTSP server on
// loopback (PEERS.md 4.1).
type camera struct {
	t    *testing.T
	args []string
	port int

	cmd     *exec.Cmd
	drained chan struct{}
}

var readyRE = regexp.MustCompile(`^ready rtsp://127\.0\.0\.1:(\d+)/`)

// startCamera runs the camera on a port the OS picks; it is stopped in
// cleanup. A missing interpreter or plug-in fails the test with the
// packages to install.
func startCamera(t *testing.T, args ...string) *camera {
	t.Helper()
	c := &camera{t: t, args: args}
	c.start(0)
	t.Cleanup(c.stop)
	return c
}

func (c *camera) start(port int) {
	c.t.Helper()
	if err := c.launch(port); err != nil {
		c.t.Fatalf("%v\n(the GStreamer camera needs /usr/bin/python3 and the Debian packages %s)", err, cameraPackages)
	}
}

// launch runs the camera and waits for its ready line.
func (c *camera) launch(port int) error {
	args := append([]string{"testdata/rtsp_cam.py", "--address", "127.0.0.1", "--port", strconv.Itoa(port)}, c.args...)
	cmd := exec.Command("/usr/bin/python3", args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("camera stdout: %w", err)
	}
	stderr := &lockedWriter{w: new(bytes.Buffer)}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the GStreamer camera: %w", err)
	}
	ready := make(chan int, 1)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := readyRE.FindStringSubmatch(sc.Text()); m != nil {
				p, _ := strconv.Atoi(m[1])
				ready <- p
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case p := <-ready:
		c.port, c.cmd, c.drained = p, cmd, drained
		return nil
	case <-drained:
		_ = cmd.Wait()
		return fmt.Errorf("the GStreamer camera exited before it was ready: %s", stderr.String())
	case <-time.After(waitFor):
		_ = cmd.Process.Kill()
		<-drained
		_ = cmd.Wait()
		return fmt.Errorf("the GStreamer camera was not ready in %v: %s", waitFor, stderr.String())
	}
}

// stop ends the camera process; idempotent.
func (c *camera) stop() {
	if c.cmd == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.drained:
	case <-time.After(waitFor):
		_ = c.cmd.Process.Kill()
		<-c.drained
	}
	_ = c.cmd.Wait()
	c.cmd = nil
}

// restart stops the camera and starts it again on the same port.
func (c *camera) restart() {
	c.t.Helper()
	port := c.port
	c.stop()
	var err error
	for range 20 { // the port may linger a moment after the process ends
		if err = c.launch(port); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("camera did not restart on port %d: %v", port, err)
}

// target is the camera's call string parsed by conf.
func (c *camera) target(t *testing.T, userinfo, path string) conf.Target {
	t.Helper()
	s := "rtsp://"
	if userinfo != "" {
		s += userinfo + "@"
	}
	s += "127.0.0.1:" + strconv.Itoa(c.port) + path
	tg, err := conf.ParseCallString(s)
	if err != nil {
		t.Fatalf("parsing %q: %v", s, err)
	}
	return tg
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// recorder is a Sink that counts packets, checks the stream's continuity
// and, when asked, depacketizes the H.264 into an Annex-B byte stream.
type recorder struct {
	mu           sync.Mutex
	video        int
	audio        int
	videoSSRCs   map[uint32]bool
	audioSSRCs   map[uint32]bool
	lastVSeq     uint16
	seqBackJumps int
	dec          *rtph264.Decoder
	annexB       bytes.Buffer
	aus          int
	decErrs      int
	notify       chan struct{}
}

func newRecorder(decode bool) *recorder {
	r := &recorder{videoSSRCs: map[uint32]bool{}, audioSSRCs: map[uint32]bool{}, notify: make(chan struct{}, 1)}
	if decode {
		r.dec = &rtph264.Decoder{}
		if err := r.dec.Init(); err != nil {
			panic(err)
		}
	}
	return r
}

func (r *recorder) VideoRTP(pkt *rtp.Packet) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.video > 0 && int16(pkt.SequenceNumber-r.lastVSeq) < -100 {
		r.seqBackJumps++
	}
	r.video++
	r.lastVSeq = pkt.SequenceNumber
	r.videoSSRCs[pkt.SSRC] = true
	if r.dec != nil {
		au, err := r.dec.Decode(pkt)
		switch {
		case err == nil:
			b, err := h264.AnnexB(au).Marshal()
			if err == nil {
				r.annexB.Write(b)
				r.aus++
			}
		case errors.Is(err, rtph264.ErrMorePacketsNeeded), errors.Is(err, rtph264.ErrNonStartingPacketAndNoPrevious):
		default:
			r.decErrs++
		}
	}
	r.poke()
}

func (r *recorder) AudioRTP(pkt *rtp.Packet) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.audio++
	r.audioSSRCs[pkt.SSRC] = true
	r.poke()
}

func (r *recorder) poke() {
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

func (r *recorder) counts() (video, audio int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.video, r.audio
}

// waitUntil waits until cond holds for the recorder, failing after waitFor.
func (r *recorder) waitUntil(t *testing.T, what string, cond func(video, audio int) bool) {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		if v, a := r.counts(); cond(v, a) {
			return
		}
		select {
		case <-r.notify:
		case <-deadline:
			v, a := r.counts()
			t.Fatalf("waiting for %s: got %d video and %d audio packets", what, v, a)
		}
	}
}

// eventLog records a puller's events.
type eventLog struct {
	mu     sync.Mutex
	events []Event
	ch     chan Event
}

func newEventLog() *eventLog { return &eventLog{ch: make(chan Event, 256)} }

func (e *eventLog) add(ev Event) {
	e.mu.Lock()
	e.events = append(e.events, ev)
	e.mu.Unlock()
	select {
	case e.ch <- ev:
	default:
	}
}

func (e *eventLog) states() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var s []string
	for _, ev := range e.events {
		s = append(s, ev.State.String())
	}
	return s
}

// waitState waits for an event of state st.
func (e *eventLog) waitState(t *testing.T, st State) Event {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case ev := <-e.ch:
			if ev.State == st {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %v event in %v; events: %s", st, waitFor, strings.Join(e.states(), ","))
		}
	}
}
