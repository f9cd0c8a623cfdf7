package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/store"
)

// AdminSQL runs a statement through POST /admin/sql of the serve that holds
// the store (at JIRADUCK_LISTEN, with JIRADUCK_ADMIN_TOKEN): the way the sql
// command reaches a store another process holds. Numbers come back as int64
// when they are whole, float64 otherwise; a statement of a refused kind is
// store.ErrRefused.
func AdminSQL(ctx context.Context, cfg *config.Config, query string) (*store.Result, error) {
	if !cfg.AdminToken.IsSet() {
		return nil, fmt.Errorf("%s is held by a running jiraduck serve; set JIRADUCK_ADMIN_TOKEN (the same as the server's) to run SQL through its admin API", StorePath(cfg))
	}
	body, _ := json.Marshal(map[string]string{"sql": query})
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+dialAddr(cfg.Listen)+"/admin/sql", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+cfg.AdminToken.Reveal())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("the database is held by another process and its admin API at %s does not answer: %w", cfg.Listen, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(raw, &e)
		if e.Error == "" {
			e.Error = http.StatusText(resp.StatusCode)
		}
		if resp.StatusCode == http.StatusForbidden {
			// The server refused the statement's kind; its message says
			// which (it starts with store.ErrRefused's text).
			return nil, fmt.Errorf("admin api: %w%s", store.ErrRefused, strings.TrimPrefix(e.Error, store.ErrRefused.Error()))
		}
		return nil, fmt.Errorf("admin api: %s", e.Error)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var res store.Result
	if err := dec.Decode(&res); err != nil {
		return nil, fmt.Errorf("admin api: %w", err)
	}
	for _, row := range res.Rows {
		for i, v := range row {
			if n, ok := v.(json.Number); ok {
				if iv, err := n.Int64(); err == nil {
					row[i] = iv
				} else if fv, err := n.Float64(); err == nil {
					row[i] = fv
				}
			}
		}
	}
	return &res, nil
}

// dialAddr turns a listen address into one a client can dial: a wildcard
// host becomes loopback.
func dialAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
