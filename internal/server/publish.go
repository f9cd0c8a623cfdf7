package server

import (
	"fmt"
	"time"
)

// PublishHealth is the bucket's side of the health: what the bucket lacks
// and since when, the last upload and the failures in a row.
type PublishHealth struct {
	Destination     string     `json:"destination"`
	BacklogFiles    int        `json:"backlog_files"`
	BacklogBytes    int64      `json:"backlog_bytes"`
	BacklogOldestAt *time.Time `json:"backlog_oldest_at"`
	LastUploadAt    *time.Time `json:"last_upload_at"`
	Failures        int        `json:"failures"`
	// Error says why the publisher is unhealthy; the error's own text only
	// with detail (GET /admin/health).
	Error string `json:"error,omitempty"`
}

// publishView is the status page's section on the bucket.
type publishView struct {
	On bool
	PublishHealth
	BacklogOldest, LastUpload time.Time
	LastError                 string
	Stale                     bool
}

// publishHealth adds the publisher's health to h: degraded (not down) while
// the backlog is older than the publisher's threshold, or a failure waits
// for an operator (a missing bucket, refused credentials).
func publishHealth(d Deps, h *Health, now time.Time, detail bool) {
	if d.Publisher == nil {
		return
	}
	st := d.Publisher.Status()
	ph := &PublishHealth{Destination: st.Destination, BacklogFiles: st.BacklogFiles, BacklogBytes: st.BacklogBytes, Failures: st.Failures}
	if !st.BacklogOldest.IsZero() {
		t := st.BacklogOldest
		ph.BacklogOldestAt = &t
	}
	if !st.LastUpload.IsZero() {
		t := st.LastUpload
		ph.LastUploadAt = &t
	}
	if st.Stale(now, d.Publisher.StaleAfter()) {
		h.Status = "degraded"
		switch {
		case st.Permanent && st.Failures > 0:
			ph.Error = "publishing waits for an operator (missing bucket or refused credentials)"
		default:
			ph.Error = fmt.Sprintf("%d file%s not in the bucket for %s", st.BacklogFiles, plural(int64(st.BacklogFiles)), formatDuration(now.Sub(st.BacklogOldest)))
		}
		if detail && st.LastError != "" {
			ph.Error += ": " + st.LastError
		}
	}
	h.Publish = ph
}

func publishViewOf(d Deps, h Health, now time.Time) publishView {
	if d.Publisher == nil || h.Publish == nil {
		return publishView{}
	}
	st := d.Publisher.Status()
	return publishView{On: true, PublishHealth: *h.Publish, BacklogOldest: st.BacklogOldest, LastUpload: st.LastUpload,
		LastError: st.LastError, Stale: st.Stale(now, d.Publisher.StaleAfter())}
}
