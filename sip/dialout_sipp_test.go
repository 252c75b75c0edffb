package sip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/conf"
	"github.com/roomgate/roomgate/store"
)

// Dial-out against sipp playing the called party (PEERS.md §1.2): an
// auto-answering UAS, a busy one and a trunk that challenges with digest.
// Like the other sipp tests they fail, never skip, when sipp is missing.

// sippUAS runs sipp with scenario (in testdata/sipp) for one call and
// returns the port it listens on and a function that waits for it to end.
func sippUAS(t *testing.T, scenario string) (int, func() error) {
	t.Helper()
	sipp, err := exec.LookPath("sipp")
	if err != nil {
		t.Fatalf("sipp is not installed (apt-get install sip-tester): %v", err)
	}
	sf, err := filepath.Abs(filepath.Join("testdata", "sipp", scenario))
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t, "udp")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	cmd := exec.CommandContext(ctx, sipp, "-sf", sf, "-i", "127.0.0.1", "-mi", "127.0.0.1",
		"-p", strconv.Itoa(port), "-mp", strconv.Itoa(freeMediaPort(t)), "-t", "u1", "-m", "1",
		"-nostdin", "-timeout", "30s", "-trace_err")
	cmd.Dir = t.TempDir()
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		cancel()
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return port, func() error {
		<-done
		if err := waitErr; err != nil {
			errs, _ := filepath.Glob(filepath.Join(cmd.Dir, "*errors.log"))
			return fmt.Errorf("sipp: %w\n%s\n%v", err, tail([]byte(out.String()), 2000), errs)
		}
		return nil
	}
}

// bridgeServer starts a SIP server over a real bridge on loopback.
func bridgeServer(t *testing.T, cfg Config, confs Conferences) *Server {
	t.Helper()
	lo, hi := freeRange(t, 40)
	b, err := bridge.New(bridge.Config{BindAddr: netip.MustParseAddr("127.0.0.1"), PortMin: lo, PortMax: hi,
		MediaTimeout: time.Hour, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen = "127.0.0.1:0"
	s, err := NewServer(cfg, BridgeMedia(b), confs, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		b.Close()
	})
	return s
}

func TestSippDialOutAnswered(t *testing.T) {
	confs := newFakeConfs()
	s := bridgeServer(t, Config{}, confs)
	port, wait := sippUAS(t, "uas_answer.xml")
	ctx, cancel := contextWithTimeout()
	defer cancel()
	if _, err := s.Dialer().Dial(ctx, dialRequest(t, fmt.Sprintf("sip:sipp@127.0.0.1:%d", port))); err != nil {
		t.Fatal(err)
	}
	part := <-confs.joins
	part.req.Leg.Hangup(conf.ErrKicked) // BYE ends sipp's scenario
	if err := wait(); err != nil {
		t.Fatal(err)
	}
}

func TestSippDialOutBusy(t *testing.T) {
	confs := newFakeConfs()
	s := bridgeServer(t, Config{}, confs)
	port, wait := sippUAS(t, "uas_busy.xml")
	ctx, cancel := contextWithTimeout()
	defer cancel()
	_, err := s.Dialer().Dial(ctx, dialRequest(t, fmt.Sprintf("sip:sipp@127.0.0.1:%d", port)))
	var se *StatusError
	if !errors.Is(err, ErrBusy) || !errors.As(err, &se) || se.Status != 486 {
		t.Fatalf("Dial: %v, want 486 ErrBusy", err)
	}
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if confs.count() != 0 {
		t.Error("a busy call joined")
	}
}

func TestSippDialOutDigestTrunk(t *testing.T) {
	confs := newFakeConfs()
	s := bridgeServer(t, Config{Trunks: []Trunk{{Name: "carrier", Host: "127.0.0.1", Username: "carrier", Password: "s3cret"}}}, confs)
	port, wait := sippUAS(t, "uas_digest.xml")
	ctx, cancel := contextWithTimeout()
	defer cancel()
	if _, err := s.Dialer().Dial(ctx, dialRequest(t, fmt.Sprintf("sip:+15551234@127.0.0.1:%d", port))); err != nil {
		t.Fatal(err)
	}
	part := <-confs.joins
	part.req.Leg.Hangup(conf.ErrKicked)
	if err := wait(); err != nil {
		t.Fatal(err)
	}
}

// TestSippInviteEndToEnd invites a sipp UAS through conf.Service and sees
// it listed as a participant of the conference.
func TestSippInviteEndToEnd(t *testing.T) {
	ctx, cancel := contextWithTimeout()
	defer cancel()
	st, err := store.OpenSQLite(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := conf.NewService(st, nil, conf.WithPasswordIterations(1000))
	defer svc.Close(context.Background())
	c, err := svc.CreateConference(ctx, conf.Conference{ID: "1000", Name: "Board"})
	if err != nil {
		t.Fatal(err)
	}
	s := bridgeServer(t, Config{}, ConfService(svc))
	svc.RegisterDialer(s.Dialer())
	port, wait := sippUAS(t, "uas_answer.xml")
	sub := svc.Subscribe()
	defer sub.Close()

	res, err := svc.InviteAndDial(ctx, conf.System(), c.ID, []string{fmt.Sprintf("sip:sipp@127.0.0.1:%d", port)})
	if err != nil || len(res) != 1 || res[0].Status != conf.DialStatusDialing {
		t.Fatalf("InviteAndDial: %+v, %v", res, err)
	}
	var answered conf.Event
	for answered.Type == "" {
		select {
		case ev := <-sub.C():
			switch ev.Type {
			case conf.EventDialAnswer:
				answered = ev
			case conf.EventDialFailed:
				t.Fatalf("dial failed: %s", ev.Cause)
			}
		case <-ctx.Done():
			t.Fatal("no answer from sipp")
		}
	}
	ps, err := svc.Participants(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].ID != answered.ParticipantID || ps[0].Protocol != "sip" {
		t.Fatalf("participants %+v, answered %+v", ps, answered)
	}
	if err := svc.DeleteConference(ctx, c.ID); err != nil { // hangs up: BYE to sipp
		t.Fatal(err)
	}
	if err := wait(); err != nil {
		t.Fatal(err)
	}
}
