package interop

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// serverOpts are the settings a test may change; zero values give the
// defaults used by most tests.
type serverOpts struct {
	// dataDir reuses a data directory (restart tests); "" = a fresh one.
	dataDir string
	// password is the admin password; "" = a random one. A reused data
	// directory keeps the admin account, and so its first password.
	password string
	// answerDelay is sip.answer_delay (ringing before the 200).
	answerDelay time.Duration
	// rtpTimeout is rtp.timeout; 0 = 10s.
	rtpTimeout time.Duration
	// rtpPorts is the size of the server's RTP port range; 0 = 200.
	rtpPorts int
	// codecs is audio.codecs; nil = opus, G722, PCMU, PCMA.
	codecs []string
	// extra is YAML appended to the config (sections the defaults above do
	// not write, such as ivr or dtmf).
	extra string
	// h323 is YAML added to the h323 section (indented two spaces), e.g.
	// "  fast_start: false\n".
	h323 string
}

// server is one roomgate process started by a test.
type server struct {
	bin        string
	dir        string
	dataDir    string
	configPath string
	env        []string
	sipAddr    string // host:port, UDP and TCP
	h323Addr   string // host:port of H.323 call signalling (TCP)
	httpURL    string // http://host:port
	password   string
	p          *proc
	client     *http.Client
	token      string
	stopped    bool
}

var (
	reH323Listening = regexp.MustCompile(`msg="?h323 listening"?[^\n]*?\baddr="?([0-9.:\[\]a-f]+)`)
	reSIPListening  = regexp.MustCompile(`msg="?sip listening"?[^\n]*?\baddr="?([0-9.:\[\]a-f]+)`)
	reHTTPListening = regexp.MustCompile(`msg="?http listening"?[^\n]*?\baddr="?([0-9.:\[\]a-f]+)`)
)

// startServer writes a config for free loopback ports, starts `roomgate
// serve`, waits until SIP and HTTP are listening and an API token can be
// obtained, and stops the server when the test ends.
func startServer(t testing.TB, o serverOpts) *server {
	t.Helper()
	bin := roomgateBinary(t)
	dir := t.TempDir()
	if o.dataDir == "" {
		o.dataDir = filepath.Join(dir, "data")
	}
	if o.rtpTimeout == 0 {
		o.rtpTimeout = 10 * time.Second
	}
	if o.rtpPorts == 0 {
		o.rtpPorts = 200
	}
	if o.password == "" {
		o.password = randomHex(t, 12)
	}
	if o.codecs == nil {
		o.codecs = []string{"opus", "G722", "PCMU", "PCMA"}
	}
	rtpBase := env.ports.take(t, o.rtpPorts)
	s := &server{
		bin:        bin,
		dir:        dir,
		dataDir:    o.dataDir,
		configPath: filepath.Join(dir, "roomgate.yaml"),
		sipAddr:    fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		httpURL:    fmt.Sprintf("http://127.0.0.1:%d", freePort(t)),
		password:   o.password,
		client:     &http.Client{Timeout: 10 * time.Second},
	}
	config := fmt.Sprintf(`data_dir: %q
log:
  level: debug
  format: text
sip:
  listen: %q
  public_address: "127.0.0.1"
  answer_delay: %s
http:
  listen: %q
h323:
  listen: "127.0.0.1:0"
%srtp:
  bind: "127.0.0.1"
  port_min: %d
  port_max: %d
  timeout: %s
audio:
  codecs: [%s]
  max_talkers: 4
`, s.dataDir, s.sipAddr, o.answerDelay, strings.TrimPrefix(s.httpURL, "http://"), o.h323,
		rtpBase, rtpBase+o.rtpPorts-1, o.rtpTimeout, strings.Join(o.codecs, ", ")) + o.extra
	if err := os.WriteFile(s.configPath, []byte(config), 0o600); err != nil {
		t.Fatalf("writing server config: %v", err)
	}
	s.env = append(cleanEnv(), "ROOMGATE_ADMIN_PASSWORD="+s.password)
	s.p = startProc(t, "roomgate", procOpts{dir: dir, env: s.env, logLines: 300}, bin, "serve", "--config", s.configPath)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, _, err := s.p.out.waitFor(ctx, 0, reSIPListening)
	if err != nil {
		t.Fatalf("server did not report SIP listening: %v\nconfig:\n%s", err, config)
	}
	s.sipAddr = m[1]
	m, _, err = s.p.out.waitFor(ctx, 0, reH323Listening)
	if err != nil {
		t.Fatalf("server did not report H.323 listening: %v", err)
	}
	s.h323Addr = m[1]
	m, _, err = s.p.out.waitFor(ctx, 0, reHTTPListening)
	if err != nil {
		t.Fatalf("server did not report HTTP listening: %v", err)
	}
	s.httpURL = "http://" + m[1]
	for {
		if s.token, err = s.login(ctx); err == nil {
			break
		}
		var ae *apiError
		if errors.As(err, &ae) && ae.status/100 == 4 {
			t.Fatalf("server refuses the admin login: %v", err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("server API not ready: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Cleanup(func() { s.stop(t) })
	return s
}

// cleanEnv is the test's environment without ROOMGATE_* variables, so a
// developer's shell settings cannot change what the server under test does.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ROOMGATE_") {
			out = append(out, kv)
		}
	}
	return out
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random: %v", err)
	}
	return hex.EncodeToString(b)
}

// stop shuts the server down with SIGTERM and reports an unclean exit.
func (s *server) stop(t testing.TB) {
	t.Helper()
	if s.stopped {
		return
	}
	s.stopped = true
	s.client.CloseIdleConnections()
	if err := s.p.stop(); err != nil {
		t.Errorf("roomgate did not shut down cleanly on SIGTERM: %v", err)
	}
}

// sipPort is the server's SIP port.
func (s *server) sipPort(t testing.TB) int {
	t.Helper()
	_, port, _ := strings.Cut(s.sipAddr, ":")
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatalf("server SIP address %q: %v", s.sipAddr, err)
	}
	return n
}

func (s *server) login(ctx context.Context) (string, error) {
	body, _ := json.Marshal(map[string]string{"username": "admin", "password": s.password})
	var out struct {
		Token string `json:"token"`
	}
	if err := s.request(ctx, "", http.MethodPost, "/api/v1/auth/token", body, &out); err != nil {
		return "", err
	}
	if out.Token == "" {
		return "", fmt.Errorf("POST /api/v1/auth/token: empty token")
	}
	return out.Token, nil
}

// apiError is a non-2xx answer of the REST API.
type apiError struct {
	method, path string
	status       int
	body         string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.method, e.path, e.status, e.body)
}

func (s *server) request(ctx context.Context, token, method, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, s.httpURL+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: reading body: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return &apiError{method, path, resp.StatusCode, strings.TrimSpace(string(b))}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decoding %q: %w", method, path, b, err)
		}
	}
	return nil
}

// api calls the REST API with the admin token and fails the test on error.
func (s *server) api(t testing.TB, method, path string, in, out any) {
	t.Helper()
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			t.Fatalf("encoding request: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := s.request(ctx, s.token, method, path, body, out); err != nil {
		t.Fatalf("API: %v", err)
	}
}

// conference is the part of the conference resource the tests look at.
type conference struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	State string `json:"state"`
}

// createConference creates a public conference (guests may join), through
// the REST API; extra fields (pin, moderator_pin, ...) are added to the body.
func (s *server) createConference(t testing.TB, id, name string, extra ...map[string]any) conference {
	t.Helper()
	var c conference
	body := map[string]any{
		"id":               id,
		"name":             name,
		"access":           "public",
		"max_participants": 200,
	}
	for _, e := range extra {
		maps.Copy(body, e)
	}
	s.api(t, http.MethodPost, "/api/v1/conferences", body, &c)
	if c.ID != id || c.Name != name {
		t.Fatalf("created conference = %+v, want id %q name %q", c, id, name)
	}
	return c
}

// participant is a live participant as GET .../participants returns it.
type participant struct {
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	Protocol    string `json:"protocol"`
	Codec       string `json:"codec"`
	Remote      string `json:"remote"`
	Talking     bool   `json:"talking"`
	Role        string `json:"role"`
	Muted       bool   `json:"muted"`
	Stats       struct {
		PacketsIn  uint64  `json:"packets_in"`
		PacketsOut uint64  `json:"packets_out"`
		Lost       uint64  `json:"lost"`
		JitterMs   float64 `json:"jitter_ms"`
	} `json:"stats"`
}

// apiStatus calls the REST API with the admin token and returns the HTTP
// status, for checks that expect an error answer.
func (s *server) apiStatus(t testing.TB, method, path string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err := s.request(ctx, s.token, method, path, nil, nil)
	if err == nil {
		return http.StatusOK
	}
	var ae *apiError
	if !errors.As(err, &ae) {
		t.Fatalf("API: %v", err)
	}
	return ae.status
}

// participants lists a conference's live participants. The body may be the
// bare array or an object wrapping it as "participants" (the web package's
// list envelope); both carry the same participant objects.
func (s *server) participants(t testing.TB, confID string) []participant {
	t.Helper()
	var raw json.RawMessage
	s.api(t, http.MethodGet, "/api/v1/conferences/"+confID+"/participants", nil, &raw)
	var ps []participant
	var err error
	if trimmed := bytes.TrimSpace(raw); len(trimmed) > 0 && trimmed[0] == '{' {
		var env struct {
			Participants *[]participant `json:"participants"`
		}
		if err = json.Unmarshal(raw, &env); err == nil && env.Participants == nil {
			err = errors.New(`no "participants" member`)
		}
		if env.Participants != nil {
			ps = *env.Participants
		}
	} else {
		err = json.Unmarshal(raw, &ps)
	}
	if err != nil {
		t.Fatalf("participants of %s: decoding %s: %v", confID, raw, err)
	}
	return ps
}

// waitParticipants polls the participants API until ok accepts the list.
func (s *server) waitParticipants(t testing.TB, confID string, timeout time.Duration, what string, ok func([]participant) bool) []participant {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ps := s.participants(t, confID)
		if ok(ps) {
			return ps
		}
		if time.Now().After(deadline) {
			t.Fatalf("conference %s: %s not seen within %v; participants: %+v", confID, what, timeout, ps)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cli runs a `roomgate` management subcommand on the server's config and
// data directory and returns its combined output.
func (s *server) cli(t testing.TB, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args = append(args, "--config", s.configPath)
	cmd := exec.CommandContext(ctx, s.bin, args...)
	cmd.Dir = s.dir
	cmd.Env = s.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("roomgate %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
