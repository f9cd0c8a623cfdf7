// Package app wires jiraduck's parts together: Service is serve (its parts
// started in order and closed in reverse), Batch is what the one-shot
// commands that write the store share, and Site is an emulator and a serve
// on loopback for the demo, the benchmarks and the tests. The commands in
// cmd/jiraduck parse flags, call into it and format the output.
package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/mux"
	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/dimensions"
	"github.com/jiraduck/jiraduck/internal/export"
	"github.com/jiraduck/jiraduck/internal/intake"
	"github.com/jiraduck/jiraduck/internal/jira/client"
	"github.com/jiraduck/jiraduck/internal/jobs"
	"github.com/jiraduck/jiraduck/internal/metrics"
	"github.com/jiraduck/jiraduck/internal/pipeline"
	"github.com/jiraduck/jiraduck/internal/publish"
	"github.com/jiraduck/jiraduck/internal/schedule"
	"github.com/jiraduck/jiraduck/internal/server"
	"github.com/jiraduck/jiraduck/internal/store"
	"github.com/sirupsen/logrus"
)

// Wait runs the service until ctx is done, or until DuckDB has invalidated
// the open store, and closes it. In the second case it returns an error
// (serve's exit code 1), so that its supervisor starts it again: only a new
// process can open the file again. Webhooks acknowledged meanwhile are in
// the journal, and a new serve processes them.
func (s *Service) Wait(ctx context.Context) error {
	log := s.log
	select {
	case <-ctx.Done():
		log.Info("shutting down")
		return s.Close()
	case err := <-s.fatal:
		log.WithError(err).Error("the store can no longer be used: serve stops so that a restart opens it again; " +
			"webhooks already acknowledged are kept in the journal and processed after the restart")
		if cerr := s.Close(); cerr != nil {
			log.WithError(cerr).Warn("closing after the store failed")
		}
		return fmt.Errorf("serve stopped: %w", err)
	}
}

// Service is a running serve: everything it started, in start order.
type Service struct {
	cfg *config.Config
	log logrus.FieldLogger
	*core
	queue    *pipeline.Queue
	trigger  *dimensions.Trigger
	objects  *objectEvents
	intake   *intake.Intake
	sched    *schedule.Scheduler
	metrics  *metrics.Metrics
	http     *http.Server
	listener net.Listener
	// front answers HTTP from the start, the full router once started
	// (startup.go); onPhase is Hooks.OnPhase.
	front   *server.Front
	onPhase func(phase string)

	// publisher copies the tree to the bucket; nil when publishing is off.
	publisher *publish.Publisher

	lastFullReconcile time.Time

	// fatal receives the error once DuckDB has invalidated the open store
	// (see watchStore).
	fatal chan error

	runCtx    context.Context
	runCancel context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Hooks let the demo, tests and benchmarks observe a service.
type Hooks struct {
	// OnExport is called after each published partition.
	OnExport func(p store.Partition, rows int64, took, sinceMarked time.Duration)
	// StoreUsable and StoreWatchEvery replace Store.Usable and
	// storeWatchEvery in watchStore.
	StoreUsable     func(context.Context) error
	StoreWatchEvery time.Duration
	// Publish adjusts the bucket publisher's options.
	Publish func(*publish.Options)
	// OnPhase is called as the start enters each phase (server.Phase*),
	// while serve listens and journals webhooks.
	OnPhase func(phase string)
}

// storeWatchEvery is how often serve asks whether DuckDB still lets it use
// the store.
const storeWatchEvery = 2 * time.Second

// jiraClient builds the REST client of the settings; nil when Jira is not
// configured.
func jiraClient(cfg *config.Config, log logrus.FieldLogger, obs client.Observer) (*client.Client, error) {
	if !cfg.JiraConfigured() {
		return nil, nil
	}
	return client.New(client.Options{
		BaseURL:     cfg.JiraBaseURL,
		Email:       cfg.JiraEmail,
		APIToken:    cfg.JiraAPIToken.Reveal(),
		SLAEmail:    cfg.JiraSLAEmail,
		SLAAPIToken: cfg.JiraSLAAPIToken.Reveal(),
		CloudID:     cfg.JiraCloudID,
		CloudAPIURL: cfg.JiraCloudAPIURL,
		Logger:      log.WithField("component", "jira"),
		Observer:    obs,
	})
}

// Listen binds the address serve answers on (JIRADUCK_LISTEN). It is the one
// place serve's listener is made from the settings; the demo, benchmarks and
// tests bind 127.0.0.1:0 themselves and hand StartService the listener, so
// that no port is picked first and bound later, when something else may hold
// it.
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}

// StartService opens the store and starts every part of serve: workers,
// exporter, intake, cron jobs and the HTTP server on ln. The service owns ln
// from then on: it closes it when it fails to start, and in Close. It
// answers on ln from the start: webhooks that arrive while the store is
// compacted, migrated and opened are journaled and acknowledged, and
// /readyz names the phase (startup.go).
func StartService(ctx context.Context, cfg *config.Config, ln net.Listener, log logrus.FieldLogger, hooks *Hooks) (svc *Service, err error) {
	if hooks == nil {
		hooks = &Hooks{}
	}
	limited := server.LimitListener(ln, cfg.MaxConnections)
	s := &Service{cfg: cfg, log: log, fatal: make(chan error, 1), listener: limited, onPhase: hooks.OnPhase}
	defer func() {
		if err != nil {
			s.Close()
			svc = nil
		}
	}()
	s.runCtx, s.runCancel = context.WithCancel(context.Background())
	if cfg.AllowUnsigned && !cfg.WebhookSecret.IsSet() {
		log.Warn("JIRADUCK_ALLOW_UNSIGNED is set and no webhook secret is configured: unsigned webhooks are accepted " +
			"from anyone who can reach the listen address (for trials only; requests from browsers are refused)")
	}
	plan := cfg.MemoryPlanFor("serve")
	log.WithFields(logrus.Fields{"duckdb_memory_limit": plan.DuckDBLimit, "duckdb_release_memory": plan.ReleaseMemory,
		"go_memory_limit": plan.GoLimitText(), "memory_available": cfg.Memory.String(), "write_batch": plan.WriteBatch()}).Info("memory plan")
	s.metrics = metrics.New(metrics.Gauges{
		QueueDepth:    func() int { return s.queue.Depth() },
		OldestPending: func() time.Time { return s.queue.OldestPending() },
		FailedEvents: func() int64 {
			c, err := s.store.EventCounts(context.Background())
			if err != nil {
				return -1
			}
			return c[store.EventFailed]
		},
		StorePath:     StorePath(cfg),
		StoreWritable: func() bool { return server.StoreTrouble(s.intake, s.queue, time.Now()) == "" },
		DuckDBMemory:  s.duckdbMemory,
	})
	if s.publisher, err = NewPublisher(ctx, cfg, log, hooks.Publish); err != nil {
		return nil, err
	}
	if err := s.listenEarly(cfg, log, limited); err != nil {
		return nil, err
	}
	refresh := make(chan struct{}, 1)
	co := coreOptions{command: "serve", notifyExporter: true, jira: true, observer: s.metrics, phase: s.phase,
		exportObserve: func(p store.Partition, rows int64, took, sinceMarked time.Duration) {
			s.metrics.Exported(p.Table, sinceMarked, took)
			if hooks.OnExport != nil {
				hooks.OnExport(p, rows, took, sinceMarked)
			}
		},
		observeAttachment: s.metrics.Attachment,
		onUnknownField: func() {
			select {
			case refresh <- struct{}{}:
			default:
			}
		}}
	if s.publisher != nil {
		co.published = s.publisher.Notify
		s.metrics.WatchPublish(publishMetrics(s.publisher))
	}
	if s.core, err = openCore(ctx, cfg, log, co); err != nil {
		return nil, err
	}
	// Before the exporter runs, so that it publishes nothing of the old
	// issue columns.
	if err := alignIssueColumns(ctx, cfg, log, s.store, s.writer, func() { s.phase(server.PhaseDeriving) }); err != nil {
		return nil, err
	}
	s.phase(server.PhaseStarting)
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.exporter.Run(s.runCtx) }()
	if s.publisher != nil {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.publisher.Run(s.runCtx) }()
	}
	if err := s.wire(ctx, cfg, log, co); err != nil {
		return nil, err
	}
	s.queue = pipeline.NewQueue(s.proc, s.store, s.writer, pipeline.QueueOptions{Workers: cfg.Workers, Logger: log,
		MaxWrites: s.writeBatch,
		Observe: func(o pipeline.Outcome, err error, since time.Duration) {
			s.metrics.Processed(string(o), err != nil, since)
		}})
	s.exporter.PutOffWhile(s.queue.Backlog)
	if s.client != nil {
		// Which fields hold SLA values must be known before the first issue
		// is normalized, or its SLA rows would be missing until rebuilt.
		if s.catalog.Stale() {
			rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			if err := s.catalog.Refresh(rctx, s.client, s.writer); err != nil {
				log.WithError(err).Warn("field list not loaded at start; retrying in the background")
			}
			cancel()
		}
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.catalogLoop(refresh) }()
		if err := s.queue.Start(ctx); err != nil {
			return nil, err
		}
	} else {
		log.Warn("Jira is not configured (JIRA_BASE_URL or JIRA_DOMAIN, JIRA_EMAIL, JIRA_API_TOKEN): webhooks are stored but not processed")
	}
	if s.client != nil {
		// Before the intake moves what it journaled, which the trigger
		// is told of once stored.
		s.trigger = dimensions.NewTrigger(s.dims, dimensions.TriggerOptions{Logger: log})
		s.trigger.Start(ctx)
		s.objects.attach(s.trigger)
	}
	if err := s.intake.Attach(ctx, s.store, s.queue); err != nil {
		return nil, err
	}
	s.sched = schedule.NewScheduler(s.store, log, s.metrics.Job)
	if err := s.addJobs(); err != nil {
		return nil, err
	}
	s.sched.Start()
	s.firstDimensions(ctx)

	handler := server.New(server.Deps{Config: cfg, Store: s.store, Intake: s.intake, Queue: s.queue, Processor: s.proc,
		Exporter: s.exporter, Publisher: s.publisher, Logger: log, RetryFailed: s.retryFailed, RunJob: s.runJob, Extra: func(r *mux.Router) {
			r.Handle("/metrics", s.metrics.Handler()).Methods(http.MethodGet)
		}})
	s.front.Ready(handler)
	usable, every := s.store.Usable, storeWatchEvery
	if hooks.StoreUsable != nil {
		usable = hooks.StoreUsable
	}
	if hooks.StoreWatchEvery > 0 {
		every = hooks.StoreWatchEvery
	}
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.watchStore(every, usable) }()
	return s, nil
}

// watchStore reports on s.fatal once DuckDB has invalidated the open store,
// which it does after a fatal error such as running out of memory while
// rolling a transaction back. From then on every statement fails, so issues
// are no longer written or exported, while webhooks are still acknowledged
// into the journal: serve would look alive and do nothing.
func (s *Service) watchStore(every time.Duration, usable func(context.Context) error) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-s.runCtx.Done():
			return
		case <-tick.C:
		}
		// A busy pool may keep the probe waiting; only DuckDB's own
		// answer counts.
		ctx, cancel := context.WithTimeout(s.runCtx, 30*time.Second)
		err := usable(ctx)
		cancel()
		if store.Invalidated(err) {
			s.fatal <- err
			return
		}
	}
}

// catalogLoop refreshes the field list at start, daily and on demand.
func (s *Service) catalogLoop(refresh <-chan struct{}) {
	tick := time.NewTicker(time.Hour)
	defer tick.Stop()
	failures := 0
	for {
		if s.catalog.Stale() || failures > 0 {
			ctx, cancel := context.WithTimeout(s.runCtx, time.Minute)
			err := s.catalog.Refresh(ctx, s.client, s.writer)
			cancel()
			if err != nil && s.runCtx.Err() == nil {
				failures++
				if failures <= 3 || failures%24 == 0 {
					s.log.WithError(err).Warn("field list refresh failed")
				}
			} else {
				failures = 0
			}
		}
		select {
		case <-s.runCtx.Done():
			return
		case <-tick.C:
		case <-refresh:
			ctx, cancel := context.WithTimeout(s.runCtx, time.Minute)
			if err := s.catalog.Refresh(ctx, s.client, s.writer); err != nil && s.runCtx.Err() == nil {
				s.log.WithError(err).Warn("field list refresh failed")
			}
			cancel()
		}
	}
}

// addJobs schedules the SLA poll, reconcile and event retention.
func (s *Service) addJobs() error {
	deps := s.jobDeps()
	list := []schedule.Job{
		{Name: "retention", Spec: "@every 1h", Timeout: 5 * time.Minute, Run: s.pruneEvents},
		{Name: "snapshot", Spec: s.cfg.SnapshotSchedule, Timeout: 30 * time.Minute, Record: true,
			Run: func(ctx context.Context) (map[string]int, error) {
				res, err := export.SnapshotTo(ctx, s.store, export.SnapshotPath(s.cfg.DataDir), export.SnapshotOptions{Replace: true, Site: s.cfg.Site})
				if err != nil {
					return nil, err
				}
				counts := map[string]int{"bytes": int(res.Bytes)}
				for t, n := range res.Rows {
					counts[t] = int(n)
				}
				return counts, nil
			}},
	}
	if s.client != nil {
		list = append(list,
			schedule.Job{Name: "sla-poll", Spec: s.cfg.SLAPollSchedule, Timeout: 10 * time.Minute, Record: true,
				Run: func(ctx context.Context) (map[string]int, error) {
					res, err := jobs.PollSLA(ctx, deps, jobs.SLAPollOptions{})
					return res.Counts(), err
				}},
			schedule.Job{Name: "reconcile", Spec: s.cfg.ReconcileSchedule, Timeout: 30 * time.Minute, Record: true,
				Run: s.reconcile},
			schedule.Job{Name: "dimensions", Spec: s.cfg.DimensionsSchedule, Timeout: 30 * time.Minute, Record: true,
				Run: func(ctx context.Context) (map[string]int, error) {
					res, err := s.dims.Refresh(ctx)
					return res.Counts(), err
				}})
	}
	for _, j := range list {
		if err := s.sched.Add(j); err != nil {
			return err
		}
	}
	return nil
}

// firstDimensions refreshes the dimension tables now, in the background,
// when their schedule is on and one of them was never refreshed: the first
// start of a new store, or of a version that brings a new table, would
// otherwise wait a whole period for them.
func (s *Service) firstDimensions(ctx context.Context) {
	if s.client == nil || s.cfg.DimensionsSchedule == "" {
		return
	}
	states, err := s.store.DimensionStates(ctx)
	if err != nil {
		s.log.WithError(err).Warn("could not read the state of the dimension tables")
		return
	}
	for _, src := range s.dims.Sources() {
		if st, ok := states[src.Table]; !ok || st.Status == store.DimensionNever {
			if err := s.sched.Go("dimensions"); err != nil && !errors.Is(err, schedule.ErrRunning) {
				s.log.WithError(err).Warn("could not start the first refresh of the dimension tables")
			}
			return
		}
	}
}

// retryFailed puts failed events back to pending and queues them.
func (s *Service) retryFailed(ctx context.Context, ids []int64) (int, error) {
	if s.client == nil {
		return 0, errors.New("jira is not configured: events cannot be processed")
	}
	var events []*store.Event
	err := s.writer.Do(ctx, func(ctx context.Context, tx *store.Tx) error {
		var err error
		events, err = store.RetryFailed(ctx, tx, ids)
		return err
	})
	if err != nil {
		return 0, err
	}
	s.queue.Accept(events)
	return len(events), nil
}

// runJob starts one of the scheduled jobs now, in the background, as the
// scheduler's own run: an unknown job is an error of kind not found; one
// running already is schedule.ErrRunning.
func (s *Service) runJob(name string) error { return s.sched.Go(name) }

// jobDeps hands the scheduled jobs the store, the client and the queue as
// the way to heal: a healed issue is fetched like a webhook's.
func (s *Service) jobDeps() jobs.Deps {
	return jobs.Deps{Client: s.client, Store: s.store, Writer: s.writer, Options: s.catalog.Options,
		SLAFields: s.catalog.SLAFieldIDs, Notify: s.exporter.Notify,
		Heal: func(_ context.Context, id, key string) error {
			s.queue.Enqueue(id, key)
			return nil
		}}
}

// reconcileWindow is how far back a scheduled reconcile looks; a full
// comparison of the whole scope runs at the first run and then weekly.
const (
	reconcileWindow = 30*24*time.Hour + time.Hour
	fullReconcile   = 7 * 24 * time.Hour
)

func (s *Service) reconcile(ctx context.Context) (map[string]int, error) {
	opts := jobs.ReconcileOptions{JQL: s.cfg.JQL, Since: time.Now().Add(-reconcileWindow)}
	full := s.lastFullReconcile.IsZero() || time.Since(s.lastFullReconcile) > fullReconcile
	if full {
		opts.Since = time.Time{}
	}
	res, err := jobs.Reconcile(ctx, s.jobDeps(), opts)
	counts := res.Counts()
	if full {
		counts["full"] = 1
		if err == nil {
			s.lastFullReconcile = time.Now()
		}
	}
	return counts, err
}

func (s *Service) pruneEvents(ctx context.Context) (map[string]int, error) {
	cutoff := time.Now().Add(-s.cfg.EventRetention)
	var n int64
	err := s.writer.Do(ctx, func(ctx context.Context, tx *store.Tx) error {
		var err error
		n, err = store.PruneEvents(ctx, tx, cutoff)
		return err
	})
	return map[string]int{"pruned": int(n)}, err
}

// duckdbMemory reads DuckDB's memory by tag for /metrics, within a scrape's
// patience.
func (s *Service) duckdbMemory() ([]metrics.MemoryUse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	uses, err := s.store.Memory(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]metrics.MemoryUse, len(uses))
	for i, u := range uses {
		out[i] = metrics.MemoryUse{Tag: u.Tag, Bytes: u.Bytes, TempBytes: u.TempBytes}
	}
	return out, nil
}

// Addr is the address the HTTP server listens on.
func (s *Service) Addr() string { return s.listener.Addr().String() }

// Config is the settings the service runs with.
func (s *Service) Config() *config.Config { return s.cfg }

// Logger is the logger the service was started with.
func (s *Service) Logger() logrus.FieldLogger { return s.log }

// Store is the open canonical store.
func (s *Service) Store() *store.Store { return s.store }

// Writer is the store's single writer.
func (s *Service) Writer() *store.Writer { return s.writer }

// Publisher copies the tree to the bucket; nil when publishing is off.
func (s *Service) Publisher() *publish.Publisher { return s.publisher }

// Client is the Jira client; nil when Jira is not configured.
func (s *Service) Client() *client.Client { return s.client }

// Catalog is the field catalog.
func (s *Service) Catalog() *pipeline.Catalog { return s.catalog }

// Dimensions keeps the dimension tables.
func (s *Service) Dimensions() *dimensions.Refresher { return s.dims }

// Processor fetches and writes one issue.
func (s *Service) Processor() *pipeline.Processor { return s.proc }

// Queue is the per-issue work queue.
func (s *Service) Queue() *pipeline.Queue { return s.queue }

// Intake receives the webhooks.
func (s *Service) Intake() *intake.Intake { return s.intake }

// Scheduler runs the cron jobs.
func (s *Service) Scheduler() *schedule.Scheduler { return s.sched }

// JobDeps are the dependencies the service hands its scheduled jobs.
func (s *Service) JobDeps() jobs.Deps { return s.jobDeps() }

// Close shuts down in reverse order, each step bounded: stop HTTP intake, stop
// cron (waiting for running jobs), drain the queue, flush exports, close the
// database (which checkpoints its WAL).
func (s *Service) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Service) close() error {
	var errs []error
	if s.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := s.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop http: %w", err))
		}
		cancel()
	} else if s.listener != nil {
		// Never served: Shutdown would not close it.
		s.listener.Close()
	}
	if s.intake != nil {
		s.intake.Close()
	}
	if s.sched != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		s.sched.Stop(ctx)
		cancel()
	}
	if s.trigger != nil {
		s.trigger.Close()
	}
	if s.queue != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if s.client != nil {
			if err := s.queue.Drain(ctx); err != nil {
				s.log.WithField("queue_depth", s.queue.Depth()).Warn("queue not drained in time; pending events are replayed at next start")
			}
		}
		cancel()
		s.queue.Close()
	}
	if s.runCancel != nil {
		s.runCancel() // the exporter makes a final pass
	}
	s.wg.Wait()
	if s.publisher != nil {
		// After the exporter's last pass: what this cannot upload in time
		// stays in the backlog, for the next start.
		if err := s.publisher.Final(20 * time.Second); err != nil {
			s.log.WithError(err).Warn("last publish before shutdown failed; the backlog is uploaded after the next start")
		}
	}
	if s.core != nil {
		if err := s.core.close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
