package interop

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// linphone is one linphonec (liblinphone 5.1) driven through its stdin, with
// WAV files instead of a sound card.
type linphone struct {
	name string
	p    *proc
}

var (
	reLinphonePrompt = regexp.MustCompile(`linphonec> `)
	reLinphoneFiles  = regexp.MustCompile(`Using wav files instead of soundcard\.`)
	// A call is usable once media streams are up; it failed if it ended or
	// errored first.
	reLinphoneCall = regexp.MustCompile(`(Media streams established with [^\n]*)|(Call \d+ with [^\n]*(?:error|ended)[^\n]*)`)
	reLinphoneEnd  = regexp.MustCompile(`Call \d+ with [^\n]*(?:ended|error)|No active calls`)
)

// startLinphone starts linphonec with the three settings it needs on a
// loopback-only machine: its own HOME with ~/.local/share/linphone (else the
// core never turns on and answers everything 503), SIP and RTP bound to
// 127.0.0.1 (else its SDP names another interface), and the SIP port set by
// command (the config value is ignored at start-up). It plays play as its
// microphone and records what it hears into record.
func startLinphone(t testing.TB, name, play, record string) *linphone {
	t.Helper()
	bin := requirePeer(t, "linphonec")
	home := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(filepath.Join(home, ".local", "share", "linphone"), 0o755); err != nil {
		t.Fatalf("linphone home: %v", err)
	}
	sipPort := freePort(t)
	rtp := env.ports.take(t, 10)
	rc := filepath.Join(home, "linphonerc")
	config := fmt.Sprintf(`[sip]
bind_address=127.0.0.1
sip_port=%d
contact=sip:%s@127.0.0.1
guess_hostname=0
use_ipv6=0
register_only_when_network_is_up=0
use_rfc2833=1
use_info=0

[rtp]
bind_address=127.0.0.1
audio_rtp_port=%d
video_rtp_port=%d
text_rtp_port=%d

[sound]
echocancellation=0

[video]
capture=0
display=0
automatically_initiate=0
automatically_accept=0
`, sipPort, name, rtp, rtp+4, rtp+8)
	if err := os.WriteFile(rc, []byte(config), 0o644); err != nil {
		t.Fatalf("writing linphonerc: %v", err)
	}
	var envv []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HOME=") {
			envv = append(envv, kv)
		}
	}
	envv = append(envv, "HOME="+home)
	l := &linphone{name: name}
	l.p = startProc(t, "linphonec "+name, procOpts{dir: home, env: envv, stdin: true}, bin, "-c", rc)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, _, err := l.p.out.waitFor(ctx, 0, reLinphonePrompt); err != nil {
		t.Fatalf("linphonec %s: %v", name, err)
	}
	from := l.p.out.Len()
	l.p.send(t, fmt.Sprintf("ports sip %d", sipPort))
	if _, _, err := l.p.out.waitFor(ctx, from, regexp.MustCompile(fmt.Sprintf(`sip port to %d`, sipPort))); err != nil {
		t.Fatalf("linphonec %s: %v", name, err)
	}
	from = l.p.out.Len()
	l.p.send(t, "soundcard use files")
	if _, _, err := l.p.out.waitFor(ctx, from, reLinphoneFiles); err != nil {
		t.Fatalf("linphonec %s: %v", name, err)
	}
	l.p.send(t, "play "+play)
	l.p.send(t, "record "+record)
	return l
}

// call dials uri and waits until media streams are established.
func (l *linphone) call(t testing.TB, ctx context.Context, uri string) {
	t.Helper()
	from := l.p.out.Len()
	l.p.send(t, "call "+uri)
	m, _, err := l.p.out.waitFor(ctx, from, reLinphoneCall)
	if err != nil {
		t.Fatalf("linphonec %s calling %s: %v", l.name, uri, err)
	}
	if m[1] == "" {
		t.Fatalf("linphonec %s calling %s: %s", l.name, uri, m[2])
	}
}

// hangup terminates the call and waits until linphonec reports it ended. It
// may run on any goroutine.
func (l *linphone) hangup(ctx context.Context) error {
	from := l.p.out.Len()
	if _, err := io.WriteString(l.p.stdin, "terminate\n"); err != nil {
		return fmt.Errorf("linphonec %s: %w", l.name, err)
	}
	if _, _, err := l.p.out.waitFor(ctx, from, reLinphoneEnd); err != nil {
		return fmt.Errorf("linphonec %s hanging up: %w", l.name, err)
	}
	return nil
}

// quit asks linphonec to exit (it then flushes its recording) and waits.
func (l *linphone) quit(t testing.TB) {
	t.Helper()
	l.p.send(t, "quit")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := l.p.wait(ctx); err != nil {
		t.Logf("linphonec %s: %v", l.name, err)
	}
}
