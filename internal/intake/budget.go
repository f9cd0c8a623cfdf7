package intake

import (
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// budget bounds the bytes of webhook bodies held by deliveries being read at
// once. Until its signature is checked a body is anybody's, and without a
// bound a few dozen connections sending large bodies with wrong signatures
// multiplied serve's memory (docs/reliability.md). A delivery that would pass the bound is answered
// 503 at once, and Jira retries it.
type budget struct {
	mu    sync.Mutex
	limit int64
	used  int64
}

// take reserves n bytes, or reports false when they would pass the limit.
func (b *budget) take(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.limit {
		return false
	}
	b.used += n
	return true
}

// held is the number of bytes taken.
func (b *budget) held() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// give returns n bytes taken before.
func (b *budget) give(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
}

// warnLimiter logs a warning at most once an interval, with the number of
// occurrences since its previous line: a flood of bad deliveries writes one
// line a minute, not one a delivery.
type warnLimiter struct {
	mu       sync.Mutex
	interval time.Duration
	last     time.Time
	count    int
	fields   logrus.Fields
}

// note counts one occurrence and logs msg when the interval has passed since
// the last line; fields describe the latest occurrence.
func (l *warnLimiter) note(log logrus.FieldLogger, now time.Time, msg string, fields logrus.Fields) {
	l.mu.Lock()
	l.count++
	l.fields = fields
	if !l.last.IsZero() && now.Sub(l.last) < l.interval {
		l.mu.Unlock()
		return
	}
	n := l.count
	l.count, l.last = 0, now
	l.mu.Unlock()
	log.WithFields(fields).WithField("count", n).Warn(msg)
}

// flush logs what was counted since the last line, if anything.
func (l *warnLimiter) flush(log logrus.FieldLogger, msg string) {
	l.mu.Lock()
	n, fields := l.count, l.fields
	l.count = 0
	l.mu.Unlock()
	if n > 0 {
		log.WithFields(fields).WithField("count", n).Warn(msg)
	}
}
