package rtsp

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/roomgate/roomgate/conf"
)

// fakeServer is a TCP listener on loopback whose connections are handled
// by serve; it stops in cleanup and waits for its goroutines.
type fakeServer struct {
	ln   net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	conn []net.Conn
}

func startFakeServer(t *testing.T, serve func(net.Conn)) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conn = append(s.conn, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conn {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *fakeServer) target(t *testing.T) conf.Target {
	t.Helper()
	tg, err := conf.ParseCallString("rtsp://" + s.ln.Addr().String() + "/cam")
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// startOnce pulls target once with cfg and returns Start's error; the
// puller must be done afterwards.
func startOnce(t *testing.T, target conf.Target, cfg Config) error {
	t.Helper()
	p, err := NewPuller(target, newRecorder(false), PullerOptions{Config: cfg, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(nil)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_, err = p.Start(ctx)
	if err == nil {
		t.Fatal("Start succeeded")
	}
	select {
	case <-p.Done():
	default:
		t.Fatal("puller not done after a failed start")
	}
	return err
}

// TestPullGarbage: servers that answer something that is not RTSP yield
// ErrProtocol, at once, with no goroutine left (goleak in TestMain).
func TestPullGarbage(t *testing.T) {
	answers := map[string]string{
		"http":            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"binary":          "\x00\x01\x02\xff\xfe garbage \x80\x81\r\n\r\n",
		"bad status line": "RTSP/1.0 abc Nope\r\nCSeq: 1\r\n\r\n",
		"bad sdp": "RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: DESCRIBE, SETUP, PLAY\r\n\r\n" +
			"RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Type: application/sdp\r\nContent-Length: 12\r\n\r\nnot an sdp\r\n",
	}
	for name, answer := range answers {
		t.Run(name, func(t *testing.T) {
			srv := startFakeServer(t, func(c net.Conn) {
				r := bufio.NewReader(c)
				// Read the first request line, answer, then keep
				// the connection open until the client goes.
				if _, err := r.ReadString('\n'); err != nil {
					return
				}
				_, _ = c.Write([]byte(answer))
				buf := make([]byte, 1024)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			})
			err := startOnce(t, srv.target(t), Config{ReadTimeout: 500 * time.Millisecond})
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("err %v, want ErrProtocol", err)
			}
		})
	}
}

// TestPullSilentCamera: a camera that accepts the connection and never
// answers fails with ErrConnectTimeout after Config.ConnectTimeout.
func TestPullSilentCamera(t *testing.T) {
	srv := startFakeServer(t, func(c net.Conn) {
		buf := make([]byte, 1024)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	})
	err := startOnce(t, srv.target(t), Config{ConnectTimeout: 300 * time.Millisecond})
	if !errors.Is(err, ErrConnectTimeout) {
		t.Fatalf("err %v, want ErrConnectTimeout", err)
	}
}

// TestPullNoListener: nothing listens at the port: ErrUnreachable.
func TestPullNoListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	tg, err := conf.ParseCallString("#rtsp://127.0.0.1:" + strconv.Itoa(port) + "/cam")
	if err != nil {
		t.Fatal(err)
	}
	if err := startOnce(t, tg, Config{}); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err %v, want ErrUnreachable", err)
	}
}

// TestPullStartCancelled: the caller's context ends the first connection.
func TestPullStartCancelled(t *testing.T) {
	cause := errors.New("dial cancelled")
	ctx, cancel := context.WithCancelCause(context.Background())
	srv := startFakeServer(t, func(c net.Conn) {
		buf := make([]byte, 1024)
		if _, err := c.Read(buf); err != nil {
			return
		}
		cancel(cause) // the request arrived; the inviter gives up
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	})
	p, err := NewPuller(srv.target(t), newRecorder(false), PullerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(nil)
	if _, err := p.Start(ctx); !errors.Is(err, cause) {
		t.Fatalf("err %v, want the context's cause", err)
	}
}
