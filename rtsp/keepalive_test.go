package rtsp

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serveScriptedCamera answers one RTSP client over TCP interleaved like a
// camera whose sessions time out after timeout seconds, and reports the
// method of every request that comes after PLAY (keep-alives) on after.
// With garbage, it sends bytes that are neither RTSP nor interleaved
// frames right after answering PLAY.
func serveScriptedCamera(c net.Conn, sdp []byte, timeout int, garbage bool, after chan<- string) {
	r := textproto.NewReader(bufio.NewReader(c))
	playing := false
	for {
		line, err := r.ReadLine()
		if err != nil {
			return
		}
		if line == "" {
			continue
		}
		method, rest, _ := strings.Cut(line, " ")
		uri, _, _ := strings.Cut(rest, " ")
		hdr, err := r.ReadMIMEHeader()
		if err != nil {
			return
		}
		if playing {
			select {
			case after <- method:
			default:
			}
		}
		res := fmt.Sprintf("RTSP/1.0 200 OK\r\nCSeq: %s\r\n", hdr.Get("Cseq"))
		body := ""
		switch method {
		case "OPTIONS":
			res += "Public: OPTIONS, DESCRIBE, SETUP, PLAY, GET_PARAMETER, TEARDOWN\r\n"
		case "DESCRIBE":
			res += "Content-Type: application/sdp\r\nContent-Base: " + uri + "/\r\n"
			body = string(sdp)
		case "SETUP":
			if !strings.Contains(hdr.Get("Transport"), "TCP") {
				res = fmt.Sprintf("RTSP/1.0 461 Unsupported Transport\r\nCSeq: %s\r\n", hdr.Get("Cseq"))
				break
			}
			ids := "0-1"
			for _, part := range strings.Split(hdr.Get("Transport"), ";") {
				if v, ok := strings.CutPrefix(part, "interleaved="); ok {
					ids = v
				}
			}
			res += fmt.Sprintf("Transport: RTP/AVP/TCP;unicast;interleaved=%s\r\nSession: 4242;timeout=%d\r\n", ids, timeout)
		case "PLAY":
			res += "Session: 4242\r\n"
			playing = true
		case "TEARDOWN":
			_, _ = c.Write([]byte(res + "\r\n"))
			return
		}
		res += fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)
		if _, err := c.Write([]byte(res)); err != nil {
			return
		}
		if playing && garbage {
			_, _ = c.Write([]byte("\x00\xffHTTP/1.1 500 nonsense\r\n\r\n\x17\x03garbage"))
		}
	}
}

// TestKeepAliveHonoursSessionTimeout: a camera that times sessions out
// after 6 s (Session header) gets keep-alives well within 6 s, not at the
// 30 s that a 60 s default would give, and the timeout is reported.
func TestKeepAliveHonoursSessionTimeout(t *testing.T) {
	sdp, err := os.ReadFile(filepath.Join("testdata", "sdp", "gstreamer-h264-pcmu.sdp"))
	if err != nil {
		t.Fatal(err)
	}
	after := make(chan string, 16)
	srv := startFakeServer(t, func(c net.Conn) { serveScriptedCamera(c, sdp, 6, false, after) })
	rec := newRecorder(false)
	p, err := NewPuller(srv.target(t), rec, PullerOptions{Config: Config{Transport: TransportAuto}, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(nil)
	tr, err := p.Start(t.Context())
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if tr.SessionTimeout != 6*time.Second || tr.Transport != "TCP" {
		t.Fatalf("session timeout %v over %q, want 6s over TCP (after the camera's 461)", tr.SessionTimeout, tr.Transport)
	}
	select {
	case m := <-after:
		if m != "OPTIONS" && m != "GET_PARAMETER" {
			t.Fatalf("request %s after PLAY, want a keep-alive", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no keep-alive within the camera's 6 s session timeout")
	}
}

// TestGarbageWhilePlaying: a camera that sends garbage after PLAY loses
// the stream (the client skips what it cannot frame, then the silence
// runs into ReadTimeout); with reconnection off the puller gives up with
// ErrStreamLost and leaves no goroutine behind (goleak in TestMain).
func TestGarbageWhilePlaying(t *testing.T) {
	sdp, err := os.ReadFile(filepath.Join("testdata", "sdp", "gstreamer-h264-pcmu.sdp"))
	if err != nil {
		t.Fatal(err)
	}
	srv := startFakeServer(t, func(c net.Conn) { serveScriptedCamera(c, sdp, 60, true, make(chan string, 16)) })
	p, err := NewPuller(srv.target(t), newRecorder(false), PullerOptions{
		Config: Config{Transport: TransportTCP, Reconnects: -1, ReadTimeout: time.Second}, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(nil)
	if _, err := p.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	select {
	case <-p.Done():
	case <-time.After(waitFor):
		t.Fatal("the puller did not notice the garbage")
	}
	if !errors.Is(p.Err(), ErrStreamLost) {
		t.Fatalf("err %v, want ErrStreamLost", p.Err())
	}
}
