// Command roomload drives a Roomgate server with many real SIP legs on
// loopback and reports what each participant costs and how the audio fares.
// It is a thin front end over internal/loadgen, which holds the engine and
// its tests.
//
//	roomload -spawn ./roomgate -legs 2000
//	roomload -server 127.0.0.1:5060 -http 127.0.0.1:8080 -admin-password x -create -legs 500 -conferences 10
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/roomgate/roomgate/internal/loadgen"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("roomload", flag.ContinueOnError)
	var (
		server      = fs.String("server", "127.0.0.1:5060", "server SIP address (UDP)")
		httpAddr    = fs.String("http", "", "server HTTP address for /metrics and the REST API (e.g. 127.0.0.1:8080)")
		password    = fs.String("admin-password", os.Getenv("ROOMGATE_ADMIN_PASSWORD"), "admin password for -create (default $ROOMGATE_ADMIN_PASSWORD)")
		create      = fs.Bool("create", false, "create the conferences through the REST API first")
		spawn       = fs.String("spawn", "", "start this roomgate binary on free ports with a temporary data_dir (implies -create)")
		maxTalkers  = fs.Int("max-talkers", 0, "with -spawn: the server's audio.max_talkers (0: server default)")
		rtpMin      = fs.Int("rtp-min", 0, "with -spawn: first server RTP port (0: 10000)")
		rtpMax      = fs.Int("rtp-max", 0, "with -spawn: last server RTP port (0: from -legs)")
		spawnCPUs   = fs.String("spawn-cpus", "", "with -spawn: pin the server to these CPUs with taskset (e.g. 0); run roomload itself under taskset on the others")
		serverLog   = fs.String("server-log-level", "warn", "with -spawn: the server's log.level")
		legs        = fs.Int("legs", 10, "number of SIP legs")
		confs       = fs.Int("conferences", 1, "number of conferences; legs are spread round robin")
		prefix      = fs.String("conf-prefix", "7", "conference IDs are this prefix followed by a three-digit index")
		ids         = fs.String("conf-ids", "", "comma-separated conference IDs (overrides -conferences and -conf-prefix)")
		rate        = fs.Float64("rate", 50, "calls started per second during ramp-up")
		settle      = fs.Duration("settle", 2*time.Second, "wait after the last join before measuring")
		duration    = fs.Duration("duration", 10*time.Second, "length of the measurement window")
		talkers     = fs.Int("talkers", -1, "legs sending speech (others send comfort noise); -1: all")
		speech      = fs.Float64("speech-level", -30, "speech RMS level, dBFS")
		noise       = fs.Float64("noise-level", -60, "comfort noise RMS level, dBFS")
		probeLevel  = fs.Float64("probe-level", -3, "probe tone peak level, dBFS")
		probeBed    = fs.Float64("probe-bed-level", 0, "RMS level of the noise the probe sends between bursts, dBFS (0: speech level + 6)")
		listeners   = fs.Int("listeners", 16, "legs per conference that listen for the probe bursts (-1: all)")
		noProbe     = fs.Bool("no-probe", false, "do not measure bridge delay (no probe legs)")
		burstPeriod = fs.Duration("burst-period", time.Second, "probe burst period")
		burstLen    = fs.Duration("burst", 40*time.Millisecond, "probe burst length")
		detect      = fs.Float64("detect-level", -30, "minimum probe tone level heard in the mix, dBFS")
		late        = fs.Duration("late", 60*time.Millisecond, "a packet later than the earliest transit by this much counts as late")
		pid         = fs.Int("server-pid", 0, "server process ID, for CPU and memory from /proc")
		tickHist    = fs.String("tick-histogram", "roomgate_mixer_tick_seconds", "name of the mixer tick histogram in /metrics")
		senders     = fs.Int("senders", 0, "sender goroutines (0: GOMAXPROCS)")
		jsonOut     = fs.Bool("json", false, "print the report as JSON")
		strict      = fs.Bool("strict", false, "exit with status 3 when a goal is missed or unmeasured")
		verbose     = fs.Bool("v", false, "log progress to stderr")
		cpuProfile  = fs.String("cpuprofile", "", "write the tool's own CPU profile to this file")
	)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	cfg := loadgen.Config{
		HTTP:          *httpAddr,
		AdminPassword: *password,
		Create:        *create,
		Spawn: loadgen.SpawnConfig{
			Binary: *spawn, MaxTalkers: *maxTalkers, RTPPortMin: *rtpMin, RTPPortMax: *rtpMax, LogLevel: *serverLog, CPUs: *spawnCPUs,
		},
		Legs:          *legs,
		Rate:          *rate,
		Settle:        *settle,
		Duration:      *duration,
		Talkers:       *talkers,
		SpeechLevel:   *speech,
		NoiseLevel:    *noise,
		ProbeLevel:    *probeLevel,
		ProbeBedLevel: *probeBed,
		NoProbe:       *noProbe,
		Listeners:     *listeners,
		BurstPeriod:   *burstPeriod,
		BurstLength:   *burstLen,
		DetectLevel:   *detect,
		LateThreshold: *late,
		ServerPID:     *pid,
		TickHistogram: *tickHist,
		Senders:       *senders,
		Logger:        log,
	}
	if *spawn == "" {
		ap, err := netip.ParseAddrPort(*server)
		if err != nil {
			fmt.Fprintf(os.Stderr, "roomload: -server %q: %v\n", *server, err)
			return 2
		}
		cfg.Server = ap
	}
	if *ids != "" {
		for _, id := range strings.Split(*ids, ",") {
			if id = strings.TrimSpace(id); id != "" {
				cfg.Conferences = append(cfg.Conferences, id)
			}
		}
	} else {
		for i := range max(*confs, 1) {
			cfg.Conferences = append(cfg.Conferences, fmt.Sprintf("%s%03d", *prefix, i))
		}
	}
	if err := raiseFileLimit(2**legs + 256); err != nil {
		log.Warn("raising the open file limit", "err", err)
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "roomload: %v\n", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(os.Stderr, "roomload: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := loadgen.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "roomload: %v\n", err)
		return 1
	}
	if *jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(os.Stderr, "roomload: %v\n", err)
			return 1
		}
	} else if err := rep.WriteTable(os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "roomload: %v\n", err)
		return 1
	}
	if *strict && len(rep.Missed()) > 0 {
		return 3
	}
	return 0
}

// raiseFileLimit raises RLIMIT_NOFILE towards want (each leg holds an RTP
// socket), up to the hard limit.
func raiseFileLimit(want int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("reading RLIMIT_NOFILE: %w", err)
	}
	if lim.Cur >= uint64(want) {
		return nil
	}
	lim.Cur = min(uint64(want), lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("setting RLIMIT_NOFILE to %d: %w", lim.Cur, err)
	}
	if lim.Cur < uint64(want) {
		return fmt.Errorf("hard limit %d is below the %d descriptors wanted: %w", lim.Max, want, errors.ErrUnsupported)
	}
	return nil
}
