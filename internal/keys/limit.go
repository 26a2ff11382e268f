package keys

import (
	"context"
	"math"
	"time"

	"golang.org/x/time/rate"
)

// limiter is a key's token bucket, kept in memory for the life of the
// store. Every read of the key from the database (Get, Secret,
// Authenticate, List) compares its limits with the bucket's and rebuilds
// the bucket when they changed, also when another process (kiln keys)
// changed them.
type limiter struct {
	rate    float64
	burst   int
	revoked bool
	lim     *rate.Limiter // nil: unlimited
}

// observe brings key k's limiter up to date with k's limits.
func (s *Store) observe(k Key) {
	s.lmu.RLock()
	l := s.limiters[k.ID]
	s.lmu.RUnlock()
	if l != nil && l.revoked == !k.Active() && l.rate == k.Rate && l.burst == k.Burst {
		return
	}
	l = &limiter{rate: k.Rate, burst: k.Burst, revoked: !k.Active()}
	if k.Active() && k.Rate > 0 {
		burst := k.Burst
		if burst <= 0 {
			burst = max(1, int(math.Ceil(k.Rate)))
		}
		l.lim = rate.NewLimiter(rate.Limit(k.Rate), burst)
	}
	s.lmu.Lock()
	s.limiters[k.ID] = l
	s.lmu.Unlock()
}

func (s *Store) dropLimiter(id string) {
	s.lmu.Lock()
	delete(s.limiters, id)
	s.lmu.Unlock()
}

// Allow takes one request from key id's token bucket and reports whether
// the key may make it now. Keys without a rate limit are always allowed;
// unknown and revoked keys never are. It reads the database only for a key
// the store has not seen yet: call it after Authenticate or Secret.
func (s *Store) Allow(id string) bool {
	s.lmu.RLock()
	l := s.limiters[id]
	s.lmu.RUnlock()
	if l == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _, err := s.load(ctx, id)
		cancel()
		if err != nil {
			return false
		}
		s.lmu.RLock()
		l = s.limiters[id]
		s.lmu.RUnlock()
		if l == nil { // dropped by SetLimits meanwhile
			return false
		}
	}
	switch {
	case l.revoked:
		return false
	case l.lim == nil:
		return true
	}
	return l.lim.AllowN(s.now(), 1)
}
