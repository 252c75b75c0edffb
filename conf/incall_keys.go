package conf

// keyMode is what the in-call key machine expects next.
type keyMode int

const (
	// modeCommand reads key sequences of the key map.
	modeCommand keyMode = iota
	// modePIN collects a moderator PIN until # or the digit timeout.
	modePIN
	// modeConfirm waits for the confirm key of "end for all".
	modeConfirm
)

// confirmKey confirms "end the conference for all"; any other key cancels.
const confirmKey = '1'

// keyEventKind is what a key or a timeout completed.
type keyEventKind int

const (
	keyNone      keyEventKind = iota
	keyCommand                // a sequence of the map: cmd
	keyPIN                    // a moderator PIN entry ended: pin
	keyConfirmed              // the confirm key
	keyCancelled              // another key or the timeout while confirming
)

// keyEvent is the outcome of one key or timeout.
type keyEvent struct {
	kind keyEventKind
	cmd  string
	pin  string
}

// keyMachine turns the keys of a joined caller into commands. It is pure
// (no clock, no I/O) so that it can be fuzzed and its lost-key properties
// enumerated; the call's goroutine feeds it keys and, after a digit timeout
// of silence while waiting() is true, timeout().
type keyMachine struct {
	km      KeyMap
	mode    keyMode
	pending byte   // a lead key waiting for its second key; 0 when none
	pin     []byte // the moderator PIN being entered
}

// key feeds one key (a validKey) and returns what it completed.
func (m *keyMachine) key(d byte) keyEvent {
	switch m.mode {
	case modePIN:
		switch {
		case d == '#':
			return m.finishPIN()
		case d == '*':
			m.clearPIN() // start the entry again
		case d >= '0' && d <= '9' && len(m.pin) <= MaxPINLen:
			// One digit more than the longest PIN is kept, so that an
			// over-long entry stays wrong instead of being cut to a match.
			m.pin = append(m.pin, d)
		}
		return keyEvent{}
	case modeConfirm:
		m.mode = modeCommand
		if d == confirmKey {
			return keyEvent{kind: keyConfirmed}
		}
		return keyEvent{kind: keyCancelled}
	}
	if m.pending != 0 {
		seq := string([]byte{m.pending, d})
		m.pending = 0
		if cmd, ok := m.km.Command(seq); ok {
			return keyEvent{kind: keyCommand, cmd: cmd}
		}
		// Not a command: d may still start the next one (the first key of
		// this one was stray, or its second key was lost).
	}
	if leadKey(d) {
		m.pending = d
	}
	return keyEvent{}
}

// timeout is called after the digit timeout passed with waiting() true: an
// incomplete sequence is forgotten, a PIN entry ends as if # was pressed,
// a confirmation is cancelled.
func (m *keyMachine) timeout() keyEvent {
	switch m.mode {
	case modePIN:
		return m.finishPIN()
	case modeConfirm:
		m.mode = modeCommand
		return keyEvent{kind: keyCancelled}
	}
	m.pending = 0
	return keyEvent{}
}

// waiting reports whether the machine holds something the digit timeout
// must end.
func (m *keyMachine) waiting() bool { return m.mode != modeCommand || m.pending != 0 }

// enteringPIN reports whether keys are digits of a PIN, which must not be
// passed on to the others (DTMF pass-through).
func (m *keyMachine) enteringPIN() bool { return m.mode == modePIN }

// expectPIN starts a moderator PIN entry.
func (m *keyMachine) expectPIN() {
	m.mode, m.pending = modePIN, 0
	m.clearPIN()
}

// expectConfirm waits for the confirm key.
func (m *keyMachine) expectConfirm() { m.mode, m.pending = modeConfirm, 0 }

func (m *keyMachine) finishPIN() keyEvent {
	pin := string(m.pin)
	m.clearPIN()
	m.mode = modeCommand
	return keyEvent{kind: keyPIN, pin: pin}
}

// clearPIN overwrites the digits so that a PIN does not linger in memory
// longer than its check.
func (m *keyMachine) clearPIN() {
	clear(m.pin)
	m.pin = m.pin[:0]
}
