package main

import (
	"context"

	"github.com/jiraduck/jiraduck/internal/app"
)

func runServe(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "serve", "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("serve takes no arguments")
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	log := app.NewLogger(cfg, e.stderr)
	if !cfg.WebhookSecret.IsSet() && !cfg.AllowUnsigned {
		log.Warn("JIRA_WEBHOOK_SECRET is not set: webhooks are refused with 503 until it is (see docs/configuration.md)")
	}
	ln, err := app.Listen(cfg.Listen)
	if err != nil {
		return err
	}
	svc, err := app.StartService(ctx, cfg, ln, log, nil)
	if err != nil {
		return err
	}
	log.WithField("listen", svc.Addr()).Info("serving")
	return svc.Wait(ctx)
}
