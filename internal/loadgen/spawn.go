package loadgen

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// SpawnConfig says how to start the server under test, so a run is
// reproducible from a single command with nothing else listening.
type SpawnConfig struct {
	// Binary is the roomgate executable.
	Binary string
	// RTPPortMin and RTPPortMax bound the server's RTP ports; zero picks
	// 10000 up to four ports per leg plus headroom, below Linux's ephemeral
	// range where the tool's own sockets live.
	RTPPortMin, RTPPortMax int
	// MaxTalkers is the server's audio.max_talkers (0 keeps its default).
	MaxTalkers int
	// LogLevel is the server's log.level (default warn).
	LogLevel string
	// ExtraEnv is added to the server's environment (KEY=value).
	ExtraEnv []string
	// CPUs, when set, pins the server to these CPUs (a taskset list such as
	// "0" or "0-1"), so that the tool and the server do not compete for the
	// same cores; run the tool itself under taskset on the others.
	CPUs string
}

// spawned is a running server started by the tool.
type spawned struct {
	cmd      *exec.Cmd
	dir      string
	logPath  string
	sip      netip.AddrPort
	http     string
	password string
	exited   chan struct{}
	waitErr  error
}

// freePort returns a port free for both TCP and UDP on 127.0.0.1.
func freePort() (int, error) {
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("finding a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		_ = l.Close()
		if err == nil {
			_ = u.Close()
			return port, nil
		}
	}
	return 0, fmt.Errorf("finding a port free for TCP and UDP: %w", ErrConfig)
}

// spawnServer writes a config on free ports into a temporary directory,
// starts the server and waits until its /metrics answers.
func spawnServer(ctx context.Context, sc SpawnConfig, legs int) (*spawned, error) {
	dir, err := os.MkdirTemp("", "roomload-")
	if err != nil {
		return nil, fmt.Errorf("creating server directory: %w", err)
	}
	s := &spawned{dir: dir, exited: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			s.stop()
		}
	}()
	sipPort, err := freePort()
	if err != nil {
		return nil, err
	}
	httpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	pmin, pmax := sc.RTPPortMin, sc.RTPPortMax
	if pmin == 0 {
		pmin = 10000
	}
	if pmax == 0 {
		pmax = min(pmin+4*legs+1000, 65534)
	}
	level := sc.LogLevel
	if level == "" {
		level = "warn"
	}
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	s.password = hex.EncodeToString(rnd[:])
	s.sip = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(sipPort))
	s.http = net.JoinHostPort("127.0.0.1", strconv.Itoa(httpPort))

	cfg := fmt.Sprintf(`data_dir: %q
log:
  level: %s
sip:
  listen: "%s"
http:
  listen: "%s"
h323:
  listen: "127.0.0.1:0"
rtp:
  bind: 127.0.0.1
  port_min: %d
  port_max: %d
  timeout: 30s
audio:
  codecs: [PCMU, PCMA]
`, filepath.Join(dir, "data"), level, s.sip, s.http, pmin, pmax)
	if sc.MaxTalkers > 0 {
		cfg += fmt.Sprintf("  max_talkers: %d\n", sc.MaxTalkers)
	}
	cfgPath := filepath.Join(dir, "roomgate.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, fmt.Errorf("writing server config: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		return nil, fmt.Errorf("creating server data directory: %w", err)
	}
	s.logPath = filepath.Join(dir, "server.log")
	logf, err := os.Create(s.logPath)
	if err != nil {
		return nil, fmt.Errorf("creating server log: %w", err)
	}
	defer logf.Close()

	// The server runs in its own directory: a relative binary path must be
	// resolved first.
	bin := sc.Binary
	if !filepath.IsAbs(bin) && filepath.Base(bin) != bin {
		if bin, err = filepath.Abs(bin); err != nil {
			return nil, fmt.Errorf("resolving %s: %w", sc.Binary, err)
		}
	}
	if sc.CPUs != "" {
		s.cmd = exec.Command("taskset", "-c", sc.CPUs, bin, "serve", "--config", cfgPath)
	} else {
		s.cmd = exec.Command(bin, "serve", "--config", cfgPath)
	}
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.Env = append(os.Environ(), "ROOMGATE_ADMIN_PASSWORD="+s.password)
	s.cmd.Env = append(s.cmd.Env, sc.ExtraEnv...)
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", sc.Binary, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()

	api := newAPIClient(s.http)
	defer api.close()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	for {
		if _, err := api.scrape(ctx); err == nil {
			ok = true
			return s, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the server: %w", context.Cause(ctx))
		case <-s.exited:
			return nil, fmt.Errorf("server exited during start-up (%v); log %s:\n%s: %w", s.waitErr, s.logPath, s.logTail(), ErrServerExited)
		case <-deadline.C:
			return nil, fmt.Errorf("server's /metrics on %s did not answer in 20s; log %s:\n%s: %w", s.http, s.logPath, s.logTail(), ErrTimeout)
		case <-poll.C:
		}
	}
}

// logTail returns the end of the server's log.
func (s *spawned) logTail() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return ""
	}
	if len(b) > 4096 {
		b = b[len(b)-4096:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}

// alive reports whether the server is still running.
func (s *spawned) alive() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// stop terminates the server (SIGTERM, then SIGKILL after 10 s) and
// removes its directory unless keepDir.
func (s *spawned) stop() error {
	var err error
	if s.cmd != nil && s.cmd.Process != nil && s.alive() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		t := time.NewTimer(10 * time.Second)
		select {
		case <-s.exited:
		case <-t.C:
			_ = s.cmd.Process.Kill()
			<-s.exited
			err = fmt.Errorf("server did not stop on SIGTERM within 10s: %w", ErrTimeout)
		}
		t.Stop()
	}
	if s.dir != "" {
		if rmErr := os.RemoveAll(s.dir); rmErr != nil && err == nil && !errors.Is(rmErr, os.ErrNotExist) {
			err = fmt.Errorf("removing %s: %w", s.dir, rmErr)
		}
	}
	return err
}
