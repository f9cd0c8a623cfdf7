package app

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/export"
	"github.com/jiraduck/jiraduck/internal/store"
	"github.com/sirupsen/logrus"
)

// Site is an emulator and a serve wired together on loopback: the demo, the
// end-to-end tests and the benchmarks run on one.
type Site struct {
	Emulator *emulator.Emulator
	Service  *Service
	Config   *config.Config
}

// SiteOptions shape a site.
type SiteOptions struct {
	Emulator emulator.Options
	DataDir  string
	// Vars are extra settings of serve (schedules, workers...).
	Vars map[string]string
	// Tune adjusts the settings after they were validated: tests use it
	// for schedules more frequent than a setting may ask (once a minute).
	Tune   func(*config.Config)
	Logger logrus.FieldLogger
}

// Credentials a site's serve and emulator share. They only ever exist on
// loopback.
const (
	SiteEmail  = "jiraduck-demo@example.test"
	SiteToken  = "loopback-api-token"
	SiteSecret = "loopback-webhook-secret"
	SiteAdmin  = "loopback-admin-token"
)

// StartSite starts an emulator and a serve that receives its webhooks. Serve's
// port is bound before anything needs its address, and stays bound: the
// emulator's webhook URL names a port no one else can take meanwhile.
func StartSite(ctx context.Context, o SiteOptions) (*Site, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("site listen: %w", err)
	}
	addr := ln.Addr().String()
	eo := o.Emulator
	eo.Email, eo.APIToken = SiteEmail, SiteToken
	eo.WebhookURL = "http://" + addr + "/webhooks/jira"
	eo.WebhookSecret = SiteSecret
	if eo.Logger == nil {
		eo.Logger = o.Logger
	}
	em, err := emulator.New(eo)
	if err != nil {
		ln.Close()
		return nil, err
	}
	url, err := em.Start(ctx, "127.0.0.1:0")
	if err != nil {
		ln.Close()
		em.Close()
		return nil, err
	}
	vars := map[string]string{
		"JIRA_BASE_URL": url, "JIRA_EMAIL": SiteEmail, "JIRA_API_TOKEN": SiteToken, "JIRA_WEBHOOK_SECRET": SiteSecret,
		"JIRADUCK_DATA_DIR": o.DataDir, "JIRADUCK_LISTEN": addr, "JIRADUCK_ADMIN_TOKEN": SiteAdmin,
		"JIRADUCK_SLA_POLL_SCHEDULE": "", "JIRADUCK_RECONCILE_SCHEDULE": "", "JIRADUCK_SNAPSHOT_SCHEDULE": "",
		"JIRADUCK_DIMENSIONS_SCHEDULE": "",
	}
	for k, v := range o.Vars {
		vars[k] = v
	}
	cfg, err := config.FromMap(vars)
	if err != nil {
		ln.Close()
		em.Close()
		return nil, err
	}
	if o.Tune != nil {
		o.Tune(cfg)
	}
	svc, err := StartService(ctx, cfg, ln, o.Logger, nil)
	if err != nil {
		em.Close()
		return nil, err
	}
	return &Site{Emulator: em, Service: svc, Config: cfg}, nil
}

// Close stops serve, then the emulator.
func (s *Site) Close() error {
	err := s.Service.Close()
	s.Emulator.Close()
	return err
}

// Settle waits until every webhook was delivered, processed and exported.
func (s *Site) Settle(ctx context.Context) error {
	if err := s.Emulator.WaitWebhooks(ctx); err != nil {
		return fmt.Errorf("webhooks not delivered: %w", err)
	}
	// Acknowledged events reach the store and the queue just after their
	// 202 (the intake's journal); wait for that first.
	if err := s.Service.intake.Flush(ctx); err != nil {
		return fmt.Errorf("webhook journal not moved: %w", err)
	}
	for {
		counts, err := s.Service.store.EventCounts(ctx)
		if err != nil {
			return err
		}
		dirty, err := s.Service.store.DirtyPartitions(ctx)
		if err != nil {
			return err
		}
		if counts[store.EventPending] == 0 && s.Service.queue.Depth() == 0 && len(dirty) == 0 {
			// The marks are cleared before a pass writes the manifest: a
			// pass of our own waits for one in progress (the exporter runs
			// one at a time) and finds nothing left to do.
			if _, err := s.Service.exporter.ExportDirty(ctx); err != nil {
				return fmt.Errorf("not settled: export: %w", err)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not settled: events %v, queue %d, dirty partitions %d: %w", counts, s.Service.queue.Depth(), len(dirty), ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// FreeLoopbackAddr picks a loopback address for another process to bind
// (serve started as a child by the crash tests and the P3 benchmark). Within
// a process, bind 127.0.0.1:0 once and pass the listener instead: between
// this close and the child's bind, any connection may take the port as its
// own ephemeral one. A child cannot inherit a socket the test keeps instead:
// while a killed serve is down, deliveries must be refused, as by a dead
// host, not wait in the backlog of a socket still open.
func FreeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// WaitVisible polls the site's exported issues until key's summary is want.
func (s *Site) WaitVisible(ctx context.Context, key, want string) error {
	db, err := store.OpenMemory(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	glob := filepath.Join(export.Root(s.Config.DataDir), "issues", "month=*", "*.parquet")
	for {
		var n int
		err := db.QueryRowContext(ctx, `SELECT count(*) FROM read_parquet(?) WHERE issue_key = ? AND summary = ?`, glob, key, want).Scan(&n)
		if err == nil && n > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not visible in Parquet: %w", key, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}
