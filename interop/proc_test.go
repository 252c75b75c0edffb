package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// freePort returns a loopback port that was free for both UDP and TCP a
// moment ago (SIP listens on both with the same number).
func freePort(t testing.TB) int {
	t.Helper()
	for range 50 {
		u, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("picking a free port: %v", err)
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		u.Close()
		if err != nil {
			continue
		}
		l.Close()
		return port
	}
	t.Fatal("no loopback port free for both UDP and TCP")
	return 0
}

// udpRangeFree reports whether every UDP port in [base, base+n) can be bound
// on 127.0.0.1 right now.
func udpRangeFree(base, n int) bool {
	for p := base; p < base+n; p++ {
		c, err := net.ListenPacket("udp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			return false
		}
		c.Close()
	}
	return true
}

// output collects a process's combined stdout and stderr and lets tests wait
// for a pattern to appear in it.
type output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed and replaced on every write or on exit
	exited  bool
}

func newOutput() *output { return &output{changed: make(chan struct{})} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	close(o.changed)
	o.changed = make(chan struct{})
	return len(p), nil
}

func (o *output) markExited() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.exited = true
	close(o.changed)
	o.changed = make(chan struct{})
}

// String returns everything written so far.
func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// Len is the number of bytes written so far; pass it to waitFor to look only
// at what comes next.
func (o *output) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Len()
}

// errExited means the process ended before the awaited output appeared.
var errExited = errors.New("process exited")

// waitFor waits until re matches the output written after offset from, and
// returns the submatches and the offset just past the match. It gives up when
// ctx ends or the process exits.
func (o *output) waitFor(ctx context.Context, from int, re *regexp.Regexp) ([]string, int, error) {
	for {
		o.mu.Lock()
		b := o.buf.Bytes()
		from = min(from, len(b))
		loc := re.FindSubmatchIndex(b[from:])
		var m []string
		if loc != nil {
			for i := 0; i < len(loc); i += 2 {
				if loc[i] < 0 {
					m = append(m, "")
					continue
				}
				m = append(m, string(b[from+loc[i]:from+loc[i+1]]))
			}
		}
		exited, ch := o.exited, o.changed
		o.mu.Unlock()
		switch {
		case loc != nil:
			return m, from + loc[1], nil
		case exited:
			return nil, from, fmt.Errorf("waiting for %q: %w", re, errExited)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, from, fmt.Errorf("waiting for %q: %w", re, context.Cause(ctx))
		}
	}
}

// tail returns about the last n lines of the output, with carriage-return
// status lines (baresip's) turned into newlines.
func (o *output) tail(n int) string {
	s := strings.ReplaceAll(o.String(), "\r", "\n")
	lines := strings.Split(s, "\n")
	kept := lines[:0]
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			kept = append(kept, l)
		}
	}
	if len(kept) > n {
		kept = kept[len(kept)-n:]
	}
	return strings.Join(kept, "\n")
}

// proc is a peer or server process owned by one test.
type proc struct {
	name   string
	cmd    *exec.Cmd
	out    *output
	stdin  io.WriteCloser
	cancel context.CancelFunc
	done   chan struct{}
	err    error // Wait's result, valid once done is closed
}

type procOpts struct {
	dir   string
	env   []string // full environment; nil = inherit
	stdin bool     // give the process a stdin pipe (linphonec reads commands)
	// logLines is how many trailing output lines are logged if the test fails.
	logLines int
}

// startProc starts a process in its own process group. Stopping it sends
// SIGTERM to the group, then SIGKILL after five seconds. It is stopped at the
// end of the test, and its output tail is logged if the test failed.
func startProc(t testing.TB, name string, o procOpts, bin string, args ...string) *proc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = o.dir
	cmd.Env = o.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	p := &proc{name: name, cmd: cmd, out: newOutput(), cancel: cancel, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if o.stdin {
		w, err := cmd.StdinPipe()
		if err != nil {
			cancel()
			t.Fatalf("starting %s: %v", name, err)
		}
		p.stdin = w
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %s (%s): %v", name, bin, err)
	}
	go func() {
		p.err = cmd.Wait()
		p.out.markExited()
		close(p.done)
	}()
	lines := o.logLines
	if lines == 0 {
		lines = 60
	}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("--- last %d lines of %s (%v) ---\n%s", lines, name, p.cmd.ProcessState, p.out.tail(lines))
		}
	})
	return p
}

// stop ends the process (SIGTERM to its group, SIGKILL five seconds later)
// and waits for it. It may be called more than once. It returns nil only if
// the process exited by itself with status 0, which is what a server that
// handles SIGTERM gracefully does; peers may just die of the signal.
func (p *proc) stop() error {
	if p.stdin != nil {
		p.stdin.Close()
	}
	p.cancel()
	<-p.done
	st := p.cmd.ProcessState
	switch {
	case st == nil:
		return fmt.Errorf("%s: %w", p.name, p.err)
	case st.Exited() && st.ExitCode() == 0:
		return nil
	default:
		return fmt.Errorf("%s: %v", p.name, st)
	}
}

// wait waits for the process to exit on its own (sipp does) and returns its
// exit code, or -1 with an error if ctx ended first or it was killed.
func (p *proc) wait(ctx context.Context) (int, error) {
	select {
	case <-p.done:
	case <-ctx.Done():
		return -1, fmt.Errorf("waiting for %s to exit: %w", p.name, context.Cause(ctx))
	}
	if p.cmd.ProcessState == nil {
		return -1, fmt.Errorf("%s: %w", p.name, p.err)
	}
	if code := p.cmd.ProcessState.ExitCode(); code >= 0 {
		return code, nil
	}
	return -1, fmt.Errorf("%s ended by %v", p.name, p.cmd.ProcessState)
}

// send writes a line to the process's stdin.
func (p *proc) send(t testing.TB, line string) {
	t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		t.Fatalf("writing %q to %s: %v", line, p.name, err)
	}
}
