//go:build interop

package sip

import (
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/roomgate/roomgate/bridge"
)

// Interop with sipp (Debian sip-tester), run with -tags interop. The test
// fails when sipp is missing: CI installs it.

func freePort(t *testing.T, network string) int {
	t.Helper()
	switch network {
	case "tcp":
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	default:
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
}

func TestSippUAC(t *testing.T) {
	sipp, err := exec.LookPath("sipp")
	if err != nil {
		t.Fatalf("sipp is not installed (apt-get install sip-tester): %v", err)
	}
	for _, transport := range []string{"u1", "t1"} {
		t.Run(transport, func(t *testing.T) {
			lo, hi := freeRange(t, 40)
			b, err := bridge.New(bridge.Config{BindAddr: netip.MustParseAddr("127.0.0.1"), PortMin: lo, PortMax: hi,
				MediaTimeout: time.Hour, Logger: testLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			confs := newFakeConfs()
			s, err := NewServer(Config{Listen: "127.0.0.1:0"}, BridgeMedia(b), confs, testLogger(t), nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			defer s.Close()

			dir := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			network := "udp"
			if transport == "t1" {
				network = "tcp"
			}
			cmd := exec.CommandContext(ctx, sipp, "-sn", "uac", "-i", "127.0.0.1", "-mi", "127.0.0.1",
				"-p", strconv.Itoa(freePort(t, network)), "-mp", strconv.Itoa(freePort(t, "udp")&^1),
				"-t", transport, "-s", "1000", "-m", "1", "-nostdin", "-timeout", "30s", "-trace_err",
				s.Addr().String())
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err != nil {
				errs, _ := filepath.Glob(filepath.Join(dir, "*errors.log"))
				for _, e := range errs {
					b, _ := os.ReadFile(e)
					t.Logf("%s:\n%s", e, b)
				}
				t.Fatalf("sipp failed: %v\n%s", err, tail(out, 3000))
			}
			select {
			case <-confs.joins:
			default:
				t.Error("sipp's call joined nothing")
			}
			select {
			case <-confs.leaves:
			case <-time.After(10 * time.Second):
				t.Error("sipp's BYE did not end the call")
			}
		})
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
