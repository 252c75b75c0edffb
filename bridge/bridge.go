package bridge

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roomgate/roomgate/bridge/codec"
)

// defaultMaxTalkers is how many of the loudest legs enter a mix when the
// configuration does not say.
const defaultMaxTalkers = 4

// Bridge owns the RTP port range, the legs and one mixer per room.
type Bridge struct {
	cfg        Config
	log        *slog.Logger
	clk        clock
	media      mediaFactory
	ports      *portAllocator
	metrics    *metrics
	maxTalkers int
	cname      string
	ticks      tickRecorder
	// sendWorkers is how many extra goroutines a large room uses to send.
	sendWorkers int

	ctx    context.Context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup // mixers, event deliverers, timeout closers

	mu     sync.Mutex
	closed bool
	rooms  map[string]*room
	legs   map[*Leg]struct{}

	video videoRooms // video rooms by name (video_room.go); zero value ready
}

// New returns a running Bridge. It fails with ErrBadConfig when the address
// or port range cannot work, or when its metrics cannot be registered.
func New(cfg Config) (*Bridge, error) {
	return newBridge(cfg, realClock{}, stdMedia{})
}

// newBridge is New with the clock and codec factory injected (tests).
func newBridge(cfg Config, clk clock, media mediaFactory) (*Bridge, error) {
	if cfg.MediaTimeout < 0 {
		return nil, fmt.Errorf("creating bridge: %w: negative MediaTimeout %s", ErrBadConfig, cfg.MediaTimeout)
	}
	if cfg.MaxTalkers < 0 {
		return nil, fmt.Errorf("creating bridge: %w: negative MaxTalkers %d", ErrBadConfig, cfg.MaxTalkers)
	}
	ports, err := newPortAllocator(cfg.BindAddr, cfg.PortMin, cfg.PortMax)
	if err != nil {
		return nil, fmt.Errorf("creating bridge: %w", err)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("creating bridge: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var id [8]byte
	for i := range id {
		id[i] = byte(rand.Uint32())
	}
	b := &Bridge{
		cfg:         cfg,
		log:         log.With("component", "bridge"),
		clk:         clk,
		media:       media,
		ports:       ports,
		metrics:     m,
		maxTalkers:  cmp(cfg.MaxTalkers, defaultMaxTalkers),
		cname:       "roomgate-" + hex.EncodeToString(id[:]),
		sendWorkers: runtime.GOMAXPROCS(0) - 1,
		rooms:       map[string]*room{},
		legs:        map[*Leg]struct{}{},
	}
	b.ctx, b.cancel = context.WithCancelCause(context.Background())
	return b, nil
}

// cmp returns v, or def when v is zero.
func cmp(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Close closes every leg (cause ErrClosed), stops every mixer and waits for
// all the bridge's goroutines. Further NewLeg calls fail with ErrClosed.
func (b *Bridge) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		b.wg.Wait()
		return nil
	}
	b.closed = true
	legs := make([]*Leg, 0, len(b.legs))
	for l := range b.legs {
		legs = append(legs, l)
	}
	b.mu.Unlock()
	for _, l := range legs {
		l.Close(ErrClosed)
	}
	b.cancel(ErrClosed)
	b.wg.Wait()
	return nil
}

// newCodecs validates p and builds its decoder and encoder.
func (b *Bridge) newCodecs(p StreamParams) (codec.Decoder, codec.Encoder, error) {
	if err := validParams(p); err != nil {
		return nil, nil, err
	}
	dec, err := b.media.newDecoder(p.Codec)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrBadParams, err)
	}
	enc, err := b.media.newEncoder(p.Codec)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrBadParams, err)
	}
	if fr := dec.Info().SamplesPerFrame(); fr <= 0 || fr > maxFrame {
		return nil, nil, fmt.Errorf("%w: %s at %d Hz", ErrBadParams, p.Codec.Name, dec.Info().SampleRate)
	}
	return dec, enc, nil
}

// join puts a started leg into its room, starting the room's mixer if it is
// the first.
func (b *Bridge) join(l *Leg) error {
	l.mxMu.Lock() // lock order: a leg's mxMu, then b.mu
	defer l.mxMu.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || l.ctx.Err() != nil {
		return ErrClosed
	}
	b.addToRoom(l, l.roomName)
	return nil
}

// addToRoom adds l to the named room, creating the room and starting its
// mixer if needed. b.mu and l.mxMu must be held.
func (b *Bridge) addToRoom(l *Leg, name string) {
	r := b.rooms[name]
	if r == nil {
		r = newRoom(b, name)
		b.rooms[name] = r
		b.metrics.rooms.Inc()
		b.wg.Go(r.run)
		b.log.Debug("room mixer started", "conf", name)
	}
	r.mu.Lock()
	r.members = append(r.members, l)
	r.mu.Unlock()
	r.changed.Store(true)
	l.inRoom = r
	l.mx.room = r
}

// leave takes a closing leg out of its room and stops the room's mixer when
// it was the last.
func (b *Bridge) leave(l *Leg) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.legs, l)
	b.removeFromRoom(l)
}

// removeFromRoom takes l out of its room, stopping the room when it empties.
// b.mu must be held.
func (b *Bridge) removeFromRoom(l *Leg) {
	r := l.inRoom
	if r == nil {
		return
	}
	l.inRoom = nil
	r.mu.Lock()
	if i := slices.Index(r.members, l); i >= 0 {
		r.members = slices.Delete(r.members, i, i+1)
	}
	empty := len(r.members) == 0
	r.mu.Unlock()
	r.changed.Store(true)
	if empty {
		delete(b.rooms, r.name)
		r.cancel()
		b.metrics.rooms.Dec()
		b.log.Debug("room mixer stopped", "conf", r.name)
	}
}

// TickStats reports the mixers' tick processing time over the recent ticks
// of all rooms (median and 99th percentile), the number of ticks since New,
// and how many of them took longer than the 20 ms period.
func (b *Bridge) TickStats() (p50, p99 time.Duration, ticks, overruns uint64) {
	return b.ticks.stats()
}

// ClockStats reports how the mixers kept their 20 ms clock since New: how
// many frames were produced late, in a catch-up burst after a slow tick or a
// late wake-up (harmless: the legs' jitter buffers absorb the burst), and how
// many were skipped because a mixer fell more than maxCatchUp frames behind
// (each skip is an audible gap on every leg of the room).
func (b *Bridge) ClockStats() (late, skipped uint64) {
	return b.ticks.lateFrames.Load(), b.ticks.skippedFrames.Load()
}

// tickWindow is how many recent ticks TickStats looks at.
const tickWindow = 4096

// tickRecorder keeps the most recent tick durations.
type tickRecorder struct {
	ticks, overruns           atomic.Uint64
	lateFrames, skippedFrames atomic.Uint64

	mu   sync.Mutex
	ring [tickWindow]time.Duration
	n    int
}

// record notes one tick's processing time.
func (t *tickRecorder) record(d time.Duration, m *metrics) {
	t.ticks.Add(1)
	m.tickSeconds.Observe(d.Seconds())
	if d > tickPeriod {
		t.overruns.Add(1)
		m.overruns.Inc()
	}
	t.mu.Lock()
	t.ring[t.n%tickWindow] = d
	t.n++
	t.mu.Unlock()
}

// late notes one frame produced after its deadline, in a catch-up burst.
func (t *tickRecorder) late(m *metrics) {
	t.lateFrames.Add(1)
	m.lateFrames.Inc()
}

// skip notes frames dropped because the mixer fell too far behind.
func (t *tickRecorder) skip(n int, m *metrics) {
	t.skippedFrames.Add(uint64(n))
	m.skippedFrames.Add(float64(n))
}

// stats computes the percentiles over the window.
func (t *tickRecorder) stats() (p50, p99 time.Duration, ticks, overruns uint64) {
	t.mu.Lock()
	n := min(t.n, tickWindow)
	s := make([]time.Duration, n)
	copy(s, t.ring[:n])
	t.mu.Unlock()
	ticks, overruns = t.ticks.Load(), t.overruns.Load()
	if n == 0 {
		return 0, 0, ticks, overruns
	}
	slices.Sort(s)
	return s[n/2], s[min(n-1, n*99/100)], ticks, overruns
}
