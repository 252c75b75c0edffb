package h245

import (
	"fmt"

	"github.com/roomgate/roomgate/h323/per"
	"github.com/roomgate/roomgate/h323/schema"
)

// FastStartAnswer encodes c as the fastStart element a called endpoint returns to accept one
// proposal (H.323 clause 8.1.7.1), in the form h323plus and room systems send:
//   - accepting a transmit proposal of the caller (c.Reverse false): forward parameters with
//     c.Media, where we receive the caller's RTP, and c.MediaControl, our RTCP;
//   - accepting a receive proposal (c.Reverse true): c.Number is the channel number we give
//     our transmit channel and the reverse parameters carry only c.MediaControl; c.Media is
//     ignored because the caller already named its receive address.
func FastStartAnswer(c Channel) ([]byte, error) {
	if c.Reverse {
		// olc requires a reverse media address; the answer leaves it out.
		c.Media = c.MediaControl
	}
	body, err := c.olc()
	if err != nil {
		return nil, err
	}
	params := "forwardLogicalChannelParameters"
	if c.Reverse {
		params = "reverseLogicalChannelParameters"
	}
	p, ok := body[params].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("fastStart answer for channel %d: %w", c.Number, ErrParam)
	}
	mux, ok := p["multiplexParameters"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("fastStart answer for channel %d: %w", c.Number, ErrParam)
	}
	h2250, ok := mux["h2250LogicalChannelParameters"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("fastStart answer for channel %d: %w", c.Number, ErrParam)
	}
	if c.Reverse {
		delete(h2250, "mediaChannel")
	} else {
		media, err := unicast(c.Media)
		if err != nil {
			return nil, err
		}
		h2250["mediaChannel"] = media
	}
	v, err := per.FromJSON(schema.OpenLogicalChannel, body, nil)
	if err != nil {
		return nil, fmt.Errorf("build fastStart answer: %w", err)
	}
	var e per.Encoder
	return e.Encode(nil, schema.OpenLogicalChannel, &v)
}
