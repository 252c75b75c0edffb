package bridge

// The jitter buffer orders incoming RTP payloads by sequence number and hands
// them to the playout stage one packet at a time. It is a fixed ring of
// preallocated payload slots: inserting copies the payload, nothing is
// allocated per packet.
//
// Decisions, recorded here because they shape the audio:
//   - Ordering is by RTP sequence number, compared with 16-bit wrap-around
//     arithmetic (RFC 3550 A.1 style), never by arrival.
//   - A packet older than the playout cursor is late and dropped (counted).
//   - A packet far ahead of the cursor (jbRestartGap), a run of
//     jbLateRestart late packets in a row, or consecutive sequence numbers
//     whose timestamps are more than maxJump apart mean the sender restarted
//     (or resumed after a long silence): the buffer resets and starts again
//     from that packet.
//   - A packet less than jbRestartGap but more than the ring's capacity ahead
//     pushes the cursor forward: drop oldest under pressure. This is the last
//     resort; the playout stage (playout.go) keeps the depth near its target
//     long before the ring fills.
//   - Telephone-event packets share the sequence space with audio (RFC 4733
//     §2.1); they are stored as "skip" slots so that playout steps over them
//     instead of concealing a loss that did not happen.

const (
	// jbSlots is the ring capacity, a power of two: 32 packets hold 320 ms
	// of 10 ms packets, more than the maximum playout delay.
	jbSlots = 32
	jbMask  = jbSlots - 1
	// jbRestartGap is the sequence jump treated as a sender restart.
	jbRestartGap = 500
	// jbLateRestart is how many late packets in a row mean a restart.
	jbLateRestart = 8
)

// insertResult says what happened to an inserted packet.
type insertResult uint8

const (
	insertOK insertResult = iota
	insertDuplicate
	insertLate
	insertTooBig
	insertReset    // accepted after resetting the buffer (restart)
	insertOverflow // accepted after dropping older packets to make room
)

// popKind says what the next playout step is.
type popKind uint8

const (
	popEmpty  popKind = iota // nothing buffered: underrun
	popPacket                // a payload
	popLost                  // the next packet is missing but later ones are here
	popSkip                  // a non-audio packet held the sequence number
)

type jbSlot struct {
	used bool
	skip bool
	seq  uint16
	ts   uint32
	n    int
}

// jitterBuffer is the sequence-ordered ring. It is not safe for concurrent
// use; the leg's mutex guards it.
type jitterBuffer struct {
	slots    [jbSlots]jbSlot
	data     []byte // jbSlots * slotSize
	slotSize int

	started bool
	next    uint16 // sequence number of the next packet to play
	count   int    // occupied slots
	lateRun int    // consecutive late packets

	// The last packet inserted in order, to spot a timestamp jump.
	haveIn    bool
	lastInSeq uint16
	lastInTS  uint32
	maxJump   uint32 // a larger timestamp step between neighbours is a restart

	// frameTS is the learned packet duration in RTP clock units.
	frameTS uint32
}

// init sizes the ring for payloads of up to slotSize bytes, reusing the
// previous storage when it is large enough.
func (j *jitterBuffer) init(slotSize int, frameTS, maxJump uint32) {
	j.maxJump = maxJump
	if cap(j.data) < jbSlots*slotSize {
		j.data = make([]byte, jbSlots*slotSize)
	}
	j.data = j.data[:jbSlots*slotSize]
	j.slotSize = slotSize
	j.frameTS = frameTS
	j.reset()
}

// reset forgets every packet and the cursor; the next insert starts afresh.
func (j *jitterBuffer) reset() {
	for i := range j.slots {
		j.slots[i].used = false
	}
	j.started = false
	j.count = 0
	j.lateRun = 0
	j.haveIn = false
}

// buffered returns the buffered audio in RTP clock units, counting every
// occupied slot as one packet.
func (j *jitterBuffer) buffered() uint32 { return uint32(j.count) * j.frameTS }

// insert stores a payload (skip marks a non-audio packet). The payload is
// copied.
func (j *jitterBuffer) insert(seq uint16, ts uint32, payload []byte, skip bool) insertResult {
	if len(payload) > j.slotSize {
		return insertTooBig
	}
	res := insertOK
	if !j.started {
		j.started = true
		j.next = seq
	}
	d := int16(seq - j.next)
	switch {
	case d < 0:
		if int(-d) >= jbRestartGap {
			j.reset()
			j.started, j.next = true, seq
			res = insertReset
			break
		}
		j.lateRun++
		if j.lateRun < jbLateRestart {
			return insertLate
		}
		j.reset()
		j.started, j.next = true, seq
		res = insertReset
	case int(d) >= jbRestartGap:
		j.reset()
		j.started, j.next = true, seq
		res = insertReset
	case int(d) >= jbSlots:
		// Drop the oldest until the new packet fits in the ring.
		for int16(seq-j.next) >= jbSlots {
			s := &j.slots[j.next&jbMask]
			if s.used && s.seq == j.next {
				s.used = false
				j.count--
				res = insertOverflow
			}
			j.next++
		}
	}
	j.lateRun = 0
	if !skip {
		if j.haveIn && seq == j.lastInSeq+1 && res == insertOK {
			if d := int64(int32(ts - j.lastInTS)); d > int64(j.maxJump) || -d > int64(j.maxJump) {
				// Neighbouring sequence numbers, distant timestamps: the
				// sender restarted (or resumed after a long silence).
				j.reset()
				j.started, j.next = true, seq
				res = insertReset
			}
		}
		j.haveIn, j.lastInSeq, j.lastInTS = true, seq, ts
	}
	i := int(seq & jbMask)
	s := &j.slots[i]
	if s.used {
		if s.seq == seq {
			return insertDuplicate
		}
		// A stale entry (cannot normally happen): replace it.
		j.count--
	}
	s.used, s.skip, s.seq, s.ts = true, skip, seq, ts
	s.n = copy(j.data[i*j.slotSize:(i+1)*j.slotSize], payload)
	j.count++
	j.learnDuration(seq, ts, skip)
	return res
}

// learnDuration updates frameTS from the timestamp step between this packet
// and its predecessor when both are audio.
func (j *jitterBuffer) learnDuration(seq uint16, ts uint32, skip bool) {
	if skip {
		return
	}
	p := &j.slots[(seq-1)&jbMask]
	if !p.used || p.skip || p.seq != seq-1 {
		return
	}
	if step := ts - p.ts; step > 0 && step <= 120*48 { // at most 120 ms at 48 kHz
		j.frameTS = step
	}
}

// pop returns the next playout step. For popPacket the payload aliases the
// ring and is valid until the next insert.
func (j *jitterBuffer) pop() ([]byte, popKind) {
	if !j.started || j.count == 0 {
		return nil, popEmpty
	}
	i := int(j.next & jbMask)
	s := &j.slots[i]
	if !s.used || s.seq != j.next {
		j.next++
		return nil, popLost
	}
	s.used = false
	j.count--
	j.next++
	if s.skip {
		return nil, popSkip
	}
	return j.data[i*j.slotSize : i*j.slotSize+s.n], popPacket
}
