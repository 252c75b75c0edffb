package video

import (
	"fmt"

	"github.com/pion/rtcp"
)

// NackCache keeps the last packets sent on one outgoing RTP stream, keyed by
// their (rewritten) sequence number, so that a NACK (RFC 4585 §6.2.1) can be
// answered without asking the source. Memory is allocated once: size slots
// of slotSize bytes. Not safe for concurrent use.
type NackCache struct {
	buf      []byte
	lens     []uint16
	seqs     []uint16
	valid    []bool
	slotSize int
	mask     uint16
}

// NewNackCache returns a cache of size packets (rounded up to a power of two,
// at most 32768) of at most slotSize bytes each.
func NewNackCache(size, slotSize int) *NackCache {
	n := 1
	for n < size && n < 1<<15 {
		n <<= 1
	}
	return &NackCache{
		buf:      make([]byte, n*slotSize),
		lens:     make([]uint16, n),
		seqs:     make([]uint16, n),
		valid:    make([]bool, n),
		slotSize: slotSize,
		mask:     uint16(n - 1),
	}
}

// Len returns the number of slots.
func (c *NackCache) Len() int { return len(c.lens) }

// slot returns the whole buffer of seq's slot, to write a packet into before
// commit. The previous occupant is invalidated.
func (c *NackCache) slot(seq uint16) []byte {
	i := int(seq & c.mask)
	c.valid[i] = false
	return c.buf[i*c.slotSize : (i+1)*c.slotSize]
}

// commit marks seq's slot as holding an n-byte packet.
func (c *NackCache) commit(seq uint16, n int) []byte {
	i := int(seq & c.mask)
	c.lens[i], c.seqs[i], c.valid[i] = uint16(n), seq, true
	return c.buf[i*c.slotSize : i*c.slotSize+n]
}

// Store copies pkt into the cache under seq.
func (c *NackCache) Store(seq uint16, pkt []byte) error {
	if len(pkt) > c.slotSize {
		return fmt.Errorf("caching packet %d of %d bytes: %w", seq, len(pkt), ErrPacketTooLarge)
	}
	copy(c.slot(seq), pkt)
	c.commit(seq, len(pkt))
	return nil
}

// Reset forgets every cached packet (the stream's numbering restarted).
func (c *NackCache) Reset() { clear(c.valid) }

// Lookup returns the cached packet with sequence number seq. The slice
// aliases the cache and is valid until the slot is reused.
func (c *NackCache) Lookup(seq uint16) ([]byte, bool) {
	i := int(seq & c.mask)
	if !c.valid[i] || c.seqs[i] != seq {
		return nil, false
	}
	return c.buf[i*c.slotSize : i*c.slotSize+int(c.lens[i])], true
}

// Answer calls send with every cached packet that nack asks for, in the
// order asked, and returns how many were re-sent and how many were no longer
// cached. It stops at the first send error.
func (c *NackCache) Answer(nack *rtcp.TransportLayerNack, send func([]byte) error) (resent, missing int, err error) {
	for _, p := range nack.Nacks {
		for bit := -1; bit < 16; bit++ {
			if bit >= 0 && p.LostPackets&(1<<uint(bit)) == 0 {
				continue
			}
			seq := p.PacketID + uint16(bit+1)
			pkt, ok := c.Lookup(seq)
			if !ok {
				missing++
				continue
			}
			if err := send(pkt); err != nil {
				return resent, missing, fmt.Errorf("re-sending packet %d: %w", seq, err)
			}
			resent++
		}
	}
	return resent, missing, nil
}
