// Package dtmf turns key presses into one clean digit stream per leg and
// makes DTMF tones. It owns the media-side pieces of DTMF:
//
//   - Detector finds in-band DTMF tones in decoded PCM (8, 16 or 48 kHz) with
//     Goertzel filters and the ITU-T Q.24 acceptance checks: twist, relative
//     peak, energy outside the DTMF tones, minimum duration and pause.
//   - Suppressor wraps a Detector as a stage of a leg's decoded audio and
//     silences the frames that carry tones, so that in-band DTMF stays out
//     of the conference mix (one frame of added delay).
//   - Generator writes DTMF tones into PCM, for sending digits in-band and
//     for tests.
//   - Stream merges the digits of one leg from RFC 4733 events, SIP INFO,
//     in-band detection and H.245 into one stream of presses: the same press
//     reported by two methods counts once, garbage is rejected and a flood is
//     rate-limited, each counted.
//   - ParseInfo reads SIP INFO bodies (application/dtmf-relay and
//     application/dtmf).
//
// It knows nothing of legs, sockets, SIP dialogs or what a digit means: the
// bridge feeds it audio, the signalling packages feed it INFO bodies, and
// conf decides what the digits do. Nothing here starts a goroutine.
package dtmf

import "fmt"

// Digits are the sixteen DTMF keys in keypad order of the frequency grid:
// row r, column c is Digits[4*r+c].
const Digits = "123A456B789C*0#D"

// Row (low group) and column (high group) frequencies of ITU-T Q.23, in Hz.
var (
	rowFreqs = [4]float64{697, 770, 852, 941}
	colFreqs = [4]float64{1209, 1336, 1477, 1633}
)

// Normalize returns the canonical form of a DTMF digit (lower-case a-d
// become A-D) or ErrDigit for anything else.
func Normalize(d rune) (rune, error) {
	switch {
	case d >= '0' && d <= '9', d == '*', d == '#', d >= 'A' && d <= 'D':
		return d, nil
	case d >= 'a' && d <= 'd':
		return d - 'a' + 'A', nil
	}
	return 0, fmt.Errorf("digit %q: %w", d, ErrDigit)
}

// gridPos returns the row and column of a normalized digit.
func gridPos(d rune) (row, col int, ok bool) {
	for i, c := range Digits {
		if c == d {
			return i / 4, i % 4, true
		}
	}
	return 0, 0, false
}

// checkRate accepts the bridge's PCM rates.
func checkRate(rate int) error {
	switch rate {
	case 8000, 16000, 48000:
		return nil
	}
	return fmt.Errorf("%d Hz: %w", rate, ErrRate)
}
