package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"
)

// SQLTimeout bounds one admin statement.
const SQLTimeout = 60 * time.Second

// maxSQLRows bounds the rows an admin statement returns.
const maxSQLRows = 10000

// adminSQL runs maintenance SQL: POST {"sql": "..."}. The statement is never
// logged: it may carry data an operator pasted in.
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
	res, err := s.d.Store.RunSQL(ctx, body.SQL, maxSQLRows)
	if err != nil {
		if ctx.Err() != nil {
			writeJSON(w, http.StatusGatewayTimeout, errBody("statement timed out after "+SQLTimeout.String()))
			return
		}
		writeJSON(w, http.StatusBadRequest, errBody(err.Error()))
		return
	}
	s.log.WithField("duration_ms", time.Since(start).Milliseconds()).WithField("rows", len(res.Rows)).Info("admin sql statement run")
	writeJSON(w, http.StatusOK, res)
}
