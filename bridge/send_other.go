//go:build !linux

package bridge

import (
	"net"
	"net/netip"
)

// udpSender writes datagrams with the portable API. UDP writes on these
// systems do not block for long, but unlike the Linux version this one may
// wait for buffer space.
type udpSender struct{ c *net.UDPConn }

func newUDPSender(c *net.UDPConn) (*udpSender, error) { return &udpSender{c: c}, nil }

// send writes b to dst.
func (s *udpSender) send(b []byte, dst netip.AddrPort) error {
	_, err := s.c.WriteToUDPAddrPort(b, dst)
	return err
}
