package call

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roomgate/roomgate/h323/internal/tsharktest"
	"github.com/roomgate/roomgate/h323/ras/rastest"
	"github.com/roomgate/roomgate/h323/tpkt"
)

// recordingConn keeps what crosses a call signalling connection: each
// write is one TPKT; reads are kept as a stream and split later.
type recordingConn struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
	reads  bytes.Buffer
}

func (r *recordingConn) Write(b []byte) (int, error) {
	r.mu.Lock()
	r.writes = append(r.writes, bytes.Clone(b))
	r.mu.Unlock()
	return r.Conn.Write(b)
}

func (r *recordingConn) Read(b []byte) (int, error) {
	n, err := r.Conn.Read(b)
	r.mu.Lock()
	r.reads.Write(b[:n])
	r.mu.Unlock()
	return n, err
}

// frames returns both directions as TPKT frames.
func (r *recordingConn) frames(t *testing.T) [][]byte {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([][]byte(nil), r.writes...)
	rd := tpkt.NewReader(bytes.NewReader(r.reads.Bytes()))
	for {
		p, err := rd.Next()
		if err != nil {
			break
		}
		framed, err := tpkt.Append(nil, p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, framed)
	}
	return out
}

// The traffic of a gatekeeper-routed call between two stacks, RAS and
// call signalling with tunnelled H.245 and Fast Connect, as tshark
// dissects it: every frame H.225.0, none malformed.
func TestTsharkDecodesGatekeeperCall(t *testing.T) {
	gk, err := rastest.Listen("127.0.0.1:0", rastest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gk.Close() })
	callee, _ := gkStack(t, gk, Config{}, "roomgate-b", "4711")
	caller, _ := gkStack(t, gk, Config{}, "roomgate-a")
	var rec *recordingConn
	dial := caller.s.env.dial
	caller.s.env.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		rec = &recordingConn{Conn: c}
		return rec, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := caller.s.Dialer().Dial(ctx, dialReq(t, "out", "#h323:4711")); err != nil {
		t.Fatal(err)
	}
	out, in := <-caller.confs.joins, <-callee.confs.joins
	oc := callOf(t, out)
	if err := (&Call{c: oc}).SendDigits(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	<-callee.digits
	out.req.Leg.Hangup(nil)
	<-callee.confs.leaves
	<-callOf(t, in).done
	<-oc.done
	// Wait for both DRQs to be confirmed before taking the RAS traffic.
	for n := 0; n < 2; {
		select {
		case r := <-gk.Received():
			if r.Msg.Kind == "disengageRequest" {
				n++
			}
		case <-ctx.Done():
			t.Fatal("DRQs missing")
		}
	}
	var frames []tsharktest.Frame
	for _, b := range rec.frames(t) {
		frames = append(frames, tsharktest.Frame{Name: "call signalling", Payload: b})
	}
	for _, b := range gk.Traffic() {
		frames = append(frames, tsharktest.Frame{Name: "ras", UDP: true, Payload: b})
	}
	joined := strings.Join(tsharktest.Check(t, frames), "\n")
	for _, want := range []string{"CS: setup", "CS: connect", "CS: releaseComplete", "RAS: registrationRequest",
		"RAS: registrationConfirm", "RAS: admissionRequest", "RAS: admissionConfirm", "RAS: disengageRequest",
		"RAS: disengageConfirm"} {
		if !strings.Contains(joined, want) {
			t.Errorf("tshark summary lacks %q:\n%s", want, joined)
		}
	}
}
