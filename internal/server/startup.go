package server

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"github.com/jiraduck/jiraduck/internal/errkind"
	"github.com/jiraduck/jiraduck/internal/httpx"
	"github.com/jiraduck/jiraduck/internal/intake"
	"github.com/sirupsen/logrus"
)

// The phases of serve's start that /readyz names while it runs.
const (
	PhaseStarting   = "starting"
	PhaseCompacting = "compacting"
	PhaseMigrating  = "migrating"
	// PhaseDeriving is the pass that derives every table again from the
	// stored payloads when a release or the settings change the columns.
	PhaseDeriving = "deriving tables"
)

// Front is serve's HTTP handler from the moment it listens. Until the store
// is open and every part started (Ready), it answers only what needs no
// store: webhooks, which the intake journals (intake.Open) and moves to the
// store once it is open, /healthz, and /readyz with the phase of the start
// as the reason it is not ready; the rest is answered 503 with Retry-After.
// Then every request goes to the full router. A compaction or a migration
// of a large store takes minutes, and Jira gives up on a delivery after
// about ten seconds and a few retries: listening only once the store was
// open lost deliveries.
type Front struct {
	start *Server
	since time.Time
	ready atomic.Pointer[http.Handler]
	mu    sync.Mutex
	phase string
}

// NewFront answers for a serve that is starting, with the intake that
// journals webhooks meanwhile.
func NewFront(in *intake.Intake, log logrus.FieldLogger) *Front {
	s := &Server{log: log.WithField("component", "server")}
	s.reply = httpx.Format{Log: s.log}
	f := &Front{start: s, since: time.Now(), phase: PhaseStarting}
	r := mux.NewRouter()
	r.Handle("/webhooks/jira", in).Methods(http.MethodPost)
	r.HandleFunc("/healthz", s.healthz).Methods(http.MethodGet)
	r.HandleFunc("/readyz", f.readyz).Methods(http.MethodGet)
	r.NotFoundHandler = s.reply.Handle(f.starting)
	r.MethodNotAllowedHandler = s.reply.Handle(func(http.ResponseWriter, *http.Request) error {
		return errkind.New(errkind.NotAllowed, "method not allowed")
	})
	h := s.recoverer(r)
	f.ready.Store(&h)
	return f
}

// SetPhase says what the start is doing, for /readyz and the answers of
// routes that wait for the store.
func (f *Front) SetPhase(phase string) {
	f.mu.Lock()
	f.phase = phase
	f.mu.Unlock()
}

// Phase is what the start is doing.
func (f *Front) Phase() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.phase
}

// Ready hands every request from now on to h, serve's full router.
func (f *Front) Ready(h http.Handler) { f.ready.Store(&h) }

// ServeHTTP answers with the start's routes until Ready, then with h.
func (f *Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*f.ready.Load()).ServeHTTP(w, r)
}

// readyz answers 503 with the phase of the start, in the shape of the full
// router's /readyz.
func (f *Front) readyz(w http.ResponseWriter, _ *http.Request) {
	f.start.reply.JSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false,
		"checks": map[string]string{"start": f.Phase()}, "starting_since": f.since.UTC().Format(time.RFC3339)})
}

// starting answers a route that needs the store while serve starts.
func (f *Front) starting(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Retry-After", "10")
	return errkind.Errorf(errkind.Unavailable, "serve is starting (%s); webhooks are accepted meanwhile, the rest is answered once /readyz does", f.Phase())
}
