package loadgen

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
)

// UA is a minimal SIP user agent client (RFC 3261) for load generation: it
// places calls, acknowledges answers and hangs up, all over one UDP socket,
// as sipp does. Messages are parsed with sipgo's parser; the transaction
// logic is the few states a UAC needs (INVITE client transaction with timers
// A and B, non-INVITE client transaction with timers E and F, 2xx ACK
// retransmission), written here because one socket and thousands of dialogs
// must stay cheap and predictable.
//
// Requests from the server inside a dialog (BYE, re-INVITE, OPTIONS, INFO)
// are answered so that the server never has to time out on the tool.
type UA struct {
	conn   packetConn
	local  netip.AddrPort
	server netip.AddrPort
	log    *slog.Logger
	t1, t2 time.Duration

	instance string // random, makes branches, tags and Call-IDs unique
	counter  atomic.Uint64
	retrans  atomic.Uint64

	mu      sync.Mutex
	txs     map[string]*clientTx // by Via branch
	dialogs map[string]*Dialog   // by Call-ID

	closeOnce sync.Once
	done      chan struct{}
	wg        sync.WaitGroup
}

type clientTx struct {
	resp chan *sip.Response
	ack  atomic.Pointer[[]byte] // ACK for a 2xx, re-sent when the 2xx is retransmitted
}

// UAConfig configures a UA.
type UAConfig struct {
	// Local is the UDP address to bind (port 0 picks a free port).
	Local netip.AddrPort
	// Server is where every request goes.
	Server netip.AddrPort
	// T1 is the RTT estimate of RFC 3261 (default 500 ms); transactions
	// give up after 64*T1.
	T1 time.Duration
	// Logger receives protocol errors and unexpected messages.
	Logger *slog.Logger
}

// packetConn is the part of *net.UDPConn the UA uses; tests substitute an
// in-memory pipe so SIP timers run on a fake clock.
type packetConn interface {
	ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error)
	WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error)
	Close() error
}

// NewUA binds the UA's socket and starts its reader.
func NewUA(cfg UAConfig) (*UA, error) {
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(cfg.Local))
	if err != nil {
		return nil, fmt.Errorf("binding SIP socket on %s: %w", cfg.Local, err)
	}
	// A burst of answers during ramp-up must not overflow the socket.
	_ = conn.SetReadBuffer(4 << 20)
	return newUA(conn, conn.LocalAddr().(*net.UDPAddr).AddrPort(), cfg), nil
}

func newUA(conn packetConn, local netip.AddrPort, cfg UAConfig) *UA {
	if cfg.T1 <= 0 {
		cfg.T1 = 500 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	ua := &UA{
		conn:     conn,
		local:    local,
		server:   cfg.Server,
		log:      cfg.Logger.With("component", "sipua"),
		t1:       cfg.T1,
		t2:       8 * cfg.T1,
		instance: hex.EncodeToString(rnd[:]),
		txs:      map[string]*clientTx{},
		dialogs:  map[string]*Dialog{},
		done:     make(chan struct{}),
	}
	ua.wg.Add(1)
	go ua.readLoop()
	return ua
}

// Retransmissions is how many requests the UA has had to send again
// because no response came within the retransmission timer.
func (ua *UA) Retransmissions() uint64 { return ua.retrans.Load() }

// LocalAddr is the UA's SIP address.
func (ua *UA) LocalAddr() netip.AddrPort { return ua.local }

// Close stops the UA; transactions in progress fail with ErrUAClosed. It is
// idempotent and waits for the reader to exit.
func (ua *UA) Close() error {
	var err error
	ua.closeOnce.Do(func() {
		close(ua.done)
		err = ua.conn.Close()
		ua.wg.Wait()
	})
	if err != nil {
		return fmt.Errorf("closing SIP socket: %w", err)
	}
	return nil
}

func (ua *UA) unique() string {
	return ua.instance + strconv.FormatUint(ua.counter.Add(1), 36)
}

func (ua *UA) send(b []byte) error {
	if _, err := ua.conn.WriteToUDPAddrPort(b, ua.server); err != nil {
		return fmt.Errorf("sending SIP to %s: %w", ua.server, err)
	}
	return nil
}

func (ua *UA) readLoop() {
	defer ua.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, from, err := ua.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			ua.log.Warn("reading SIP socket", "err", err)
			continue
		}
		msg, err := sip.ParseMessage(append([]byte(nil), buf[:n]...))
		if err != nil {
			ua.log.Warn("dropping unparsable SIP message", "from", from, "err", err)
			continue
		}
		switch m := msg.(type) {
		case *sip.Response:
			ua.onResponse(m)
		case *sip.Request:
			ua.onRequest(m, from)
		}
	}
}

func (ua *UA) onResponse(res *sip.Response) {
	via := res.Via()
	if via == nil {
		ua.log.Warn("dropping response without Via", "status", res.StatusCode)
		return
	}
	branch, _ := via.Params.Get("branch")
	ua.mu.Lock()
	tx := ua.txs[branch]
	ua.mu.Unlock()
	if tx == nil {
		return // a late retransmission for a finished transaction
	}
	if ack := tx.ack.Load(); ack != nil && res.StatusCode >= 200 && res.StatusCode < 300 {
		_ = ua.send(*ack) // the 2xx was retransmitted: our ACK was lost
		return
	}
	select {
	case tx.resp <- res:
	default: // the transaction is not listening any more
	}
}

func (ua *UA) onRequest(req *sip.Request, from netip.AddrPort) {
	req.SetSource(from.String())
	callID := ""
	if h := req.CallID(); h != nil {
		callID = h.Value()
	}
	ua.mu.Lock()
	d := ua.dialogs[callID]
	ua.mu.Unlock()

	if req.IsAck() {
		return
	}
	status, reason := 200, "OK"
	var body []byte
	switch {
	case req.Method == sip.OPTIONS && d == nil:
	case d == nil:
		status, reason = 481, "Call/Transaction Does Not Exist"
	case req.Method == sip.BYE:
		d.markEnded("server sent BYE")
	case req.Method == sip.INVITE:
		body = d.localSDP // re-INVITE: keep the same media
	case req.Method == sip.OPTIONS, req.Method == sip.INFO, req.Method == sip.UPDATE, req.Method == sip.NOTIFY:
	default:
		status, reason = 405, "Method Not Allowed"
	}
	res := sip.NewResponseFromRequest(req, status, reason, body)
	if body != nil {
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "roomload", Host: ua.local.Addr().String(), Port: int(ua.local.Port())}})
	}
	if _, err := ua.conn.WriteToUDPAddrPort([]byte(res.String()), from); err != nil {
		ua.log.Warn("answering SIP request", "method", req.Method, "err", err)
	}
}

func (ua *UA) register(branch string) *clientTx {
	tx := &clientTx{resp: make(chan *sip.Response, 8)}
	ua.mu.Lock()
	ua.txs[branch] = tx
	ua.mu.Unlock()
	return tx
}

func (ua *UA) unregister(branch string) {
	ua.mu.Lock()
	delete(ua.txs, branch)
	ua.mu.Unlock()
}

// Dialog is an established call (RFC 3261 section 12) placed by a UA.
type Dialog struct {
	ua        *UA
	callID    string
	fromTag   string
	toTag     string
	localURI  string
	remoteURI string
	target    string // remote target (the Contact of the 2xx)
	cseq      uint32
	localSDP  []byte
	branch    string // of the INVITE, kept registered for 2xx retransmissions

	ended    atomic.Bool
	endCause atomic.Pointer[string]
}

func (d *Dialog) markEnded(cause string) {
	d.endCause.Store(&cause)
	d.ended.Store(true)
}

// Ended reports whether the server ended the call, and why.
func (d *Dialog) Ended() (bool, string) {
	if !d.ended.Load() {
		return false, ""
	}
	return true, *d.endCause.Load()
}

// CallID is the dialog's Call-ID.
func (d *Dialog) CallID() string { return d.callID }

// Invite calls sip:<user>@server with the SDP offer and returns the dialog
// and the SDP answer once a 2xx has been acknowledged. Provisional responses
// stop retransmission; a non-2xx final response fails with ErrCallFailed
// (wrapped in a *CallError carrying the status).
func (ua *UA) Invite(ctx context.Context, user string, offer []byte) (*Dialog, []byte, error) {
	id := ua.unique()
	d := &Dialog{
		ua:        ua,
		callID:    id + "@roomload",
		fromTag:   ua.unique(),
		localURI:  fmt.Sprintf("sip:load-%s@%s", id, ua.local),
		remoteURI: fmt.Sprintf("sip:%s@%s", user, ua.server),
		cseq:      1,
		localSDP:  offer,
		branch:    "z9hG4bK" + ua.unique(),
	}
	d.target = d.remoteURI
	req := d.request("INVITE", d.remoteURI, d.branch, 1, "", offer)

	tx := ua.register(d.branch)
	ua.mu.Lock()
	ua.dialogs[d.callID] = d
	ua.mu.Unlock()
	ok := false
	defer func() {
		if !ok {
			ua.forget(d)
		}
	}()

	if err := ua.send(req); err != nil {
		return nil, nil, fmt.Errorf("sending INVITE to %s: %w", user, err)
	}
	retransmit := time.NewTimer(ua.t1)
	defer retransmit.Stop()
	timeout := time.NewTimer(64 * ua.t1) // timer B
	defer timeout.Stop()
	interval := ua.t1
	for {
		select {
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("calling %s: %w", user, context.Cause(ctx))
		case <-ua.done:
			return nil, nil, fmt.Errorf("calling %s: %w", user, ErrUAClosed)
		case <-timeout.C:
			return nil, nil, fmt.Errorf("calling %s: no final response in %s: %w", user, 64*ua.t1, ErrTimeout)
		case <-retransmit.C: // timer A
			interval *= 2
			retransmit.Reset(interval)
			ua.retrans.Add(1)
			if err := ua.send(req); err != nil {
				return nil, nil, fmt.Errorf("retransmitting INVITE to %s: %w", user, err)
			}
		case res := <-tx.resp:
			if !isResponseTo(res, 1, sip.INVITE) {
				continue
			}
			switch {
			case res.StatusCode < 200:
				retransmit.Stop()
			case res.StatusCode < 300:
				if err := d.established(res); err != nil {
					return nil, nil, fmt.Errorf("calling %s: %w", user, err)
				}
				ok = true
				return d, res.Body(), nil
			default:
				// The ACK of a non-2xx final response belongs to the
				// INVITE transaction: same branch (RFC 3261 17.1.1.3).
				toTag := ""
				if to := res.To(); to != nil {
					toTag, _ = to.Params.Get("tag")
				}
				_ = ua.send(d.request("ACK", d.remoteURI, d.branch, 1, toTag, nil))
				return nil, nil, fmt.Errorf("calling %s: %w", user, &CallError{Status: res.StatusCode, Reason: res.Reason})
			}
		}
	}
}

func isResponseTo(res *sip.Response, seq uint32, method sip.RequestMethod) bool {
	c := res.CSeq()
	return c != nil && c.SeqNo == seq && c.MethodName == method
}

// established records the dialog state from a 2xx and acknowledges it.
func (d *Dialog) established(res *sip.Response) error {
	to := res.To()
	if to == nil {
		return fmt.Errorf("2xx without To: %w", ErrBadSIP)
	}
	tag, _ := to.Params.Get("tag")
	if tag == "" {
		return fmt.Errorf("2xx without To tag: %w", ErrBadSIP)
	}
	d.toTag = tag
	if c := res.Contact(); c != nil && c.Address.Host != "" {
		d.target = c.Address.String()
	}
	ack := d.request("ACK", d.target, "z9hG4bK"+d.ua.unique(), 1, d.toTag, nil)
	d.ua.mu.Lock()
	tx := d.ua.txs[d.branch]
	d.ua.mu.Unlock()
	if tx != nil {
		tx.ack.Store(&ack)
	}
	return d.ua.send(ack)
}

// forget drops every trace of d from the UA.
func (ua *UA) forget(d *Dialog) {
	ua.mu.Lock()
	delete(ua.txs, d.branch)
	delete(ua.dialogs, d.callID)
	ua.mu.Unlock()
}

// Bye hangs up. A 481 (the server already forgot the call) counts as
// success. The dialog is forgotten whatever happens.
func (d *Dialog) Bye(ctx context.Context) error {
	defer d.ua.forget(d)
	if ended, _ := d.Ended(); ended {
		return nil
	}
	d.cseq++
	branch := "z9hG4bK" + d.ua.unique()
	req := d.request("BYE", d.target, branch, d.cseq, d.toTag, nil)
	tx := d.ua.register(branch)
	defer d.ua.unregister(branch)
	if err := d.ua.send(req); err != nil {
		return fmt.Errorf("sending BYE for %s: %w", d.callID, err)
	}
	interval := d.ua.t1
	retransmit := time.NewTimer(interval) // timer E
	defer retransmit.Stop()
	timeout := time.NewTimer(64 * d.ua.t1) // timer F
	defer timeout.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("hanging up %s: %w", d.callID, context.Cause(ctx))
		case <-d.ua.done:
			return fmt.Errorf("hanging up %s: %w", d.callID, ErrUAClosed)
		case <-timeout.C:
			return fmt.Errorf("hanging up %s: %w", d.callID, ErrTimeout)
		case <-retransmit.C:
			interval = min(2*interval, d.ua.t2)
			retransmit.Reset(interval)
			d.ua.retrans.Add(1)
			if err := d.ua.send(req); err != nil {
				return fmt.Errorf("retransmitting BYE for %s: %w", d.callID, err)
			}
		case res := <-tx.resp:
			if !isResponseTo(res, d.cseq, sip.BYE) || res.StatusCode < 200 {
				continue
			}
			if res.StatusCode < 300 || res.StatusCode == 481 {
				return nil
			}
			return fmt.Errorf("hanging up %s: %w", d.callID, &CallError{Status: res.StatusCode, Reason: res.Reason})
		}
	}
}

// request renders a request of this dialog.
func (d *Dialog) request(method, uri, branch string, cseq uint32, toTag string, body []byte) []byte {
	var b strings.Builder
	b.Grow(512 + len(body))
	fmt.Fprintf(&b, "%s %s SIP/2.0\r\n", method, uri)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s;branch=%s;rport\r\n", d.ua.local, branch)
	b.WriteString("Max-Forwards: 70\r\n")
	fmt.Fprintf(&b, "From: <%s>;tag=%s\r\n", d.localURI, d.fromTag)
	if toTag != "" {
		fmt.Fprintf(&b, "To: <%s>;tag=%s\r\n", d.remoteURI, toTag)
	} else {
		fmt.Fprintf(&b, "To: <%s>\r\n", d.remoteURI)
	}
	fmt.Fprintf(&b, "Call-ID: %s\r\n", d.callID)
	fmt.Fprintf(&b, "CSeq: %d %s\r\n", cseq, method)
	if method == "INVITE" {
		fmt.Fprintf(&b, "Contact: <%s>\r\n", d.localURI)
	}
	b.WriteString("User-Agent: roomload\r\n")
	if len(body) > 0 {
		b.WriteString("Content-Type: application/sdp\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(body))
	b.Write(body)
	return []byte(b.String())
}

// CallError is a call refused with a SIP status. It unwraps to ErrCallFailed.
type CallError struct {
	Status int
	Reason string
}

// Error implements error.
func (e *CallError) Error() string {
	return fmt.Sprintf("SIP %d %s", e.Status, e.Reason)
}

// Unwrap makes errors.Is(err, ErrCallFailed) true.
func (e *CallError) Unwrap() error { return ErrCallFailed }
