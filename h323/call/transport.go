package call

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/roomgate/roomgate/bridge"
	"github.com/roomgate/roomgate/h323/h225"
	"github.com/roomgate/roomgate/h323/q931"
	"github.com/roomgate/roomgate/h323/tpkt"
)

// evKind tells what a reader goroutine saw.
type evKind uint8

const (
	// evSignal is a decoded call signalling message.
	evSignal evKind = iota + 1
	// evSignalBad is a TPKT whose Q.931 or H.225.0 content could not be decoded.
	evSignalBad
	// evSignalClosed is the end of the signalling connection.
	evSignalClosed
	// evH245 is one PDU from the separate H.245 channel.
	evH245
	// evH245Conn is a separate H.245 connection that was set up.
	evH245Conn
	// evH245Closed is the end of the separate H.245 connection.
	evH245Closed
)

// event is what reader goroutines hand the call loop.
type event struct {
	kind evKind
	q    *q931.Message
	uu   *h225.Message
	pdu  []byte
	conn net.Conn
	err  error
}

// decodeSignal decodes one TPKT payload of the call signalling channel:
// the Q.931 message and, when it has a User-user IE, the H.225.0 UUIE. b must
// not be reused by the caller: the message aliases it.
func decodeSignal(b []byte) event {
	q := &q931.Message{}
	if err := q.Unmarshal(b); err != nil {
		return event{kind: evSignalBad, err: fmt.Errorf("decoding Q.931: %w", err)}
	}
	if q.CallRefLen != 2 {
		return event{kind: evSignalBad, q: q, err: fmt.Errorf("decoding Q.931: %d-octet call reference: %w", q.CallRefLen, q931.ErrCallRef)}
	}
	uu, err := q.UserUser()
	if errors.Is(err, q931.ErrNoIE) {
		return event{kind: evSignal, q: q}
	}
	if err != nil {
		return event{kind: evSignalBad, q: q, err: fmt.Errorf("decoding User-user of %v: %w", q.Type, err)}
	}
	m, err := h225.Parse(uu)
	if err != nil {
		return event{kind: evSignalBad, q: q, err: fmt.Errorf("decoding H.225.0 in %v: %w", q.Type, err)}
	}
	return event{kind: evSignal, q: q, uu: m}
}

// readSignal hands every message of the call signalling connection to the
// call loop until the connection ends or the loop quits.
func (c *call) readSignal(conn net.Conn) {
	defer c.readers.Done()
	r := tpkt.NewReader(conn)
	for {
		p, err := r.Next()
		if err != nil {
			c.post(event{kind: evSignalClosed, err: err})
			return
		}
		if !c.post(decodeSignal(bytes.Clone(p))) {
			return
		}
	}
}

// readH245 hands every PDU of a separate H.245 connection to the call loop.
func (c *call) readH245(conn net.Conn) {
	defer c.readers.Done()
	r := tpkt.NewReader(conn)
	for {
		p, err := r.Next()
		if err != nil {
			c.post(event{kind: evH245Closed, conn: conn, err: err})
			return
		}
		if !c.post(event{kind: evH245, conn: conn, pdu: bytes.Clone(p)}) {
			return
		}
	}
}

// acceptH245 waits for the peer to connect to our H.245 listener.
func (c *call) acceptH245(ln net.Listener) {
	defer c.readers.Done()
	conn, err := ln.Accept()
	if err != nil {
		return // closed by the loop: the call ended or the channel came up another way
	}
	if !c.post(event{kind: evH245Conn, conn: conn}) {
		conn.Close()
	}
}

// post hands ev to the loop; it reports false once the loop has quit.
func (c *call) post(ev event) bool {
	select {
	case c.events <- ev:
		return true
	case <-c.quit:
		return false
	}
}

// onMediaEvent receives bridge events; it must not block the leg.
func (c *call) onMediaEvent(e bridge.Event) {
	select {
	case c.mediaEv <- e:
	default:
		c.log.Warn("dropping media event: call loop busy", "kind", e.Kind)
	}
}

// writeTPKT sends one TPKT-framed payload, bounded by writeTimeout.
func writeTPKT(conn net.Conn, payload []byte) error {
	b, err := tpkt.Append(nil, payload)
	if err != nil {
		return err
	}
	if err := conn.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
		return err
	}
	_, err = conn.Write(b)
	return err
}
