package rastest

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// MemNet is an in-memory UDP network: datagrams between its PacketConns go
// through channels, so that RAS timers can be tested inside a
// testing/synctest bubble (a blocked real socket would keep the bubble's
// clock from advancing). Like UDP, a datagram to an address nobody listens
// on, or to a full queue, is lost.
type MemNet struct {
	mu    sync.Mutex
	conns map[netip.AddrPort]*memConn
}

// NewMemNet returns an empty network.
func NewMemNet() *MemNet { return &MemNet{conns: map[netip.AddrPort]*memConn{}} }

// memQueue is how many datagrams wait for a reader before more are lost.
const memQueue = 64

type datagram struct {
	b    []byte
	from netip.AddrPort
}

// Listen returns a PacketConn bound to addr, which must be free.
func (n *MemNet) Listen(addr netip.AddrPort) net.PacketConn {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, busy := n.conns[addr]; busy {
		panic("rastest: address in use: " + addr.String())
	}
	c := &memConn{net: n, addr: addr, in: make(chan datagram, memQueue), closed: make(chan struct{})}
	n.conns[addr] = c
	return c
}

type memConn struct {
	net    *MemNet
	addr   netip.AddrPort
	in     chan datagram
	closed chan struct{}
	once   sync.Once
}

// ReadFrom returns queued datagrams even after Close, then net.ErrClosed.
func (c *memConn) ReadFrom(p []byte) (int, net.Addr, error) {
	select {
	case d := <-c.in:
		return copy(p, d.b), net.UDPAddrFromAddrPort(d.from), nil
	default:
	}
	select {
	case d := <-c.in:
		return copy(p, d.b), net.UDPAddrFromAddrPort(d.from), nil
	case <-c.closed:
		return 0, nil, net.ErrClosed
	}
}

func (c *memConn) WriteTo(p []byte, to net.Addr) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	ua, ok := to.(*net.UDPAddr)
	if !ok {
		return 0, &net.OpError{Op: "write", Net: "udp", Addr: to, Err: net.UnknownNetworkError(to.Network())}
	}
	ap := ua.AddrPort()
	dst := netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	c.net.mu.Lock()
	peer := c.net.conns[dst]
	c.net.mu.Unlock()
	if peer == nil {
		return len(p), nil
	}
	select {
	case peer.in <- datagram{b: append([]byte(nil), p...), from: c.addr}:
	default:
	}
	return len(p), nil
}

func (c *memConn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.net.mu.Lock()
		delete(c.net.conns, c.addr)
		c.net.mu.Unlock()
	})
	return nil
}

func (c *memConn) LocalAddr() net.Addr              { return net.UDPAddrFromAddrPort(c.addr) }
func (c *memConn) SetDeadline(time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }
