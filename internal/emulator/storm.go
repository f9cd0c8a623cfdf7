package emulator

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// StormOptions describe a burst of edits, the way a bulk change in Jira
// produces one jira:issue_updated per issue and edit.
type StormOptions struct {
	// Events is how many updates to make.
	Events int
	// Issues is how many distinct issues they are spread over, round robin.
	Issues int
	// Month, "YYYY-MM", picks the issues among those created in that UTC
	// month; empty picks among all.
	Month string
	// Rate is the number of updates per second; zero sends them as fast as
	// the webhook queue takes them.
	Rate float64
}

// StormResult says what a storm did.
type StormResult struct {
	Events   int           `json:"events"`
	Keys     []string      `json:"keys"`
	Duration time.Duration `json:"-"`
}

// Storm makes opts.Events updates over opts.Issues issues, each an Update
// with its changelog entry and webhook (none on a Silent handle). Issues are
// picked from the seed, so a storm is reproducible. It stops early when ctx
// ends.
func (e *Emulator) Storm(ctx context.Context, opts StormOptions) (StormResult, error) {
	start := time.Now()
	if opts.Events <= 0 || opts.Issues <= 0 {
		return StormResult{}, fmt.Errorf("%w storm: events and issues must be positive", ErrInvalid)
	}
	var month time.Time
	if opts.Month != "" {
		m, err := time.Parse("2006-01", opts.Month)
		if err != nil {
			return StormResult{}, fmt.Errorf("%w storm: month %q is not YYYY-MM", ErrInvalid, opts.Month)
		}
		month = m
	}
	s := e.s
	s.mu.RLock()
	var cand []string
	for _, r := range s.recs {
		if r.deleted {
			continue
		}
		if !month.IsZero() {
			c := r.created.UTC()
			if c.Year() != month.Year() || c.Month() != month.Month() {
				continue
			}
		}
		cand = append(cand, r.key)
	}
	s.mu.RUnlock()
	if len(cand) == 0 {
		return StormResult{}, fmt.Errorf("%w storm: no issues to update", ErrNotFound)
	}
	rng := rand.New(rand.NewPCG(uint64(s.opts.Seed), uint64(opts.Events)<<20^uint64(opts.Issues)))
	rng.Shuffle(len(cand), func(i, j int) { cand[i], cand[j] = cand[j], cand[i] })
	keys := cand[:min(opts.Issues, len(cand))]
	var tick *time.Ticker
	if opts.Rate > 0 {
		tick = time.NewTicker(time.Duration(float64(time.Second) / opts.Rate))
		defer tick.Stop()
	}
	res := StormResult{Keys: keys}
	for i := range opts.Events {
		if tick != nil && i > 0 {
			select {
			case <-tick.C:
			case <-ctx.Done():
				res.Duration = time.Since(start)
				return res, ctx.Err()
			}
		} else if err := ctx.Err(); err != nil {
			res.Duration = time.Since(start)
			return res, err
		}
		key := keys[i%len(keys)]
		n := i
		err := e.Update(key, func(is *Issue) {
			is.Custom[FieldCustomerImpact] = "Bulk update " + strconv.Itoa(n+1)
			if n%3 == 2 {
				is.Priority = priorities[n%len(priorities)].name
			}
		})
		if err != nil {
			res.Duration = time.Since(start)
			return res, fmt.Errorf("storm update %s: %w", key, err)
		}
		res.Events++
	}
	res.Duration = time.Since(start)
	return res, nil
}
