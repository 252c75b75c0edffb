package conf_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"github.com/roomgate/roomgate/conf"
	"github.com/roomgate/roomgate/store"
)

func FuzzParseKeyMap(f *testing.F) {
	for _, s := range []string{
		conf.DefaultKeyMap,
		"",
		"mute=#1, help=",
		"mute=*6, lock=*6",
		"mute=*6,,",
		"end=##, end=#1",
		"shout=*1",
		"mute = *A , talk-up=#D",
		"mute=*",
		"mute=1*",
		"=*1",
		"mute=*6=*7",
	} {
		f.Add(s)
	}
	base, err := conf.ParseKeyMap(conf.DefaultKeyMap)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		km, err := conf.ParseKeyMap(spec)
		if err != nil {
			var ke *conf.KeyMapError
			if !errors.As(err, &ke) || !errors.Is(err, conf.ErrInvalid) {
				t.Fatalf("error %v is not a *KeyMapError", err)
			}
			return
		}
		// What parsed prints back to itself.
		again, err := conf.ParseKeyMap(km.String())
		if err != nil || again.String() != km.String() {
			t.Fatalf("%q printed as %q, which parses to %v, %v", spec, km.String(), again, err)
		}
		for _, m := range []conf.KeyMap{km, base.Override(km)} {
			seen := map[string]bool{}
			for _, cmd := range conf.Commands() {
				seq := m.Sequence(cmd)
				if seq == "" {
					continue
				}
				if len(seq) != 2 || (seq[0] != '*' && seq[0] != '#') || seen[seq] {
					t.Fatalf("map %q has %s on %q", m.String(), cmd, seq)
				}
				seen[seq] = true
				if got, ok := m.Command(seq); !ok || got != cmd {
					t.Fatalf("Command(%q) = %q, want %s", seq, got, cmd)
				}
			}
		}
	})
}

// FuzzKeySession feeds random keys, timeouts and mode changes to the
// in-call key machine: it never panics, completes only commands of its
// map, and after a timeout in command mode holds nothing.
func FuzzKeySession(f *testing.F) {
	f.Add([]byte("*6*4##1"), conf.DefaultKeyMap)
	f.Add([]byte("*9P1234#**T"), conf.DefaultKeyMap)
	f.Add([]byte("##C2*T*"), "end=#1")
	f.Add([]byte("5*#*6TTT"), "")
	f.Fuzz(func(t *testing.T, keys []byte, spec string) {
		km, err := conf.ParseKeyMap(spec)
		if err != nil {
			return
		}
		s := conf.NewKeySession(km)
		confirming := false
		for _, k := range keys {
			var kind, v string
			switch k {
			case 'T':
				kind, v = s.Timeout()
				if !confirming && kind == conf.KeyNone && s.Waiting() {
					t.Fatal("a timeout in command mode left a key pending")
				}
			case 'P':
				s.ExpectPIN()
				continue
			case 'C':
				s.ExpectConfirm()
				confirming = true
				continue
			default:
				kind, v = s.Key(k)
			}
			switch kind {
			case conf.KeyCommand:
				if seq := km.Sequence(v); seq == "" {
					t.Fatalf("completed %q, which the map %q does not enable", v, km.String())
				}
			case conf.KeyPIN:
				if len(v) > conf.MaxPINLen+1 {
					t.Fatalf("PIN entry of %d digits", len(v))
				}
			}
			if kind == conf.KeyConfirmed || kind == conf.KeyCancelled {
				confirming = false
			}
		}
	})
}

// FuzzCallDigits presses random keys, 'T' for a pause of a digit timeout,
// at a lobby call that goes on into a conference: the call never panics,
// Digit never blocks, and the lobby never keeps the call past its entry
// timeout.
func FuzzCallDigits(f *testing.F) {
	f.Add("1000#1234#*6*4**##2")
	f.Add("1000T9876T*2*3*0##1")
	f.Add("9T9T9T")
	f.Add("1000#1111#2222#3333#")
	f.Add("\x00é*#ABCDabcd")
	f.Add("1000#1234#*9T*9123#*9456#*9789#")
	base := f.TempDir() // the inputs' names hold '#', which a database path may not
	f.Fuzz(func(t *testing.T, keys string) {
		if len(keys) > 200 {
			return
		}
		dir, err := os.MkdirTemp(base, "db")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		synctest.Test(t, func(t *testing.T) {
			st, err := store.OpenSQLite(t.Context(), dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			svc := conf.NewService(st, nil, conf.WithIVR(testIVR), conf.WithPasswordIterations(1000))
			defer svc.Close(context.Background())
			if _, err := svc.CreateConference(t.Context(), conf.Conference{ID: "1000", Name: "x", PIN: "1234",
				ModeratorPIN: "9876", Owner: "alice"}); err != nil {
				t.Fatal(err)
			}
			leg := &ivrLeg{}
			c, err := svc.Admit(t.Context(), conf.DialIn{SourceIP: "192.0.2.1", Remote: "192.0.2.1:5060", Leg: leg})
			if err != nil {
				t.Fatal(err)
			}
			leg.mu.Lock()
			leg.call = c
			leg.mu.Unlock()
			done := make(chan struct{})
			go func() {
				defer close(done)
				c.Run(t.Context())
			}()
			for _, k := range keys {
				if k == 'T' {
					time.Sleep(testIVR.DigitTimeout)
					continue
				}
				c.Digit(k)
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(testIVR.EntryTimeout + time.Minute)
			synctest.Wait()
			if c.Participant() == nil {
				select {
				case <-done:
				default:
					t.Fatal("a lobby call outlived its entry timeout")
				}
			}
			c.End(nil)
			<-done
			if h := leg.hungUp(); len(h) > 1 {
				t.Fatalf("hung up %d times: %v", len(h), h)
			}
		})
	})
}
