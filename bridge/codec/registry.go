package codec

import (
	"fmt"
	"strings"
)

// MaxPacketDuration is the longest payload, in milliseconds, a Decoder
// accepts. One Opus packet carries up to 120 ms (RFC 6716 section 3.2.5);
// longer G.711 and G.722 payloads are rejected as well, so that one buffer
// of MaxDecodeSamples is always enough.
const MaxPacketDuration = 120

// MaxDecodeSamples is the most samples any Decode or Conceal writes: 120 ms at
// 48 kHz. A pcm buffer of this length never gets ErrShortBuffer.
const MaxDecodeSamples = 48000 * MaxPacketDuration / 1000

// Canonical descriptions of the codecs the bridge speaks. Supported returns
// them in this order, which is also our order of preference in offers.
var (
	infoOpus = Info{Name: "opus", ClockRate: 48000, Channels: 2, SampleRate: 48000, StaticPT: -1, Fmtp: "minptime=10;useinbandfec=1"}
	infoG722 = Info{Name: "G722", ClockRate: 8000, Channels: 1, SampleRate: 16000, StaticPT: 9}
	infoPCMU = Info{Name: "PCMU", ClockRate: 8000, Channels: 1, SampleRate: 8000, StaticPT: 0}
	infoPCMA = Info{Name: "PCMA", ClockRate: 8000, Channels: 1, SampleRate: 8000, StaticPT: 8}
)

// Lookup returns the Info of the codec whose SDP encoding name is name,
// compared without regard to case as RFC 4566 requires. Names that are not
// audio codecs we implement, including "telephone-event", give ErrUnknownCodec.
func Lookup(name string) (Info, error) {
	switch {
	case strings.EqualFold(name, infoPCMU.Name):
		return infoPCMU, nil
	case strings.EqualFold(name, infoPCMA.Name):
		return infoPCMA, nil
	case strings.EqualFold(name, infoG722.Name):
		return infoG722, nil
	case strings.EqualFold(name, infoOpus.Name):
		return infoOpus, nil
	}
	return Info{}, fmt.Errorf("looking up %q: %w", name, ErrUnknownCodec)
}

// Supported lists every codec this package implements, in the bridge's order
// of preference (wideband first). The slice is new on every call, so callers
// may reorder it.
func Supported() []Info {
	return []Info{infoOpus, infoG722, infoPCMU, infoPCMA}
}

// canonical resolves info by name and checks that a clock rate or channel
// count given by the caller (from a=rtpmap) agrees with the codec's, so that
// "PCMU/16000" is refused rather than played at the wrong speed.
func canonical(info Info) (Info, error) {
	c, err := Lookup(info.Name)
	if err != nil {
		return Info{}, err
	}
	if info.ClockRate != 0 && info.ClockRate != c.ClockRate {
		return Info{}, fmt.Errorf("%s clock rate %d, want %d: %w", c.Name, info.ClockRate, c.ClockRate, ErrUnknownCodec)
	}
	// RFC 7587 requires opus/48000/2; a missing channel count means 1, which
	// some peers send for Opus anyway, so accept both there.
	if info.Channels != 0 && info.Channels != c.Channels && !(c.Name == infoOpus.Name && info.Channels == 1) {
		return Info{}, fmt.Errorf("%s with %d channels, want %d: %w", c.Name, info.Channels, c.Channels, ErrUnknownCodec)
	}
	return c, nil
}

// NewEncoder returns an encoder for the codec named by info.Name. The
// encoder's Info is the canonical one from Lookup. Each encoder carries the
// state of one stream and must not be used by two goroutines at once.
func NewEncoder(info Info) (Encoder, error) {
	c, err := canonical(info)
	if err != nil {
		return nil, fmt.Errorf("creating encoder: %w", err)
	}
	switch c.Name {
	case infoPCMU.Name:
		return &g711Encoder{info: c}, nil
	case infoPCMA.Name:
		return &g711Encoder{info: c, alaw: true}, nil
	case infoG722.Name:
		return newG722Encoder(c), nil
	case infoOpus.Name:
		return newOpusEncoder(c)
	}
	return nil, fmt.Errorf("creating encoder for %s: %w", c.Name, ErrUnknownCodec)
}

// NewDecoder returns a decoder for the codec named by info.Name. The
// decoder's Info is the canonical one from Lookup. Each decoder carries the
// state of one stream and must not be used by two goroutines at once.
func NewDecoder(info Info) (Decoder, error) {
	c, err := canonical(info)
	if err != nil {
		return nil, fmt.Errorf("creating decoder: %w", err)
	}
	switch c.Name {
	case infoPCMU.Name:
		return &g711Decoder{info: c, table: &ulawTable, plc: newConcealer(c)}, nil
	case infoPCMA.Name:
		return &g711Decoder{info: c, table: &alawTable, plc: newConcealer(c)}, nil
	case infoG722.Name:
		return newG722Decoder(c), nil
	case infoOpus.Name:
		return newOpusDecoder(c)
	}
	return nil, fmt.Errorf("creating decoder for %s: %w", c.Name, ErrUnknownCodec)
}
