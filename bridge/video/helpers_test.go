package video

import (
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeClock is a Clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Hand-built NAL units: a constrained-baseline style SPS and a PPS (the
// router never decodes them, only caches and re-sends them), and slices that
// carry filler after the slice header's first bits.
var (
	testSPS = []byte{0x67, 0x42, 0xc0, 0x0d, 0xd9, 0x01, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x42, 0x99, 0x20}
	testPPS = []byte{0x68, 0xcb, 0x83, 0xcb, 0x20}
)

// idrNAL is an IDR slice; first says whether first_mb_in_slice is 0.
func idrNAL(size int, first bool) []byte {
	n := make([]byte, size)
	n[0] = 0x65
	if first {
		n[1] = 0x88
	} else {
		n[1] = 0x40 // ue(v) "010" = 1
	}
	for i := 2; i < size; i++ {
		n[i] = byte(i)
	}
	return n
}

// sliceNAL is a non-IDR slice.
func sliceNAL(size int) []byte {
	n := make([]byte, size)
	n[0] = 0x41
	n[1] = 0x9a
	for i := 2; i < size; i++ {
		n[i] = byte(i * 7)
	}
	return n
}

func stapA(nals ...[]byte) []byte {
	p := []byte{0x78}
	for _, n := range nals {
		p = binary.BigEndian.AppendUint16(p, uint16(len(n)))
		p = append(p, n...)
	}
	return p
}

// fuA splits nal into FU-A payloads of at most max bytes of fragment.
func fuA(nal []byte, maxFrag int) [][]byte {
	ind := nal[0]&0xe0 | byte(NALFUA)
	typ := nal[0] & 0x1f
	body := nal[1:]
	var out [][]byte
	for i := 0; i < len(body); i += maxFrag {
		end := min(i+maxFrag, len(body))
		hdr := typ
		if i == 0 {
			hdr |= 0x80
		}
		if end == len(body) {
			hdr |= 0x40
		}
		p := append([]byte{ind, hdr}, body[i:end]...)
		out = append(out, p)
	}
	return out
}

func rtpPacket(seq uint16, ts, ssrc uint32, marker bool, payload []byte) []byte {
	p := make([]byte, 12, 12+len(payload))
	writeRTPHeader(p, marker, 96, seq, ts, ssrc)
	return append(p, payload...)
}

// stream generates the RTP packets of one hand-built H.264 source.
type stream struct {
	ssrc uint32
	seq  uint16
	ts   uint32
	// inBand: SPS and PPS precede each IDR as a STAP-A.
	inBand bool
}

// frame returns the packets of one access unit (IDR or not), FU-A
// fragmenting slices bigger than 1000 bytes, marker on the last one.
func (s *stream) frame(idr bool, size int) [][]byte {
	var payloads [][]byte
	if idr && s.inBand {
		payloads = append(payloads, stapA(testSPS, testPPS))
	}
	var nal []byte
	if idr {
		nal = idrNAL(size, true)
	} else {
		nal = sliceNAL(size)
	}
	if size > 1000 {
		payloads = append(payloads, fuA(nal, 1000)...)
	} else {
		payloads = append(payloads, nal)
	}
	var pkts [][]byte
	for i, p := range payloads {
		pkts = append(pkts, rtpPacket(s.seq, s.ts, s.ssrc, i == len(payloads)-1, p))
		s.seq++
	}
	s.ts += 3000
	return pkts
}

// recSink records copies of what a receiver is sent.
type recSink struct {
	mu   sync.Mutex
	pkts [][]byte
}

func (r *recSink) WriteRTP(pkt []byte) error {
	r.mu.Lock()
	r.pkts = append(r.pkts, append([]byte(nil), pkt...))
	r.mu.Unlock()
	return nil
}

func (r *recSink) take() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pkts
	r.pkts = nil
	return p
}

func (r *recSink) all() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.pkts...)
}

// kfLog records keyframe requests.
type kfLog struct {
	mu  sync.Mutex
	ids []string
}

func (k *kfLog) request(id string) {
	k.mu.Lock()
	k.ids = append(k.ids, id)
	k.mu.Unlock()
}

func (k *kfLog) take() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	ids := k.ids
	k.ids = nil
	return ids
}

func mustHeader(t *testing.T, pkt []byte) RTPHeader {
	t.Helper()
	h, err := ParseRTPHeader(pkt)
	if err != nil {
		t.Fatalf("output packet: %v", err)
	}
	return h
}
