package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/export"
	"github.com/jiraduck/jiraduck/internal/jobs"
	"github.com/jiraduck/jiraduck/internal/normalize"
	"github.com/jiraduck/jiraduck/internal/pipeline"
	"github.com/jiraduck/jiraduck/internal/store"
	"github.com/sirupsen/logrus"
)

// ExportIssueColumns orders the issues columns of the files as the design
// lists them: fixed columns, SLA metrics, promoted fields, synced_at. A
// column whose setting was removed is in none of them: every partition of a
// table has the same columns in the same order (AlignIssueColumns rewrites
// them all when the settings change).
func ExportIssueColumns(cfg *config.Config) []string {
	var promoted []string
	for _, f := range cfg.FieldMap {
		promoted = append(promoted, f.Name)
	}
	return store.IssueColumns(cfg.SLANames(), promoted)
}

// issueColumnsRecord describes what the settings make of the issues rows:
// the columns they add, in order and with their types, and the field each
// reads. Two settings with the same description derive the same rows. It
// also lists the columns of every analyst table as this release exports
// them: a release that adds columns (or a table) changes the description
// too, so a store upgraded to it derives its tables again from the stored
// payloads and rewrites every partition once, as a settings change does.
// Otherwise the new columns would stay NULL for every issue not fetched
// again, and only the months written since would carry them.
func issueColumnsRecord(cfg *config.Config) string {
	type pair [2]string
	rec := struct {
		Columns   []pair              `json:"columns"`
		FieldMap  []pair              `json:"field_map"`
		SLAFields []pair              `json:"sla_fields"`
		Tables    map[string][]string `json:"tables"`
		// StoryPoints is JIRA_STORY_POINTS_FIELD; unset, the field is
		// found by name, which the record cannot follow, like SLA fields.
		StoryPoints string `json:"story_points,omitempty"`
	}{StoryPoints: cfg.StoryPointsField, Columns: []pair{}, FieldMap: []pair{}, SLAFields: []pair{}, Tables: map[string][]string{}}
	for _, t := range normalize.Tables {
		if t == "issues" {
			rec.Tables[t] = ExportIssueColumns(cfg)
			continue
		}
		rec.Tables[t] = store.TableColumns(t)
	}
	for _, c := range PromotedColumns(cfg) {
		rec.Columns = append(rec.Columns, pair{c.Name, c.Type})
	}
	for _, f := range cfg.FieldMap {
		rec.FieldMap = append(rec.FieldMap, pair{f.ID, f.Name})
	}
	// Unset, the SLA fields are discovered from Jira's field list, which
	// the record cannot follow; set, they decide which fields fill the sla
	// table and the flat columns.
	for _, f := range cfg.SLAFields {
		rec.SLAFields = append(rec.SLAFields, pair{f.ID, f.Name})
	}
	b, _ := json.Marshal(rec)
	return string(b)
}

// AlignIssueColumns makes the stored rows and the published partitions
// follow the settings' issue columns before anything is published. When
// JIRA_FIELD_MAP or JIRA_SLA_FIELDS changed since the rows were derived, or
// the release brings columns the stored rows were derived without,
// only the months rewritten afterwards would get the new columns (and only
// refetched issues their values): a glob over the partitions then fails in
// Polars, and in DuckDB without union_by_name, and pyarrow drops the column.
// So the columns of removed settings leave the table, every table is derived
// again from the stored payloads (no Jira call) and every partition is
// marked for export: the issues partitions go first. The new settings are
// recorded only once that is done, so an interrupted pass runs again at the
// next start.
func AlignIssueColumns(ctx context.Context, cfg *config.Config, log logrus.FieldLogger, s *store.Store, w *store.Writer) error {
	return alignIssueColumns(ctx, cfg, log, s, w, nil)
}

// alignIssueColumns is AlignIssueColumns, calling deriving (when set) before
// it derives the tables again.
func alignIssueColumns(ctx context.Context, cfg *config.Config, log logrus.FieldLogger, s *store.Store, w *store.Writer, deriving func()) error {
	want := issueColumnsRecord(cfg)
	have, ok, err := s.AppliedIssueColumns(ctx)
	if err != nil {
		return err
	}
	if ok && have == want {
		return nil
	}
	var keep []string
	for _, c := range PromotedColumns(cfg) {
		keep = append(keep, c.Name)
	}
	dropped, err := s.DropIssueColumns(ctx, keep)
	if err != nil {
		return err
	}
	held, err := s.HoldsIssues(ctx)
	if err != nil {
		return err
	}
	if !held {
		return s.RecordIssueColumns(ctx, want)
	}
	if deriving != nil {
		deriving()
	}
	start := time.Now()
	log = log.WithField("component", "issue-columns")
	log.WithField("dropped", dropped).Info("analyst columns changed (JIRA_FIELD_MAP, JIRA_SLA_FIELDS or a release that adds columns): " +
		"deriving every table again from the stored payloads and rewriting every partition")
	catalog := pipeline.NewCatalog(cfg)
	if err := catalog.Load(ctx, s); err != nil {
		return err
	}
	id, err := s.StartRun(ctx, "rebuild", map[string]any{store.IssueColumnsArg: want, "reason": "issue columns changed"})
	if err != nil {
		return err
	}
	res, runErr := jobs.Rebuild(ctx, s, w, catalog.Options(), jobs.RebuildOptions{
		DataDir: cfg.DataDir, AttachmentMaxBytes: cfg.AttachmentMaxBytes, RunID: id})
	if runErr == nil {
		runErr = export.MarkAll(ctx, s, w, nil, nil)
	}
	status := store.RunOK
	switch {
	case errors.Is(runErr, context.Canceled):
		status = store.RunInterrupted
	case runErr != nil:
		status = store.RunFailed
	}
	counts := map[string]int{"issues": res.Issues, "skipped": res.Skipped, "superseded": res.Superseded}
	if err := s.FinishRun(context.Background(), id, status, counts, runErr); err != nil {
		return errors.Join(runErr, err)
	}
	for _, msg := range res.Errors {
		log.WithField("error", msg).Warn("stored payload skipped")
	}
	if runErr != nil {
		return fmt.Errorf("issue columns changed; deriving the tables again from the stored payloads: %w", runErr)
	}
	log.WithFields(logrus.Fields{"issues": res.Issues, "skipped": res.Skipped, "duration_ms": time.Since(start).Milliseconds()}).
		Info("tables derived again for the new issue columns; every partition is marked for export")
	return nil
}
