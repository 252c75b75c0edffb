package conf_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/roomgate/roomgate/conf"
)

// FuzzConferenceJSON feeds arbitrary request bodies through strict decoding
// and validation. Neither may panic; every error must be one of the
// documented kinds; and a conference that passes must survive a JSON round
// trip unchanged (validation is idempotent and output re-decodes).
func FuzzConferenceJSON(f *testing.F) {
	for _, s := range []string{
		`{"name":"Board room"}`,
		`{"id":"1000","name":"Board","access":"internal","mode":"role-based","podium_seats":6}`,
		`{"name":"x","pin":"1234","moderator_pin":"98765","max_participants":50,"waiting_room":true}`,
		`{"name":"x","schedule":{"type":"once","start":"2030-01-02T10:00:00Z","duration_minutes":60,"time_zone":"Europe/Berlin"}}`,
		`{"name":"x","schedule":{"type":"weekly","start":"2030-01-02T10:00:00+03:00","duration_minutes":30,"days":["mon","FRI"]}}`,
		`{"name":"x","invitations":[{"target":"sip:a@b.example","moderator":true},{"target":"#h323:@10.0.0.1"}]}`,
		`{"name":"x","state":"running","created_at":"2020-01-01T00:00:00Z"}`,
		`{"name":"x","unknown":1}`,
		`{"name":1}`, `[]`, `null`, ``, `{"name":"x"} {}`, `{"name":"\u0000"}`,
		`{"name":"x","schedule":{"start":"not a time"}}`,
		`{"name":"x","max_participants":1e400}`,
	} {
		f.Add([]byte(s))
	}
	now := start
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := conf.DecodeConference(bytes.NewReader(body))
		if err != nil {
			var ve *conf.ValidationError
			if !errors.Is(err, conf.ErrInvalidJSON) && !errors.As(err, &ve) {
				t.Fatalf("decode error of unexpected kind: %v", err)
			}
			if ve != nil && ve.Field == "" {
				t.Fatalf("field error without a field: %v", err)
			}
			return
		}
		if err := conf.ValidateConference(&c, now); err != nil {
			var ve *conf.ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, conf.ErrInvalid) || ve.Message == "" || ve.Field == "" {
				t.Fatalf("validation error of unexpected kind: %v", err)
			}
			return
		}
		if strings.TrimSpace(c.Name) == "" || c.Access == "" || c.Mode == "" || c.Schedule.Type == "" {
			t.Fatalf("valid conference without defaults: %+v", c)
		}
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("marshal of a valid conference: %v", err)
		}
		again, err := conf.DecodeConference(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("re-decoding %s: %v", out, err)
		}
		if err := conf.ValidateConference(&again, now); err != nil {
			t.Fatalf("re-validating %s: %v", out, err)
		}
		out2, _ := json.Marshal(again)
		if !bytes.Equal(out, out2) {
			t.Fatalf("not idempotent:\n%s\n%s", out, out2)
		}
	})
}

// FuzzCheckPassword parses stored hash strings: it must never panic or
// accept a password for a hash that is not well formed.
func FuzzCheckPassword(f *testing.F) {
	f.Add("pbkdf2-sha256$1000$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "pw")
	f.Add("pbkdf2-sha256$$$", "")
	f.Add("pbkdf2-sha256$1$a$b$c", "x")
	f.Fuzz(func(t *testing.T, hash, password string) {
		if strings.HasPrefix(hash, "pbkdf2-sha256$") && len(hash) > 14 {
			// Keep iteration counts the fuzzer invents affordable.
			if i := strings.IndexByte(hash[14:], '$'); i < 0 || i > 4 {
				return
			}
		}
		ok, err := conf.CheckPassword(hash, password)
		if ok && err != nil {
			t.Fatalf("ok with error %v", err)
		}
	})
}
