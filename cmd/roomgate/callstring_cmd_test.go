package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/roomgate/roomgate/conf"
)

func TestCallstringCommandPrintsTarget(t *testing.T) {
	var out bytes.Buffer
	if err := callstringCommand([]string{"parse", "rtsp://admin:hunter2@cam.example:8554/live"}, &out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "hunter2") {
		t.Fatalf("output leaks the password:\n%s", out.String())
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	if got["scheme"] != "rtsp" || got["host"] != "cam.example" || got["port"] != 8554.0 || got["has_password"] != true {
		t.Errorf("output %v", got)
	}
}

func TestCallstringCommandErrors(t *testing.T) {
	var out bytes.Buffer
	err := callstringCommand([]string{"parse", "sip:a@host:99999"}, &out)
	var ce *conf.CallStringError
	if !errors.As(err, &ce) || ce.Part != "port" || out.Len() != 0 {
		t.Errorf("bad port: err %v, output %q", err, out.String())
	}
	for _, args := range [][]string{nil, {"parse"}, {"print", "x"}, {"parse", "a", "b"}} {
		var ue usageError
		if err := callstringCommand(args, &out); !errors.As(err, &ue) {
			t.Errorf("%q: err %v, want a usage error", args, err)
		}
	}
}
