package prompt_test

import (
	"fmt"

	"github.com/roomgate/roomgate/bridge/prompt"
)

// The mixer of a 16 kHz room pulls an announcement one 20 ms frame per
// tick until it is done.
func ExamplePlayer() {
	lib, err := prompt.New(prompt.Config{})
	if err != nil {
		panic(err)
	}
	names, _ := prompt.ParticipantCount(4)
	p, _ := lib.Player(16000, names...)
	frame := make([]int16, p.FrameSize())
	frames := 0
	for !p.Done() {
		p.Fill(frame)
		frames++
	}
	fmt.Println(names, frames == int((p.Duration()+19_999_999)/20_000_000))
	// Output: [there-are digit-4 participants] true
}
