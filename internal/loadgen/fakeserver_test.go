package loadgen

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// fakeServer is a tiny conference server for the engine's end-to-end test:
// a SIP UAS on one UDP socket, one RTP socket per call, a mix-minus mixer per
// conference on a 20 ms ticker, a REST API that records created conferences,
// and a /metrics page with the real tick durations of its mixers.
type fakeServer struct {
	errorf   func(format string, args ...any)
	password string
	sip      *net.UDPConn
	http     *httptest.Server
	delay    time.Duration // extra delay before each mixed packet goes out
	reject   map[string]int
	dropINV  int // drop this many first INVITEs (tests retransmission)

	mu      sync.Mutex
	calls   map[string]*fakeCall // by Call-ID
	confs   map[string]*fakeConf
	created []string
	invites int
	byes    int
	ticks   []float64 // tick durations, seconds

	wg   sync.WaitGroup
	done chan struct{}
}

type fakeCall struct {
	id     string
	conf   *fakeConf
	rtp    *net.UDPConn
	remote netip.AddrPort
	answer []byte // the 200 OK, re-sent on retransmitted INVITEs

	mu    sync.Mutex
	queue [][]byte // received frames not yet mixed
	seq   uint16
	ts    uint32

	out chan fakeOut
}

type fakeOut struct {
	at  time.Time
	pkt []byte
}

type fakeConf struct {
	mu    sync.Mutex
	calls []*fakeCall
}

func newFakeServer(t *testing.T, delay time.Duration) *fakeServer {
	t.Helper()
	f, err := startFakeServer("127.0.0.1:0", "127.0.0.1:0", "secret", delay, t.Errorf)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// startFakeServer starts a fake server on the given addresses.
func startFakeServer(sipAddr, httpAddr, password string, delay time.Duration, errorf func(string, ...any)) (*fakeServer, error) {
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(sipAddr)))
	if err != nil {
		return nil, err
	}
	hl, err := net.Listen("tcp", httpAddr)
	if err != nil {
		conn.Close()
		return nil, err
	}
	f := &fakeServer{
		errorf: errorf, password: password, sip: conn, delay: delay, reject: map[string]int{},
		calls: map[string]*fakeCall{}, confs: map[string]*fakeConf{},
		done: make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/auth/token", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Username, Password string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Username != "admin" || in.Password != f.password {
			http.Error(w, "bad credentials", http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"token": "tok"})
	})
	mux.HandleFunc("POST /api/v1/conferences", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		var in struct{ ID, Name string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.ID == "" {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		dup := slices.Contains(f.created, in.ID)
		if !dup {
			f.created = append(f.created, in.ID)
		}
		f.mu.Unlock()
		if dup {
			http.Error(w, "exists", http.StatusConflict)
			return
		}
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{}`))
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		ticks := append([]float64(nil), f.ticks...)
		f.mu.Unlock()
		bounds := []float64{0.0001, 0.0005, 0.001, 0.005, 0.01, 0.02, 0.05}
		fmt.Fprintln(w, "# TYPE roomgate_mixer_tick_seconds histogram")
		sum := 0.0
		for _, v := range ticks {
			sum += v
		}
		for _, b := range bounds {
			n := 0
			for _, v := range ticks {
				if v <= b {
					n++
				}
			}
			fmt.Fprintf(w, "roomgate_mixer_tick_seconds_bucket{conf=\"all\",le=\"%g\"} %d\n", b, n)
		}
		fmt.Fprintf(w, "roomgate_mixer_tick_seconds_bucket{conf=\"all\",le=\"+Inf\"} %d\n", len(ticks))
		fmt.Fprintf(w, "roomgate_mixer_tick_seconds_sum{conf=\"all\"} %g\n", sum)
		fmt.Fprintf(w, "roomgate_mixer_tick_seconds_count{conf=\"all\"} %d\n", len(ticks))
		fmt.Fprintf(w, "roomgate_fake_ticks_total{kind=\"mix\"} %d\n", len(ticks))
	})
	f.http = httptest.NewUnstartedServer(mux)
	f.http.Listener.Close()
	f.http.Listener = hl
	f.http.Start()
	f.wg.Add(1)
	go f.serveSIP()
	return f, nil
}

func (f *fakeServer) sipAddr() netip.AddrPort { return f.sip.LocalAddr().(*net.UDPAddr).AddrPort() }
func (f *fakeServer) httpAddr() string        { return strings.TrimPrefix(f.http.URL, "http://") }

func (f *fakeServer) close() {
	close(f.done)
	_ = f.sip.Close()
	f.http.Close()
	f.mu.Lock()
	for _, c := range f.calls {
		f.endCall(c)
	}
	f.mu.Unlock()
	f.wg.Wait()
}

func (f *fakeServer) serveSIP() {
	defer f.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, from, err := f.sip.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		msg, err := sip.ParseMessage(append([]byte(nil), buf[:n]...))
		if err != nil {
			f.errorf("fake server: tool sent unparsable SIP: %v\n%s", err, buf[:n])
			continue
		}
		req, ok := msg.(*sip.Request)
		if !ok {
			continue
		}
		req.SetSource(from.String())
		f.onRequest(req, from)
	}
}

func (f *fakeServer) respond(req *sip.Request, to netip.AddrPort, status int, reason string, body []byte, toTag string) []byte {
	res := sip.NewResponseFromRequest(req, status, reason, body)
	if toTag != "" {
		if h := res.To(); h != nil {
			h.Params.Add("tag", toTag)
		}
	}
	if body != nil {
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res.AppendHeader(sip.NewHeader("Contact", "<sip:fake@"+f.sipAddr().String()+">"))
	}
	b := []byte(res.String())
	_, _ = f.sip.WriteToUDPAddrPort(b, to)
	return b
}

func (f *fakeServer) onRequest(req *sip.Request, from netip.AddrPort) {
	callID := req.CallID().Value()
	f.mu.Lock()
	defer f.mu.Unlock()
	switch req.Method {
	case sip.INVITE:
		f.invites++
		if f.dropINV > 0 {
			f.dropINV--
			return
		}
		if c := f.calls[callID]; c != nil {
			_, _ = f.sip.WriteToUDPAddrPort(c.answer, from)
			return
		}
		conf := req.Recipient.User
		if status, ok := f.reject[conf]; ok {
			f.respond(req, from, status, "Not Found", nil, "rej")
			return
		}
		f.respond(req, from, 100, "Trying", nil, "")
		remote, err := ParseAnswer(req.Body(), PCMU)
		if err != nil {
			f.respond(req, from, 488, "Not Acceptable Here", nil, "bad")
			return
		}
		rtp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			f.respond(req, from, 503, "Service Unavailable", nil, "busy")
			return
		}
		c := &fakeCall{id: callID, rtp: rtp, remote: remote, out: make(chan fakeOut, 64), seq: 1000, ts: 5000}
		cf := f.confs[conf]
		if cf == nil {
			cf = &fakeConf{}
			f.confs[conf] = cf
			f.wg.Add(1)
			go f.mix(cf)
		}
		c.conf = cf
		cf.mu.Lock()
		cf.calls = append(cf.calls, c)
		cf.mu.Unlock()
		f.calls[callID] = c
		f.wg.Add(2)
		go f.readRTP(c)
		go f.writeRTP(c)
		answer := Offer(rtp.LocalAddr().(*net.UDPAddr).AddrPort(), 42, PCMU)
		c.answer = f.respond(req, from, 200, "OK", answer, "fake"+callID[:4])
	case sip.ACK:
	case sip.BYE:
		c := f.calls[callID]
		if c == nil {
			f.respond(req, from, 481, "Call/Transaction Does Not Exist", nil, "")
			return
		}
		f.byes++
		f.endCall(c)
		delete(f.calls, callID)
		f.respond(req, from, 200, "OK", nil, "")
	default:
		f.respond(req, from, 405, "Method Not Allowed", nil, "")
	}
}

// endCall stops a call's media. Called with f.mu held.
func (f *fakeServer) endCall(c *fakeCall) {
	cf := c.conf
	cf.mu.Lock()
	for i, x := range cf.calls {
		if x == c {
			cf.calls = append(cf.calls[:i], cf.calls[i+1:]...)
			close(c.out)
			break
		}
	}
	cf.mu.Unlock()
	_ = c.rtp.Close()
}

func (f *fakeServer) readRTP(c *fakeCall) {
	defer f.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, _, err := c.rtp.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		_, payload, err := ParseRTP(buf[:n])
		if err != nil || len(payload) != FrameSamples {
			f.errorf("fake server: bad RTP from tool: %v (%d bytes)", err, len(payload))
			continue
		}
		c.mu.Lock()
		if len(c.queue) >= 4 { // drop-oldest, like a real bridge
			c.queue = c.queue[1:]
		}
		c.queue = append(c.queue, append([]byte(nil), payload...))
		c.mu.Unlock()
	}
}

func (f *fakeServer) writeRTP(c *fakeCall) {
	defer f.wg.Done()
	for o := range c.out {
		if d := time.Until(o.at); d > 0 {
			time.Sleep(d)
		}
		_, _ = c.rtp.WriteToUDPAddrPort(o.pkt, c.remote)
	}
}

// mix is a conference's mixer: every 20 ms take one frame from each call,
// and send each call the sum of the others.
func (f *fakeServer) mix(cf *fakeConf) {
	defer f.wg.Done()
	t := time.NewTicker(FrameDuration)
	defer t.Stop()
	var sum [FrameSamples]int32
	for {
		select {
		case <-f.done:
			return
		case <-t.C:
		}
		start := time.Now()
		cf.mu.Lock()
		own := make([][]byte, len(cf.calls))
		sum = [FrameSamples]int32{}
		for i, c := range cf.calls {
			c.mu.Lock()
			if len(c.queue) > 0 {
				own[i] = c.queue[0]
				c.queue = c.queue[1:]
			}
			c.mu.Unlock()
			for j, u := range own[i] {
				sum[j] += int32(ULawToLinear(u))
			}
		}
		for i, c := range cf.calls {
			pkt := make([]byte, rtpHeaderLen+FrameSamples)
			PutRTPHeader(pkt, RTPHeader{Seq: c.seq, Timestamp: c.ts, SSRC: 0xfeed})
			c.seq++
			c.ts += FrameSamples
			for j := range FrameSamples {
				v := sum[j]
				if own[i] != nil {
					v -= int32(ULawToLinear(own[i][j]))
				}
				pkt[rtpHeaderLen+j] = LinearToULaw(int16(min(max(v, -32768), 32767)))
			}
			select {
			case c.out <- fakeOut{at: start.Add(f.delay), pkt: pkt}:
			default:
			}
		}
		cf.mu.Unlock()
		f.mu.Lock()
		f.ticks = append(f.ticks, time.Since(start).Seconds())
		f.mu.Unlock()
	}
}
