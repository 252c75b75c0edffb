package conf_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/roomgate/roomgate/conf"
)

func TestDefaultKeyMap(t *testing.T) {
	km, err := conf.ParseKeyMap(conf.DefaultKeyMap)
	if err != nil {
		t.Fatal(err)
	}
	if got := km.String(); got != conf.DefaultKeyMap {
		t.Fatalf("String() = %q, want DefaultKeyMap %q", got, conf.DefaultKeyMap)
	}
	want := map[string]string{
		conf.CommandMute: "*6", conf.CommandListenDown: "*4", conf.CommandListenUp: "*7",
		conf.CommandTalkDown: "*5", conf.CommandTalkUp: "*8", conf.CommandCount: "*1",
		conf.CommandModerator: "*9", conf.CommandHelp: "**", conf.CommandMuteAll: "*2",
		conf.CommandLock: "*3", conf.CommandRemoveLast: "*0", conf.CommandEnd: "##",
	}
	for _, cmd := range conf.Commands() {
		if got := km.Sequence(cmd); got != want[cmd] {
			t.Errorf("%s on %q, want %q", cmd, got, want[cmd])
		}
		if got, ok := km.Command(want[cmd]); !ok || got != cmd {
			t.Errorf("Command(%q) = %q, %v", want[cmd], got, ok)
		}
	}
	if len(conf.Commands()) != len(want) {
		t.Errorf("%d commands, want %d", len(conf.Commands()), len(want))
	}
}

func TestParseKeyMapErrors(t *testing.T) {
	cases := []struct {
		spec, entry, reason string
	}{
		{"mute=*6, shout=*7", "shout=*7", "unknown command"},
		{"mute=*6, lock=*6", "lock=*6", "already used by mute"},
		{"mute=*6, mute=*7", "mute=*7", "named twice"},
		{"mute=*x", "mute=*x", "0-9, *, # or A-D"},
		{"mute=*a", "mute=*a", "0-9, *, # or A-D"},
		{"mute=*", "mute=*", "exactly two keys"},
		{"mute=*66", "mute=*66", "exactly two keys"},
		{"mute=66", "mute=66", "start with * or #"},
		{"mute=A1", "mute=A1", "start with * or #"},
		{"mute", "mute", "command=keys"},
		{"mute=*6,,lock=*3", "", "empty entry"},
		{"mute=*6,", "", "empty entry"},
		{strings.Repeat("mute=*6,", 200), "", "longer than"},
	}
	for _, tc := range cases {
		_, err := conf.ParseKeyMap(tc.spec)
		var ke *conf.KeyMapError
		if !errors.As(err, &ke) {
			t.Errorf("ParseKeyMap(%q) = %v, want a *KeyMapError", tc.spec, err)
			continue
		}
		if !errors.Is(err, conf.ErrInvalid) {
			t.Errorf("ParseKeyMap(%q): %v is not ErrInvalid", tc.spec, err)
		}
		if tc.entry != "" && ke.Entry != tc.entry {
			t.Errorf("ParseKeyMap(%q): entry %q, want %q", tc.spec, ke.Entry, tc.entry)
		}
		if !strings.Contains(ke.Reason, tc.reason) {
			t.Errorf("ParseKeyMap(%q): reason %q, want %q in it", tc.spec, ke.Reason, tc.reason)
		}
	}
}

func TestParseKeyMapAccepts(t *testing.T) {
	for spec, want := range map[string]string{
		"":                          "",
		"   ":                       "",
		" mute = #1 ,lock=*D ":      "mute=#1, lock=*D",
		"help=, end=#9":             "help=, end=#9",
		"end=##, mute=*6":           "mute=*6, end=##",
		"mute=, lock=, end=, help=": "mute=, help=, lock=, end=",
	} {
		km, err := conf.ParseKeyMap(spec)
		if err != nil {
			t.Errorf("ParseKeyMap(%q): %v", spec, err)
			continue
		}
		if got := km.String(); got != want {
			t.Errorf("ParseKeyMap(%q).String() = %q, want %q", spec, got, want)
		}
	}
}

func TestKeyMapOverride(t *testing.T) {
	base, err := conf.ParseKeyMap(conf.DefaultKeyMap)
	if err != nil {
		t.Fatal(err)
	}
	o, err := conf.ParseKeyMap("mute=*3, help=, end=#0")
	if err != nil {
		t.Fatal(err)
	}
	km := base.Override(o)
	checks := map[string]string{
		conf.CommandMute:   "*3", // moved onto lock's keys...
		conf.CommandLock:   "",   // ...which the conference's entry takes from lock
		conf.CommandHelp:   "",
		conf.CommandEnd:    "#0",
		conf.CommandTalkUp: "*8",
	}
	for cmd, want := range checks {
		if got := km.Sequence(cmd); got != want {
			t.Errorf("%s on %q, want %q", cmd, got, want)
		}
	}
	if _, ok := km.Command("*6"); ok {
		t.Error("mute's old keys still do something")
	}
	if _, ok := km.Command("##"); ok {
		t.Error("end's old keys still do something")
	}
	// The result is itself a valid map.
	if _, err := conf.ParseKeyMap(km.String()); err != nil {
		t.Errorf("overridden map %q does not parse: %v", km.String(), err)
	}
	if got := base.Sequence(conf.CommandMute); got != "*6" {
		t.Errorf("Override changed its receiver: mute on %q", got)
	}
}

// run feeds keys ('T' is a digit timeout) to a session and returns the
// commands it completed.
func run(s *conf.KeySession, keys string) []string {
	var cmds []string
	for i := 0; i < len(keys); i++ {
		var kind, v string
		if keys[i] == 'T' {
			kind, v = s.Timeout()
		} else {
			kind, v = s.Key(keys[i])
		}
		if kind == conf.KeyCommand {
			cmds = append(cmds, v)
		}
	}
	return cmds
}

// TestLostDigitCannotTriggerCommand enumerates every single-key deletion
// from every moderator command of DefaultKeyMap and proves that it
// triggers nothing on its own, that after the digit timeout the next
// command (any of the map) is recognised exactly, and that even without
// the pause no moderator command other than the one pressed next runs.
func TestLostDigitCannotTriggerCommand(t *testing.T) {
	km, err := conf.ParseKeyMap(conf.DefaultKeyMap)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, cmd := range conf.Commands() {
		if !conf.ModeratorCommand(cmd) {
			continue
		}
		seq := km.Sequence(cmd)
		for i := range len(seq) {
			lost := seq[:i] + seq[i+1:]
			if got := run(conf.NewKeySession(km), lost+"T"); len(got) != 0 {
				t.Errorf("%s (%s) without key %d: %q triggered %v", cmd, seq, i, lost, got)
			}
			for _, next := range conf.Commands() {
				nseq := km.Sequence(next)
				s := conf.NewKeySession(km)
				if got := run(s, lost+"T"+nseq); !slices.Equal(got, []string{next}) {
					t.Errorf("%q, pause, %q (%s): got %v, want [%s]", lost, nseq, next, got, next)
				}
				if s.Waiting() {
					t.Errorf("%q, pause, %q: a key is still pending", lost, nseq)
				}
				for _, got := range run(conf.NewKeySession(km), lost+nseq) {
					if conf.ModeratorCommand(got) && got != next {
						t.Errorf("%q then %q (%s) at once triggered moderator command %s", lost, nseq, next, got)
					}
				}
				checked++
			}
		}
	}
	if checked != 4*2*12 {
		t.Fatalf("checked %d cases, want %d", checked, 4*2*12)
	}
}

func TestKeySessionModes(t *testing.T) {
	km, err := conf.ParseKeyMap(conf.DefaultKeyMap)
	if err != nil {
		t.Fatal(err)
	}
	s := conf.NewKeySession(km)
	if s.Waiting() {
		t.Fatal("a new session waits")
	}
	// PIN entry: digits, * restarts, # ends; the timeout ends it too.
	s.ExpectPIN()
	for _, k := range []byte("12*98") {
		s.Key(k)
	}
	if kind, pin := s.Key('#'); kind != conf.KeyPIN || pin != "98" {
		t.Fatalf("PIN entry: %s %q", kind, pin)
	}
	s.ExpectPIN()
	s.Key('7')
	if kind, pin := s.Timeout(); kind != conf.KeyPIN || pin != "7" {
		t.Fatalf("PIN entry by timeout: %s %q", kind, pin)
	}
	// An over-long PIN stays longer than any PIN.
	s.ExpectPIN()
	for range 40 {
		s.Key('1')
	}
	if _, pin := s.Key('#'); len(pin) != conf.MaxPINLen+1 {
		t.Fatalf("over-long PIN kept as %d digits", len(pin))
	}
	// Confirmation: 1 confirms, anything else or the timeout cancels.
	for keys, want := range map[string]string{"1": conf.KeyConfirmed, "2": conf.KeyCancelled, "#": conf.KeyCancelled, "T": conf.KeyCancelled} {
		s.ExpectConfirm()
		var kind string
		if keys == "T" {
			kind, _ = s.Timeout()
		} else {
			kind, _ = s.Key(keys[0])
		}
		if kind != want {
			t.Errorf("confirming with %q: %s, want %s", keys, kind, want)
		}
	}
	// Commands: a stray key is ignored, a non-command restarts.
	if got := run(s, "5*#*6"); !slices.Equal(got, []string{conf.CommandMute}) {
		t.Errorf("stray keys then *6: %v", got)
	}
}
