// Package schedule runs jiraduck's jobs (the SLA poll, reconcile, snapshot,
// retention) on their cron schedules and when asked for from the admin API,
// one run of a job at a time, each logged, recorded and timed out; what the
// jobs do lives in internal/jobs and internal/export.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
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

// Scheduler runs jobs with robfig/cron, and runs them now when asked (the
// admin API): it starts every run itself, so a job never runs twice at once
// whoever asks, and Stop waits for every run, however it was started. A
// panicking cron run is recovered, a run still going when the next is due
// makes that one skip, every run has a timeout, is logged and recorded.
type Scheduler struct {
	cron    *cron.Cron
	store   *store.Store
	log     logrus.FieldLogger
	observe func(job, status string, counts map[string]int, took time.Duration)

	// ctx is every run's parent; Stop cancels it once it has waited long
	// enough.
	ctx    context.Context
	cancel context.CancelFunc
	// runs counts the runs going on, cron's and those asked for; it is
	// added to only under mu while not stopped, so that Stop's Wait never
	// races an Add.
	runs sync.WaitGroup

	mu      sync.Mutex
	jobs    []Job
	ids     map[string]cron.EntryID
	running map[string]bool
	stopped bool
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

// Add registers a job, which Go can then start, and schedules it; a job
// with an empty spec is registered but not scheduled.
func (s *Scheduler) Add(j Job) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, have := range s.jobs {
		if have.Name == j.Name {
			return fmt.Errorf("schedule %s: a job of that name is added already", j.Name)
		}
	}
	if j.Spec != "" {
		id, err := s.cron.AddFunc(j.Spec, func() { _ = s.RunNow(j) })
		if err != nil {
			return fmt.Errorf("schedule %s: %w", j.Name, err)
		}
		s.ids[j.Name] = id
	} else {
		s.log.WithField("job", j.Name).Info("job disabled (empty schedule)")
	}
	s.jobs = append(s.jobs, j)
	return nil
}

// Jobs lists the jobs added, in the order they were.
func (s *Scheduler) Jobs() []Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.jobs)
}

// Start starts the clock.
func (s *Scheduler) Start() { s.cron.Start() }

// cancelGrace is how long Stop waits for runs once it has cancelled them:
// a cancelled run still records its outcome, and must not find the store
// closed under it.
const cancelGrace = 15 * time.Second

// Stop stops the clock and refuses new runs, then waits for every run, cron
// or asked for, to return. When ctx is done first, it cancels the runs and
// waits for them up to cancelGrace more.
func (s *Scheduler) Stop(ctx context.Context) {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	// A run cron has fired but not yet begun is refused by now; waiting for
	// cron too leaves no goroutine of it behind.
	cronDone := s.cron.Stop().Done()
	done := make(chan struct{})
	go func() {
		<-cronDone
		s.runs.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.cancel()
		return
	case <-ctx.Done():
	}
	s.log.Warn("jobs still running at shutdown; cancelling them")
	s.cancel()
	t := time.NewTimer(cancelGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
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

// ErrStopped means the scheduler is stopping: it starts no more runs.
var ErrStopped = errkind.New(errkind.Unavailable, "scheduler stopped")

// Go starts the job added under name now, in the background, tracked like a
// cron run: a job unknown is an error of kind not found, one running
// already ErrRunning, and either is known before Go returns, so a start
// that is not refused is a run that happens.
func (s *Scheduler) Go(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.jobs, func(j Job) bool { return j.Name == name })
	if i < 0 {
		names := make([]string, len(s.jobs))
		for i, j := range s.jobs {
			names[i] = j.Name
		}
		return errkind.Errorf(errkind.NotFound, "no job %q (jobs: %s)", name, strings.Join(names, ", "))
	}
	j := s.jobs[i]
	if err := s.beginLocked(j.Name); err != nil {
		return fmt.Errorf("job %s: %w", name, err)
	}
	go func() {
		defer s.end(j.Name)
		_ = s.run(j)
	}()
	return nil
}

// RunNow runs a job once in the caller's goroutine, with its timeout, logging
// and recording. A job never runs twice at once: a run asked for while one is
// going is skipped with ErrRunning, and one asked for once Stop has begun
// with ErrStopped.
func (s *Scheduler) RunNow(j Job) error {
	s.mu.Lock()
	err := s.beginLocked(j.Name)
	s.mu.Unlock()
	if errors.Is(err, ErrRunning) {
		s.log.WithField("job", j.Name).Info("job still running; this run is skipped")
	}
	if err != nil {
		return err
	}
	defer s.end(j.Name)
	return s.run(j)
}

// beginLocked marks a run of the named job as going, or says why it may not
// start.
func (s *Scheduler) beginLocked(name string) error {
	switch {
	case s.stopped:
		return ErrStopped
	case s.running[name]:
		return ErrRunning
	}
	s.running[name] = true
	s.runs.Add(1)
	return nil
}

// end marks the run begun by beginLocked as over.
func (s *Scheduler) end(name string) {
	s.mu.Lock()
	delete(s.running, name)
	s.mu.Unlock()
	s.runs.Done()
}

// run does one run of j: its timeout, its sync_runs row, its log line and
// its metrics.
func (s *Scheduler) run(j Job) error {
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
	counts, err := runRecovered(ctx, j)
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

// runRecovered runs j, turning a panic into the run's error: a run started
// from the admin API has no cron chain around it, and a job's bug must fail
// its run, not serve.
func runRecovered(ctx context.Context, j Job) (counts map[string]int, err error) {
	defer func() {
		if p := recover(); p != nil {
			counts, err = nil, fmt.Errorf("job %s panicked: %v", j.Name, p)
		}
	}()
	return j.Run(ctx)
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
