// Package tsharktest runs Wireshark's tshark on messages built by the H.323 packages, as an
// independent oracle: every frame must be dissected as H.225.0 without a malformed or
// expert-error field. Tests fail (not skip) when tshark or text2pcap is missing, because the
// check is part of the proof that the stack interoperates.
package tsharktest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Frame is one payload to dissect: a TCP segment to port 1720 (TPKT/Q.931, UDP false) or a
// UDP datagram to port 1719 (RAS, UDP true).
type Frame struct {
	Name    string
	UDP     bool
	Payload []byte
}

// Check writes the frames to captures and asserts tshark dissects each as H.225.0 with no
// malformed or expert-error field. It returns tshark's one-line summaries (TCP frames first).
func Check(t *testing.T, frames []Frame) []string {
	t.Helper()
	lines, problems, err := Run(frames)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
	return lines
}

// Run dissects the frames and returns tshark's summaries and every problem found.
func Run(frames []Frame) (lines, problems []string, err error) {
	for _, tool := range []string{"tshark", "text2pcap"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, nil, fmt.Errorf("%s is required for the interoperability check (apt-get install -y tshark): %w", tool, err)
		}
	}
	dir, err := os.MkdirTemp("", "tsharktest")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	for i, udp := range []bool{false, true} {
		var sel []Frame
		for _, f := range frames {
			if f.UDP == udp {
				sel = append(sel, f)
			}
		}
		if len(sel) == 0 {
			continue
		}
		l, p, err := run(filepath.Join(dir, fmt.Sprint(i)), sel, udp)
		if err != nil {
			return nil, nil, err
		}
		lines, problems = append(lines, l...), append(problems, p...)
	}
	return lines, problems, nil
}

func run(base string, frames []Frame, udp bool) (lines, problems []string, err error) {
	var dump bytes.Buffer
	for _, f := range frames {
		for off := 0; off < len(f.Payload); off += 16 {
			fmt.Fprintf(&dump, "%06x", off)
			end := min(off+16, len(f.Payload))
			for _, c := range f.Payload[off:end] {
				fmt.Fprintf(&dump, " %02x", c)
			}
			dump.WriteByte('\n')
		}
	}
	txt, pcap := base+".txt", base+".pcap"
	if err := os.WriteFile(txt, dump.Bytes(), 0o600); err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args := []string{"-q", "-T", "1722,1720"}
	if udp {
		args = []string{"-q", "-u", "1718,1719"}
	}
	if out, err := exec.CommandContext(ctx, "text2pcap", append(args, txt, pcap)...).CombinedOutput(); err != nil {
		return nil, nil, fmt.Errorf("text2pcap: %w\n%s", err, out)
	}
	bad, err := exec.CommandContext(ctx, "tshark", "-r", pcap,
		"-Y", "_ws.malformed || _ws.unreassembled || _ws.expert.severity == error").Output()
	if err != nil {
		return nil, nil, fmt.Errorf("tshark: %w", err)
	}
	if s := strings.TrimSpace(string(bad)); s != "" {
		problems = append(problems, "tshark reports malformed or erroneous frames:\n"+s)
	}
	out, err := exec.CommandContext(ctx, "tshark", "-r", pcap, "-T", "fields", "-e", "_ws.col.Protocol", "-e", "_ws.col.Info").Output()
	if err != nil {
		return nil, nil, fmt.Errorf("tshark: %w", err)
	}
	lines = strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(frames) {
		return nil, nil, fmt.Errorf("tshark shows %d frames, wrote %d", len(lines), len(frames))
	}
	for i, l := range lines {
		if strings.Contains(l, "UNKNOWN PER") || strings.Contains(l, "Malformed") {
			problems = append(problems, fmt.Sprintf("%s: tshark: %q", frames[i].Name, l))
		}
		if !strings.HasPrefix(l, "H.225.0") {
			problems = append(problems, fmt.Sprintf("%s: tshark does not dissect it as H.225.0: %q", frames[i].Name, l))
		}
	}
	return lines, problems, nil
}
