package h225

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseCallString(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Target
	}{
		{"h323:room@10.0.0.5", Target{Host: "10.0.0.5", Port: 1720, Dest: []Alias{H323ID("room")}}},
		{"H323:1000@mcu.example:1820;transport=tcp", Target{Host: "mcu.example", Port: 1820, Dest: []Alias{H323ID("1000"), Digits("1000")}}},
		{"h323:10.0.0.5", Target{Host: "10.0.0.5", Port: 1720}},
		{"10.0.0.5##1000", Target{Host: "10.0.0.5", Port: 1720, Dest: []Alias{H323ID("1000"), Digits("1000")}}},
		{"alice@[2001:db8::1]:1721", Target{Host: "2001:db8::1", Port: 1721, Dest: []Alias{H323ID("alice")}}},
		{"[::1]", Target{Host: "::1", Port: 1720}},
	} {
		got, err := ParseCallString(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseCallString(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "h323:", "room@", "room@host:99999", "room@host:x", "room@a host"} {
		if _, err := ParseCallString(bad); !errors.Is(err, ErrParam) {
			t.Errorf("ParseCallString(%q) = %v, want ErrParam", bad, err)
		}
	}
}

func FuzzParseCallString(f *testing.F) {
	for _, s := range []string{"h323:room@10.0.0.5", "10.0.0.5##1000", "alice@[2001:db8::1]:1721", "h323:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseCallString(s)
		if err == nil && (got.Host == "" || got.Port < 1 || got.Port > 65535) {
			t.Fatalf("accepted %q as %+v", s, got)
		}
	})
}
