package sip

import (
	"strconv"
	"strings"
	"testing"

	"github.com/roomgate/roomgate/bridge/video"
)

// FuzzAnswerVideo runs the video negotiation over arbitrary SDP bodies: it
// never panics, stays within the SDP size bound, and whatever it accepts is
// an offered H.264 payload type answered with a parseable fmtp whose level
// is not above the offer's.
func FuzzAnswerVideo(f *testing.F) {
	for _, name := range []string{"baresip.sdp", "cisco.sdp", "linphone.sdp", "polycom.sdp", "webrtc.sdp"} {
		f.Add(sdpFile(f, name))
	}
	for _, s := range []string{lifesizeOffer, lifesizeSDOffer, ciscoCEOffer, highOnlyOffer, mode2Offer, vp8Offer,
		noLevelOffer, savpVideoOffer, holdVideoOffer, sendonlyVideoOffer, baselineL40Offer} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		sd, err := ParseSDP(body)
		if err != nil {
			return
		}
		FindVideoLine(sd)
		for _, md := range sd.MediaDescriptions {
			ans, err := AnswerVideo(sd, md, DefaultVideoFormat(), 5000)
			if err != nil {
				t.Fatalf("default format refused: %v", err)
			}
			_, _, _, _ = ParseVideoAnswer(sd, md, DefaultVideoFormat())
			if !ans.Accepted {
				if ans.Reason == "" || ans.Line.Port != 0 {
					t.Fatalf("rejected without a reason or with a port: %+v", ans)
				}
				continue
			}
			pt := itoa(ans.Params.PayloadType)
			found := false
			for _, f := range md.MediaName.Formats {
				if n, err := strconv.Atoi(f); err == nil && n == int(ans.Params.PayloadType) {
					found = true
				}
			}
			if !found {
				t.Fatalf("answered payload type %s not offered in %q", pt, md.MediaName.Formats)
			}
			var fmtp string
			for _, a := range ans.Line.Attributes {
				if v, ok := strings.CutPrefix(a, "fmtp:"+pt+" "); ok {
					fmtp = v
				}
			}
			ours, err := video.ParseH264Fmtp(fmtp)
			if err != nil {
				t.Fatalf("our fmtp %q: %v", fmtp, err)
			}
			if ours.ProfileLevelID.Level() > ans.Params.Fmtp.ProfileLevelID.Level() {
				t.Fatalf("answered level above the offer's: %q", fmtp)
			}
		}
	})
}
