package app

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/jiraduck/jiraduck/internal/errkind"
	"github.com/jiraduck/jiraduck/internal/httpx"
	"github.com/jiraduck/jiraduck/internal/schedule"
	"github.com/sirupsen/logrus"
)

// TestRunJobErrorKinds: the admin API's job runner says by kind, not by
// text, that a job is unknown (404) or running already (409).
func TestRunJobErrorKinds(t *testing.T) {
	t.Parallel()
	log := logrus.New()
	log.SetOutput(io.Discard)
	sched := schedule.NewScheduler(nil, log, nil)
	defer sched.Stop(context.Background())
	started, release := make(chan struct{}), make(chan struct{})
	if err := sched.Add(schedule.Job{Name: "slow", Run: func(context.Context) (map[string]int, error) {
		close(started)
		<-release
		return nil, nil
	}}); err != nil {
		t.Fatal(err)
	}
	s := &Service{sched: sched}
	if err := s.runJob("slow"); err != nil {
		t.Fatalf("first run: got %v, want nil", err)
	}
	<-started
	defer close(release)

	cases := []struct {
		name, job, text string
		kind            errkind.Kind
		status          int
		running         bool
	}{
		{name: "running", job: "slow", text: "job slow: job already running", kind: errkind.Conflict, status: 409, running: true},
		{name: "unknown", job: "nope", text: `no job "nope" (jobs: slow)`, kind: errkind.NotFound, status: 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := s.runJob(c.job)
			if err == nil {
				t.Fatal("got nil error")
			}
			if got := err.Error(); got != c.text {
				t.Errorf("text: got %q, want %q", got, c.text)
			}
			if got := errkind.Of(err); got != c.kind {
				t.Errorf("kind: got %v, want %v", got, c.kind)
			}
			if got := httpx.Status(err); got != c.status {
				t.Errorf("status: got %d, want %d", got, c.status)
			}
			if got := errors.Is(err, schedule.ErrRunning); got != c.running {
				t.Errorf("errors.Is(err, schedule.ErrRunning): got %v, want %v", got, c.running)
			}
		})
	}
}
