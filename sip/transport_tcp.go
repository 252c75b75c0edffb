package sip

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
)

// On TCP the stack's stream parser closes the connection at the first
// message it cannot parse, without an answer. framedListener puts a framing
// layer in front of it: it cuts the stream into messages (header end plus
// Content-Length, RFC 3261 §18.3), hands the parsable ones on unchanged, and
// answers the others 400 on the same connection and drops them. Only a
// message whose length cannot be known ends the connection, since nothing
// after it can be framed.

// maxStreamMessage bounds one message on a stream connection.
const maxStreamMessage = 64 << 10

type framedListener struct {
	net.Listener
	s *Server
}

// Accept wraps every accepted connection.
func (l framedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &framedConn{Conn: c, s: l.s}, nil
}

type framedConn struct {
	net.Conn
	s *Server

	mu  sync.Mutex
	in  []byte // bytes read, not yet framed
	out []byte // framed bytes not yet returned to the reader
	err error  // sticky read error
}

// Read returns whole, parsable messages (and keep-alive CRLFs).
func (c *framedConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.out) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		msg, progress := c.frame()
		if msg != nil {
			c.out = msg
			break
		}
		if progress {
			continue // a rejected message was dropped; frame the rest
		}
		buf := make([]byte, 4096)
		n, err := c.Conn.Read(buf)
		c.in = append(c.in, buf[:n]...)
		if err != nil {
			c.err = err
			if len(c.in) > 0 && errors.Is(err, io.EOF) {
				c.s.log.Debug("tcp connection closed in the middle of a message", "src", c.RemoteAddr().String())
			}
		}
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	return n, nil
}

// frame takes the next deliverable chunk out of c.in. progress reports that
// bytes were consumed, delivered or dropped.
func (c *framedConn) frame() (msg []byte, progress bool) {
	// Keep-alive CRLFs between messages (RFC 5626 §3.5.1) pass as they are.
	if i := leadingCRLF(c.in); i > 0 {
		msg := c.in[:i]
		c.in = c.in[i:]
		return msg, true
	}
	end := bytes.Index(c.in, []byte("\r\n\r\n"))
	if end < 0 {
		if len(c.in) > maxStreamMessage {
			c.reject(c.in, fmt.Errorf("header section longer than %d bytes", maxStreamMessage))
			c.err = fmt.Errorf("%w: oversized message on tcp", ErrMalformed)
		}
		return nil, false
	}
	head := c.in[:end+4]
	length, err := contentLength(head)
	if err != nil {
		c.reject(head, err)
		c.err = fmt.Errorf("%w: cannot frame tcp stream: %v", ErrMalformed, err)
		return nil, false
	}
	total := len(head) + length
	if total > maxStreamMessage {
		c.reject(head, fmt.Errorf("message of %d bytes is longer than %d", total, maxStreamMessage))
		c.err = fmt.Errorf("%w: oversized message on tcp", ErrMalformed)
		return nil, false
	}
	if len(c.in) < total {
		return nil, false
	}
	msg = append([]byte(nil), c.in[:total]...)
	c.in = c.in[total:]
	if _, err := c.s.parser.ParseSIP(msg); err != nil {
		c.reject(msg, err)
		return nil, true
	}
	return msg, true
}

func leadingCRLF(b []byte) int {
	i := 0
	for i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n' {
		i += 2
	}
	return i
}

// contentLength reads Content-Length (or "l") from a header section; RFC
// 3261 §18.3 makes it mandatory on streams, so a missing one is an error.
func contentLength(head []byte) (int, error) {
	lines := strings.Split(string(head), "\r\n")
	for _, l := range lines[1:] {
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		name = strings.ToLower(strings.TrimSpace(name))
		if name != "content-length" && name != "l" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(value))
		if err != nil || n < 0 {
			return 0, fmt.Errorf("Content-Length %q is not a length", strings.TrimSpace(value))
		}
		return n, nil
	}
	return 0, errors.New("no Content-Length on a stream transport")
}

// reject counts, logs and, when possible, answers a message with 400.
func (c *framedConn) reject(msg []byte, why error) {
	c.s.m.malformed.WithLabelValues("tcp").Inc()
	src := c.RemoteAddr().String()
	bad, err := recoverRequest(msg)
	if err != nil {
		c.s.log.Info("dropped unparsable sip message", "src", src, "transport", "tcp", "err", why, "why_no_answer", err)
		return
	}
	c.s.log.Info("malformed sip request", "src", src, "transport", "tcp", "method", bad.Method, "err", why)
	if _, err := c.Conn.Write(bad.badRequest("Bad Request - " + sanitizeReason(why.Error()))); err != nil {
		c.s.log.Info("answering malformed sip request", "src", src, "err", err)
	}
}
