package bridge

import "testing"

func TestSaturate(t *testing.T) {
	cases := []struct {
		in   int32
		want int16
	}{{0, 0}, {32767, 32767}, {32768, 32767}, {1 << 20, 32767}, {-32768, -32768}, {-32769, -32768}, {-1 << 20, -32768}, {-5, -5}}
	for _, c := range cases {
		if got := saturate(c.in); got != c.want {
			t.Errorf("saturate(%d) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestMixNeverWraps(t *testing.T) {
	acc := make([]int32, 4)
	a := []int16{30000, -30000, 20000, 1}
	b := []int16{30000, -30000, -20000, 2}
	accumulate(acc, a)
	accumulate(acc, b)
	out := make([]int16, 4)
	saturateInto(out, acc)
	if want := []int16{32767, -32768, 0, 3}; out[0] != want[0] || out[1] != want[1] || out[2] != want[2] || out[3] != want[3] {
		t.Fatalf("mix %v, want %v", out, want)
	}
	mixMinus(out, acc, a)
	if want := []int16{30000, -30000, -20000, 2}; out[0] != want[0] || out[1] != want[1] || out[2] != want[2] || out[3] != want[3] {
		t.Fatalf("mix-minus %v, want %v", out, want)
	}
}
