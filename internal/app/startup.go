package app

import (
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/dimensions"
	"github.com/jiraduck/jiraduck/internal/files"
	"github.com/jiraduck/jiraduck/internal/intake"
	"github.com/jiraduck/jiraduck/internal/server"
	"github.com/sirupsen/logrus"
)

// listenEarly opens the intake on its journal and serves HTTP on the
// listener before the store is opened. Compacting and migrating a large
// store and deriving its tables again take minutes (62 s, 17 s and 83 s for
// the 100,000-issue store of 3.84 GB written before migration 0004), and
// Jira gives up on a delivery after about ten seconds and a few retries:
// deliveries are journaled and acknowledged meanwhile, and moved to the
// store once it is open (Intake.Attach). Until then the front answers only
// webhooks, /healthz, and /readyz with the phase of the start.
func (s *Service) listenEarly(cfg *config.Config, log logrus.FieldLogger, ln *server.LimitedListener) error {
	if err := files.MkdirAll(cfg.DataDir); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	opts := intake.Options{Secret: []byte(cfg.WebhookSecret.Reveal()),
		AllowUnsigned: cfg.AllowUnsigned, Logger: log, Observe: s.metrics.Webhook, MaxReading: cfg.WebhookReadBytes,
		Journal: filepath.Join(cfg.DataDir, intake.JournalName)}
	if cfg.JiraConfigured() {
		s.objects = newObjectEvents(dimensions.Sources())
		opts.Objects = s.objects
	}
	in, err := intake.Open(opts)
	if err != nil {
		return err
	}
	s.intake = in
	s.front = server.NewFront(in, log)
	s.http = &http.Server{Handler: s.front, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute, ConnState: ln.ConnState}
	log.WithField("listen", s.listener.Addr().String()).Info("listening; webhooks are journaled until the store is open")
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.http.Serve(s.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.WithError(err).Error("http server stopped")
		}
	}()
	return nil
}

// phase tells /readyz, the log and Hooks.OnPhase what the start does now.
func (s *Service) phase(p string) {
	if s.front == nil || s.front.Phase() == p {
		return
	}
	s.front.SetPhase(p)
	s.log.WithField("phase", p).Info("start phase")
	if s.onPhase != nil {
		s.onPhase(p)
	}
}

// objectEvents is the intake's view of the dimension tables' webhook
// events: which types it wants is known from the first delivery on (the
// sources' events), while the trigger that refreshes their tables exists
// only once the store is open, before the intake moves anything to it.
type objectEvents struct {
	wants map[string]bool

	mu      sync.Mutex
	trigger *dimensions.Trigger
}

func newObjectEvents(sources []dimensions.Source) *objectEvents {
	o := &objectEvents{wants: map[string]bool{}}
	for _, src := range sources {
		for _, ev := range src.Events {
			o.wants[ev] = true
		}
	}
	return o
}

// Wants reports whether events of this type refresh a dimension table.
func (o *objectEvents) Wants(eventType string) bool { return o.wants[eventType] }

// Changed hands stored events' types to the trigger. The intake moves
// events only after Attach, which comes after attach; a table whose event
// arrived before is caught up at the next start all the same.
func (o *objectEvents) Changed(eventTypes []string) {
	o.mu.Lock()
	t := o.trigger
	o.mu.Unlock()
	if t != nil {
		t.Changed(eventTypes)
	}
}

func (o *objectEvents) attach(t *dimensions.Trigger) {
	if o == nil {
		return
	}
	o.mu.Lock()
	o.trigger = t
	o.mu.Unlock()
}
