package conf

import (
	"container/list"
	"sync"
	"time"
)

// Brute-force limits on PINs. A PIN of 4 digits falls to 10 000 guesses;
// the limits make guessing slow per call and per source address:
//
//   - one call gets maxCallPINFailures wrong PINs (lobby and moderator PIN
//     together), then it is hung up;
//   - a source address with IVRConfig.PINFailures wrong PINs within
//     IVRConfig.PINWindow is refused for IVRConfig.PINCooldown: Admit
//     returns ErrCoolDown and calls of that source in progress are hung up
//     at their next wrong PIN.
//
// The window is fixed, starting at a source's first failure, so each source
// costs a few words of memory whatever PINFailures is; at most
// maxPINSources sources are tracked and the one that failed least recently
// is forgotten first, so an attacker with many addresses cannot exhaust
// memory (he gains nothing either: each address is still limited).

// maxCallPINFailures is how many wrong PINs one call may enter.
const maxCallPINFailures = 3

// maxPINSources bounds the source addresses the guard remembers.
const maxPINSources = 10000

// pinGuard counts wrong PINs per source address. It is safe for
// concurrent use.
type pinGuard struct {
	mu       sync.Mutex
	failures int
	window   time.Duration
	cooldown time.Duration
	limit    int                      // tracked sources at most
	sources  map[string]*list.Element // of *pinSource
	lru      list.List                // least recently failed at the front
}

// pinSource is one tracked source address.
type pinSource struct {
	ip        string
	first     time.Time // start of the current window
	count     int       // failures in it
	coolUntil time.Time // refused until then; zero when not cooling down
}

func newPINGuard(failures int, window, cooldown time.Duration, limit int) *pinGuard {
	return &pinGuard{failures: failures, window: window, cooldown: cooldown, limit: limit,
		sources: make(map[string]*list.Element)}
}

// configure replaces the limits; the counts so far stay.
func (g *pinGuard) configure(failures int, window, cooldown time.Duration) {
	g.mu.Lock()
	g.failures, g.window, g.cooldown = failures, window, cooldown
	g.mu.Unlock()
}

// coolingDown reports whether ip is refused at now, and until when.
func (g *pinGuard) coolingDown(ip string, now time.Time) (bool, time.Time) {
	if ip == "" {
		return false, time.Time{}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	el := g.sources[ip]
	if el == nil {
		return false, time.Time{}
	}
	src := el.Value.(*pinSource)
	if now.Before(src.coolUntil) {
		return true, src.coolUntil
	}
	return false, time.Time{}
}

// fail records a wrong PIN from ip at now. It reports whether this failure
// started a cool-down of ip, and whether ip is now cooling down (it may
// already have been: a call that started before keeps guessing no longer).
func (g *pinGuard) fail(ip string, now time.Time) (started, cooling bool) {
	if ip == "" {
		return false, false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	var src *pinSource
	if el := g.sources[ip]; el != nil {
		src = el.Value.(*pinSource)
		g.lru.MoveToBack(el)
	} else {
		for len(g.sources) >= g.limit && g.lru.Len() > 0 {
			oldest := g.lru.Front()
			g.lru.Remove(oldest)
			delete(g.sources, oldest.Value.(*pinSource).ip)
		}
		src = &pinSource{ip: ip}
		g.sources[ip] = g.lru.PushBack(src)
	}
	if now.Before(src.coolUntil) {
		return false, true
	}
	if src.count == 0 || now.Sub(src.first) >= g.window {
		src.first, src.count = now, 0
	}
	src.count++
	if src.count >= g.failures {
		src.coolUntil = now.Add(g.cooldown)
		src.first, src.count = time.Time{}, 0
		return true, true
	}
	return false, false
}

// tracked returns how many sources the guard remembers, for tests.
func (g *pinGuard) tracked() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.sources)
}
