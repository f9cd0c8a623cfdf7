package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/jiraduck/jiraduck/internal/errkind"
	"github.com/jiraduck/jiraduck/internal/store"
)

// SQLTimeout bounds one admin statement, the wait for an earlier one
// included.
const SQLTimeout = 60 * time.Second

// maxSQLRows bounds the rows an admin statement returns.
const maxSQLRows = 10000

// adminSQL runs maintenance SQL: POST {"sql": "..."}. The statement is never
// logged: it may carry data an operator pasted in. It runs on a connection of
// its own, discarded afterwards, one request at a time, with DuckDB's file
// access confined to the data directory and its configuration locked (see
// store.Open); statements that reach beyond the store (ATTACH, COPY, INSTALL,
// SET...) are refused before anything runs, and an answer past
// JIRADUCK_ADMIN_SQL_MAX_BYTES fails instead of growing serve's memory.
func (s *Server) adminSQL(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		SQL string `json:"sql"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil || strings.TrimSpace(body.SQL) == "" {
		return errkind.New(errkind.Invalid, `body must be {"sql": "..."}`)
	}
	ctx, cancel := context.WithTimeout(r.Context(), SQLTimeout)
	defer cancel()
	start := time.Now()
	res, err := s.d.Store.RunIsolated(ctx, body.SQL, store.Limits{Allow: store.Maintenance, MaxRows: maxSQLRows, MaxBytes: s.d.Config.AdminSQLMaxBytes})
	log := s.log.WithField("duration_ms", time.Since(start).Milliseconds())
	switch {
	case err == nil:
	case errors.Is(err, store.ErrRefused):
		log.WithError(err).Warn("admin sql statement refused")
		return errkind.Mark(errkind.Forbidden, err)
	case errors.Is(err, store.ErrTooLarge):
		log.WithError(err).Warn("admin sql answer over its cap")
		return errkind.Errorf(errkind.Unprocessable, "%v (JIRADUCK_ADMIN_SQL_MAX_BYTES=%d)", err, s.d.Config.AdminSQLMaxBytes)
	case ctx.Err() != nil:
		return errkind.Errorf(errkind.Timeout, "statement timed out after %s: %v", SQLTimeout, err)
	default:
		// The statement's own error (a typo, a missing table) is the
		// operator's to read, not a fault of serve.
		return errkind.Mark(errkind.Invalid, err)
	}
	log.WithField("rows", len(res.Rows)).Info("admin sql statement run")
	s.reply.JSON(w, http.StatusOK, res)
	return nil
}
