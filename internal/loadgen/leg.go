package loadgen

import (
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// legRole says what a leg sends.
type legRole uint8

const (
	roleTalker legRole = iota // speech-like signal
	roleQuiet                 // low-level comfort noise
	roleProbe                 // tone bursts for the delay measurement, silence otherwise
)

// String names the role for logs.
func (r legRole) String() string {
	switch r {
	case roleTalker:
		return "talker"
	case roleQuiet:
		return "quiet"
	default:
		return "probe"
	}
}

// phase of the run, read by receivers on every packet.
const (
	phaseRamp int32 = iota
	phaseSteady
	phaseDone
)

// probeClock keeps the send times of a conference's recent probe bursts so
// listeners can match what they detect to what was sent.
type probeClock struct {
	mu   sync.Mutex
	sent [8]time.Time
	next int
}

func (p *probeClock) record(t time.Time) {
	p.mu.Lock()
	p.sent[p.next%len(p.sent)] = t
	p.next++
	p.mu.Unlock()
}

// match returns the latest burst sent no later than onset (allowing for the
// detector's block granularity) and no more than maxAge before it.
func (p *probeClock) match(onset time.Time, maxAge time.Duration) (time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	best, found := time.Duration(0), false
	for _, s := range p.sent {
		if s.IsZero() {
			continue
		}
		d := onset.Sub(s)
		if d < -detectorBlock*sampleDur || d > maxAge {
			continue
		}
		if !found || d < best {
			best, found = d, true
		}
	}
	return best, found
}

// leg is one call: its RTP socket, what it sends, and what it measured.
type leg struct {
	idx    int
	conf   int
	role   legRole
	listen bool // runs the burst detector

	conn   *net.UDPConn
	local  netip.AddrPort
	remote netip.AddrPort
	dialog *Dialog
	clock  *probeClock // of its conference

	// Send state, owned by the sender shard after the leg joined.
	hdr          RTPHeader
	pkt          [rtpHeaderLen + FrameSamples]byte
	src          []byte // looped µ-law signal, whole frames
	srcFrame     int
	periodFrames int // probe: frames per burst period
	started      bool
	sentAny      bool
	sendErrs     atomic.Uint64

	inviteAt time.Time
	setup    time.Duration // INVITE to 2xx
	joined   atomic.Bool

	mu         sync.Mutex // guards everything below; taken once per packet
	stats      RecvStats
	join       time.Duration
	firstRx    bool
	det        BurstDetector
	delays     []time.Duration
	unmatched  int
	badPackets uint64
	otherPT    uint64
}

// sendFrame writes the leg's next 20 ms packet. Called only by its sender.
func (l *leg) sendFrame(skip bool) {
	if l.started {
		l.hdr.Timestamp += FrameSamples
	}
	l.started = true
	frames := len(l.src) / FrameSamples
	f := l.srcFrame % frames
	l.srcFrame++
	if skip {
		// The sender fell behind: keep the timestamp on the wall clock
		// but send nothing and consume no sequence number.
		return
	}
	if l.sentAny {
		l.hdr.Seq++
	}
	l.sentAny = true
	PutRTPHeader(l.pkt[:], l.hdr)
	copy(l.pkt[rtpHeaderLen:], l.src[f*FrameSamples:(f+1)*FrameSamples])
	if l.role == roleProbe && f%l.periodFrames == 0 {
		l.clock.record(time.Now())
	}
	if _, err := l.conn.WriteToUDPAddrPort(l.pkt[:], l.remote); err != nil {
		l.sendErrs.Add(1)
	}
	l.hdr.Marker = false
}

// receive reads the mixed audio until the socket is closed.
func (l *leg) receive(e *engine) {
	var buf [1500]byte
	for {
		n, _, err := l.conn.ReadFromUDPAddrPort(buf[:])
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // ICMP errors surface here on some kernels
		}
		l.onPacket(e, buf[:n], time.Now())
	}
}

// onPacket accounts for one received datagram. It allocates nothing except
// when a delay sample is appended.
func (l *leg) onPacket(e *engine, b []byte, now time.Time) {
	h, payload, err := ParseRTP(b)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.badPackets++
		return
	}
	if h.PayloadType != e.codec.PayloadType {
		l.otherPT++
		return
	}
	if !l.firstRx {
		l.firstRx = true
		l.join = now.Sub(l.inviteAt)
		l.joined.Store(true)
	}
	l.stats.Update(h, tsUnits(now.Sub(e.epoch)))
	if !l.listen {
		return
	}
	onset, ok := l.det.Feed(payload, now)
	if !ok || e.phase.Load() != phaseSteady {
		return
	}
	if d, ok := l.clock.match(onset, e.maxDelay); ok {
		l.delays = append(l.delays, d)
	} else {
		l.unmatched++
	}
}

// sender writes the packets of a shard of legs on a 20 ms clock.
type sender struct {
	mu       sync.Mutex
	legs     []*leg
	overruns atomic.Uint64 // frames sent late (caught up) or skipped
}

func (s *sender) add(l *leg) {
	s.mu.Lock()
	s.legs = append(s.legs, l)
	s.mu.Unlock()
}

// maxCatchUp is how many missed frames a sender sends late before it starts
// skipping them.
const maxCatchUp = 3

func (s *sender) run(stop <-chan struct{}) {
	start := time.Now()
	t := time.NewTicker(FrameDuration)
	defer t.Stop()
	frame := 0
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			// Tick k fires no earlier than start+k·20 ms; a later wake-up
			// shows as a target beyond the next frame.
			target := int(now.Sub(start) / FrameDuration)
			behind := target - frame
			if behind > 1 {
				s.overruns.Add(uint64(behind - 1))
			}
			s.mu.Lock()
			for ; frame < target; frame++ {
				skip := target-frame > maxCatchUp
				for _, l := range s.legs {
					l.sendFrame(skip)
				}
			}
			s.mu.Unlock()
		}
	}
}

// newSSRC returns a random SSRC and starting sequence/timestamp (RFC 3550
// section 5.1 asks for random initial values).
func newRTPHeader(pt uint8) RTPHeader {
	return RTPHeader{
		PayloadType: pt,
		Marker:      true,
		Seq:         uint16(rand.Uint32()),
		Timestamp:   rand.Uint32(),
		SSRC:        rand.Uint32(),
	}
}
