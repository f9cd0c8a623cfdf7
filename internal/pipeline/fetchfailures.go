package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/jira/client"
	"github.com/jiraduck/jiraduck/internal/normalize"
	"github.com/jiraduck/jiraduck/internal/store"
)

// failures keeps the names (keys and ids) of the issues whose latest fetch
// failed, as fetch_failures holds them, so that a successful fetch costs a
// write only when it ends a failure.
type failures struct {
	mu     sync.Mutex
	loaded bool
	names  map[string]bool
}

// FailureReason is the short kind of a failed fetch: what health, readiness
// and the status page show to anyone, without the error's text (which may
// carry a URL, a path or Jira's own words).
func FailureReason(err error) string {
	var api *jira.APIError
	var perm *PermanentError
	var netErr net.Error
	switch {
	case errors.Is(err, jira.ErrUnauthorized):
		return "jira: unauthorized (401)"
	case errors.Is(err, jira.ErrForbidden):
		return "jira: forbidden (403)"
	case errors.Is(err, jira.ErrRateLimited):
		return "jira: rate limited (429)"
	case errors.Is(err, jira.ErrUnavailable):
		return "jira unavailable"
	case errors.Is(err, client.ErrTooLarge):
		return "answer too large"
	case errors.Is(err, jira.ErrInvalidKey):
		return "invalid issue key"
	case errors.As(err, &api):
		return fmt.Sprintf("jira: status %d", api.Status)
	case errors.As(err, &perm):
		return "payload not usable"
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.As(err, &netErr):
		return "network error"
	}
	return "internal error"
}

// fetchFailed records a failed fetch of req. A fetch cut short because its
// caller stopped (serve shutting down, a command interrupted) did not fail.
func (p *Processor) fetchFailed(ctx context.Context, req Request, err error) {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, client.ErrWaitAborted) {
		return
	}
	f := store.FetchFailure{Issue: req.KeyOrID, IssueKey: req.Key, IssueID: req.ID, Reason: FailureReason(err),
		Error: err.Error(), LastFailed: time.Now().UTC()}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	werr := p.writer.Do(wctx, func(ctx context.Context, tx *store.Tx) error { return store.RecordFetchFailure(ctx, tx, f) })
	if werr != nil {
		p.log.WithError(werr).WithField("issue", req.KeyOrID).Warn("failed fetch not recorded")
		return
	}
	p.failures.mu.Lock()
	defer p.failures.mu.Unlock()
	if p.failures.names != nil {
		for _, n := range []string{req.KeyOrID, req.Key, req.ID} {
			if n != "" {
				p.failures.names[n] = true
			}
		}
	}
}

// fetched ends the failures of an issue fetched whole (rows) or confirmed
// gone (nil rows).
func (p *Processor) fetched(ctx context.Context, req Request, rows *normalize.Rows) {
	names := []string{req.KeyOrID, req.Key, req.ID}
	if rows != nil {
		names = append(names, rows.Issue.IssueKey, rows.Issue.IssueID)
	}
	p.failures.mu.Lock()
	if !p.failures.loaded {
		known, err := p.store.FetchFailureNames(ctx)
		if err != nil {
			p.failures.mu.Unlock()
			return // asked again after the next fetch
		}
		p.failures.names, p.failures.loaded = known, true
	}
	var clear []string
	for _, n := range names {
		if n != "" && p.failures.names[n] {
			clear = append(clear, n)
		}
	}
	p.failures.mu.Unlock()
	if len(clear) == 0 {
		return
	}
	for _, n := range names {
		if n != "" {
			clear = append(clear, n)
		}
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := p.writer.Do(wctx, func(ctx context.Context, tx *store.Tx) error { return store.ClearFetchFailures(ctx, tx, clear) }); err != nil {
		p.log.WithError(err).WithField("issue", req.KeyOrID).Warn("ended fetch failure not recorded")
		return
	}
	p.failures.mu.Lock()
	for _, n := range clear {
		delete(p.failures.names, n)
	}
	p.failures.mu.Unlock()
}
