package bridge

import (
	"github.com/roomgate/roomgate/bridge/codec"
	"github.com/roomgate/roomgate/bridge/resample"
)

// resampler converts 20 ms frames between the 8, 16 and 48 kHz rates.
type resampler interface {
	// Process converts src into dst and returns the samples written.
	Process(dst, src []int16) int
	Reset()
}

// mediaFactory builds the codec and resampling stages of a leg. Production
// uses the codec and resample packages; tests substitute lossless fakes so
// that mixing arithmetic can be checked exactly.
type mediaFactory interface {
	newEncoder(codec.Info) (codec.Encoder, error)
	newDecoder(codec.Info) (codec.Decoder, error)
	newResampler(from, to int) (resampler, error)
}

// stdMedia is the production mediaFactory.
type stdMedia struct{}

func (stdMedia) newEncoder(i codec.Info) (codec.Encoder, error) { return codec.NewEncoder(i) }
func (stdMedia) newDecoder(i codec.Info) (codec.Decoder, error) { return codec.NewDecoder(i) }
func (stdMedia) newResampler(from, to int) (resampler, error) {
	r, err := resample.New(from, to)
	if err != nil {
		return nil, err
	}
	return r, nil
}
