package bridge

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// portPair is a bound RTP socket on an even port and its RTCP socket on the
// next port (RFC 3550 §11).
type portPair struct {
	port int
	rtp  *net.UDPConn
	rtcp *net.UDPConn
}

// close closes both sockets.
func (p portPair) close() {
	if p.rtp != nil {
		_ = p.rtp.Close()
	}
	if p.rtcp != nil {
		_ = p.rtcp.Close()
	}
}

// portAllocator hands out RTP/RTCP port pairs from [min, max] on one address.
// Allocation rotates through the range so that a port just released is not
// handed out again at once (late packets of the old call would land in the
// new one), and skips ports that some other process holds.
type portAllocator struct {
	addr     netip.Addr
	network  string
	min, max int // min even, max the last usable RTP port (max+1 is its RTCP)

	mu   sync.Mutex
	next int
	used map[int]bool
}

func newPortAllocator(addr netip.Addr, lo, hi int) (*portAllocator, error) {
	addr = addr.Unmap()
	if !addr.IsValid() {
		return nil, fmt.Errorf("%w: BindAddr is not set", ErrBadConfig)
	}
	if lo < 1 || hi > 65535 || lo > hi {
		return nil, fmt.Errorf("%w: port range [%d, %d] is not within 1..65535", ErrBadConfig, lo, hi)
	}
	first := lo + lo%2
	last := hi - 1
	if last%2 == 1 {
		last--
	}
	if first > last {
		return nil, fmt.Errorf("%w: port range [%d, %d] holds no even RTP port with its RTCP port", ErrBadConfig, lo, hi)
	}
	network := "udp4"
	switch {
	case addr.Is6() && addr.IsUnspecified():
		network = "udp" // "::" is dual-stack: IPv4 peers arrive v4-mapped
	case addr.Is6():
		network = "udp6"
	}
	return &portAllocator{addr: addr, network: network, min: first, max: last, next: first, used: map[int]bool{}}, nil
}

// allocate binds the next free pair. It returns ErrNoPorts when every pair of
// the range is in use or fails to bind.
func (a *portAllocator) allocate() (portPair, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	pairs := (a.max-a.min)/2 + 1
	for range pairs {
		port := a.next
		a.next += 2
		if a.next > a.max {
			a.next = a.min
		}
		if a.used[port] {
			continue
		}
		rtp, err := net.ListenUDP(a.network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(a.addr, uint16(port))))
		if err != nil {
			continue // held by someone else: skip it
		}
		rtcp, err := net.ListenUDP(a.network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(a.addr, uint16(port+1))))
		if err != nil {
			_ = rtp.Close()
			continue
		}
		a.used[port] = true
		return portPair{port: port, rtp: rtp, rtcp: rtcp}, nil
	}
	return portPair{}, fmt.Errorf("allocating an RTP port pair in [%d, %d] on %s: %w", a.min, a.max+1, a.addr, ErrNoPorts)
}

// release returns a pair's port to the pool; its sockets must be closed.
func (a *portAllocator) release(port int) {
	a.mu.Lock()
	delete(a.used, port)
	a.mu.Unlock()
}

// inUse reports how many pairs are allocated.
func (a *portAllocator) inUse() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.used)
}
