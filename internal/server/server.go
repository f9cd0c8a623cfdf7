// Package server is jiraduck's HTTP face: the webhook route, health and
// readiness, the debug fetch endpoint, the admin SQL API and the status page.
package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gorilla/mux"
	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/errkind"
	"github.com/jiraduck/jiraduck/internal/export"
	"github.com/jiraduck/jiraduck/internal/httpx"
	"github.com/jiraduck/jiraduck/internal/intake"
	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/pipeline"
	"github.com/jiraduck/jiraduck/internal/publish"
	"github.com/jiraduck/jiraduck/internal/store"
	"github.com/sirupsen/logrus"
)

// Deps are the parts the server answers for.
type Deps struct {
	Config    *config.Config
	Store     *store.Store
	Intake    *intake.Intake
	Queue     *pipeline.Queue
	Processor *pipeline.Processor
	Exporter  *export.Exporter
	// Publisher copies the tree to a bucket; nil when publishing is off.
	Publisher *publish.Publisher
	Logger    logrus.FieldLogger
	// Extra registers more routes (metrics).
	Extra func(r *mux.Router)
	// RetryFailed queues failed webhook events again (all when ids is
	// empty) and returns how many; RunJob starts a scheduled job now.
	RetryFailed func(ctx context.Context, ids []int64) (int, error)
	RunJob      func(name string) error
}

// Server routes requests.
type Server struct {
	d     Deps
	log   logrus.FieldLogger
	reply httpx.Format
}

// New builds the router.
func New(d Deps) http.Handler {
	s := &Server{d: d, log: d.Logger.WithField("component", "server")}
	s.reply = httpx.Format{Log: s.log}
	r := mux.NewRouter()
	r.Handle("/webhooks/jira", d.Intake).Methods(http.MethodPost)
	r.HandleFunc("/webhooks/jira/health", s.health).Methods(http.MethodGet)
	r.HandleFunc("/healthz", s.healthz).Methods(http.MethodGet)
	r.HandleFunc("/readyz", s.readyz).Methods(http.MethodGet)
	r.HandleFunc("/", s.status).Methods(http.MethodGet, http.MethodHead)
	if d.Config.AdminToken.IsSet() {
		if d.Config.Debug {
			r.Handle("/webhooks/jira/test", s.admin(s.reply.Handle(s.testFetch))).Methods(http.MethodPost)
		}
		r.Handle("/admin/sql", s.admin(s.reply.Handle(s.adminSQL))).Methods(http.MethodPost)
		r.Handle("/admin/health", s.admin(s.adminHealth)).Methods(http.MethodGet)
		if d.RetryFailed != nil {
			r.Handle("/admin/events/retry", s.admin(s.reply.Handle(s.retryFailed))).Methods(http.MethodPost)
		}
		if d.RunJob != nil {
			r.Handle("/admin/jobs/{name}/run", s.admin(s.reply.Handle(s.runJob))).Methods(http.MethodPost)
		}
	}
	if d.Extra != nil {
		d.Extra(r)
	}
	r.NotFoundHandler = s.reply.Handle(func(http.ResponseWriter, *http.Request) error {
		return errkind.New(errkind.NotFound, "not found")
	})
	r.MethodNotAllowedHandler = s.reply.Handle(func(http.ResponseWriter, *http.Request) error {
		return errkind.New(errkind.NotAllowed, "method not allowed")
	})
	return s.recoverer(r)
}

// Health is the body of GET /webhooks/jira/health. The endpoint answers
// anyone: each failed check says what fails and since when, never the
// error's text, which can carry paths of the data directory; GET
// /admin/health has the text.
type Health struct {
	Status           string     `json:"status"`
	Configured       bool       `json:"configured"`
	WebhookSecretSet bool       `json:"webhook_secret_set"`
	JiraDomain       string     `json:"jira_domain"`
	QueueDepth       int        `json:"queue_depth"`
	LastEventAt      *time.Time `json:"last_event_at"`
	LastExportAt     *time.Time `json:"last_export_at"`
	FailedEvents     int64      `json:"failed_events"`
	// FailedFetches counts the issues whose latest fetch failed, whatever
	// asked for it; FetchFailureReasons counts them by short reason.
	FailedFetches       int            `json:"failed_fetches"`
	FetchFailureReasons map[string]int `json:"fetch_failure_reasons,omitempty"`
	ExportError         string         `json:"export_error,omitempty"`
	StoreError          string         `json:"store_error,omitempty"`
	// Publish is the bucket's side, when JIRADUCK_PUBLISH_URL is set.
	Publish *PublishHealth `json:"publish,omitempty"`
}

// HealthOf gathers the health of the running parts, as anyone may see it.
func HealthOf(ctx context.Context, d Deps) Health {
	return healthOf(ctx, d, false)
}

// healthOf gathers the health; with detail, the failed checks carry the
// text of their error.
func healthOf(ctx context.Context, d Deps, detail bool) Health {
	h := Health{
		Configured:       d.Config.JiraConfigured() && d.Intake.Configured(),
		WebhookSecretSet: d.Config.WebhookSecret.IsSet(),
		JiraDomain:       domainOf(d.Config),
		QueueDepth:       d.Queue.Depth(),
		Status:           "ok",
	}
	if t := d.Intake.LastEventAt(); !t.IsZero() {
		h.LastEventAt = &t
	}
	st := d.Exporter.Status()
	if !st.LastExport.IsZero() {
		h.LastExportAt = &st.LastExport
	}
	if st.Failures > 0 {
		h.ExportError = fmt.Sprintf("%d export attempt%s failed in a row", st.Failures, plural(int64(st.Failures)))
		if detail {
			h.ExportError += ": " + st.LastError
		}
		h.Status = "degraded"
	}
	publishHealth(d, &h, time.Now(), detail)
	if h.StoreError = storeTrouble(d.Intake, d.Queue, time.Now(), detail); h.StoreError != "" {
		h.Status = "degraded"
	}
	counts, err := d.Store.EventCounts(ctx)
	if err != nil {
		h.Status = "degraded"
	}
	h.FailedEvents = counts[store.EventFailed]
	if h.FailedEvents > 0 {
		h.Status = "degraded"
	}
	reasons, err := d.Store.FetchFailureReasons(ctx)
	if err != nil {
		h.Status = "degraded"
	}
	for _, n := range reasons {
		h.FailedFetches += n
	}
	if h.FailedFetches > 0 {
		h.FetchFailureReasons = reasons
		h.Status = "degraded"
	}
	if !h.Configured {
		h.Status = "unconfigured"
	}
	return h
}

// storeTroubleWindow is how long a failed webhook append counts when no
// append has succeeded since: with no delivery coming, nothing else shows
// that the store writes again.
const storeTroubleWindow = 5 * time.Minute

// StoreTrouble says why the store is not taking writes, or "" when it is: the
// intake's appends fail (the latest less than storeTroubleWindow ago), or the
// queue's writes of issues fail on the disk (until one succeeds). The text
// names what is not stored and since when; it is shown to anyone, so the
// error itself is left to the log and GET /admin/health.
func StoreTrouble(in *intake.Intake, q *pipeline.Queue, now time.Time) string {
	return storeTrouble(in, q, now, false)
}

// storeTrouble is StoreTrouble, with the latest error cut short after it
// when detail is set.
func storeTrouble(in *intake.Intake, q *pipeline.Queue, now time.Time, detail bool) string {
	var what []string
	var since time.Time
	var last error
	if in != nil {
		if from, at, err := in.AppendTrouble(); err != nil && now.Sub(at) < storeTroubleWindow {
			what, since, last = append(what, "webhook events"), from, err
		}
	}
	if q != nil {
		if from, err := q.StorageTrouble(); err != nil {
			what = append(what, "issues")
			if since.IsZero() || from.Before(since) {
				since = from
			}
			last = err
		}
	}
	if last == nil {
		return ""
	}
	msg := fmt.Sprintf("%s not stored since %s", strings.Join(what, " and "), since.UTC().Format(time.RFC3339))
	if detail {
		msg += ": " + shortError(last)
	}
	return msg
}

// shortError is the first line of an error, at most 200 bytes: enough to
// tell a full disk from a read-only one.
func shortError(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	if len(msg) > 200 {
		cut := 200
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "..."
	}
	return msg
}

func domainOf(cfg *config.Config) string {
	if cfg.JiraDomain != "" {
		return cfg.JiraDomain
	}
	return strings.TrimPrefix(strings.TrimPrefix(cfg.JiraBaseURL, "https://"), "http://")
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	s.reply.JSON(w, http.StatusOK, HealthOf(r.Context(), s.d))
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	s.reply.JSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz: the store answers and takes writes, its schema is current and the
// exporter is not stuck failing. Issues whose latest fetch failed are told
// too, without making serve unready: Jira's trouble is not serve's.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ready, checks := s.readiness(r.Context(), false)
	status := http.StatusOK
	if !ready {
		status = http.StatusServiceUnavailable
	}
	s.reply.JSON(w, status, map[string]any{"ready": ready, "checks": checks})
}

// readiness runs the checks of /readyz; with detail, a failed check carries
// the text of its error.
func (s *Server) readiness(ctx context.Context, detail bool) (bool, map[string]string) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	checks := map[string]string{}
	ready := true
	with := func(short string, err error) string {
		if detail && err != nil {
			return short + ": " + shortError(err)
		}
		return short
	}
	if err := s.d.Store.DB().PingContext(ctx); err != nil {
		checks["store"], ready = with("unreachable", err), false
	} else if trouble := storeTrouble(s.d.Intake, s.d.Queue, time.Now(), detail); trouble != "" {
		// It answers reads, but deliveries are refused and issues wait:
		// the disk is full or failing (the health endpoint says since
		// when).
		checks["store"], ready = "not writable", false
		if detail {
			checks["store"] += ": " + trouble
		}
	} else {
		checks["store"] = "ok"
	}
	if pending, err := s.d.Store.PendingMigrations(ctx); err != nil || len(pending) > 0 {
		checks["migrations"], ready = with("pending", err), false
	} else {
		checks["migrations"] = "ok"
	}
	if st := s.d.Exporter.Status(); st.Failures >= 3 {
		checks["exporter"], ready = fmt.Sprintf("failing (%d attempts in a row)", st.Failures), false
		if detail {
			checks["exporter"] += ": " + st.LastError
		}
	} else {
		checks["exporter"] = "ok"
	}
	if reasons, err := s.d.Store.FetchFailureReasons(ctx); err != nil {
		checks["fetches"] = with("unknown", err)
	} else if n := sumCounts(reasons); n > 0 {
		checks["fetches"] = fmt.Sprintf("%d issue%s whose latest fetch failed (%s)", n, plural(int64(n)), reasonList(reasons))
	} else {
		checks["fetches"] = "ok"
	}
	return ready, checks
}

func sumCounts(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// reasonList writes counts by reason as "jira unavailable: 3, timed out: 1",
// the most frequent first.
func reasonList(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// adminFetchFailures bounds the issues GET /admin/health lists.
const adminFetchFailures = 1000

// AdminHealth is the body of GET /admin/health: what the public endpoints
// show, with the text of every error, the issues whose latest fetch failed
// with their errors, and where the data lives.
type AdminHealth struct {
	Health        Health               `json:"health"`
	Ready         bool                 `json:"ready"`
	Checks        map[string]string    `json:"checks"`
	FetchFailures []store.FetchFailure `json:"fetch_failures"`
	DataDir       string               `json:"data_dir"`
	Errors        []string             `json:"errors,omitempty"`
}

// adminHealth serves GET /admin/health.
func (s *Server) adminHealth(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), statusTimeout)
	defer cancel()
	a := AdminHealth{Health: healthOf(ctx, s.d, true), DataDir: s.d.Config.DataDir, FetchFailures: []store.FetchFailure{}}
	a.Ready, a.Checks = s.readiness(ctx, true)
	if list, _, err := s.d.Store.FetchFailures(ctx, adminFetchFailures); err != nil {
		a.Errors = append(a.Errors, err.Error())
	} else if list != nil {
		a.FetchFailures = list
	}
	if _, err := s.d.Store.EventCounts(ctx); err != nil {
		a.Errors = append(a.Errors, err.Error())
	}
	s.reply.JSON(w, http.StatusOK, a)
}

// admin guards a route with the admin bearer token.
func (s *Server) admin(next http.HandlerFunc) http.Handler {
	want := []byte("Bearer " + s.d.Config.AdminToken.Reveal())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="jiraduck"`)
			s.reply.Error(w, r, errkind.New(errkind.Unauthorized, "missing or wrong admin token"))
			return
		}
		next(w, r)
	})
}

// testFetch fetches and stores one issue now: POST {"issue_key": "X-1"}.
func (s *Server) testFetch(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		IssueKey string `json:"issue_key"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&body); err != nil {
		return errkind.New(errkind.Invalid, `body must be {"issue_key": "KEY-1"}`)
	}
	if !jira.ValidKey(body.IssueKey) {
		return errkind.New(errkind.Invalid, "invalid issue key")
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Minute)
	defer cancel()
	outcome, err := s.d.Processor.Process(ctx, pipeline.Request{KeyOrID: body.IssueKey, Key: body.IssueKey})
	if err != nil {
		// Whatever failed, it failed on Jira's side or on the way there;
		// credentials Jira refuses need the operator, not a retry.
		if errors.Is(err, jira.ErrUnauthorized) || errors.Is(err, jira.ErrForbidden) {
			return errkind.Mark(errkind.UpstreamRefused, err)
		}
		return errkind.Mark(errkind.Upstream, err)
	}
	s.d.Exporter.Notify()
	s.reply.JSON(w, http.StatusOK, map[string]any{"status": "ok", "issue_key": body.IssueKey, "outcome": outcome})
	return nil
}

// retryFailed queues failed events again: POST {"ids": [1, 2]} or {} for all.
func (s *Server) retryFailed(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		IDs []int64 `json:"ids"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil && !errors.Is(err, io.EOF) {
		return errkind.New(errkind.Invalid, `body must be {"ids": [event ids]} or {} for every failed event`)
	}
	n, err := s.d.RetryFailed(r.Context(), body.IDs)
	if err != nil {
		return err
	}
	s.reply.JSON(w, http.StatusAccepted, map[string]any{"status": "queued", "events": n})
	return nil
}

// runJob starts a scheduled job now (sla-poll, reconcile, snapshot,
// retention); it runs in the background and is recorded like a scheduled run.
// Deps.RunJob's errors say their kind: not found for an unknown job,
// conflict (schedule.ErrRunning) for one running already.
func (s *Server) runJob(w http.ResponseWriter, r *http.Request) error {
	name := mux.Vars(r)["name"]
	if err := s.d.RunJob(name); err != nil {
		return err
	}
	s.reply.JSON(w, http.StatusAccepted, map[string]any{"status": "started", "job": name})
	return nil
}

// recoverer answers a panicking handler with 500 and logs the panic.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				s.log.WithField("path", r.URL.Path).WithField("panic", p).Error("handler panicked")
				s.reply.JSON(w, http.StatusInternalServerError, httpx.ErrorBody("internal error"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}
