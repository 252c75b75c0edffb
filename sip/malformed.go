package sip

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	sipmsg "github.com/emiago/sipgo/sip"
)

// The SIP stack drops a datagram it cannot parse without a word, so the
// sender retransmits for 32 s and never learns why. readFilter sees every
// UDP datagram first: what parses goes on to the stack unchanged; what does
// not is counted, logged and, when a request line and a Via can still be
// recovered, answered 400 with the parser's complaint as reason phrase.

// maxRecoverHeaders bounds the header lines recoverRequest looks at.
const maxRecoverHeaders = 64

// readFilter is the transport's hook for raw datagrams and stream chunks.
func (s *Server) readFilter(props sipmsg.TransportReadProps, data []byte) ([]byte, error) {
	if s.quiet.Load() {
		return nil, nil
	}
	if !strings.EqualFold(props.Transport, "UDP") {
		return data, nil
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return data, nil // keep-alive
	}
	_, err := s.parser.ParseSIP(data)
	if err == nil {
		return data, nil
	}
	s.m.malformed.WithLabelValues("udp").Inc()
	src := ""
	if props.RemoteAddr != nil {
		src = props.RemoteAddr.String()
	}
	bad, rerr := recoverRequest(data)
	if rerr != nil {
		s.log.Info("dropped unparsable sip message", "src", src, "err", err, "why_no_answer", rerr)
		return nil, nil
	}
	s.log.Info("malformed sip request", "src", src, "method", bad.Method, "err", err)
	dst, derr := bad.responseAddr(src)
	if derr != nil {
		s.log.Info("cannot answer malformed sip request", "src", src, "err", derr)
		return nil, nil
	}
	resp := bad.badRequest("Bad Request - " + sanitizeReason(err.Error()))
	if _, werr := s.udp.WriteTo(resp, net.UDPAddrFromAddrPort(dst)); werr != nil {
		s.log.Info("answering malformed sip request", "dst", dst.String(), "err", werr)
	}
	return nil, nil
}

// brokenRequest is what could be read from a request the parser refused.
type brokenRequest struct {
	Method string
	Vias   []string
	From   string
	To     string
	CallID string
	CSeq   string
}

var errNoAnswer = errors.New("no response possible")

// recoverRequest reads the request line and the headers a response needs
// from raw bytes. It fails for responses, ACK, and when there is no Via.
func recoverRequest(data []byte) (*brokenRequest, error) {
	head := data
	if i := bytes.Index(head, []byte("\r\n\r\n")); i >= 0 {
		head = head[:i]
	} else if i := bytes.Index(head, []byte("\n\n")); i >= 0 {
		head = head[:i]
	}
	lines := strings.Split(strings.ReplaceAll(string(head), "\r\n", "\n"), "\n")
	first := strings.Fields(lines[0])
	if len(first) != 3 || !strings.HasPrefix(strings.ToUpper(first[2]), "SIP/") {
		return nil, fmt.Errorf("%w: no request line", errNoAnswer)
	}
	method := strings.ToUpper(first[0])
	if !isToken(method) {
		return nil, fmt.Errorf("%w: method %q is not a token", errNoAnswer, first[0])
	}
	if method == "ACK" {
		return nil, fmt.Errorf("%w: ACK is never answered", errNoAnswer)
	}
	r := &brokenRequest{Method: method}
	// Unfold continuation lines (RFC 3261 §7.3.1).
	var hdrs []string
	for _, l := range lines[1:] {
		if len(hdrs) >= maxRecoverHeaders {
			break
		}
		if (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")) && len(hdrs) > 0 {
			hdrs[len(hdrs)-1] += " " + strings.TrimSpace(l)
			continue
		}
		hdrs = append(hdrs, l)
	}
	for _, h := range hdrs {
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			continue
		}
		value = cleanHeaderValue(value)
		if value == "" {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "via", "v":
			for _, v := range strings.Split(value, ",") {
				if v = strings.TrimSpace(v); v != "" {
					r.Vias = append(r.Vias, v)
				}
			}
		case "from", "f":
			r.From = value
		case "to", "t":
			r.To = value
		case "call-id", "i":
			r.CallID = value
		case "cseq":
			r.CSeq = value
		}
	}
	if len(r.Vias) == 0 {
		return nil, fmt.Errorf("%w: no Via", errNoAnswer)
	}
	if _, _, _, err := parseSentBy(r.Vias[0]); err != nil {
		return nil, fmt.Errorf("%w: top Via: %v", errNoAnswer, err)
	}
	return r, nil
}

func isToken(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-.!%*_+`'~", c) >= 0) {
			return false
		}
	}
	return true
}

// cleanHeaderValue trims a value and keeps it within printable bounds so
// that nothing of the hostile input can break our response's framing.
func cleanHeaderValue(v string) string {
	v = strings.TrimSpace(v)
	if len(v) > 512 {
		v = v[:512]
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 || c == 0x7f {
			c = ' '
		}
		b.WriteByte(c)
	}
	return strings.TrimSpace(b.String())
}

// parseSentBy reads "SIP/2.0/UDP host[:port];params" of a Via value.
func parseSentBy(via string) (host string, port int, rport bool, err error) {
	proto, rest, ok := strings.Cut(strings.TrimSpace(via), " ")
	if !ok || !strings.HasPrefix(strings.ToUpper(proto), "SIP/2.0/") {
		return "", 0, false, fmt.Errorf("Via %q: want SIP/2.0/<transport> <sent-by>", via)
	}
	parts := strings.Split(strings.TrimSpace(rest), ";")
	sentBy := strings.TrimSpace(parts[0])
	for _, p := range parts[1:] {
		if k, _, _ := strings.Cut(strings.TrimSpace(p), "="); strings.EqualFold(k, "rport") {
			rport = true
		}
	}
	if sentBy == "" {
		return "", 0, false, fmt.Errorf("Via %q: empty sent-by", via)
	}
	if h, p, err := net.SplitHostPort(sentBy); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return "", 0, false, fmt.Errorf("Via port %q", p)
		}
		return h, n, rport, nil
	}
	return strings.Trim(sentBy, "[]"), 0, rport, nil
}

// responseAddr is where the 400 goes (RFC 3261 §18.2.2, RFC 3581 §4): the
// source IP, and the source port with rport, else the Via port or 5060.
func (r *brokenRequest) responseAddr(src string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(src)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("source %q: %w", src, err)
	}
	_, port, rport, err := parseSentBy(r.Vias[0])
	if err != nil {
		return netip.AddrPort{}, err
	}
	switch {
	case rport:
		return ap, nil
	case port != 0:
		return netip.AddrPortFrom(ap.Addr(), uint16(port)), nil
	default:
		return netip.AddrPortFrom(ap.Addr(), 5060), nil
	}
}

// badRequest renders the 400 with the headers RFC 3261 §8.2.6.2 copies.
func (r *brokenRequest) badRequest(reason string) []byte {
	var b strings.Builder
	b.WriteString("SIP/2.0 400 ")
	b.WriteString(reason)
	b.WriteString("\r\n")
	for _, v := range r.Vias {
		b.WriteString("Via: ")
		b.WriteString(v)
		b.WriteString("\r\n")
	}
	for _, h := range [][2]string{{"From", r.From}, {"To", r.To}, {"Call-ID", r.CallID}, {"CSeq", r.CSeq}} {
		if h[1] != "" {
			b.WriteString(h[0])
			b.WriteString(": ")
			b.WriteString(h[1])
			b.WriteString("\r\n")
		}
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return []byte(b.String())
}
