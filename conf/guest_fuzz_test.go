package conf_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/roomgate/roomgate/conf"
)

// FuzzGuestSettings feeds arbitrary invitation targets and guest_rights
// objects through decoding and validation of a public and an internal
// conference. Nothing may panic; errors name a field; an accepted e-mail
// target carries a bare address that cannot smuggle a second recipient
// or a header into a message, and never into an internal conference;
// validation is idempotent.
func FuzzGuestSettings(f *testing.F) {
	for _, s := range [][2]string{
		{"mailto:ann@example.com", `{"speak":false}`},
		{"MAILTO:Ann.Lee+w@mail.example.org", `{}`},
		{"mailto:a@b.example,c@d.example", `null`},
		{"mailto:\"Ann\" <ann@example.com>", `{"video":false,"chat":false}`},
		{"mailto:ann@example.com\r\nBcc: x@y.example", `{"fly":true}`},
		{"mailto:", `{"speak":"no"}`},
		{"mailto:@example.com", `[]`},
		{"mailto:ann@.example.com", `true`},
		{"sip:ann@example.com", `{"share_content":false,"record":false}`},
		{"ann", `{"speak":true,"video":true,"chat":true,"share_content":true,"record":true}`},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, target, rights string) {
		for _, access := range []string{conf.AccessPublic, conf.AccessInternal} {
			tj, _ := json.Marshal(target)
			body := fmt.Sprintf(`{"name":"x","access":%q,"invitations":[{"target":%s}],"guest_rights":%s}`, access, tj, rights)
			c, err := conf.DecodeConference(strings.NewReader(body))
			if err != nil {
				var ve *conf.ValidationError
				if !errors.Is(err, conf.ErrInvalidJSON) && (!errors.As(err, &ve) || ve.Field == "") {
					t.Fatalf("decode error of unexpected kind: %v", err)
				}
				continue
			}
			if err := conf.ValidateConference(&c, start); err != nil {
				var ve *conf.ValidationError
				if !errors.As(err, &ve) || ve.Field == "" {
					t.Fatalf("validation error without a field: %v", err)
				}
				continue
			}
			if c.GuestRights != nil && access != conf.AccessPublic {
				t.Fatalf("guest rights accepted for %s", access)
			}
			addr, isMail := conf.EmailTarget(c.Invitations[0].Target)
			if !isMail {
				continue
			}
			if access != conf.AccessPublic {
				t.Fatalf("e-mail invitation %q accepted for an internal conference", target)
			}
			if strings.ContainsAny(addr, "\r\n\t ,;<>\"()[]:\\") || strings.Count(addr, "@") != 1 || !strings.HasPrefix(c.Invitations[0].Target, conf.MailtoScheme) {
				t.Fatalf("unsafe address %q accepted from %q", addr, target)
			}
			again := c
			again.Invitations = append([]conf.Invitation(nil), c.Invitations...)
			if err := conf.ValidateConference(&again, start); err != nil || again.Invitations[0] != c.Invitations[0] {
				t.Fatalf("validation is not idempotent: %v, %q -> %q", err, c.Invitations[0].Target, again.Invitations[0].Target)
			}
		}
	})
}
