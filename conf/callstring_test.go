package conf_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/roomgate/roomgate/conf"
)

func TestParseCallStringForms(t *testing.T) {
	tests := []struct {
		in   string
		want conf.Target
	}{
		{"sip:1000@room.example;transport=TCP", conf.Target{Kind: "address", Form: "sip-uri", Scheme: "sip", User: "1000", Host: "room.example",
			Transport: "tcp", Params: []conf.Param{{Name: "transport", Value: "tcp"}}, Display: "sip:1000@room.example;transport=tcp"}},
		{"sips:bob@Secure.Example:5071", conf.Target{Kind: "address", Form: "sips-uri", Scheme: "sips", User: "bob", Host: "secure.example", Port: 5071,
			Transport: "tls", Display: "sips:bob@secure.example:5071"}},
		{"sip:room.example", conf.Target{Kind: "address", Form: "sip-uri", Scheme: "sip", Host: "room.example", Display: "sip:room.example"}},
		{"#sip:user@host.example", conf.Target{Kind: "address", Form: "#sip", Scheme: "sip", User: "user", Host: "host.example", Display: "#sip:user@host.example"}},
		{"#sip:@192.0.2.5", conf.Target{Kind: "address", Form: "#sip", Scheme: "sip", Host: "192.0.2.5", Display: "#sip:@192.0.2.5"}},
		{"#sip:alice", conf.Target{Kind: "address", Form: "#sip", Scheme: "sip", User: "alice", ViaProxy: true, Display: "#sip:alice"}},
		{"#sip:alice@[2001:db8::2]", conf.Target{Kind: "address", Form: "#sip", Scheme: "sip", User: "alice", Host: "2001:db8::2", Display: "#sip:alice@[2001:db8::2]"}},
		{"#SIP:alice@[2001:DB8::2]:5070;lr", conf.Target{Kind: "address", Form: "#sip", Scheme: "sip", User: "alice", Host: "2001:db8::2", Port: 5070,
			Params: []conf.Param{{Name: "lr"}}, Display: "#sip:alice@[2001:db8::2]:5070;lr"}},
		{"sip:1000@192.0.2.1;postd=1234#", conf.Target{Kind: "address", Form: "sip-uri", Scheme: "sip", User: "1000", Host: "192.0.2.1", Postdial: "1234#",
			Params: []conf.Param{{Name: "postd", Value: "1234#"}}, Display: "sip:1000@192.0.2.1;postd=1234#"}},
		{"sip:5551234,,42#@gw.example", conf.Target{Kind: "address", Form: "sip-uri", Scheme: "sip", User: "5551234", Host: "gw.example", Postdial: ",,42#",
			Display: "sip:5551234@gw.example"}},
		{"h323:room1@mcu.example:1720", conf.Target{Kind: "address", Form: "h323-uri", Scheme: "h323", User: "room1", Host: "mcu.example", Port: 1720,
			Display: "h323:room1@mcu.example:1720"}},
		{"#h323:@192.0.2.7", conf.Target{Kind: "address", Form: "#h323", Scheme: "h323", Host: "192.0.2.7", Display: "#h323:@192.0.2.7"}},
		{"#h323:boardroom", conf.Target{Kind: "address", Form: "#h323", Scheme: "h323", User: "boardroom", ViaProxy: true, Display: "#h323:boardroom"}},
		{"rtsp://admin:s%40cret@cam.example:8554/stream1?channel=2", conf.Target{Kind: "address", Form: "rtsp-url", Scheme: "rtsp", User: "admin",
			Password: "s@cret", HasPassword: true, Host: "cam.example", Port: 8554, Path: "/stream1?channel=2",
			Display: "rtsp://admin:***@cam.example:8554/stream1?channel=2"}},
		{"#rtsp://192.0.2.9", conf.Target{Kind: "address", Form: "#rtsp", Scheme: "rtsp", Host: "192.0.2.9", Path: "/", Display: "#rtsp://192.0.2.9/"}},
		{"#tel:+15551234", conf.Target{Kind: "address", Form: "#tel", Scheme: "tel", User: "+15551234", ViaTrunk: true, Display: "#tel:+15551234"}},
		{"tel:+1-(555)-1234,,1234#", conf.Target{Kind: "address", Form: "tel", Scheme: "tel", User: "+15551234", Postdial: ",,1234#", ViaTrunk: true,
			Display: "tel:+15551234"}},
		{"alice", conf.Target{Kind: "user", Form: "user-id", User: "alice", Display: "alice"}},
		{"  bob.smith  ", conf.Target{Kind: "user", Form: "user-id", User: "bob.smith", Display: "bob.smith"}},
		{"alice@other.example", conf.Target{Kind: "address", Form: "user@host", Scheme: "sip", User: "alice", Host: "other.example", Display: "alice@other.example"}},
		{"1000@192.0.2.1:5062", conf.Target{Kind: "address", Form: "user@host", Scheme: "sip", User: "1000", Host: "192.0.2.1", Port: 5062, Display: "1000@192.0.2.1:5062"}},
		{"1000$$4321@mcu.example", conf.Target{Kind: "address", Form: "user@host", Scheme: "sip", User: "1000", PIN: "4321", Host: "mcu.example", Display: "1000**\x2a**@mcu.example"}},
		{`\c\1000`, conf.Target{Kind: "conference", Form: "conference", ConferenceID: "1000", Display: `\c\1000`}},
		{"mcu.example##1000", conf.Target{Kind: "address", Form: "host##id", Scheme: "h323", User: "1000", Host: "mcu.example", Display: "mcu.example##1000"}},
		{"mcu.example:1720##1000**99", conf.Target{Kind: "address", Form: "host##id", Scheme: "h323", User: "1000", PIN: "99", Host: "mcu.example", Port: 1720,
			Display: "mcu.example:1720##1000*****"}},
		{"1000**1234", conf.Target{Kind: "conference", Form: "id**pin", ConferenceID: "1000", PIN: "1234", Display: "1000******"}},
		{"1000$$1234", conf.Target{Kind: "conference", Form: "id**pin", ConferenceID: "1000", PIN: "1234", Display: "1000******"}},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := conf.ParseCallString(tc.in)
			if err != nil {
				t.Fatalf("ParseCallString(%q): %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseCallString(%q)\n got %+v\nwant %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseCallStringErrors(t *testing.T) {
	tests := []struct{ in, part string }{
		{"", "length"},
		{"   ", "length"},
		{strings.Repeat("a", conf.MaxCallStringLen+1), "length"},
		{"sip:a@b.example\r\nVia: evil", "characters"},
		{"sip:a@b.example\x00", "characters"},
		{"sip:a b@host", "characters"},
		{"sip:<a@host>", "characters"},
		{`sip:"a"@host`, "characters"},
		{"sip:alice@héllo.example", "characters"},
		{`\c\abc`, "conference"},
		{`\x\1000`, "characters"},
		{"sip:a@host?Subject=x", "param"},
		{"sip:a%0D%0Ab@host", "user"},
		{"sip:a%zz@host", "user"},
		{"sip:alice:secret@host", "password"},
		{"sip:a@host;password=x", "param"},
		{"sip:a@host;transport=carrier-pigeon", "param"},
		{"sips:a@host;transport=udp", "param"},
		{"sip:a@host;transport=tcp;transport=udp", "param"},
		{"sip:a@host;=x", "param"},
		{"sip:a@host" + strings.Repeat(";x", 17), "param"},
		{"sip:a@host;postd=12X", "postdial"},
		{"sip:a,1@host;postd=1", "postdial"},
		{"sip:a@", "host"},
		{"sip:a@-bad.example", "host"},
		{"sip:a@2001:db8::1", "host"},
		{"sip:a@[2001:db8::1", "host"},
		{"sip:a@[192.0.2.1]", "host"},
		{"sip:a@[2001:db8::1]x", "host"},
		{"sip:a@host:0", "port"},
		{"sip:a@host:65536", "port"},
		{"sip:a@host:+80", "port"},
		{"sip:a@host:", "port"},
		{"#sip:", "user"},
		{"#h323:", "user"},
		{"#ftp:x@y", "scheme"},
		{"javascript:alert(1)", "scheme"},
		{"#alice", "scheme"},
		{"tel:", "user"},
		{"tel:+1x55", "user"},
		{"tel:+" + strings.Repeat("1", 33), "user"},
		{"rtsp:cam.example", "host"},
		{"rtsp://:pw@cam.example/", "user"},
		{"rtsp://cam.example/a[b]", "path"},
		{"rtsp://u:p%2@cam.example/", "password"},
		{"1000$$@host", "pin"},
		{"$$12@host", "pin"},
		{"1000**12ab", "pin"},
		{"abc**12", "conference"},
		{"@host", "user"},
		{"host##", "user"},
		{"##1000", "scheme"},
		{"a/b", "user"},
		{"-alice", "user"},
	}
	for _, tc := range tests {
		t.Run(tc.in[:min(len(tc.in), 40)], func(t *testing.T) {
			got, err := conf.ParseCallString(tc.in)
			var ce *conf.CallStringError
			if !errors.As(err, &ce) {
				t.Fatalf("ParseCallString(%q) = %+v, %v; want a *CallStringError", tc.in, got, err)
			}
			if ce.Part != tc.part {
				t.Errorf("ParseCallString(%q): part %q (%v), want %q", tc.in, ce.Part, err, tc.part)
			}
			if !errors.Is(err, conf.ErrBadCallString) || !errors.Is(err, conf.ErrInvalid) {
				t.Errorf("error %v does not unwrap to ErrBadCallString and ErrInvalid", err)
			}
			if len(ce.Input) > 70 || strings.ContainsAny(ce.Input, "\r\n\x00") {
				t.Errorf("error input %q is not safe to log", ce.Input)
			}
		})
	}
}

func TestCallStringErrorHidesPassword(t *testing.T) {
	_, err := conf.ParseCallString("rtsp://admin:topsecret@cam.example:99999/x")
	if err == nil || strings.Contains(err.Error(), "topsecret") {
		t.Fatalf("error %v leaks the password (or is nil)", err)
	}
}

func TestTargetJSONHasNoPassword(t *testing.T) {
	tg, err := conf.ParseCallString("rtsp://admin:topsecret@cam.example/live")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(tg)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "topsecret") || !strings.Contains(string(b), `"has_password":true`) {
		t.Errorf("JSON %s leaks the password or hides that there is one", b)
	}
}

func TestTargetHostPort(t *testing.T) {
	for in, want := range map[string]string{
		"sip:a@[2001:db8::2]:5070": "[2001:db8::2]:5070",
		"sip:a@[2001:db8::2]":      "[2001:db8::2]",
		"sip:a@host.example:5060":  "host.example:5060",
		"h323:a@192.0.2.1":         "192.0.2.1",
	} {
		tg, err := conf.ParseCallString(in)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got := tg.HostPort(); got != want {
			t.Errorf("%s: HostPort() = %q, want %q", in, got, want)
		}
	}
}

// FuzzParseCallString checks that no input panics, that every error is a
// *CallStringError, and that what parses is safe to put into a SIP header
// and parses again from its display form (when that form has no masked
// secrets) to the same address.
func FuzzParseCallString(f *testing.F) {
	for _, s := range []string{
		"sip:1000@room.example;transport=tcp", "sips:bob@h:5071", "#sip:user@host", "#sip:@192.0.2.5", "#sip:alice",
		"#sip:alice@[2001:db8::2]", "h323:alias@host:1720", "#h323:@192.0.2.7", "rtsp://u:p@cam:554/s?x=1", "#rtsp://cam/",
		"#tel:+15551234", "tel:+1-555,,12#", "alice", "alice@other.example", `\c\1000`, "1000@host", "host##1000",
		"1000$$1234", "1000**1234", "sip:1@h;postd=12#", "sip:a@h\r\nX: y", "sip:a%0d@h", "sip:a@[::1", "#x:y", "\\c\\",
		"h:1##2", "sip:a@h?x=y", "rtsp://@h", "sip:,@h",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := conf.ParseCallString(s)
		if err != nil {
			var ce *conf.CallStringError
			if !errors.As(err, &ce) {
				t.Fatalf("ParseCallString(%q): error %v is not a *CallStringError", s, err)
			}
			return
		}
		for _, f := range []string{tg.User, tg.Host, tg.Display, tg.Transport, tg.Postdial, tg.PIN, tg.Path, tg.ConferenceID} {
			if strings.ContainsAny(f, "\r\n\x00 <>\"") {
				t.Fatalf("ParseCallString(%q): field %q is not safe in a SIP header", s, f)
			}
		}
		if tg.Kind == "" || tg.Form == "" || tg.Display == "" {
			t.Fatalf("ParseCallString(%q) = %+v: empty kind, form or display", s, tg)
		}
		if tg.HasPassword && (!strings.Contains(tg.Display, ":***@") || strings.Contains(tg.Display, ":"+tg.Password+"@")) {
			t.Fatalf("ParseCallString(%q): display %q shows the password", s, tg.Display)
		}
		if tg.PIN == "" && !tg.HasPassword && tg.Postdial == "" && tg.Form != "sip-uri" {
			again, err := conf.ParseCallString(tg.Display)
			if err != nil {
				t.Fatalf("display %q of %q does not parse: %v", tg.Display, s, err)
			}
			if again.Host != tg.Host || again.Port != tg.Port || again.User != tg.User || again.Scheme != tg.Scheme {
				t.Fatalf("display %q of %q parses to %+v, want %+v", tg.Display, s, again, tg)
			}
		}
	})
}
