package codec

import "testing"

// remember keeps the newest frame's worth of audio even when packets are
// shorter or longer than a frame.
func TestConcealerRemember(t *testing.T) {
	c := newConcealer(Info{Name: "test", SampleRate: 400}) // 8 samples per frame
	seq := func(from, n int) []int16 {
		s := make([]int16, n)
		for i := range s {
			s[i] = int16(from + i)
		}
		return s
	}
	check := func(want []int16, filled int) {
		t.Helper()
		for i := range want {
			if c.last[i] != want[i] {
				t.Fatalf("last = %v, want %v", c.last, want)
			}
		}
		if c.filled != filled {
			t.Fatalf("filled = %d, want %d", c.filled, filled)
		}
	}
	c.remember(seq(1, 3))
	check([]int16{0, 0, 0, 0, 0, 1, 2, 3}, 3)
	c.remember(seq(4, 3))
	check([]int16{0, 0, 1, 2, 3, 4, 5, 6}, 6)
	c.remember(seq(7, 4))
	check([]int16{3, 4, 5, 6, 7, 8, 9, 10}, 8)
	c.remember(seq(100, 12))
	check(seq(104, 8), 8)
}

// The fade is continuous within a frame and halves per lost frame.
func TestConcealerFade(t *testing.T) {
	c := newConcealer(Info{Name: "test", SampleRate: 5000}) // 100 samples
	full := make([]int16, 100)
	for i := range full {
		full[i] = 20000
	}
	c.remember(full)
	pcm := make([]int16, 100)
	prev := int16(20000)
	for frame := range concealFrames {
		if _, err := c.conceal(pcm); err != nil {
			t.Fatal(err)
		}
		for i, v := range pcm {
			if v > prev || prev-v > 200 {
				t.Fatalf("frame %d sample %d: %d after %d, want a smooth decrease", frame, i, v, prev)
			}
			prev = v
		}
		if want := int16(20000 >> (frame + 1)); pcm[99] < want-100 || pcm[99] > want+100 {
			t.Errorf("frame %d ends at %d, want about %d", frame, pcm[99], want)
		}
	}
	if _, err := c.conceal(pcm); err != nil {
		t.Fatal(err)
	}
	if energy(pcm) != 0 {
		t.Error("concealment continues past concealFrames")
	}
	c.remember(full[:10])
	if _, err := c.conceal(pcm); err != nil {
		t.Fatal(err)
	}
	if pcm[0] != 20000 {
		t.Errorf("after a new packet concealment starts at %d, want 20000", pcm[0])
	}
}
