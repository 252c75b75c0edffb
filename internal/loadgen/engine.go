package loadgen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Config describes one load run. Zero values take the documented defaults.
type Config struct {
	// Server is the SIP address of the server (UDP).
	Server netip.AddrPort
	// HTTP is host:port of the server's HTTP listener, for /metrics and the
	// REST API; empty disables both.
	HTTP string
	// AdminPassword is used with Create.
	AdminPassword string
	// Create creates the conferences through the REST API first.
	Create bool
	// Spawn, when Binary is set, starts the server itself on free ports
	// with a temporary data directory; Server, HTTP, AdminPassword,
	// ServerPID and Create are then filled in by the run.
	Spawn SpawnConfig

	// Legs is the number of calls to place (default 1).
	Legs int
	// Conferences are the conference IDs; legs are spread over them round
	// robin (default: one conference, "7000").
	Conferences []string
	// Rate is the number of calls started per second during ramp-up
	// (default 50).
	Rate float64
	// Settle is the wait between the last join and the measurement window,
	// so jitter buffers and talker selection reach steady state (default 2 s).
	Settle time.Duration
	// Duration is the length of the measurement window (default 10 s).
	Duration time.Duration

	// Talkers is how many legs send the speech-like signal; the others send
	// comfort noise. Negative means all (the default is set by the caller;
	// 0 means none). Probe legs are not counted.
	Talkers int
	// SpeechLevel, NoiseLevel are RMS levels in dBFS (defaults -30, -60);
	// ProbeLevel is the peak level of the probe tone (default -3) and
	// ProbeBedLevel the RMS level of the noise the probe sends all the time
	// (default SpeechLevel+6), which keeps it among the loudest legs.
	SpeechLevel, NoiseLevel, ProbeLevel, ProbeBedLevel float64
	// Listeners is how many legs per conference run the burst detector
	// (default 16; negative: all). Detection costs about a microsecond per
	// packet, so a sample of listeners keeps the tool light.
	Listeners int
	// NoProbe disables the delay probe: every leg is then a talker or quiet.
	NoProbe bool
	// BurstPeriod and BurstLength shape the probe signal (defaults 1 s and
	// 40 ms).
	BurstPeriod, BurstLength time.Duration
	// DetectLevel is the minimum tone amplitude (dBFS peak) the listeners
	// accept as a burst (default -30).
	DetectLevel float64
	// LateThreshold counts a packet as late when it arrives this much later
	// than the earliest transit of its stream (default 60 ms).
	LateThreshold time.Duration

	// ServerPID is the server process for CPU and memory figures from
	// /proc; 0 falls back to the process collectors of /metrics.
	ServerPID int
	// TickHistogram is the mixer tick histogram's name (default
	// roomgate_mixer_tick_seconds).
	TickHistogram string
	// Senders is the number of sender goroutines (default GOMAXPROCS).
	Senders int
	// Bind is the local address of the tool's sockets (default 127.0.0.1).
	Bind netip.Addr
	// T1 is the SIP round-trip estimate (default 500 ms).
	T1 time.Duration
	// Logger receives progress and errors (default: discarded).
	Logger *slog.Logger
}

func (c *Config) defaults() error {
	if c.Legs <= 0 {
		c.Legs = 1
	}
	if len(c.Conferences) == 0 {
		c.Conferences = []string{"7000"}
	}
	if c.Rate <= 0 {
		c.Rate = 50
	}
	if c.Settle <= 0 {
		c.Settle = 2 * time.Second
	}
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.SpeechLevel == 0 {
		c.SpeechLevel = -30
	}
	if c.NoiseLevel == 0 {
		c.NoiseLevel = -60
	}
	if c.ProbeLevel == 0 {
		c.ProbeLevel = -3
	}
	if c.ProbeBedLevel == 0 {
		c.ProbeBedLevel = min(c.SpeechLevel+6, -1)
	}
	if c.Listeners == 0 {
		c.Listeners = 16
	}
	if c.BurstPeriod <= 0 {
		c.BurstPeriod = time.Second
	}
	if c.BurstLength <= 0 {
		c.BurstLength = 40 * time.Millisecond
	}
	if c.DetectLevel == 0 {
		c.DetectLevel = -30
	}
	if c.LateThreshold <= 0 {
		c.LateThreshold = 60 * time.Millisecond
	}
	if c.TickHistogram == "" {
		c.TickHistogram = "roomgate_mixer_tick_seconds"
	}
	if c.Senders <= 0 {
		c.Senders = runtime.GOMAXPROCS(0)
	}
	if !c.Bind.IsValid() {
		c.Bind = netip.MustParseAddr("127.0.0.1")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Spawn.Binary == "" && !c.Server.IsValid() {
		return fmt.Errorf("no server address and nothing to spawn: %w", ErrConfig)
	}
	if c.BurstLength >= c.BurstPeriod {
		return fmt.Errorf("burst %s not shorter than its period %s: %w", c.BurstLength, c.BurstPeriod, ErrConfig)
	}
	if c.SpeechLevel > 0 || c.NoiseLevel > 0 || c.ProbeLevel > 0 || c.ProbeBedLevel > 0 {
		return fmt.Errorf("levels are dBFS and must not be positive: %w", ErrConfig)
	}
	return nil
}

// engine is the state of one run.
type engine struct {
	cfg      Config
	log      *slog.Logger
	codec    Codec
	epoch    time.Time
	phase    atomic.Int32
	maxDelay time.Duration

	speech, noise, probe []byte
	clocks               []*probeClock

	ua      *UA
	senders []*sender

	mu       sync.Mutex
	legs     []*leg // established
	failures map[string]int
	rxWG     sync.WaitGroup
}

// Run performs a load run: optionally spawn the server and create the
// conferences, ramp up the legs, let them settle, measure for the window,
// hang up, and return the report. Cancelling ctx ends the ramp or the
// window early; the report then covers what was measured.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	e := &engine{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "loadgen"),
		codec:    PCMU,
		epoch:    time.Now(),
		maxDelay: cfg.BurstPeriod * 9 / 10,
		failures: map[string]int{},
	}
	rep := &Report{Legs: cfg.Legs, Conferences: len(cfg.Conferences), Goals: DefaultGoals()}

	if cfg.Spawn.Binary != "" {
		srv, err := spawnServer(ctx, cfg.Spawn, cfg.Legs)
		if err != nil {
			return nil, fmt.Errorf("spawning the server: %w", err)
		}
		defer func() {
			if err := srv.stop(); err != nil {
				e.log.Warn("stopping the server", "err", err)
			}
		}()
		e.cfg.Server, e.cfg.HTTP, e.cfg.AdminPassword = srv.sip, srv.http, srv.password
		e.cfg.ServerPID, e.cfg.Create = srv.cmd.Process.Pid, true
		defer func() {
			if !srv.alive() {
				rep.Notes = append(rep.Notes, fmt.Sprintf("server exited during the run (%v); end of its log:\n%s", srv.waitErr, srv.logTail()))
			}
		}()
	}
	cfg = e.cfg
	var api *apiClient
	if cfg.HTTP != "" {
		api = newAPIClient(cfg.HTTP)
		defer api.close()
	}
	if cfg.Create {
		if api == nil {
			return nil, fmt.Errorf("creating conferences needs the HTTP address: %w", ErrConfig)
		}
		if err := api.login(ctx, cfg.AdminPassword); err != nil {
			return nil, err
		}
		for _, id := range cfg.Conferences {
			if err := api.createConference(ctx, id); err != nil {
				return nil, err
			}
		}
	}
	e.prepareSignals()

	before := e.measureServer(ctx, api)

	ua, err := NewUA(UAConfig{Local: netip.AddrPortFrom(cfg.Bind, 0), Server: cfg.Server, T1: cfg.T1, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	e.ua = ua
	defer ua.Close()

	stop := make(chan struct{})
	var sendWG sync.WaitGroup
	for range cfg.Senders {
		s := &sender{}
		e.senders = append(e.senders, s)
		sendWG.Go(func() { s.run(stop) })
	}
	stopSenders := sync.OnceFunc(func() { close(stop); sendWG.Wait() })
	defer stopSenders()

	rampStart := time.Now()
	e.ramp(ctx)
	rep.RampSeconds = time.Since(rampStart).Seconds()
	e.log.Info("ramp-up done", "established", len(e.legs), "failed", cfg.Legs-len(e.legs), "seconds", rep.RampSeconds)

	sleepCtx(ctx, cfg.Settle)

	// Measurement window.
	start := e.measureServer(ctx, api)
	startStats := e.snapshotLegs()
	if load, cpus, err := loadAverage(); err == nil && load > float64(cpus) {
		rep.Notes = append(rep.Notes, fmt.Sprintf("the machine was busy at the start of the window (load average %.1f on %d CPUs): other processes competed for the CPU, so these figures understate what the server can do", load, cpus))
	}
	e.phase.Store(phaseSteady)
	t0 := time.Now()
	sleepCtx(ctx, cfg.Duration)
	end := e.measureServer(ctx, api)
	e.phase.Store(phaseDone)
	window := time.Since(t0)
	endStats := e.snapshotLegs()

	var overruns uint64
	for _, s := range e.senders {
		overruns += s.overruns.Load()
	}
	stopSenders()
	e.hangUp()

	rep.SIPRetransmissions = ua.Retransmissions()
	e.buildReport(rep, window, before, start, end, startStats, endStats, overruns)
	return rep, nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// prepareSignals generates and encodes every signal once.
func (e *engine) prepareSignals() {
	e.speech = ULaw(SpeechLikePCM(1, 8*time.Second, e.cfg.SpeechLevel))
	e.noise = ULaw(NoisePCM(2, time.Second, e.cfg.NoiseLevel))
	e.probe = ULaw(ProbePCM(e.cfg.BurstPeriod, e.cfg.BurstLength, e.cfg.ProbeLevel, e.cfg.ProbeBedLevel))
	e.clocks = make([]*probeClock, len(e.cfg.Conferences))
	for i := range e.clocks {
		e.clocks[i] = &probeClock{}
	}
}

// roleOf decides what leg i sends: the first leg of each conference is its
// probe, then the first Talkers other legs talk, the rest are quiet.
func (e *engine) roleOf(i int) legRole {
	k := len(e.cfg.Conferences)
	if !e.cfg.NoProbe && i < k {
		return roleProbe
	}
	n := i
	if !e.cfg.NoProbe {
		n -= k
	}
	if e.cfg.Talkers < 0 || n < e.cfg.Talkers {
		return roleTalker
	}
	return roleQuiet
}

// ramp places the calls at the configured rate and waits for all of them
// to be established or to fail.
func (e *engine) ramp(ctx context.Context) {
	interval := time.Duration(float64(time.Second) / e.cfg.Rate)
	t := time.NewTicker(interval)
	defer t.Stop()
	var wg sync.WaitGroup
	for i := 0; i < e.cfg.Legs; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				e.fail(fmt.Sprintf("not started: %v", context.Cause(ctx)), e.cfg.Legs-i)
				wg.Wait()
				return
			case <-t.C:
			}
		}
		wg.Go(func() {
			if err := e.startLeg(ctx, i); err != nil {
				e.log.Debug("leg failed", "leg", i, "role", e.roleOf(i), "err", err)
				e.fail(failureKey(err), 1)
			}
		})
	}
	wg.Wait()
}

func failureKey(err error) string {
	var ce *CallError
	switch {
	case errors.As(err, &ce):
		return ce.Error()
	case errors.Is(err, ErrTimeout):
		return "INVITE timed out"
	case errors.Is(err, ErrCodecRejected):
		return "codec rejected"
	case errors.Is(err, ErrNoAudio):
		return "no audio in answer"
	default:
		return err.Error()
	}
}

func (e *engine) fail(reason string, n int) {
	e.mu.Lock()
	e.failures[reason] += n
	e.mu.Unlock()
}

// startLeg opens the leg's RTP socket, calls, and hands the leg to a sender.
func (e *engine) startLeg(ctx context.Context, i int) error {
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(e.cfg.Bind, 0)))
	if err != nil {
		return fmt.Errorf("binding RTP socket of leg %d: %w", i, err)
	}
	l := &leg{
		idx:   i,
		conf:  i % len(e.cfg.Conferences),
		role:  e.roleOf(i),
		conn:  conn,
		local: conn.LocalAddr().(*net.UDPAddr).AddrPort(),
		hdr:   newRTPHeader(e.codec.PayloadType),
	}
	l.clock = e.clocks[l.conf]
	// Leg i is the (i/K)-th leg of its conference; index 0 is the probe.
	nth := i / len(e.cfg.Conferences)
	l.listen = !e.cfg.NoProbe && l.role != roleProbe && (e.cfg.Listeners < 0 || nth <= e.cfg.Listeners)
	if l.listen {
		l.delays = make([]time.Duration, 0, int(e.cfg.Settle/e.cfg.BurstPeriod)+int(e.cfg.Duration/e.cfg.BurstPeriod)+8)
	}
	l.stats.LateThreshold = int32(e.cfg.LateThreshold / sampleDur)
	l.det.Reset(e.cfg.DetectLevel, e.cfg.BurstPeriod/2)
	switch l.role {
	case roleProbe:
		l.src = e.probe
		l.periodFrames = framesFor(e.cfg.BurstPeriod)
	case roleTalker:
		l.src = e.speech
		// Start each talker elsewhere in the loop so they do not speak
		// in unison.
		l.srcFrame = rand.IntN(len(e.speech) / FrameSamples)
	default:
		l.src = e.noise
		l.srcFrame = rand.IntN(len(e.noise) / FrameSamples)
	}

	e.rxWG.Add(1)
	go func() {
		defer e.rxWG.Done()
		l.receive(e)
	}()
	l.mu.Lock() // the receiver reads it on the first packet
	l.inviteAt = time.Now()
	l.mu.Unlock()
	d, answer, err := e.ua.Invite(ctx, e.cfg.Conferences[l.conf], Offer(l.local, uint64(i)+1, e.codec))
	if err == nil {
		l.remote, err = ParseAnswer(answer, e.codec)
		if err != nil {
			_ = d.Bye(ctx)
		}
	}
	if err != nil {
		_ = conn.Close()
		return err
	}
	l.dialog = d
	l.mu.Lock()
	l.setup = time.Since(l.inviteAt)
	l.mu.Unlock()
	e.mu.Lock()
	e.legs = append(e.legs, l)
	e.mu.Unlock()
	e.senders[i%len(e.senders)].add(l)
	return nil
}

// snapshotLegs copies every established leg's counters.
func (e *engine) snapshotLegs() map[*leg]StreamSnapshot {
	e.mu.Lock()
	legs := append([]*leg(nil), e.legs...)
	e.mu.Unlock()
	out := make(map[*leg]StreamSnapshot, len(legs))
	for _, l := range legs {
		l.mu.Lock()
		out[l] = l.stats.Snapshot()
		l.mu.Unlock()
	}
	return out
}

// hangUp sends BYE on every leg (a bounded number at a time) and closes
// the RTP sockets.
func (e *engine) hangUp() {
	ctx, cancel := context.WithTimeout(context.Background(), 64*e.ua.t1+time.Second)
	defer cancel()
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	var byeFailed atomic.Int64
	for _, l := range e.legs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := l.dialog.Bye(ctx); err != nil {
				byeFailed.Add(1)
				e.log.Debug("BYE failed", "leg", l.idx, "err", err)
			}
			_ = l.conn.Close()
		})
	}
	wg.Wait()
	e.rxWG.Wait()
	if n := byeFailed.Load(); n > 0 {
		e.fail("BYE failed", int(n))
	}
}

// serverSample is what the tool knows about the server at one instant.
type serverSample struct {
	at      time.Time
	cpu     time.Duration
	cpuOK   bool
	rss     uint64
	rssOK   bool
	tick    Histogram
	tickOK  bool
	tickErr error
	selfCPU time.Duration
	// counters are the server's roomgate_*_total counters by series.
	counters map[string]float64
}

// seriesKey names a sample with its labels, e.g. a_total{reason="late"}.
func seriesKey(s Sample) string {
	if len(s.Labels) == 0 {
		return s.Name
	}
	parts := make([]string, len(s.Labels))
	for i, l := range s.Labels {
		parts[i] = fmt.Sprintf("%s=%q", l.Name, l.Value)
	}
	return s.Name + "{" + strings.Join(parts, ",") + "}"
}

// measureServer reads the server's CPU and memory (from /proc when the PID
// is known, else from /metrics), its tick histogram and the tool's own CPU.
func (e *engine) measureServer(ctx context.Context, api *apiClient) serverSample {
	s := serverSample{at: time.Now(), selfCPU: selfCPU()}
	var samples []Sample
	if api != nil {
		var err error
		samples, err = api.scrape(ctx)
		if err != nil {
			s.tickErr = err
			e.log.Warn("scraping metrics", "err", err)
		} else {
			s.tick, err = HistogramFrom(samples, e.cfg.TickHistogram)
			s.tickOK, s.tickErr = err == nil, err
			s.counters = map[string]float64{}
			for _, x := range samples {
				if strings.HasPrefix(x.Name, "roomgate_") && strings.HasSuffix(x.Name, "_total") {
					s.counters[seriesKey(x)] = x.Value
				}
			}
		}
	}
	if e.cfg.ServerPID > 0 {
		if d, err := ProcCPU(e.cfg.ServerPID); err == nil {
			s.cpu, s.cpuOK = d, true
		} else {
			e.log.Warn("reading server CPU", "err", err)
		}
		if n, err := ProcRSS(e.cfg.ServerPID); err == nil {
			s.rss, s.rssOK = n, true
		} else {
			e.log.Warn("reading server memory", "err", err)
		}
		return s
	}
	if v, ok := Value(samples, "process_cpu_seconds_total"); ok {
		s.cpu, s.cpuOK = time.Duration(v*float64(time.Second)), true
	}
	if v, ok := Value(samples, "process_resident_memory_bytes"); ok {
		s.rss, s.rssOK = uint64(v), true
	}
	return s
}

// selfCPU is the tool's own user+system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
