package interop

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// startVideoBaresip is startBaresip with a camera: baresip's fakevideo
// source (352x288 at 25 fps) encoded and decoded by its avcodec module,
// whose decoder logs the resolution of the video it receives.
func startVideoBaresip(t testing.TB, name, source string) *baresip {
	t.Helper()
	bin := requirePeer(t, "baresip")
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(filepath.Join(dir, "rec"), 0o755); err != nil {
		t.Fatalf("baresip dir: %v", err)
	}
	sipPort, ctrlPort := freePort(t), freePort(t)
	rtp := env.ports.take(t, 20)
	config := fmt.Sprintf(`poll_method		epoll
sip_listen		127.0.0.1:%d
net_interface		127.0.0.1
call_local_timeout	120
audio_player		aubridge,nil
audio_source		aufile,%s
audio_alert		aubridge,nil
rtp_ports		%d-%d
rtcp_mux		no
video_size		352x288
video_bitrate		500000
video_fps		25.00
video_source		fakevideo,nil
video_display		fakevideo,nil
module_path		/usr/lib/baresip/modules
module			g711.so
module			aufile.so
module			aubridge.so
module			avcodec.so
module			fakevideo.so
module_tmp		account.so
module_app		menu.so
module_app		ctrl_tcp.so
ctrl_tcp_listen		127.0.0.1:%d
`, sipPort, source, rtp, rtp+19, ctrlPort)
	account := fmt.Sprintf("<sip:%s@127.0.0.1:%d>;regint=0;audio_codecs=PCMU/8000/1\n", name, sipPort)
	for file, content := range map[string]string{"config": config, "accounts": account, "contacts": ""} {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644); err != nil {
			t.Fatalf("writing baresip %s: %v", file, err)
		}
	}
	b := &baresip{name: name, dir: dir, uri: fmt.Sprintf("sip:%s@127.0.0.1:%d", name, sipPort)}
	b.p = startProc(t, "baresip "+name, procOpts{dir: dir}, bin, "-f", dir)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, _, err := b.p.out.waitFor(ctx, 0, reBaresipReady); err != nil {
		t.Fatalf("baresip %s: %v", name, err)
	}
	ctrl, err := dialBaresipCtrl(ctx, fmt.Sprintf("127.0.0.1:%d", ctrlPort))
	if err != nil {
		t.Fatalf("baresip %s: %v", name, err)
	}
	b.ctrl = ctrl
	t.Cleanup(ctrl.close)
	return b
}

// videoEvent is the part of an event of GET /api/v1/events the video test reads.
type videoEvent struct {
	Type          string `json:"type"`
	ParticipantID string `json:"participant_id"`
}

// followEvents streams conference id's events into a channel until ctx ends.
func followEvents(t testing.TB, ctx context.Context, s *server, id string) <-chan videoEvent {
	t.Helper()
	token, err := s.login(ctx)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.httpURL+"/api/v1/events?conference="+id, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("event stream: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		t.Fatalf("event stream: HTTP %d", resp.StatusCode)
	}
	ch := make(chan videoEvent, 256)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data:")
			if !ok {
				continue
			}
			var e videoEvent
			if json.Unmarshal([]byte(strings.TrimSpace(data)), &e) == nil {
				select {
				case ch <- e:
				default: // the test reads what it needs; never block the stream
				}
			}
		}
	}()
	t.Cleanup(func() { resp.Body.Close(); <-done })
	return ch
}

// TestVideoBaresipThroughServer has two baresip phones with cameras call a
// conference of the real server: the server negotiates H.264 with each,
// each phone decodes the other's camera (baresip logs the resolution of
// the video it receives), and the event stream announces who is on
// screen.
func TestVideoBaresipThroughServer(t *testing.T) {
	s := startServer(t, serverOpts{codecs: []string{"PCMU"}})
	s.createConference(t, "3800", "Video")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	events := followEvents(t, ctx, s, "3800")

	tone := filepath.Join(t.TempDir(), "tone.wav")
	if err := WriteToneWAV(tone, 8000, 440, 0.5, 90*time.Second); err != nil {
		t.Fatal(err)
	}
	alice := startVideoBaresip(t, "alice", tone)
	bob := startVideoBaresip(t, "bob", tone)
	alice.dial(t, ctx, "sip:3800@"+s.sipAddr)
	bob.dial(t, ctx, "sip:3800@"+s.sipAddr)

	decoded := regexp.MustCompile(`video: receiving with resolution 352 x 288`)
	for _, b := range []*baresip{alice, bob} {
		if _, _, err := b.p.out.waitFor(ctx, 0, decoded); err != nil {
			t.Fatalf("baresip %s never decoded the other's camera: %v\n%s", b.name, err, b.p.out.tail(40))
		}
	}
	ids := map[string]bool{}
	for _, p := range s.participants(t, "3800") {
		ids[p.ID] = true
	}
	if len(ids) != 2 {
		t.Fatalf("participants %v", ids)
	}
	for {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatal("event stream ended without video_switched")
			}
			if e.Type != "video_switched" {
				continue
			}
			if !ids[e.ParticipantID] {
				t.Fatalf("video_switched names %q, not a participant of %v", e.ParticipantID, ids)
			}
		case <-ctx.Done():
			t.Fatal("no video_switched event")
		}
		break
	}
	for _, b := range []*baresip{alice, bob} {
		if err := b.hangup(ctx); err != nil {
			t.Error(err)
		}
	}
}
