package conf

// KeySession gives the external tests the in-call key machine.
type KeySession struct{ m keyMachine }

// NewKeySession returns a key machine over km.
func NewKeySession(km KeyMap) *KeySession { return &KeySession{m: keyMachine{km: km}} }

// Outcome kinds of KeySession, as the tests compare them.
const (
	KeyNone      = "none"
	KeyCommand   = "command"
	KeyPIN       = "pin"
	KeyConfirmed = "confirmed"
	KeyCancelled = "cancelled"
)

func (k *KeySession) out(ev keyEvent) (kind, value string) {
	switch ev.kind {
	case keyCommand:
		return KeyCommand, ev.cmd
	case keyPIN:
		return KeyPIN, ev.pin
	case keyConfirmed:
		return KeyConfirmed, ""
	case keyCancelled:
		return KeyCancelled, ""
	}
	return KeyNone, ""
}

// Key feeds one key.
func (k *KeySession) Key(d byte) (kind, value string) { return k.out(k.m.key(d)) }

// Timeout reports the digit timeout.
func (k *KeySession) Timeout() (kind, value string) { return k.out(k.m.timeout()) }

// ExpectPIN starts a moderator PIN entry.
func (k *KeySession) ExpectPIN() { k.m.expectPIN() }

// ExpectConfirm waits for the confirm key.
func (k *KeySession) ExpectConfirm() { k.m.expectConfirm() }

// Waiting reports whether the digit timeout runs.
func (k *KeySession) Waiting() bool { return k.m.waiting() }

// ModeratorCommand reports whether cmd needs moderator rights.
func ModeratorCommand(cmd string) bool { return moderatorCommand(cmd) }
