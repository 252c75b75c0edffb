package call

import (
	"context"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/roomgate/roomgate/h323/h225"
	"github.com/roomgate/roomgate/h323/internal/vectors"
	"github.com/roomgate/roomgate/h323/tpkt"
)

// FuzzDecodeSignal feeds arbitrary TPKT payloads to the signalling decoder.
func FuzzDecodeSignal(f *testing.F) {
	for _, v := range vectors.Load(f, "q931") {
		f.Add(v.Data)
	}
	f.Add([]byte{0x08, 0x02, 0x00, 0x01, 0x05})
	f.Fuzz(func(t *testing.T, b []byte) {
		ev := decodeSignal(b)
		if ev.kind == evSignal && ev.q == nil {
			t.Fatal("decoded without a message")
		}
	})
}

// FuzzListener runs the listener's whole message handling on hostile input:
// the input is split into TPKT payloads sent either as the first messages of
// a connection or after a valid tunnelled Setup. Whatever arrives, the call
// must end (released or timed out) within bounded time and free its media.
func FuzzListener(f *testing.F) {
	for _, v := range vectors.Load(f, "q931") {
		f.Add(false, v.Data)
		f.Add(true, v.Data)
	}
	for _, v := range vectors.Load(f, "h245") {
		c := peerCall(true)
		c.H245 = [][]byte{v.Data}
		if uu, err := c.Empty(); err == nil {
			if m, err := h225.Wrap(h225.BodyEmpty, 0x55, false, uu, "", 0); err == nil {
				if b, err := m.AppendBinary(nil); err == nil {
					f.Add(true, b)
				}
			}
		}
	}
	f.Add(false, []byte("\x03\x00\x00\x04garbage"))
	f.Fuzz(func(t *testing.T, afterSetup bool, b []byte) {
		synctest.Test(t, func(t *testing.T) {
			media := &fakeMedia{}
			s, err := NewServer(Config{SetupTimeout: time.Second, H245Timeout: 2 * time.Second}, media, newFakeConfs(), testLogger(t), nil)
			if err != nil {
				t.Fatal(err)
			}
			inMemory(s)
			srv, peer := net.Pipe()
			done := make(chan struct{})
			go func() {
				defer close(done)
				s.serveConn(context.Background(), srv)
			}()
			drained := make(chan struct{})
			go func() {
				defer close(drained)
				buf := make([]byte, 4096)
				for {
					if _, err := peer.Read(buf); err != nil {
						return
					}
				}
			}()
			start := time.Now()
			go func() {
				var out []byte
				if afterSetup {
					m, err := h225.Wrap(h225.BodySetup, 0x55, false, setupUU(t, true, nil, nil, "1000"), "", 0)
					if err == nil {
						raw, _ := m.AppendBinary(nil)
						out, _ = tpkt.Append(out, raw)
					}
				}
				for len(b) > 0 {
					n := min(len(b), tpkt.MaxPayload)
					out, _ = tpkt.Append(out, b[:n])
					b = b[n:]
				}
				peer.Write(out)
			}()
			<-done
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("call ended only after %v", d)
			}
			peer.Close()
			<-drained
			for _, l := range media.all() {
				if l.Cause() == nil {
					t.Error("media leg not released")
				}
			}
		})
	})
}
