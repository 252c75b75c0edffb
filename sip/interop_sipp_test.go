package sip

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomgate/roomgate/bridge"
)

// Interop with sipp (Debian sip-tester) on loopback, part of the ordinary
// test run: the tests fail, never skip, when sipp is missing (CI installs it).

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

			network := "udp"
			if transport == "t1" {
				network = "tcp"
			}
			runSipp(t, func(string) []string {
				return []string{"-sn", "uac", "-i", "127.0.0.1", "-mi", "127.0.0.1",
					"-p", strconv.Itoa(freePort(t, network)), "-mp", strconv.Itoa(freeMediaPort(t)),
					"-t", transport, "-s", "1000", "-m", "1", "-nostdin", "-timeout", "30s", "-trace_err",
					s.Addr().String()}
			})
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

// sipp presses 5 both as an RFC 4733 event (through the real bridge) and as
// INFO, then 7 and # by INFO: conf hears 5, 7, # once each.
func TestSippDTMF(t *testing.T) {
	const pcap = "/usr/share/sip-tester/dtmf_2833_5.pcap"
	if _, err := os.Stat(pcap); err != nil {
		t.Fatalf("sipp's RFC 4733 pcaps are missing (apt-get install sip-tester): %v", err)
	}
	scenario, err := filepath.Abs(filepath.Join("testdata", "sipp", "dtmf_uac.xml"))
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := freeRange(t, 40)
	b, err := bridge.New(bridge.Config{BindAddr: netip.MustParseAddr("127.0.0.1"), PortMin: lo, PortMax: hi,
		MediaTimeout: time.Hour, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	confs := newFakeConfs()
	digits := make(chan DigitEvent, 16)
	reg := prometheus.NewRegistry()
	s, err := NewServer(Config{Listen: "127.0.0.1:0", OnDigit: func(ev DigitEvent) { digits <- ev }},
		BridgeMedia(b), confs, testLogger(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	xml, err := os.ReadFile(scenario)
	if err != nil {
		t.Fatal(err)
	}
	runSipp(t, func(dir string) []string {
		// sipp looks for the pcap next to the scenario.
		if err := os.WriteFile(filepath.Join(dir, "dtmf_uac.xml"), xml, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(pcap, filepath.Join(dir, "dtmf_5.pcap")); err != nil {
			t.Fatal(err)
		}
		return []string{"-sf", filepath.Join(dir, "dtmf_uac.xml"), "-i", "127.0.0.1", "-mi", "127.0.0.1",
			"-p", strconv.Itoa(freePort(t, "udp")), "-mp", strconv.Itoa(freeMediaPort(t)),
			"-t", "u1", "-s", "1000", "-m", "1", "-nostdin", "-timeout", "30s", "-trace_err", s.Addr().String()}
	})
	select {
	case <-confs.leaves:
	case <-time.After(waitFor):
		t.Fatal("sipp's BYE did not end the call")
	}
	var got []rune
	for len(digits) > 0 {
		got = append(got, (<-digits).Digit)
	}
	if string(got) != "57#" {
		t.Errorf("conf heard %q, want \"57#\" (5 once although sent twice)", string(got))
	}
	// 5 came both ways: once accepted, once a duplicate, whichever won.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "roomgate_sip_dtmf_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			key := ""
			for _, l := range m.GetLabel() {
				key += l.GetValue() + "/"
			}
			counts[key] = m.GetCounter().GetValue()
		}
	}
	if n := counts["rfc4733/accepted/"] + counts["rfc4733/duplicate/"]; n != 1 {
		t.Errorf("RFC 4733 digits seen %v, want 1 (the pcap's 5): %v", n, counts)
	}
	if n := counts["info/duplicate/"]; n+counts["rfc4733/duplicate/"] != 1 {
		t.Errorf("duplicates %v, want 1: %v", n, counts)
	}
}

// runSipp runs sipp with the arguments args makes for a fresh working
// directory, until it succeeds. The ports tests pick are only free when
// picked, and sipp binds four media ports from -mp up: a run that failed to
// bind one (another program took it) is retried on new ports.
func runSipp(t *testing.T, args func(dir string) []string) {
	t.Helper()
	sipp, err := exec.LookPath("sipp")
	if err != nil {
		t.Fatalf("sipp is not installed (apt-get install sip-tester): %v", err)
	}
	const attempts = 5
	for i := 1; ; i++ {
		dir := t.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		cmd := exec.CommandContext(ctx, sipp, args(dir)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		cancel()
		if err == nil {
			return
		}
		var logs strings.Builder
		errs, _ := filepath.Glob(filepath.Join(dir, "*errors.log"))
		for _, e := range errs {
			b, _ := os.ReadFile(e)
			fmt.Fprintf(&logs, "%s:\n%s\n", e, b)
		}
		if i < attempts && strings.Contains(logs.String(), "Address already in use") {
			t.Logf("sipp lost a port to another program, retrying")
			continue
		}
		t.Fatalf("sipp failed (attempt %d): %v\n%s\n%s", i, err, logs.String(), tail(out, 3000))
	}
}

// freeMediaPort picks an even UDP port for sipp's -mp whose next three
// ports (sipp's RTCP and video) were free as well.
func freeMediaPort(t *testing.T) int {
	t.Helper()
	for range 100 {
		p := freePort(t, "udp") &^ 1
		if p+3 > 65535 {
			continue
		}
		free := true
		for q := p; q < p+4 && free; q++ {
			c, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(q))
			if err != nil {
				free = false
				continue
			}
			c.Close()
		}
		if free {
			return p
		}
	}
	t.Fatal("no four free UDP ports in a row")
	return 0
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
