package emulator

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Webhooks are delivered like Jira Cloud delivers them: asynchronously, from
// a bounded queue, signed with X-Hub-Signature, identified by
// X-Atlassian-Webhook-Identifier (the same on every retry), retried with
// backoff on 408, 409, 425, 429, 5xx and network errors, and never in a
// guaranteed order. Bodies use the REST v2 representation.

type delivery struct {
	id      string
	event   string
	body    []byte
	attempt int
	dup     bool
}

type webhooks struct {
	s      *site
	ctx    context.Context
	cancel context.CancelFunc
	in     chan *delivery
	work   chan *delivery
	wg     sync.WaitGroup
	client *http.Client
	idRNG  *rand.Rand
	idMu   sync.Mutex
}

func newWebhooks(s *site) *webhooks {
	ctx, cancel := context.WithCancel(context.Background())
	h := &webhooks{
		s: s, ctx: ctx, cancel: cancel,
		in:     make(chan *delivery, s.opts.WebhookQueue),
		work:   make(chan *delivery),
		client: &http.Client{Timeout: s.opts.WebhookTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: s.opts.WebhookWorkers * 2, IdleConnTimeout: 30 * time.Second}},
		// Delivery ids differ from one start to the next, or a receiver
		// that keeps them would drop a new start's events as duplicates.
		idRNG: rand.New(rand.NewPCG(uint64(s.opts.Seed), 0x686f6f6b^uint64(s.opts.IDBase))),
	}
	h.wg.Add(1)
	go h.dispatch()
	for range s.opts.WebhookWorkers {
		h.wg.Add(1)
		go h.worker()
	}
	return h
}

func (h *webhooks) close() {
	h.cancel()
	h.wg.Wait()
	h.client.CloseIdleConnections()
}

// enqueue queues a new event, blocking while the queue is full.
func (h *webhooks) enqueue(ev hookEvent) {
	st := h.s.stats
	st.events.Add(1)
	if h.s.opts.WebhookURL == "" {
		st.unsent.Add(1)
		return
	}
	h.idMu.Lock()
	id := uuid(h.idRNG)
	h.idMu.Unlock()
	st.pending.Add(1)
	h.push(&delivery{id: id, event: ev.event, body: ev.body})
}

func (h *webhooks) push(d *delivery) {
	select {
	case h.in <- d:
	case <-h.ctx.Done():
		h.s.stats.pending.Add(-1)
	}
}

// dispatch hands queued deliveries to the workers, holding back up to
// Faults.WebhookShuffle of them and releasing them in random order.
func (h *webhooks) dispatch() {
	defer h.wg.Done()
	var held []*delivery
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	release := func() bool {
		i := 0
		if len(held) > 1 {
			i = h.s.faults.intn(len(held))
		}
		d := held[i]
		held = append(held[:i], held[i+1:]...)
		select {
		case h.work <- d:
			return true
		case <-h.ctx.Done():
			return false
		}
	}
	for {
		window := h.s.faults.get().WebhookShuffle
		if len(held) > 0 && len(held) >= max(window, 1) {
			if !release() {
				return
			}
			continue
		}
		select {
		case d := <-h.in:
			held = append(held, d)
			if window > 1 {
				// A lone event is not held forever.
				timer.Reset(20 * time.Millisecond)
			}
		case <-timer.C:
			for len(held) > 0 {
				if !release() {
					return
				}
			}
		case <-h.ctx.Done():
			return
		}
	}
}

func (h *webhooks) worker() {
	defer h.wg.Done()
	for {
		select {
		case d := <-h.work:
			h.deliver(d)
		case <-h.ctx.Done():
			return
		}
	}
}

// retryable is Jira's retry policy for a delivery's answer.
func retryable(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusConflict, http.StatusTooEarly, http.StatusTooManyRequests:
		return true
	}
	return status >= 500
}

func (h *webhooks) deliver(d *delivery) {
	s := h.s
	st := s.stats
	st.attempts.Add(1)
	req, err := http.NewRequestWithContext(h.ctx, http.MethodPost, s.opts.WebhookURL, bytes.NewReader(d.body))
	if err != nil {
		st.failed.Add(1)
		st.pending.Add(-1)
		return
	}
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	req.Header.Set("User-Agent", "Atlassian Webhook HTTP Client")
	req.Header.Set("X-Atlassian-Webhook-Identifier", d.id)
	if d.attempt > 0 {
		req.Header.Set("X-Atlassian-Webhook-Retry", strconv.Itoa(d.attempt))
	}
	if s.opts.WebhookSecret != "" {
		mac := hmac.New(sha256.New, []byte(s.opts.WebhookSecret))
		mac.Write(d.body)
		req.Header.Set("X-Hub-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	}
	status := 0
	resp, err := h.client.Do(req)
	if err == nil {
		status = resp.StatusCode
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
	}
	if h.ctx.Err() != nil {
		st.pending.Add(-1)
		return
	}
	if err == nil && status >= 200 && status < 300 {
		st.delivered.Add(1)
		if !d.dup && s.faults.get().WebhookDuplicateRate > 0 && s.faults.float() < s.faults.get().WebhookDuplicateRate {
			st.duplicates.Add(1)
			st.pending.Add(1)
			dup := *d
			dup.dup = true
			go h.push(&dup)
		}
		st.pending.Add(-1)
		return
	}
	if (err != nil || retryable(status)) && d.attempt < s.opts.WebhookRetries {
		st.retries.Add(1)
		next := *d
		next.attempt++
		wait := s.opts.WebhookBackoff << d.attempt
		s.log.WithField("webhook_event", d.event).WithField("status", status).WithField("attempt", next.attempt).Debug("webhook delivery failed, retrying")
		go func() {
			t := time.NewTimer(wait)
			defer t.Stop()
			select {
			case <-t.C:
				h.push(&next)
			case <-h.ctx.Done():
				st.pending.Add(-1)
			}
		}()
		return
	}
	entry := s.log.WithField("webhook_event", d.event).WithField("status", status).WithField("attempt", d.attempt)
	if err != nil {
		entry = entry.WithError(err)
	}
	entry.Warn("webhook delivery given up")
	st.failed.Add(1)
	st.pending.Add(-1)
}

// WaitWebhooks waits until every queued webhook was delivered or given up,
// retries included.
func (e *Emulator) WaitWebhooks(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for e.s.stats.pending.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-e.s.hooks.ctx.Done():
			return errors.New("emulator closed")
		case <-t.C:
		}
	}
	return nil
}

// Bodies.

// hookBase is the site URL written into webhook bodies.
func (s *site) hookBase() string {
	if s.opts.BaseURL != "" {
		return s.opts.BaseURL
	}
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.url != "" {
		return s.url
	}
	return "http://localhost"
}

func (m *mut) hookView() *view {
	return &view{s: m.s, base: m.s.hookBase(), v2: true, sla: true, now: m.at}
}

func (m *mut) envelope(w *enc, event string) {
	w.open()
	w.kint("timestamp", m.at.UnixMilli())
	w.kstr("webhookEvent", event)
}

// issueRef writes the issue of a webhook with the fields sel selects.
func (m *mut) issueRef(w *enc, v *view, sel *fieldSel) { m.writeIssue(w, v, sel, true) }

func (m *mut) writeIssue(w *enc, v *view, sel *fieldSel, webhook bool) {
	iv, _, _ := m.s.viewOf(m.r)
	iv.is = m.next
	v.zone = iv.zone
	id := strconv.FormatInt(iv.id, 10)
	w.kopen("issue")
	w.kstr("id", id)
	w.kstr("self", v.api()+"/issue/"+id)
	w.kstr("key", iv.key)
	v.writeFields(w, iv, sel, webhook)
	w.close()
}

// issueEvent is a jira:issue_* body: the whole issue in v2, the user, and
// the changelog of the change (none for comment events, which carry the
// comment instead).
func (m *mut) issueEvent(event, typeName, histID string, items []Change, c *Comment) hookEvent {
	v := m.hookView()
	var w enc
	m.envelope(&w, event)
	w.kstr("issue_event_type_name", typeName)
	w.key("user")
	v.writeUser(&w, m.e.actor())
	all := parseFields(nil, "*all")
	m.issueRef(&w, v, &all)
	if c != nil {
		w.key("comment")
		v.writeComment(&w, m.r.id, *c, false, false)
	}
	if histID != "" {
		w.kopen("changelog")
		w.kstr("id", histID)
		w.karr("items")
		for _, it := range items {
			v.writeChange(&w, it)
		}
		w.closeArr()
		w.close()
	}
	w.close()
	return hookEvent{event: event, body: w.b}
}

// deletedEvent is jira:issue_deleted: the user and the issue as it was,
// comments and worklogs included, unlike the other issue events.
func (m *mut) deletedEvent() hookEvent {
	v := m.hookView()
	var w enc
	m.envelope(&w, "jira:issue_deleted")
	w.key("user")
	v.writeUser(&w, m.e.actor())
	all := parseFields(nil, "*all")
	m.writeIssue(&w, v, &all, false)
	w.close()
	return hookEvent{event: "jira:issue_deleted", body: w.b}
}

// commentEvent is a comment_* body: the comment and the issue with six
// fields.
func (m *mut) commentEvent(event string, c Comment) hookEvent {
	v := m.hookView()
	var w enc
	m.envelope(&w, event)
	v.zone = m.r.zone
	w.key("comment")
	v.writeComment(&w, m.r.id, c, false, false)
	sel := parseFields([]string{"summary,issuetype,project,assignee,priority,status"}, "")
	m.issueRef(&w, v, &sel)
	w.close()
	return hookEvent{event: event, body: w.b}
}

// attachmentEvent is an attachment_* body: the attachment and the issue with
// its summary.
func (m *mut) attachmentEvent(event string, a Attachment) hookEvent {
	v := m.hookView()
	var w enc
	m.envelope(&w, event)
	v.zone = m.r.zone
	w.key("attachment")
	v.writeAttachment(&w, a, false)
	sel := parseFields([]string{"summary"}, "")
	m.issueRef(&w, v, &sel)
	w.close()
	return hookEvent{event: event, body: w.b}
}

// worklogEvent is a worklog_* body: the worklog alone, whose issueId is the
// only way to know the issue.
func (m *mut) worklogEvent(event string, wl Worklog, issueID int64) hookEvent {
	v := m.hookView()
	v.zone = m.r.zone
	var w enc
	m.envelope(&w, event)
	w.key("worklog")
	v.writeWorklog(&w, issueID, wl)
	w.kbool("isFromIssueLimitTransformation", false)
	w.close()
	return hookEvent{event: event, body: w.b}
}

// linkEvent is an issuelink_* body: ids as numbers and no keys.
func (s *site) linkEvent(event string, l *link, at time.Time) hookEvent {
	var w enc
	w.open()
	w.kint("timestamp", at.UnixMilli())
	w.kstr("webhookEvent", event)
	w.kopen("issueLink")
	w.kint("id", l.id)
	w.kint("sourceIssueId", s.recs[l.src].id)
	w.kint("destinationIssueId", s.recs[l.dst].id)
	w.kopen("issueLinkType")
	typeID, _ := strconv.ParseInt(l.typ.id, 10, 64)
	w.kint("id", typeID)
	w.kstr("name", l.typ.name)
	w.kstr("outwardName", l.typ.outward)
	w.kstr("inwardName", l.typ.inward)
	w.kbool("isSubTaskLinkType", false)
	w.kbool("isSystemLinkType", false)
	w.close()
	w.kbool("systemLink", false)
	w.close()
	w.close()
	return hookEvent{event: event, body: w.b}
}
