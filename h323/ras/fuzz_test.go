package ras

import (
	"context"
	"net/netip"
	"testing"

	"github.com/roomgate/roomgate/h323/h225"
	"github.com/roomgate/roomgate/h323/internal/vectors"
	"github.com/roomgate/roomgate/h323/ras/rastest"
)

// FuzzReceive feeds arbitrary datagrams to the RAS receive path of a
// registered client with requests waiting and a call admitted: nothing may
// panic, and whatever it answers must be a RAS message.
func FuzzReceive(f *testing.F) {
	for _, v := range vectors.Load(f, "ras") {
		f.Add(v.Data)
	}
	gk := netip.MustParseAddrPort("127.0.0.1:1719")
	seeds := []func() ([]byte, error){
		func() ([]byte, error) { return h225.GCF(1, "gk", gk) },
		func() ([]byte, error) {
			return h225.RCF(2, h225.RegistrationAnswer{EndpointID: "ep1", CallSignal: []netip.AddrPort{epCS}, TimeToLive: 30})
		},
		func() ([]byte, error) { return h225.RRJ(2, "gk", "discoveryRequired") },
		func() ([]byte, error) { return h225.ACF(3, epCS, true, 100) },
		func() ([]byte, error) { return h225.ARJ(3, "requestDenied") },
		func() ([]byte, error) { return h225.RIP(3, 100) },
		func() ([]byte, error) { return h225.GatekeeperURQ(9, "ep1", []netip.AddrPort{epCS}, "maintenance") },
		func() ([]byte, error) { return h225.IRQ(10, 0, h225.GUID{}, gk) },
		func() ([]byte, error) { return h225.UCF(4) },
		func() ([]byte, error) {
			r := h225.Registration{EndpointID: "ep1"}
			return r.DRQ(11, h225.CallRAS{CallRef: 5, CallID: h225.GUID{7}}, "forcedDrop")
		},
	}
	for _, s := range seeds {
		b, err := s()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0x40})
	f.Fuzz(func(t *testing.T, b []byte) {
		n := rastest.NewMemNet()
		sink := n.Listen(gk)
		defer sink.Close()
		c, err := New(Config{Gatekeeper: gk.String(), Alias: "rg", CallSignal: epCS}, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.conn = n.Listen(epAddr)
		defer c.conn.Close()
		var cancel context.CancelCauseFunc
		c.ctx, cancel = context.WithCancelCause(context.Background())
		defer cancel(nil)
		c.registered, c.reg.EndpointID, c.gk = true, "ep1", gk
		c.calls[h225.GUID{7}] = &admitted{a: Admission{CallRef: 5, CallID: h225.GUID{7}, Drop: func() {}}}
		for seq := 1; seq <= 4; seq++ {
			c.pending[seq] = &pending{want: []string{"gatekeeperConfirm", "registrationConfirm", "registrationReject",
				"admissionConfirm", "admissionReject", "unregistrationConfirm"}, ch: make(chan *h225.RAS, 1)}
		}
		c.receive(b, gk)
		// Everything the client answered must decode.
		for {
			select {
			case <-c.kick:
				continue
			default:
			}
			break
		}
		buf := make([]byte, 70000)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				k, _, err := sink.ReadFrom(buf)
				if err != nil {
					return
				}
				if _, err := h225.ParseRAS(buf[:k]); err != nil {
					t.Errorf("client answered with undecodable RAS: %v", err)
				}
			}
		}()
		sink.Close()
		<-done
	})
}
