package schedule

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/errkind"
	"github.com/jiraduck/jiraduck/internal/logx"
	"github.com/jiraduck/jiraduck/internal/store"
	"github.com/robfig/cron/v3"
	"github.com/sirupsen/logrus"
)

// Job is one scheduled job.
type Job struct {
	// Name is the job's name in sync_runs, logs (job=<name>) and metrics.
	Name string
	// Spec is a cron spec; an empty one disables the job.
	Spec string
	// Timeout bounds one run.
	Timeout time.Duration
	// Record says whether runs go to sync_runs (retention does not need to).
	Record bool
	// Run does the work and returns its counts per state.
	Run func(ctx context.Context) (map[string]int, error)
}

// Scheduler runs jobs with robfig/cron: a panicking job is recovered, a run
// still going when the next is due makes that one skip, every run has a
// timeout, is logged and recorded, and Stop waits for running jobs.
type Scheduler struct {
	cron    *cron.Cron
	store   *store.Store
	log     logrus.FieldLogger
	observe func(job, status string, counts map[string]int, took time.Duration)

	ctx     context.Context
	cancel  context.CancelFunc
	mu      sync.Mutex
	ids     map[string]cron.EntryID
	running map[string]bool
}

// NewScheduler builds a stopped scheduler. observe, if set, is told of every
// finished run (metrics).
func NewScheduler(s *store.Store, log logrus.FieldLogger, observe func(job, status string, counts map[string]int, took time.Duration)) *Scheduler {
	if log == nil {
		log = logx.Discard()
	}
	log = log.WithField("component", "schedule")
	ctx, cancel := context.WithCancel(context.Background())
	c := cron.New(cron.WithParser(config.CronParser()), cron.WithChain(cron.Recover(cronLog{log}), cron.SkipIfStillRunning(cronLog{log})))
	return &Scheduler{cron: c, store: s, log: log, observe: observe, ctx: ctx, cancel: cancel, ids: map[string]cron.EntryID{},
		running: map[string]bool{}}
}

// Add schedules a job; a job with an empty spec is skipped.
func (s *Scheduler) Add(j Job) error {
	if j.Spec == "" {
		s.log.WithField("job", j.Name).Info("job disabled (empty schedule)")
		return nil
	}
	id, err := s.cron.AddFunc(j.Spec, func() { _ = s.RunNow(j) })
	if err != nil {
		return fmt.Errorf("schedule %s: %w", j.Name, err)
	}
	s.mu.Lock()
	s.ids[j.Name] = id
	s.mu.Unlock()
	return nil
}

// Start starts the clock.
func (s *Scheduler) Start() { s.cron.Start() }

// Stop stops scheduling, cancels running jobs' contexts after grace, and waits
// for them up to grace more.
func (s *Scheduler) Stop(grace time.Duration) {
	done := s.cron.Stop().Done()
	select {
	case <-done:
		s.cancel()
		return
	case <-time.After(grace):
	}
	s.log.Warn("jobs still running at shutdown; cancelling them")
	s.cancel()
	select {
	case <-done:
	case <-time.After(grace):
		s.log.Error("jobs did not stop after cancellation")
	}
}

// Next is when a job runs next (zero when not scheduled).
func (s *Scheduler) Next(name string) time.Time {
	s.mu.Lock()
	id, ok := s.ids[name]
	s.mu.Unlock()
	if !ok {
		return time.Time{}
	}
	return s.cron.Entry(id).Next
}

// ErrRunning means the job is running already; its kind is conflict, which
// the admin API answers with 409.
var ErrRunning = errkind.New(errkind.Conflict, "job already running")

// RunNow runs a job once in the caller's goroutine, with its timeout, logging
// and recording. A job never runs twice at once: a run asked for while one is
// going is skipped with ErrRunning.
func (s *Scheduler) RunNow(j Job) error {
	s.mu.Lock()
	if s.running[j.Name] {
		s.mu.Unlock()
		s.log.WithField("job", j.Name).Info("job still running; this run is skipped")
		return ErrRunning
	}
	s.running[j.Name] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.running, j.Name)
		s.mu.Unlock()
	}()
	ctx := s.ctx
	if j.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, j.Timeout)
		defer cancel()
	}
	log := s.log.WithField("job", j.Name)
	start := time.Now()
	var runID int64
	if j.Record {
		var err error
		if runID, err = s.store.StartRun(ctx, j.Name, nil); err != nil {
			log.WithError(err).Error("job not started: cannot record it")
			return err
		}
	}
	counts, err := j.Run(ctx)
	took := time.Since(start)
	status := store.RunOK
	if err != nil {
		status = store.RunFailed
		if ctx.Err() != nil && s.ctx.Err() != nil {
			status = store.RunInterrupted
		}
	}
	if j.Record {
		// The run's own context may be over; record the outcome regardless.
		if rerr := s.store.FinishRun(context.Background(), runID, status, counts, err); rerr != nil {
			log.WithError(rerr).Error("job outcome not recorded")
		}
	}
	fields := logrus.Fields{"duration_ms": took.Milliseconds(), "status": status}
	for k, v := range counts {
		fields[k] = v
	}
	if err != nil {
		log.WithFields(fields).WithError(err).Error("job failed")
	} else {
		log.WithFields(fields).Info("job finished")
	}
	if s.observe != nil {
		s.observe(j.Name, status, counts, took)
	}
	return err
}

// Running reports whether a job is running now.
func (s *Scheduler) Running(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running[name]
}

// cronLog adapts logrus to cron's logger.
type cronLog struct{ log logrus.FieldLogger }

func (l cronLog) Info(msg string, kv ...any) {
	l.log.WithField("detail", fmt.Sprint(kv...)).Debug(msg)
}

func (l cronLog) Error(err error, msg string, kv ...any) {
	l.log.WithError(err).WithField("detail", fmt.Sprint(kv...)).Error(msg)
}
