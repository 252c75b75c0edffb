package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/roomgate/roomgate/config"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// database/sql keeps a connection opener goroutine per pool until Close;
		// the SQLite driver's pools are closed, but the opener may still be exiting.
		goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
	)
}

// testConfig returns a configuration on loopback with free ports and a
// private data directory.
func testConfig(t *testing.T, dataDir string) *config.Config {
	t.Helper()
	cfg, err := config.Load("", []string{
		"ROOMGATE_DATA_DIR=" + dataDir,
		"ROOMGATE_SIP_LISTEN=127.0.0.1:0",
		"ROOMGATE_HTTP_LISTEN=127.0.0.1:0",
		"ROOMGATE_H323_LISTEN=127.0.0.1:0",
		"ROOMGATE_RTP_BIND=127.0.0.1",
		"ROOMGATE_RTP_PORT_MIN=42000",
		"ROOMGATE_RTP_PORT_MAX=42999",
		"ROOMGATE_ADMIN_PASSWORD=correct horse",
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func quietLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func apiCall(t *testing.T, method, url, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func login(t *testing.T, base string) string {
	t.Helper()
	code, body := apiCall(t, "POST", base+"/api/v1/auth/token", "", map[string]string{"username": "admin", "password": "correct horse"})
	if code != http.StatusOK {
		t.Fatalf("token: %d %s", code, body)
	}
	var tok struct{ Token string }
	if err := json.Unmarshal(body, &tok); err != nil || tok.Token == "" {
		t.Fatalf("token body %s: %v", body, err)
	}
	return tok.Token
}

// TestServerKeepsConferencesAcrossRestart boots the whole server twice on
// the same data directory: a conference created through the API before the
// restart is there after it, and so is the token.
func TestServerKeepsConferencesAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()

	srv, err := startServer(ctx, testConfig(t, dir), quietLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + srv.http.Addr().String()
	if code, _ := apiCall(t, "GET", base+"/api/v1/conferences", "", nil); code != http.StatusUnauthorized {
		t.Errorf("conferences without a token: %d, want 401", code)
	}
	token := login(t, base)
	code, body := apiCall(t, "POST", base+"/api/v1/conferences", token, map[string]any{"id": "1000", "name": "Board room"})
	if code != http.StatusCreated && code != http.StatusOK {
		t.Fatalf("create: %d %s", code, body)
	}
	srv.Close()

	srv, err = startServer(ctx, testConfig(t, dir), quietLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	base = "http://" + srv.http.Addr().String()
	code, body = apiCall(t, "GET", base+"/api/v1/conferences/1000", token, nil)
	if code != http.StatusOK || !strings.Contains(string(body), "Board room") {
		t.Fatalf("after restart: %d %s", code, body)
	}
	if code, body := apiCall(t, "GET", base+"/metrics", "", nil); code != http.StatusOK || !strings.Contains(string(body), "go_goroutines") {
		t.Errorf("metrics: %d", code)
	}
}

func TestConferenceCommands(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(t.TempDir(), "roomgate.yaml")
	if err := os.WriteFile(cfgPath, []byte("data_dir: "+dir+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var out, errOut bytes.Buffer
	if rc := run(ctx, []string{"conference", "create", "--config", cfgPath, "--id", "1000", "--name", "Board room"}, &out, &errOut); rc != 0 {
		t.Fatalf("create rc=%d: %s", rc, errOut.String())
	}
	if !strings.Contains(out.String(), `"id": "1000"`) {
		t.Errorf("create printed %s", out.String())
	}
	out.Reset()
	if rc := run(ctx, []string{"conference", "list", "--config", cfgPath}, &out, &errOut); rc != 0 || !strings.Contains(out.String(), "Board room") {
		t.Fatalf("list rc=%d: %s %s", rc, out.String(), errOut.String())
	}
	if rc := run(ctx, []string{"conference", "create", "--config", cfgPath, "--id", "1000", "--name", "Again"}, &out, &errOut); rc != 1 {
		t.Errorf("duplicate create rc=%d, want 1", rc)
	}
	if rc := run(ctx, []string{"conference", "delete", "--config", cfgPath, "--id", "1000"}, &out, &errOut); rc != 0 {
		t.Fatalf("delete rc=%d: %s", rc, errOut.String())
	}
	if rc := run(ctx, []string{"conference", "show", "--config", cfgPath, "--id", "1000"}, &out, &errOut); rc != 1 {
		t.Errorf("show after delete rc=%d, want 1", rc)
	}
}

func TestBadConfigStopsStartup(t *testing.T) {
	cfgPath := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(cfgPath, []byte("rtp:\n  port_min: 7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if rc := run(context.Background(), []string{"serve", "--config", cfgPath}, &out, &errOut); rc == 0 {
		t.Fatal("serve accepted a bad configuration")
	}
	if !strings.Contains(errOut.String(), "rtp.port_min") {
		t.Errorf("message does not name the key: %s", errOut.String())
	}
	if rc := run(context.Background(), []string{"nonsense"}, &out, &errOut); rc != 2 {
		t.Errorf("unknown command rc=%d, want 2", rc)
	}
}

func TestH323DecodeCommand(t *testing.T) {
	// A lightweight RRQ keep-alive is enough to see the command wired to the
	// stack; the stack's own tests cover every captured vector.
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "testdata", "h323", "vectors.tsv"))
	if err != nil {
		t.Fatalf("reading the shared H.323 vectors: %v", err)
	}
	var hex string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, "\t")
		if len(f) == 5 && f[2] == "ras" && strings.Contains(f[3], "registrationRequest") {
			hex = f[4]
			break
		}
	}
	if hex == "" {
		t.Fatal("no RRQ vector found")
	}
	var out, errOut bytes.Buffer
	if rc := run(context.Background(), []string{"h323", "decode", "-kind", "ras", hex}, &out, &errOut); rc != 0 {
		t.Fatalf("rc=%d: %s", rc, errOut.String())
	}
	if !strings.Contains(out.String(), "registrationRequest") {
		t.Errorf("output lacks the message name: %.300s", out.String())
	}
	out.Reset()
	errOut.Reset()
	if rc := run(context.Background(), []string{"h323", "decode", "-kind", "ras", "0102"}, &out, &errOut); rc != 2 {
		t.Errorf("truncated PDU rc=%d, want 2", rc)
	}
}
