package interop

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"
)

// baresip is one headless baresip 1.0 instance: SIP on its own loopback port,
// microphone from a WAV file (aufile), no speaker (aubridge), every received
// call's audio written to rec/*-dec.wav (sndfile), driven over ctrl_tcp.
type baresip struct {
	name string
	uri  string // the account's own SIP URI
	dir  string
	p    *proc
	ctrl *baresipCtrl
}

type baresipOpts struct {
	name string
	// codecs is the account's audio_codecs list, e.g. "PCMU/8000/1"; baresip
	// matches name/rate/channels and G.722 registers as G722/16000/1.
	codecs string
	// source is the WAV played as microphone; it must outlast the call, since
	// aufile hangs up at the end of the file.
	source string
	// autoAnswer answers incoming calls (account answermode=auto).
	autoAnswer bool
}

// startBaresip writes a loopback-only config (no stun/turn/ice, no default
// contacts), starts baresip and connects to its ctrl_tcp socket.
func startBaresip(t testing.TB, o baresipOpts) *baresip {
	t.Helper()
	bin := requirePeer(t, "baresip")
	dir := filepath.Join(t.TempDir(), o.name)
	if err := os.MkdirAll(filepath.Join(dir, "rec"), 0o755); err != nil {
		t.Fatalf("baresip dir: %v", err)
	}
	sipPort, ctrlPort := freePort(t), freePort(t)
	rtp := env.ports.take(t, 20)
	config := fmt.Sprintf(`poll_method		epoll
sip_listen		127.0.0.1:%d
net_interface		127.0.0.1
call_local_timeout	120
call_max_calls		4
audio_player		aubridge,nil
audio_source		aufile,%s
audio_alert		aubridge,nil
audio_buffer		20-160
rtp_ports		%d-%d
rtcp_mux		no
jitter_buffer_delay	5-10
rtp_stats		yes
module_path		/usr/lib/baresip/modules
module			g711.so
module			g722.so
module			opus.so
module			aufile.so
module			aubridge.so
module			sndfile.so
module_tmp		account.so
module_app		menu.so
module_app		ctrl_tcp.so
ctrl_tcp_listen		127.0.0.1:%d
snd_path		%s
`, sipPort, o.source, rtp, rtp+19, ctrlPort, filepath.Join(dir, "rec"))
	account := fmt.Sprintf("<sip:%s@127.0.0.1:%d>;regint=0;audio_codecs=%s", o.name, sipPort, o.codecs)
	if o.autoAnswer {
		account += ";answermode=auto"
	}
	account += "\n"
	for name, content := range map[string]string{"config": config, "accounts": account, "contacts": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatalf("writing baresip %s: %v", name, err)
		}
	}
	b := &baresip{name: o.name, dir: dir, uri: fmt.Sprintf("sip:%s@127.0.0.1:%d", o.name, sipPort)}
	b.p = startProc(t, "baresip "+o.name, procOpts{dir: dir}, bin, "-f", dir)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, _, err := b.p.out.waitFor(ctx, 0, reBaresipReady); err != nil {
		t.Fatalf("baresip %s: %v", o.name, err)
	}
	ctrl, err := dialBaresipCtrl(ctx, fmt.Sprintf("127.0.0.1:%d", ctrlPort))
	if err != nil {
		t.Fatalf("baresip %s: %v", o.name, err)
	}
	b.ctrl = ctrl
	t.Cleanup(ctrl.close)
	return b
}

// dial calls uri and waits until the call is established.
func (b *baresip) dial(t testing.TB, ctx context.Context, uri string) {
	t.Helper()
	from := b.ctrl.eventCount()
	if _, err := b.ctrl.command(ctx, "dial", uri); err != nil {
		t.Fatalf("baresip %s: %v", b.name, err)
	}
	ev, err := b.ctrl.waitEvent(ctx, from, "CALL_ESTABLISHED", "CALL_CLOSED")
	if err != nil {
		t.Fatalf("baresip %s dialling %s: %v", b.name, uri, err)
	}
	if ev.Type != "CALL_ESTABLISHED" {
		t.Fatalf("baresip %s dialling %s: call closed: %q", b.name, uri, ev.Param)
	}
}

// hangup ends the call and waits until baresip reports it closed, so that
// its recording is complete. It may run on any goroutine.
func (b *baresip) hangup(ctx context.Context) error {
	from := b.ctrl.eventCount()
	if _, err := b.ctrl.command(ctx, "hangup", ""); err != nil {
		return fmt.Errorf("baresip %s: %w", b.name, err)
	}
	if _, err := b.ctrl.waitEvent(ctx, from, "CALL_CLOSED"); err != nil {
		return fmt.Errorf("baresip %s hanging up: %w", b.name, err)
	}
	return nil
}

// recording returns the path of what baresip heard in its (single) call.
func (b *baresip) recording(t testing.TB) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(b.dir, "rec", "*-dec.wav"))
	if err != nil || len(m) != 1 {
		t.Fatalf("baresip %s: want one received-audio recording, found %v (%v)", b.name, m, err)
	}
	return m[0]
}

// baresipEvent is an asynchronous ctrl_tcp message.
type baresipEvent struct {
	Event    bool   `json:"event"`
	Type     string `json:"type"`
	Class    string `json:"class"`
	PeerURI  string `json:"peeruri"`
	Param    string `json:"param"`
	Response bool   `json:"response"`
	OK       bool   `json:"ok"`
	Data     string `json:"data"`
	Token    string `json:"token"`
}

// baresipCtrl speaks baresip's ctrl_tcp protocol: netstring-framed JSON
// commands, answered by responses carrying the same token, with events
// streamed on the same connection.
type baresipCtrl struct {
	conn  net.Conn
	done  chan struct{}
	mu    sync.Mutex
	msgs  []baresipEvent
	err   error // why reading stopped
	wake  chan struct{}
	token int
}

var (
	errCtrlClosed  = errors.New("ctrl_tcp connection closed")
	reBaresipReady = regexp.MustCompile(`baresip is ready\.`)
)

func dialBaresipCtrl(ctx context.Context, addr string) (*baresipCtrl, error) {
	var d net.Dialer
	var conn net.Conn
	var err error
	for {
		if conn, err = d.DialContext(ctx, "tcp", addr); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connecting to ctrl_tcp %s: %w", addr, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	c := &baresipCtrl{conn: conn, done: make(chan struct{}), wake: make(chan struct{})}
	go c.read()
	return c, nil
}

func (c *baresipCtrl) read() {
	defer close(c.done)
	r := bufio.NewReader(c.conn)
	for {
		msg, err := readNetstring(r)
		if err != nil {
			c.mu.Lock()
			c.err = err
			close(c.wake)
			c.mu.Unlock()
			return
		}
		var ev baresipEvent
		if err := json.Unmarshal(msg, &ev); err != nil {
			ev = baresipEvent{Type: "UNPARSABLE", Data: string(msg)}
		}
		c.mu.Lock()
		c.msgs = append(c.msgs, ev)
		close(c.wake)
		c.wake = make(chan struct{})
		c.mu.Unlock()
	}
}

// readNetstring reads one "<len>:<payload>," frame (at most 1 MiB).
func readNetstring(r *bufio.Reader) ([]byte, error) {
	head, err := r.ReadString(':')
	if err != nil {
		return nil, fmt.Errorf("reading netstring length: %w", err)
	}
	n, err := strconv.Atoi(head[:len(head)-1])
	if err != nil || n < 0 || n > 1<<20 {
		return nil, fmt.Errorf("netstring length %q: invalid", head)
	}
	buf := make([]byte, n+1)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("reading netstring payload: %w", err)
	}
	if buf[n] != ',' {
		return nil, fmt.Errorf("netstring not terminated by ','")
	}
	return buf[:n], nil
}

func (c *baresipCtrl) close() {
	c.conn.Close()
	<-c.done
}

func (c *baresipCtrl) eventCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.msgs)
}

// await waits for the first message from index from on that match accepts.
func (c *baresipCtrl) await(ctx context.Context, from int, what string, match func(baresipEvent) bool) (baresipEvent, error) {
	for {
		c.mu.Lock()
		for _, m := range c.msgs[min(from, len(c.msgs)):] {
			if match(m) {
				c.mu.Unlock()
				return m, nil
			}
		}
		from = len(c.msgs)
		wake, err := c.wake, c.err
		c.mu.Unlock()
		if err != nil {
			return baresipEvent{}, fmt.Errorf("waiting for %s: %w: %w", what, errCtrlClosed, err)
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return baresipEvent{}, fmt.Errorf("waiting for %s: %w", what, context.Cause(ctx))
		}
	}
}

// waitEvent waits for the first event of one of the given types.
func (c *baresipCtrl) waitEvent(ctx context.Context, from int, types ...string) (baresipEvent, error) {
	return c.await(ctx, from, fmt.Sprintf("event %v", types), func(m baresipEvent) bool {
		if !m.Event {
			return false
		}
		for _, typ := range types {
			if m.Type == typ {
				return true
			}
		}
		return false
	})
}

// command sends one command and waits for its response.
func (c *baresipCtrl) command(ctx context.Context, name, params string) (string, error) {
	c.mu.Lock()
	c.token++
	token := strconv.Itoa(c.token)
	from := len(c.msgs)
	c.mu.Unlock()
	msg, err := json.Marshal(map[string]string{"command": name, "params": params, "token": token})
	if err != nil {
		return "", fmt.Errorf("encoding command %s: %w", name, err)
	}
	if _, err := fmt.Fprintf(c.conn, "%d:%s,", len(msg), msg); err != nil {
		return "", fmt.Errorf("sending command %s: %w", name, err)
	}
	resp, err := c.await(ctx, from, "response to "+name, func(m baresipEvent) bool { return m.Response && m.Token == token })
	if err != nil {
		return "", err
	}
	if !resp.OK {
		return "", fmt.Errorf("command %s %q failed: %s", name, params, resp.Data)
	}
	return resp.Data, nil
}
