package conf_test

import (
	"errors"
	"testing"

	"github.com/roomgate/roomgate/conf"
)

// A conference's own key map and tones setting are checked when it is
// created, with the field named, so that a bad map never reaches a call.
func TestConferenceKeyMapAndTonesValidated(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		c     conf.Conference
		field string
	}{
		{conf.Conference{ID: "7001", Name: "a", KeyMap: "mute=6"}, "key_map"},
		{conf.Conference{ID: "7002", Name: "b", KeyMap: "dance=*6"}, "key_map"},
		{conf.Conference{ID: "7003", Name: "c", Tones: "loud"}, "tones"},
		{conf.Conference{ID: "7004", Name: "d", KeyMap: "mute=*1, count=*6", Tones: "off"}, ""},
	} {
		_, err := e.svc.CreateConference(t.Context(), tc.c)
		var ve *conf.ValidationError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%+v: %v", tc.c, err)
		case tc.field != "" && (!errors.As(err, &ve) || ve.Field != tc.field):
			t.Errorf("key_map %q tones %q: %v, want a validation error naming %s", tc.c.KeyMap, tc.c.Tones, err, tc.field)
		}
	}
}
