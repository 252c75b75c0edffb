package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "roomgate.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if c.SIP.Listen != "0.0.0.0:5060" || c.HTTP.Listen != "0.0.0.0:8080" {
		t.Errorf("listen defaults: sip %q http %q", c.SIP.Listen, c.HTTP.Listen)
	}
	if c.RTP.PortMin != 20000 || c.RTP.PortMax != 29999 || c.RTP.Timeout != 30*time.Second {
		t.Errorf("rtp defaults: %+v", c.RTP)
	}
	if strings.Join(c.Audio.Codecs, ",") != "opus,G722,PCMU,PCMA" || c.Audio.MaxTalkers != 4 {
		t.Errorf("audio defaults: %+v", c.Audio)
	}
	if c.DataDir != "./data" {
		t.Errorf("data_dir default %q", c.DataDir)
	}
}

func TestEveryKeyHasADefaultAndAnEnvOverride(t *testing.T) {
	for _, k := range Keys() {
		if !strings.Contains(string(defaultsYAML), strings.Split(k, ".")[len(strings.Split(k, "."))-1]+":") {
			t.Errorf("key %s has no entry in defaults.yaml", k)
		}
	}
	env := []string{
		"ROOMGATE_SIP_LISTEN=127.0.0.1:5070",
		"ROOMGATE_RTP_PORT_MIN=30000",
		"ROOMGATE_RTP_PORT_MAX=30100",
		"ROOMGATE_RTP_TIMEOUT=5s",
		"ROOMGATE_AUDIO_CODECS=pcmu, PCMA",
		"ROOMGATE_LOG_FORMAT=json",
		"ROOMGATE_ADMIN_PASSWORD=s3cret",
		"ROOMGATE_SIP_PUBLIC_ADDRESS=203.0.113.7",
		"PATH=/usr/bin",
	}
	c, err := Load("", env)
	if err != nil {
		t.Fatal(err)
	}
	if c.SIP.Listen != "127.0.0.1:5070" || c.RTP.PortMin != 30000 || c.RTP.PortMax != 30100 ||
		c.RTP.Timeout != 5*time.Second || c.Log.Format != "json" || c.AdminPassword != "s3cret" ||
		c.SIP.PublicAddress != "203.0.113.7" {
		t.Errorf("env overrides not applied: %+v", c)
	}
	if strings.Join(c.Audio.Codecs, ",") != "PCMU,PCMA" {
		t.Errorf("codec list from env = %v, want canonical PCMU,PCMA", c.Audio.Codecs)
	}
}

func TestFileThenEnv(t *testing.T) {
	p := writeFile(t, "sip:\n  listen: 127.0.0.1:0\nrtp:\n  port_min: 40000\n  port_max: 40200\naudio:\n  codecs: [PCMA]\n")
	c, err := Load(p, []string{"ROOMGATE_RTP_PORT_MAX=40400"})
	if err != nil {
		t.Fatal(err)
	}
	if c.SIP.Listen != "127.0.0.1:0" || c.RTP.PortMin != 40000 || c.RTP.PortMax != 40400 || c.Audio.Codecs[0] != "PCMA" {
		t.Errorf("got %+v", c)
	}
	if c.HTTP.Listen != "0.0.0.0:8080" {
		t.Errorf("unset key lost its default: %q", c.HTTP.Listen)
	}
}

func TestBadConfigNamesTheKey(t *testing.T) {
	cases := []struct {
		name, file string
		env        []string
		key        string
	}{
		{"unknown file key", "sip:\n  lissen: 1.2.3.4:5\n", nil, "sip.lissen"},
		{"unknown top key", "colour: blue\n", nil, "colour"},
		{"unknown env", "", []string{"ROOMGATE_SIP_LISEN=x"}, "ROOMGATE_SIP_LISEN"},
		{"not a number", "rtp:\n  port_min: abc\n", nil, "port_min"},
		{"odd port", "rtp:\n  port_min: 20001\n", nil, "rtp.port_min"},
		{"max below min", "rtp:\n  port_min: 30000\n  port_max: 20000\n", nil, "rtp.port_max"},
		{"bad duration", "", []string{"ROOMGATE_RTP_TIMEOUT=soon"}, "timeout"},
		{"bad level", "log:\n  level: loud\n", nil, "log.level"},
		{"bad format", "", []string{"ROOMGATE_LOG_FORMAT=xml"}, "log.format"},
		{"bad listen", "sip:\n  listen: localhost\n", nil, "sip.listen"},
		{"bad http listen", "", []string{"ROOMGATE_HTTP_LISTEN=:99999"}, "http.listen"},
		{"bad codec", "audio:\n  codecs: [G729]\n", nil, "audio.codecs"},
		{"empty codecs", "", []string{"ROOMGATE_AUDIO_CODECS="}, "audio.codecs"},
		{"talkers", "audio:\n  max_talkers: 0\n", nil, "audio.max_talkers"},
		{"bind", "rtp:\n  bind: everywhere\n", nil, "rtp.bind"},
		{"min_se", "sip:\n  min_se: 10s\n", nil, "sip.min_se"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.file != "" {
				path = writeFile(t, tc.file)
			}
			_, err := Load(path, tc.env)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.key) {
				t.Errorf("error %q does not name %q", err, tc.key)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %q does not wrap ErrInvalid", err)
			}
		})
	}
}

func TestMissingFile(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), nil); err == nil {
		t.Fatal("missing config file accepted")
	}
}

func TestEnvName(t *testing.T) {
	if got := EnvName("sip.public_address"); got != "ROOMGATE_SIP_PUBLIC_ADDRESS" {
		t.Errorf("EnvName = %q", got)
	}
}

func TestTrunks(t *testing.T) {
	c, err := Load("", []string{"ROOMGATE_SIP_TRUNKS=carrier:s%40cret@trunk.example.com:5080,pbx:pw@[2001:db8::5]"})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := c.SIP.ParseTrunks()
	if err != nil {
		t.Fatal(err)
	}
	want := []Trunk{{Username: "carrier", Password: "s@cret", Host: "trunk.example.com", Port: 5080},
		{Username: "pbx", Password: "pw", Host: "2001:db8::5"}}
	if len(ts) != len(want) || ts[0] != want[0] || ts[1] != want[1] {
		t.Fatalf("trunks %+v, want %+v", ts, want)
	}
	for _, bad := range []string{"nohost", "user@host", ":pw@host", "u:p@host:99999", "u:p@a@b", "u:%zz@host", "u:p@bad host"} {
		_, err := Load("", []string{"ROOMGATE_SIP_TRUNKS=" + bad})
		var ke *KeyError
		if !errors.As(err, &ke) || ke.Key != "sip.trunks" {
			t.Errorf("sip.trunks %q: %v, want a KeyError naming the key", bad, err)
		}
		if err != nil && strings.Contains(err.Error(), "zz") && bad == "u:%zz@host" {
			t.Errorf("the password leaked into %q", err)
		}
	}
}
