package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

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
func (s *Server) adminSQL(w http.ResponseWriter, r *http.Request) {
	var body struct {
		SQL string `json:"sql"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil || strings.TrimSpace(body.SQL) == "" {
		writeJSON(w, http.StatusBadRequest, errBody("body must be {\"sql\": \"...\"}"))
		return
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
		writeJSON(w, http.StatusForbidden, errBody(err.Error()))
		return
	case errors.Is(err, store.ErrTooLarge):
		log.WithError(err).Warn("admin sql answer over its cap")
		writeJSON(w, http.StatusUnprocessableEntity, errBody(fmt.Sprintf("%v (JIRADUCK_ADMIN_SQL_MAX_BYTES=%d)", err, s.d.Config.AdminSQLMaxBytes)))
		return
	case ctx.Err() != nil:
		writeJSON(w, http.StatusGatewayTimeout, errBody("statement timed out after "+SQLTimeout.String()+": "+err.Error()))
		return
	default:
		writeJSON(w, http.StatusBadRequest, errBody(err.Error()))
		return
	}
	log.WithField("rows", len(res.Rows)).Info("admin sql statement run")
	writeJSON(w, http.StatusOK, res)
}
