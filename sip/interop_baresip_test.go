package sip

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/roomgate/roomgate/bridge"
)

// recordingMedia wraps a MediaFactory and reports every Start and Update.
type recordingMedia struct {
	MediaFactory
	calls chan legCall
}

type recordingLeg struct {
	MediaLeg
	calls chan legCall
}

func (m recordingMedia) NewLeg(opts bridge.LegOptions) (MediaLeg, error) {
	l, err := m.MediaFactory.NewLeg(opts)
	if err != nil {
		return nil, err
	}
	return recordingLeg{MediaLeg: l, calls: m.calls}, nil
}

func (l recordingLeg) Start(p bridge.StreamParams) error {
	l.calls <- legCall{"start", p}
	return l.MediaLeg.Start(p)
}

func (l recordingLeg) Update(p bridge.StreamParams) error {
	l.calls <- legCall{"update", p}
	return l.MediaLeg.Update(p)
}

// baresip is a running baresip driven over its ctrl_tcp module.
type baresip struct {
	t       *testing.T
	cmd     *exec.Cmd
	conn    net.Conn
	rd      *bufio.Reader
	outPath string // its stdout and stderr
}

// startBaresip runs baresip with a fresh config on free loopback ports. The
// ports are only free when picked, and baresip also binds SIP/TLS on the
// next port up, so a start that loses a port to another program is retried
// on new ones.
func startBaresip(t *testing.T, codecs string) *baresip {
	t.Helper()
	return startBaresipWith(t, codecs, "")
}

// startBaresipWith is startBaresip with more config lines (modules, video).
func startBaresipWith(t *testing.T, codecs, extra string) *baresip {
	t.Helper()
	bin, err := exec.LookPath("baresip")
	if err != nil {
		t.Fatalf("baresip is not installed (apt-get install baresip): %v", err)
	}
	const attempts = 5
	for i := 1; ; i++ {
		b, out, err := tryStartBaresip(t, bin, codecs, extra)
		if err == nil {
			return b
		}
		if i == attempts || !strings.Contains(out, "Address already in use") {
			t.Fatalf("starting baresip (attempt %d): %v\n%s", i, err, tail([]byte(out), 4000))
		}
		t.Logf("baresip lost a port to another program, retrying: %v", err)
	}
}

// tryStartBaresip starts baresip once; on failure it returns its output.
func tryStartBaresip(t *testing.T, bin, codecs, extra string) (*baresip, string, error) {
	t.Helper()
	dir := t.TempDir()
	sipPort, ctrlPort := freePort(t, "udp"), freePort(t, "tcp")
	lo, hi := freeRange(t, 20)
	cfg := fmt.Sprintf(`poll_method epoll
sip_listen 127.0.0.1:%d
net_interface 127.0.0.1
audio_player aubridge,nil
audio_source ausine,440
ausrc_srate 48000
ausrc_channels 2
audio_alert aubridge,nil
rtp_ports %d-%d
rtcp_mux no
module_path /usr/lib/baresip/modules
module g711.so
module g722.so
module opus.so
module ausine.so
module aubridge.so
module_tmp account.so
module_app menu.so
module_app ctrl_tcp.so
ctrl_tcp_listen 127.0.0.1:%d
%s`, sipPort, lo, hi, ctrlPort, extra)
	for name, content := range map[string]string{
		"config":   cfg,
		"accounts": fmt.Sprintf("<sip:alice@127.0.0.1:%d>;regint=0;audio_codecs=%s\n", sipPort, codecs),
		"contacts": "",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, "-f", dir, "-t", "60")
	cmd.Dir = dir
	outPath := filepath.Join(dir, "baresip.out")
	out, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	b := &baresip{t: t, cmd: cmd, outPath: outPath}
	stop := func() {
		if b.conn != nil {
			b.conn.Close()
		}
		cmd.Process.Signal(syscall.SIGTERM)
		<-exited
		out.Close()
	}
	output := func() string {
		log, _ := os.ReadFile(outPath)
		return string(log)
	}
	for deadline := time.Now().Add(waitFor); ; {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(ctrlPort))
		if err == nil {
			b.conn, b.rd = c, bufio.NewReader(c)
			t.Cleanup(func() {
				stop()
				if t.Failed() {
					t.Logf("baresip output:\n%s", tail([]byte(output()), 4000))
				}
			})
			return b, "", nil
		}
		if time.Now().After(deadline) {
			stop()
			return nil, output(), fmt.Errorf("ctrl_tcp never came up: %w", err)
		}
		select {
		case <-exited:
			stop()
			return nil, output(), fmt.Errorf("baresip exited before ctrl_tcp came up")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// command sends one ctrl_tcp command (netstring-framed JSON).
func (b *baresip) command(cmd, params string) {
	b.t.Helper()
	msg, _ := json.Marshal(map[string]string{"command": cmd, "params": params, "token": cmd})
	if _, err := fmt.Fprintf(b.conn, "%d:%s,", len(msg), msg); err != nil {
		b.t.Fatal(err)
	}
}

// event waits for a ctrl_tcp event of the given type.
func (b *baresip) event(typ string) {
	b.t.Helper()
	b.conn.SetReadDeadline(time.Now().Add(waitFor))
	for {
		n, err := b.rd.ReadString(':')
		if err != nil {
			b.t.Fatalf("waiting for %s: %v", typ, err)
		}
		size, err := strconv.Atoi(strings.TrimSpace(n[:len(n)-1]))
		if err != nil {
			b.t.Fatalf("bad netstring length %q", n)
		}
		buf := make([]byte, size+1)
		if _, err := io_ReadFull(b.rd, buf); err != nil {
			b.t.Fatal(err)
		}
		var ev struct {
			Event bool   `json:"event"`
			Type  string `json:"type"`
		}
		json.Unmarshal(buf[:size], &ev)
		if ev.Event && ev.Type == typ {
			return
		}
	}
}

func io_ReadFull(r *bufio.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// baresip dials in, holds, resumes and hangs up; the bridge leg follows.
func TestBaresipHoldResume(t *testing.T) {
	lo, hi := freeRange(t, 40)
	b, err := bridge.New(bridge.Config{BindAddr: netip.MustParseAddr("127.0.0.1"), PortMin: lo, PortMax: hi,
		MediaTimeout: time.Hour, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	media := recordingMedia{MediaFactory: BridgeMedia(b), calls: make(chan legCall, 16)}
	confs := newFakeConfs()
	s, err := NewServer(Config{Listen: "127.0.0.1:0"}, media, confs, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	phone := startBaresip(t, "opus/48000/2,G722/8000,PCMU/8000,telephone-event/8000")
	next := func() legCall {
		t.Helper()
		select {
		case c := <-media.calls:
			return c
		case <-time.After(waitFor):
			t.Fatal("no media change")
			return legCall{}
		}
	}
	phone.command("dial", "sip:1000@"+s.Addr().String())
	phone.event("CALL_ESTABLISHED")
	// baresip offers opus/48000/2 at 96 first among what we speak.
	if c := next(); c.op != "start" || c.p.Direction != bridge.SendRecv || c.p.Codec.Name != "opus" || c.p.PayloadType != 96 {
		t.Errorf("call start: %+v, want opus on 96", c)
	}
	phone.command("hold", "")
	if c := next(); c.op != "update" || c.p.Direction != bridge.RecvOnly {
		t.Errorf("hold: %+v", c)
	}
	phone.command("resume", "")
	if c := next(); c.op != "update" || c.p.Direction != bridge.SendRecv {
		t.Errorf("resume: %+v", c)
	}
	phone.command("hangup", "")
	select {
	case cause := <-confs.leaves:
		if cause == nil || !strings.Contains(cause.Error(), "BYE") {
			t.Errorf("leave cause %v", cause)
		}
	case <-time.After(waitFor):
		t.Fatal("baresip's BYE did not end the call")
	}
}
