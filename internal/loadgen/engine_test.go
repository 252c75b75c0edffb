package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRunAgainstFakeServer(t *testing.T) {
	const delay = 30 * time.Millisecond
	f := newFakeServer(t, delay)
	defer f.close()

	rep, err := Run(context.Background(), Config{
		Server:        f.sipAddr(),
		HTTP:          f.httpAddr(),
		AdminPassword: "secret",
		Create:        true,
		Legs:          6,
		Conferences:   []string{"100", "200"},
		Rate:          200,
		Settle:        300 * time.Millisecond,
		Duration:      1500 * time.Millisecond,
		Talkers:       -1,
		BurstPeriod:   300 * time.Millisecond,
		ServerPID:     os.Getpid(),
		T1:            50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := rep.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", out.String())
	js, err := json.Marshal(rep)
	if err != nil {
		t.Fatalf("report as JSON: %v", err)
	}
	var back map[string]any
	if err := json.Unmarshal(js, &back); err != nil || back["established"] != 6.0 {
		t.Errorf("JSON report %s: %v", js, err)
	}

	if rep.Established != 6 || len(rep.Failures) != 0 {
		t.Fatalf("established %d, failures %v", rep.Established, rep.Failures)
	}
	f.mu.Lock()
	created, byes, live := slices.Clone(f.created), f.byes, len(f.calls)
	f.mu.Unlock()
	slices.Sort(created)
	if !slices.Equal(created, []string{"100", "200"}) {
		t.Errorf("conferences created: %v", created)
	}
	if byes != 6 || live != 0 {
		t.Errorf("fake server saw %d BYEs, %d calls left", byes, live)
	}
	if rep.RTP.Received == 0 || rep.RTP.LegsSilent != 0 {
		t.Errorf("RTP: %+v", rep.RTP)
	}
	if rep.RTP.Expected < rep.RTP.Received-rep.RTP.Duplicates {
		t.Errorf("expected %d < received %d", rep.RTP.Expected, rep.RTP.Received)
	}
	if rep.JoinMS == nil || rep.JoinMS.N != 6 {
		t.Errorf("join times: %+v", rep.JoinMS)
	}
	if rep.JitterMS == nil || rep.JitterMS.N != 6 {
		t.Errorf("jitter: %+v", rep.JitterMS)
	}
	// Four listeners over 1.5 s with a burst every 300 ms: about 20, but a
	// busy machine can starve the fake mixer; a few must get through.
	if rep.DelayMS == nil || rep.DelayMS.N < 2 {
		t.Fatalf("delay: %+v (unmatched %d)", rep.DelayMS, rep.DelayUnmatched)
	}
	// The fake holds every mixed packet for 30 ms: no burst can arrive
	// sooner than that (minus the detector's 2.5 ms block).
	if min := rep.DelayMS.P50; min < ms(delay)-2.5 || rep.DelayMS.Max > 300 {
		t.Errorf("delay %+v, want >= %v", rep.DelayMS, delay)
	}
	if rep.MixerTick == nil || rep.MixerTick.Count < 10 || rep.MixerTick.P99.Upper > 0.05 {
		t.Errorf("mixer ticks: %+v", rep.MixerTick)
	}
	if got := rep.ServerCounters[`roomgate_fake_ticks_total{kind="mix"}`]; rep.MixerTick != nil && got != rep.MixerTick.Count {
		t.Errorf("server counter over the window = %v, want the tick count %v", got, rep.MixerTick.Count)
	}
	if !rep.Server.CPUKnown || !rep.Server.MemKnown || rep.Server.Source != "/proc" {
		t.Errorf("server figures: %+v", rep.Server)
	}
	for _, g := range rep.Goals {
		if g.Name == "failed calls" && (!g.Known || !g.Met) {
			t.Errorf("goal %+v", g)
		}
	}
}

func TestRunRejectedAndRetransmitted(t *testing.T) {
	f := newFakeServer(t, 0)
	defer f.close()
	f.mu.Lock()
	f.reject["404"] = 404
	f.dropINV = 1 // the first INVITE is lost: timer A must resend it
	f.mu.Unlock()

	rep, err := Run(context.Background(), Config{
		Server:      f.sipAddr(),
		Legs:        4,
		Conferences: []string{"500", "404"},
		Rate:        200,
		Settle:      100 * time.Millisecond,
		Duration:    200 * time.Millisecond,
		NoProbe:     true,
		T1:          20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Established != 2 || rep.Failures["SIP 404 Not Found"] != 2 {
		t.Fatalf("established %d failures %v", rep.Established, rep.Failures)
	}
	f.mu.Lock()
	invites := f.invites
	f.mu.Unlock()
	if invites < 5 || rep.SIPRetransmissions < 1 {
		t.Errorf("fake server saw %d INVITEs, tool counted %d retransmissions: want a retransmission", invites, rep.SIPRetransmissions)
	}
	if rep.SetupMS == nil || rep.SetupMS.N != 2 || rep.SetupMS.Max < 20 {
		t.Errorf("setup times %+v: one call waited for timer A (20 ms)", rep.SetupMS)
	}
	if rep.Server.CPUKnown || rep.MixerTick != nil {
		t.Errorf("figures without a PID or /metrics must be unavailable: %+v %+v", rep.Server, rep.MixerTick)
	}
	var out bytes.Buffer
	if err := rep.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "UNKNOWN") || !strings.Contains(out.String(), "MISSED") {
		t.Errorf("table does not flag unmeasured and missed goals:\n%s", out.String())
	}
}

func TestRunConfigErrors(t *testing.T) {
	_, err := Run(context.Background(), Config{})
	if !errors.Is(err, ErrConfig) {
		t.Errorf("no server: %v", err)
	}
	f := newFakeServer(t, 0)
	defer f.close()
	_, err = Run(context.Background(), Config{Server: f.sipAddr(), Create: true})
	if !errors.Is(err, ErrConfig) {
		t.Errorf("create without HTTP: %v", err)
	}
	_, err = Run(context.Background(), Config{Server: f.sipAddr(), HTTP: f.httpAddr(), Create: true, AdminPassword: "wrong"})
	if !errors.Is(err, ErrAPI) {
		t.Errorf("wrong password: %v", err)
	}
}

func TestRunSpawn(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), Config{
		Spawn: SpawnConfig{Binary: self, ExtraEnv: []string{fakeServeEnv + "=1"}},
		Legs:  3, Rate: 100, Conferences: []string{"1", "2"},
		Settle: 100 * time.Millisecond, Duration: 400 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Established != 3 || !rep.Server.CPUKnown || !rep.Server.MemKnown || rep.Server.Source != "/proc" || rep.MixerTick == nil {
		t.Errorf("spawned run: established %d, server %+v, ticks %+v, notes %v", rep.Established, rep.Server, rep.MixerTick, rep.Notes)
	}
	for _, n := range rep.Notes {
		if strings.Contains(n, "exited") {
			t.Errorf("note: %s", n)
		}
	}

	// A binary that exits at once is reported with its output.
	_, err = Run(context.Background(), Config{Spawn: SpawnConfig{Binary: "/bin/false"}, Legs: 1})
	if !errors.Is(err, ErrServerExited) {
		t.Errorf("server exiting at start-up: %v", err)
	}
}

func TestAPIClientConferences(t *testing.T) {
	f := newFakeServer(t, 0)
	defer f.close()
	api := newAPIClient(f.httpAddr())
	defer api.close()
	ctx := context.Background()
	if err := api.createConference(ctx, "1"); !errors.Is(err, ErrAPI) {
		t.Errorf("without a token: %v", err)
	}
	if err := api.login(ctx, "secret"); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second time the conference exists: still fine
		if err := api.createConference(ctx, "1"); err != nil {
			t.Errorf("create: %v", err)
		}
	}
	s, err := api.scrape(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := HistogramFrom(s, "roomgate_mixer_tick_seconds"); err != nil {
		t.Error(err)
	}
}
