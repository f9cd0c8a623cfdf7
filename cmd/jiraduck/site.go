package main

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/store"
	"github.com/sirupsen/logrus"
)

// site is an emulator and a serve wired together on loopback: the demo, the
// end-to-end tests and the benchmarks run on one.
type site struct {
	em  *emulator.Emulator
	svc *service
	cfg *config.Config
}

// siteOptions shape a site.
type siteOptions struct {
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
	siteEmail  = "jiraduck-demo@example.test"
	siteToken  = "loopback-api-token"
	siteSecret = "loopback-webhook-secret"
	siteAdmin  = "loopback-admin-token"
)

// startSite starts an emulator and a serve that receives its webhooks. Serve's
// port is bound before anything needs its address, and stays bound: the
// emulator's webhook URL names a port no one else can take meanwhile.
func startSite(ctx context.Context, o siteOptions) (*site, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("site listen: %w", err)
	}
	addr := ln.Addr().String()
	eo := o.Emulator
	eo.Email, eo.APIToken = siteEmail, siteToken
	eo.WebhookURL = "http://" + addr + "/webhooks/jira"
	eo.WebhookSecret = siteSecret
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
		"JIRA_BASE_URL": url, "JIRA_EMAIL": siteEmail, "JIRA_API_TOKEN": siteToken, "JIRA_WEBHOOK_SECRET": siteSecret,
		"JIRADUCK_DATA_DIR": o.DataDir, "JIRADUCK_LISTEN": addr, "JIRADUCK_ADMIN_TOKEN": siteAdmin,
		"JIRADUCK_SLA_POLL_SCHEDULE": "", "JIRADUCK_RECONCILE_SCHEDULE": "", "JIRADUCK_SNAPSHOT_SCHEDULE": "",
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
	svc, err := startService(ctx, cfg, ln, o.Logger, nil)
	if err != nil {
		em.Close()
		return nil, err
	}
	return &site{em: em, svc: svc, cfg: cfg}, nil
}

// Close stops serve, then the emulator.
func (s *site) Close() error {
	err := s.svc.Close()
	s.em.Close()
	return err
}

// settle waits until every webhook was delivered, processed and exported.
func (s *site) settle(ctx context.Context) error {
	if err := s.em.WaitWebhooks(ctx); err != nil {
		return fmt.Errorf("webhooks not delivered: %w", err)
	}
	// Acknowledged events reach the store and the queue just after their
	// 202 (the intake's journal); wait for that first.
	if err := s.svc.intake.Flush(ctx); err != nil {
		return fmt.Errorf("webhook journal not moved: %w", err)
	}
	for {
		counts, err := s.svc.store.EventCounts(ctx)
		if err != nil {
			return err
		}
		dirty, err := s.svc.store.DirtyPartitions(ctx)
		if err != nil {
			return err
		}
		if counts[store.EventPending] == 0 && s.svc.queue.Depth() == 0 && len(dirty) == 0 {
			// The marks are cleared before a pass writes the manifest: a
			// pass of our own waits for one in progress (the exporter runs
			// one at a time) and finds nothing left to do.
			if _, err := s.svc.exporter.ExportDirty(ctx); err != nil {
				return fmt.Errorf("not settled: export: %w", err)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not settled: events %v, queue %d, dirty partitions %d: %w", counts, s.svc.queue.Depth(), len(dirty), ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// freeLoopbackAddr picks a loopback address for another process to bind
// (serve started as a child by the crash tests and the P3 benchmark). Within
// a process, bind 127.0.0.1:0 once and pass the listener instead: between
// this close and the child's bind, any connection may take the port as its
// own ephemeral one. A child cannot inherit a socket the test keeps instead:
// while a killed serve is down, deliveries must be refused, as by a dead
// host, not wait in the backlog of a socket still open.
func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
