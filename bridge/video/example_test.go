package video_test

import (
	"fmt"
	"time"

	"github.com/roomgate/roomgate/bridge/video"
)

type printSink struct{ name string }

func (s printSink) WriteRTP(pkt []byte) error {
	h, _ := video.ParseRTPHeader(pkt)
	info, _ := video.InspectPayload(pkt[h.PayloadOffset:h.PayloadEnd])
	fmt.Printf("to %s: seq %d ssrc %d nal %d\n", s.name, h.SequenceNumber, h.SSRC, info.First)
	return nil
}

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// A room system (leg "room") receives the video of a softphone (leg
// "phone"). The router asks the phone for a keyframe, skips its non-IDR
// frame, and starts the room's stream with the SPS/PPS and the IDR.
func ExampleRouter() {
	rt, _ := video.NewRouter(video.Config{
		RequestKeyframe: func(id string) { fmt.Println("keyframe request to", id) },
		Clock:           fixedClock{time.Unix(0, 0)},
	})
	_ = rt.AddSource("phone", nil)
	_ = rt.AddReceiver("room", video.ReceiverConfig{SSRC: 42, PayloadType: 96, InitialSequence: 100, Sink: printSink{"room"}})

	rtp := func(seq uint16, ts uint32, payload ...byte) []byte {
		return append([]byte{0x80, 0xe0, byte(seq >> 8), byte(seq), byte(ts >> 24), byte(ts >> 16), byte(ts >> 8), byte(ts), 0, 0, 0, 7}, payload...)
	}
	// non-IDR
	_ = rt.Forward("phone", rtp(1, 0, 0x41, 0x9a, 0x01))
	// "phone" is sending: select it
	rt.Tick()
	// still not a keyframe
	_ = rt.Forward("phone", rtp(2, 3000, 0x41, 0x9a, 0x02))
	// STAP-A SPS, PPS, IDR
	_ = rt.Forward("phone", rtp(3, 6000, 0x78, 0, 3, 0x67, 0x42, 0xc0, 0, 2, 0x68, 0xce, 0, 3, 0x65, 0x88, 0x80))
	_ = rt.Forward("phone", rtp(4, 9000, 0x41, 0x9a, 0x03))
	// Output:
	// keyframe request to phone
	// to room: seq 100 ssrc 42 nal 7
	// to room: seq 101 ssrc 42 nal 1
}
