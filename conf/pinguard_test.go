package conf

import (
	"fmt"
	"testing"
	"time"
)

var guardStart = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

func TestPINGuardLimit(t *testing.T) {
	g := newPINGuard(3, time.Minute, 10*time.Minute, 100)
	now := guardStart
	for i := range 2 {
		if started, cooling := g.fail("192.0.2.1", now); started || cooling {
			t.Fatalf("failure %d started a cool-down", i+1)
		}
		now = now.Add(10 * time.Second)
	}
	if started, cooling := g.fail("192.0.2.1", now); !started || !cooling {
		t.Fatal("the third failure within the window did not start the cool-down")
	}
	if c, until := g.coolingDown("192.0.2.1", now.Add(time.Minute)); !c || !until.Equal(now.Add(10*time.Minute)) {
		t.Fatalf("cooling %v until %v", c, until)
	}
	// A failure during the cool-down neither extends nor restarts it.
	if started, cooling := g.fail("192.0.2.1", now.Add(time.Minute)); started || !cooling {
		t.Fatalf("failure during the cool-down: started %v cooling %v", started, cooling)
	}
	if c, _ := g.coolingDown("192.0.2.1", now.Add(10*time.Minute)); c {
		t.Fatal("still cooling down after the cool-down")
	}
	if c, _ := g.coolingDown("192.0.2.2", now); c {
		t.Fatal("another source is cooling down")
	}
	if started, cooling := g.fail("", now); started || cooling {
		t.Fatal("an empty source is limited")
	}
}

func TestPINGuardWindowRestarts(t *testing.T) {
	g := newPINGuard(2, time.Minute, time.Hour, 100)
	now := guardStart
	g.fail("192.0.2.1", now)
	if started, _ := g.fail("192.0.2.1", now.Add(time.Minute)); started {
		t.Fatal("failures a window apart added up")
	}
	if started, _ := g.fail("192.0.2.1", now.Add(time.Minute+time.Second)); !started {
		t.Fatal("two failures within the new window did not start the cool-down")
	}
}

func TestPINGuardBoundedMemory(t *testing.T) {
	const limit = 50
	g := newPINGuard(2, time.Hour, time.Hour, limit)
	now := guardStart
	g.fail("victim", now)
	g.fail("victim", now) // cooling down
	for i := range 10 * limit {
		g.fail(fmt.Sprintf("198.51.100.%d", i), now.Add(time.Duration(i+1)*time.Millisecond))
		if n := g.tracked(); n > limit {
			t.Fatalf("%d sources tracked, limit %d", n, limit)
		}
	}
	// The least recently failed source was forgotten first.
	if c, _ := g.coolingDown("victim", now.Add(time.Second)); c {
		t.Fatal("the oldest source was not evicted")
	}
	last := fmt.Sprintf("198.51.100.%d", 10*limit-1)
	g.fail(last, now.Add(time.Hour/2))
	if c, _ := g.coolingDown(last, now.Add(time.Hour/2)); !c {
		t.Fatal("a recent source was evicted")
	}
}
