//go:build linux

package bridge

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// udpSender writes datagrams without ever parking the caller: it issues
// sendto(2) with MSG_DONTWAIT through the socket's raw descriptor, so a full
// send buffer fails the write (counted by the caller) instead of blocking the
// mixer. It is owned by one goroutine; nothing is allocated per send.
type udpSender struct {
	rc   syscall.RawConn
	v6   bool // the socket is AF_INET6
	fn   func(fd uintptr) bool
	buf  []byte
	sa4  syscall.SockaddrInet4
	sa6  syscall.SockaddrInet6
	to   syscall.Sockaddr
	serr error
}

func newUDPSender(c *net.UDPConn) (*udpSender, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("getting the raw socket: %w", err)
	}
	local, _ := netip.ParseAddrPort(c.LocalAddr().String())
	s := &udpSender{rc: rc, v6: local.Addr().Is6() && !local.Addr().Is4In6()}
	s.fn = s.write
	return s, nil
}

func (s *udpSender) write(fd uintptr) bool {
	s.serr = syscall.Sendto(int(fd), s.buf, syscall.MSG_DONTWAIT, s.to)
	return true // never wait for writability
}

// send writes b to dst.
func (s *udpSender) send(b []byte, dst netip.AddrPort) error {
	a := dst.Addr()
	switch {
	case !s.v6 && a.Unmap().Is4():
		s.sa4.Addr = a.Unmap().As4()
		s.sa4.Port = int(dst.Port())
		s.to = &s.sa4
	case s.v6:
		s.sa6.Addr = a.As16() // IPv4 destinations become v4-mapped
		s.sa6.Port = int(dst.Port())
		s.to = &s.sa6
	default:
		return fmt.Errorf("sending to %s from an IPv4 socket: %w", dst, syscall.EAFNOSUPPORT)
	}
	s.buf = b
	if err := s.rc.Write(s.fn); err != nil {
		return err
	}
	return s.serr
}
