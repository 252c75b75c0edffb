package conf

import (
	"fmt"
	"strings"
)

// In-call DTMF commands, as key maps name them.
const (
	CommandMute       = "mute"        // mute or unmute oneself
	CommandListenDown = "listen-down" // hear the conference more quietly
	CommandListenUp   = "listen-up"   // hear the conference louder
	CommandTalkDown   = "talk-down"   // be quieter in the mix
	CommandTalkUp     = "talk-up"     // be louder in the mix
	CommandCount      = "count"       // hear how many participants there are
	CommandModerator  = "moderator"   // become moderator with the moderator PIN
	CommandHelp       = "help"        // hear the list of commands
	CommandMuteAll    = "mute-all"    // moderators: mute everybody but moderators and the owner
	CommandLock       = "lock"        // moderators: lock or unlock the conference
	CommandRemoveLast = "remove-last" // moderators: remove the participant who joined last
	CommandEnd        = "end"         // moderators: end the conference for all, after the confirm key
)

// DefaultKeyMap is the built-in in-call key map (dtmf.key_map when it is
// empty). The README publishes this table; keep them the same.
const DefaultKeyMap = "mute=*6, listen-down=*4, listen-up=*7, talk-down=*5, talk-up=*8, " +
	"count=*1, moderator=*9, help=**, mute-all=*2, lock=*3, remove-last=*0, end=##"

// maxKeyMapLen bounds the text ParseKeyMap reads: the longest sensible map
// is a few hundred characters, and a bound keeps parsing cheap on input
// that comes from the REST API.
const maxKeyMapLen = 1024

// commandOrder lists every command in the order String writes them.
var commandOrder = [...]string{
	CommandMute, CommandListenDown, CommandListenUp, CommandTalkDown, CommandTalkUp,
	CommandCount, CommandModerator, CommandHelp, CommandMuteAll, CommandLock,
	CommandRemoveLast, CommandEnd,
}

// Commands returns the names of every in-call command, in the order of
// DefaultKeyMap.
func Commands() []string { return append([]string(nil), commandOrder[:]...) }

// moderatorCommand reports whether cmd needs moderator rights.
func moderatorCommand(cmd string) bool {
	switch cmd {
	case CommandMuteAll, CommandLock, CommandRemoveLast, CommandEnd:
		return true
	}
	return false
}

// commandIndex returns the position of cmd in commandOrder, or -1.
func commandIndex(cmd string) int {
	for i, c := range commandOrder {
		if c == cmd {
			return i
		}
	}
	return -1
}

// KeyMap maps in-call commands to key sequences. The zero value names no
// command. A KeyMap is a value: copies do not share state.
//
// Every sequence is exactly two keys and its first key is * or #. That one
// rule is what makes a map safe against keys lost on the way (RFC 4733
// events dropped by the network, a key pressed too briefly for in-band
// detection):
//
//   - all sequences have the same length, and no two are equal, so none is
//     a prefix of another: a command is recognised at its second key, never
//     earlier and never by waiting;
//   - deleting one key from a sequence leaves a single key, which is no
//     command; the session also forgets an incomplete sequence after the
//     digit timeout, so a lost second key cannot join the first key of the
//     next command once the caller paused;
//   - the first key of a command is * or #, so the 0-9 digits of entries
//     (PINs) and the confirm key are never read as a command start.
//
// TestLostDigitCannotTriggerCommand enumerates these cases for the moderator
// commands of DefaultKeyMap.
type KeyMap struct {
	// seq holds the sequence of each named command, by commandOrder index;
	// named marks the commands the map names (with seq "" when it disables
	// them), which is what Override needs.
	seq   [len(commandOrder)]string
	named [len(commandOrder)]bool
}

// KeyMapError says which entry of a key map is wrong and why.
type KeyMapError struct {
	Entry  string // the entry as written, e.g. "mute=*"
	Reason string
}

// Error implements error.
func (e *KeyMapError) Error() string {
	return fmt.Sprintf("conf: key map entry %q: %s", e.Entry, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalid) true, so the REST API answers 400.
func (e *KeyMapError) Unwrap() error { return ErrInvalid }

// ParseKeyMap reads a key map: comma-separated entries command=keys, e.g.
// DefaultKeyMap. Keys are 0-9, *, # and A-D; every sequence is two keys
// starting with * or # (see KeyMap for why); "command=" with no keys
// disables a command. Unknown commands, a command named twice, two
// commands on the same keys and empty entries are refused with a
// *KeyMapError. A blank spec is a map that names nothing.
func ParseKeyMap(spec string) (KeyMap, error) {
	var m KeyMap
	if len(spec) > maxKeyMapLen {
		return KeyMap{}, &KeyMapError{Entry: truncate(spec, 32), Reason: fmt.Sprintf("the map is longer than %d characters", maxKeyMapLen)}
	}
	if strings.TrimSpace(spec) == "" {
		return m, nil
	}
	owner := make(map[string]string) // sequence -> command
	for raw := range strings.SplitSeq(spec, ",") {
		entry := strings.TrimSpace(raw)
		if entry == "" {
			return KeyMap{}, &KeyMapError{Entry: raw, Reason: "empty entry (two commas, or a comma at an end)"}
		}
		name, keys, ok := strings.Cut(entry, "=")
		if !ok {
			return KeyMap{}, &KeyMapError{Entry: entry, Reason: "must be command=keys"}
		}
		name, keys = strings.TrimSpace(name), strings.TrimSpace(keys)
		i := commandIndex(name)
		if i < 0 {
			return KeyMap{}, &KeyMapError{Entry: entry, Reason: fmt.Sprintf("unknown command %q (known: %s)", truncate(name, 32), strings.Join(commandOrder[:], ", "))}
		}
		if m.named[i] {
			return KeyMap{}, &KeyMapError{Entry: entry, Reason: fmt.Sprintf("command %s is named twice", name)}
		}
		if err := checkSequence(keys); err != "" {
			return KeyMap{}, &KeyMapError{Entry: entry, Reason: err}
		}
		if keys != "" {
			if other, dup := owner[keys]; dup {
				return KeyMap{}, &KeyMapError{Entry: entry, Reason: fmt.Sprintf("keys %s are already used by %s", keys, other)}
			}
			owner[keys] = name
		}
		m.named[i], m.seq[i] = true, keys
	}
	return m, nil
}

// checkSequence returns why keys is not a valid sequence, or "" when it is
// one (or is empty: a disabled command).
func checkSequence(keys string) string {
	if keys == "" {
		return ""
	}
	for i := 0; i < len(keys); i++ {
		if !validKey(rune(keys[i])) {
			return "keys must be 0-9, *, # or A-D"
		}
	}
	if len(keys) != 2 {
		return "a sequence must be exactly two keys"
	}
	if !leadKey(keys[0]) {
		return "a sequence must start with * or #"
	}
	return ""
}

// validKey reports whether d is a DTMF key: 0-9, *, # or A-D.
func validKey(d rune) bool {
	return (d >= '0' && d <= '9') || d == '*' || d == '#' || (d >= 'A' && d <= 'D')
}

// leadKey reports whether k may start a command sequence.
func leadKey(k byte) bool { return k == '*' || k == '#' }

// Sequence returns the keys of cmd, or "" when the map does not enable it.
func (m KeyMap) Sequence(cmd string) string {
	if i := commandIndex(cmd); i >= 0 {
		return m.seq[i]
	}
	return ""
}

// Command returns the command on keys, if any.
func (m KeyMap) Command(keys string) (string, bool) {
	if keys == "" {
		return "", false
	}
	for i, s := range m.seq {
		if s == keys {
			return commandOrder[i], true
		}
	}
	return "", false
}

// Override returns m with the entries o names put over it: o's sequences
// replace m's, o's disabled commands are disabled, and a command of m whose
// keys o gives to another command is disabled (the conference's entries
// win over the configured map's).
func (m KeyMap) Override(o KeyMap) KeyMap {
	out := m
	for i := range commandOrder {
		if !o.named[i] {
			continue
		}
		if s := o.seq[i]; s != "" {
			for j := range out.seq {
				if j != i && out.seq[j] == s && !o.named[j] {
					out.seq[j] = ""
				}
			}
		}
		out.named[i], out.seq[i] = true, o.seq[i]
	}
	return out
}

// String writes the map in ParseKeyMap's syntax, commands in the order of
// DefaultKeyMap; disabled commands it names appear as "command=".
func (m KeyMap) String() string {
	var b strings.Builder
	for i, name := range commandOrder {
		if !m.named[i] {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(m.seq[i])
	}
	return b.String()
}

// defaultKeyMap returns DefaultKeyMap parsed; it is a constant, so a
// failure is a programming error caught by the tests.
func defaultKeyMap() KeyMap {
	m, err := ParseKeyMap(DefaultKeyMap)
	if err != nil {
		panic("conf: DefaultKeyMap does not parse: " + err.Error())
	}
	return m
}
