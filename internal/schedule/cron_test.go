package schedule

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jiraduck/jiraduck/internal/errkind"
	"github.com/jiraduck/jiraduck/internal/store"
)

// blockingJob is a job whose runs wait for release (or for their context
// to end); runs counts them, started is closed by the first.
type blockingJob struct {
	Job
	runs    atomic.Int32
	started chan struct{}
	release chan struct{}
	once    sync.Once
}

func newBlockingJob(name string) *blockingJob {
	b := &blockingJob{started: make(chan struct{}), release: make(chan struct{})}
	b.Job = Job{Name: name, Run: func(ctx context.Context) (map[string]int, error) {
		b.runs.Add(1)
		b.once.Do(func() { close(b.started) })
		select {
		case <-b.release:
			return map[string]int{"done": 1}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}}
	return b
}

// waitFor fails the test unless cond holds within 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestOneRunOfAJobAtATime: two starts of one job at once, both by RunNow
// (cron) or both by Go (the admin API), run it once; the other start is
// refused with ErrRunning before it returns, never dropped quietly.
func TestOneRunOfAJobAtATime(t *testing.T) {
	tests := []struct {
		name  string
		start func(s *Scheduler, j Job) error
	}{
		{"RunNow", func(s *Scheduler, j Job) error { return s.RunNow(j) }},
		{"Go", func(s *Scheduler, j Job) error { return s.Go(j.Name) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Many rounds: a check apart from the start lets a second
			// start through only now and then.
			for round := range 50 {
				s := NewScheduler(nil, nil, nil)
				j := newBlockingJob("slow")
				if err := s.Add(j.Job); err != nil {
					t.Fatal(err)
				}
				errs := make(chan error, 2)
				var ready sync.WaitGroup
				ready.Add(2)
				gate := make(chan struct{})
				for range 2 {
					go func() {
						ready.Done()
						<-gate
						errs <- tt.start(s, j.Job)
					}()
				}
				ready.Wait()
				close(gate)
				// The refused start answers while the run waits; Go's
				// accepted start answers at once too, RunNow's once the
				// run is over.
				var answers []error
				for len(answers) < 2 && !slices.ContainsFunc(answers, isRunning) {
					answers = append(answers, answer(t, errs))
				}
				close(j.release)
				for len(answers) < 2 {
					answers = append(answers, answer(t, errs))
				}
				s.Stop(context.Background())
				refused := slices.IndexFunc(answers, isRunning)
				if refused < 0 || answers[1-refused] != nil {
					t.Fatalf("round %d: answers: got %v, want one nil and one ErrRunning", round, answers)
				}
				if got := j.runs.Load(); got != 1 {
					t.Fatalf("round %d: runs: got %d, want 1", round, got)
				}
			}
		})
	}
}

func isRunning(err error) bool { return errors.Is(err, ErrRunning) }

// answer is the next start's answer; a start that never answers fails the
// test instead of hanging it.
func answer(t *testing.T, errs <-chan error) error {
	t.Helper()
	select {
	case err := <-errs:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("a start did not answer within 10s")
		return nil
	}
}

// TestStopWaitsForAnAdminRun: a run started by Go is the scheduler's own:
// Stop returns only once it has returned, whether it finishes by itself
// while Stop waits or is cancelled when Stop's context ends.
func TestStopWaitsForAnAdminRun(t *testing.T) {
	tests := []struct {
		name string
		// stop calls Stop while the run waits; j is released when stop
		// says so.
		stop       func(t *testing.T, s *Scheduler, j *blockingJob)
		wantStatus string
	}{
		{"finishes while stop waits", func(t *testing.T, s *Scheduler, j *blockingJob) {
			stopped := make(chan struct{})
			go func() {
				defer close(stopped)
				s.Stop(context.Background())
			}()
			// Stop has begun once a start of the running job is refused
			// as stopped rather than as running.
			waitFor(t, "stop refuses runs", func() bool { return errors.Is(s.Go("slow"), ErrStopped) })
			select {
			case <-stopped:
				t.Fatal("stop returned while the run was going")
			default:
			}
			close(j.release)
			<-stopped
		}, store.RunOK},
		{"cancelled when stop's context ends", func(t *testing.T, s *Scheduler, _ *blockingJob) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			s.Stop(ctx)
		}, store.RunInterrupted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var observed []string
			s := NewScheduler(nil, nil, func(job, status string, _ map[string]int, _ time.Duration) {
				mu.Lock()
				defer mu.Unlock()
				observed = append(observed, job+" "+status)
			})
			j := newBlockingJob("slow")
			if err := s.Add(j.Job); err != nil {
				t.Fatal(err)
			}
			if err := s.Go("slow"); err != nil {
				t.Fatalf("go: got %v, want nil", err)
			}
			<-j.started
			tt.stop(t, s, j)
			// The run has returned and been observed before Stop returned.
			mu.Lock()
			defer mu.Unlock()
			if want := "slow " + tt.wantStatus; len(observed) != 1 || observed[0] != want {
				t.Errorf("runs observed when stop returned: got %q, want [%q]", observed, want)
			}
		})
	}
}

// TestGoRefuses: what Go refuses, it says by kind, in the admin API's words.
func TestGoRefuses(t *testing.T) {
	s := NewScheduler(nil, nil, nil)
	j := newBlockingJob("slow")
	if err := s.Add(j.Job); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(Job{Name: "off", Run: j.Run}); err != nil {
		t.Fatal(err)
	}
	if err := s.Go("slow"); err != nil {
		t.Fatalf("go: got %v, want nil", err)
	}
	<-j.started
	tests := []struct {
		name, job, text string
		kind            errkind.Kind
		is              error
		stopped         bool
	}{
		{name: "running", job: "slow", text: "job slow: job already running", kind: errkind.Conflict, is: ErrRunning},
		{name: "unknown", job: "nope", text: `no job "nope" (jobs: slow, off)`, kind: errkind.NotFound},
		{name: "stopped", job: "off", text: "job off: scheduler stopped", kind: errkind.Unavailable, is: ErrStopped, stopped: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.stopped {
				close(j.release)
				s.Stop(context.Background())
			}
			err := s.Go(tt.job)
			if err == nil {
				t.Fatal("got nil error")
			}
			if got := err.Error(); got != tt.text {
				t.Errorf("text: got %q, want %q", got, tt.text)
			}
			if got := errkind.Of(err); got != tt.kind {
				t.Errorf("kind: got %v, want %v", got, tt.kind)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(err, %v): got false, want true", tt.is)
			}
		})
	}
}

// TestAddRefusesADuplicateName: two jobs under one name would share one
// "running" mark and one sync_runs name.
func TestAddRefusesADuplicateName(t *testing.T) {
	s := NewScheduler(nil, nil, nil)
	defer s.Stop(context.Background())
	j := Job{Name: "a", Run: func(context.Context) (map[string]int, error) { return nil, nil }}
	if err := s.Add(j); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(j); err == nil {
		t.Errorf("second add of %q: got nil error, want one", j.Name)
	}
	if got := len(s.Jobs()); got != 1 {
		t.Errorf("jobs: got %d, want 1", got)
	}
}

// TestPanickingRunFails: a job that panics in a run started from the admin
// API fails that run, reported like any failure, and the job can run again.
func TestPanickingRunFails(t *testing.T) {
	var mu sync.Mutex
	var statuses []string
	s := NewScheduler(nil, nil, func(job, status string, _ map[string]int, _ time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		statuses = append(statuses, status)
	})
	var runs atomic.Int32
	if err := s.Add(Job{Name: "buggy", Run: func(context.Context) (map[string]int, error) {
		runs.Add(1)
		panic("nil map")
	}}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := s.Go("buggy"); err != nil {
			t.Fatalf("go #%d: got %v, want nil", i+1, err)
		}
		waitFor(t, "the run to end", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(statuses) == i+1 && !s.Running("buggy")
		})
	}
	s.Stop(context.Background())
	if got := runs.Load(); got != 2 {
		t.Errorf("runs: got %d, want 2", got)
	}
	if want := []string{store.RunFailed, store.RunFailed}; !slices.Equal(statuses, want) {
		t.Errorf("statuses: got %v, want %v", statuses, want)
	}
}
