package sip

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseMediaControl(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       MediaControl
		bad        bool
	}{
		{name: "ours", body: fastUpdateBody, want: MediaControl{FastUpdate: true}},
		{name: "polycom", body: `<?xml version="1.0" encoding="utf-8" ?><media_control><vc_primitive><to_encoder><picture_fast_update></picture_fast_update></to_encoder></vc_primitive></media_control>`,
			want: MediaControl{FastUpdate: true}},
		{name: "stream id", body: "<media_control><vc_primitive><to_encoder><picture_fast_update/></to_encoder><stream_id> 1 </stream_id></vc_primitive></media_control>",
			want: MediaControl{FastUpdate: true, StreamIDs: []string{"1"}}},
		{name: "latin1 declared", body: `<?xml version="1.0" encoding="ISO-8859-1"?><media_control><vc_primitive><to_encoder><picture_fast_update/></to_encoder></vc_primitive></media_control>`,
			want: MediaControl{FastUpdate: true}},
		{name: "error only", body: "<media_control><general_error> too many requests </general_error></media_control>",
			want: MediaControl{Errors: []string{"too many requests"}}},
		{name: "empty primitive", body: "<media_control><vc_primitive><to_encoder/></vc_primitive></media_control>"},
		{name: "trailing comment", body: "<media_control/><!-- x -->\r\n"},
		{name: "other root", body: "<dtmf><picture_fast_update/></dtmf>", bad: true},
		{name: "unclosed", body: "<media_control><vc_primitive>", bad: true},
		{name: "two roots", body: "<media_control/><media_control/>", bad: true},
		{name: "text after", body: "<media_control/>junk", bad: true},
		{name: "empty", body: "", bad: true},
		{name: "huge", body: "<media_control>" + strings.Repeat(" ", maxMediaControlSize) + "</media_control>", bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMediaControl([]byte(tc.body))
			if tc.bad {
				if !errors.Is(err, ErrBadMediaControl) {
					t.Fatalf("err %v, want ErrBadMediaControl", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.FastUpdate != tc.want.FastUpdate || !slices.Equal(got.StreamIDs, tc.want.StreamIDs) || !slices.Equal(got.Errors, tc.want.Errors) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	if !isMediaControl("Application/Media_Control+XML ; charset=utf-8") || isMediaControl("application/dtmf") {
		t.Error("isMediaControl")
	}
}

// FuzzParseMediaControl: any body is read or refused with
// ErrBadMediaControl, never a panic, and what is read reads the same again
// when written back as a fast update.
func FuzzParseMediaControl(f *testing.F) {
	f.Add([]byte(fastUpdateBody))
	f.Add([]byte("<media_control><vc_primitive><to_encoder><picture_fast_update/></to_encoder><stream_id>7</stream_id></vc_primitive></media_control>"))
	f.Add([]byte("<media_control><general_error>x</general_error></media_control>"))
	f.Add([]byte("<media_control/>"))
	f.Add([]byte(`<?xml version="1.0" encoding="ISO-8859-1"?><media_control/>`))
	f.Add([]byte("<media_control><vc_primitive>"))
	f.Add([]byte("<!DOCTYPE x [<!ENTITY a 'b'>]><media_control>&a;</media_control>"))
	f.Add([]byte("\xff\xfe<"))
	f.Fuzz(func(t *testing.T, body []byte) {
		mc, err := ParseMediaControl(body)
		if err != nil {
			if !errors.Is(err, ErrBadMediaControl) {
				t.Fatalf("error %v is not ErrBadMediaControl", err)
			}
			return
		}
		if len(body) > maxMediaControlSize {
			t.Fatalf("read a body of %d bytes", len(body))
		}
		if len(mc.StreamIDs) > 0 && !mc.FastUpdate {
			t.Fatalf("stream IDs without a fast update: %+v", mc)
		}
	})
}
