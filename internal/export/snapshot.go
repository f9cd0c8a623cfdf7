package export

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jiraduck/jiraduck/internal/dimensions"
	"github.com/jiraduck/jiraduck/internal/files"
	"github.com/jiraduck/jiraduck/internal/normalize"
	"github.com/jiraduck/jiraduck/internal/store"
)

// SnapshotPath is where the analysts' snapshot lives by default.
func SnapshotPath(dataDir string) string { return filepath.Join(dataDir, "snapshot", "jira.duckdb") }

// tableDescriptions label the tables in a snapshot's _meta.
var tableDescriptions = map[string]string{
	"issues":       "one row per issue: fields, people, dates, counts, SLA summary, promoted custom fields",
	"comments":     "every comment, body as text",
	"attachments":  "every attachment; local_path is relative to the server's data directory",
	"changelog":    "every changed field of every history entry",
	"issuelinks":   "links between issues, one row per end",
	"remote_links": "links from issues to outside resources",
	"sla":          "Jira Service Management SLA cycles, ongoing and completed",
	"issue_fields": "every non-empty custom field, by id, with its current name",
	"worklogs":     "time logged on issues, comment as text",
	"inline_media": "images and files shown in descriptions and comments, linked to their attachments",

	"issue_sprints":       "the Jira Software sprints each issue is or was in, from its sprint field",
	"issue_organizations": "the Jira Service Management customer organizations each request is shared with",
	// The dimension tables.
	"projects":         "every project, archived ones too: type, team-managed or not, category, lead",
	"users":            "every account of the site and every account issues refer to; email where Jira shows it",
	"versions":         "every version (release) of every project: released, archived, dates",
	"components":       "every component of every project, with its lead and default assignee",
	"statuses":         "every workflow status with its category; scope for team-managed projects' own",
	"priorities":       "every priority",
	"issue_types":      "every issue type: sub-task or not, hierarchy level, scope for team-managed projects' own",
	"resolutions":      "every resolution",
	"issue_link_types": "every issue link type with its inward and outward wording",
	"fields":           "every system and custom field, by id, with its type",
	"boards":           "every Jira Software board: scrum or kanban, its project",
	"sprints":          "every sprint of the scrum boards, and of deleted boards still on tickets: state, start, end, completion, goal",
	"service_desks":    "every Jira Service Management service desk and its project",
	"request_types":    "every request type of every service desk",
	"organizations":    "every Jira Service Management customer organization",
}

// SnapshotResult describes a written snapshot.
type SnapshotResult struct {
	Path  string
	Rows  map[string]int64
	Bytes int64
	Took  time.Duration
}

// Snapshot writes a self-contained DuckDB file for analysts: every analyst
// table, a view jira_<table> over each (with the month column the Parquet
// layout has), and a _meta table (table_name, description, rows, size_bytes,
// extracted_at, query_mode). All tables are copied in one read transaction, so
// the copy is consistent while writers go on; the file is built next to its
// destination and renamed into place, so a reader opens the old snapshot or
// the new one, never a half-written one.
func Snapshot(ctx context.Context, s *store.Store, out string) (*SnapshotResult, error) {
	return SnapshotTo(ctx, s, out, SnapshotOptions{Replace: true})
}

// SnapshotStorageVersion is the DuckDB storage format of the snapshot: files
// in it open in every DuckDB from 1.0 on, whichever DuckDB jiraduck embeds.
const SnapshotStorageVersion = "v1.0.0"

// SnapshotOptions tune SnapshotTo.
type SnapshotOptions struct {
	// Replace lets the snapshot replace an existing file at out; without
	// it, a file found there (even one that appears while the snapshot is
	// written) fails the snapshot and is left as it is.
	Replace bool
	// Site is the site's name the views' site column holds.
	Site string
}

// ErrExists means the snapshot's target exists and may not be replaced.
var ErrExists = errors.New("the target exists")

// SnapshotTo is Snapshot with options. It never writes over the store or
// its write-ahead log, whatever the options say.
func SnapshotTo(ctx context.Context, s *store.Store, out string, opts SnapshotOptions) (*SnapshotResult, error) {
	start := time.Now()
	if err := checkNotStore(s, out); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	if _, err := os.Stat(out); err == nil && !opts.Replace {
		return nil, fmt.Errorf("snapshot: %s: %w", out, ErrExists)
	}
	if err := s.CheckRebuild(ctx); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	if err := files.MkdirAll(filepath.Dir(out)); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	// A snapshot interrupted by a crash left its staging database (as large
	// as the store) next to out; one snapshot of a data dir runs at a time
	// (the store's lock, the scheduler's skip-if-running), so it goes now.
	if old, err := filepath.Glob(filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".*.tmp*")); err == nil {
		for _, p := range old {
			_ = os.Remove(p)
		}
	}
	staging := filepath.Join(filepath.Dir(out), fmt.Sprintf(".%s.%s.tmp", filepath.Base(out), randomSuffix()))
	defer os.Remove(staging)
	defer os.Remove(staging + ".wal")
	conn, err := s.DB().Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	defer conn.Close()
	var home string
	if err := conn.QueryRowContext(ctx, "SELECT current_database()").Scan(&home); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	home = `"` + strings.ReplaceAll(home, `"`, `""`) + `"`
	alias := "snap_" + randomSuffix()
	// The snapshot travels to analysts' laptops, whose DuckDB may be older
	// than the one writing it: a file in a newer storage format is refused
	// outright by an older reader ("created with a newer version of
	// DuckDB"). So the snapshot names its format instead of taking the
	// writer's default.
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("ATTACH %s AS %s (STORAGE_VERSION %s)", store.Quote(staging), alias, store.Quote(SnapshotStorageVersion))); err != nil {
		return nil, fmt.Errorf("snapshot: attach: %w", err)
	}
	attached := true
	defer func() {
		if attached {
			_, _ = conn.ExecContext(context.Background(), "DETACH "+alias)
		}
	}()
	res := &SnapshotResult{Path: out, Rows: map[string]int64{}}
	extracted := time.Now().UTC()
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	rollback := func(err error) (*SnapshotResult, error) {
		_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	for _, t := range normalize.Tables {
		// The columns of the Parquet files: the store keeps a few of its own
		// (issuelinks.linked_issue_id).
		cols := "*"
		if t != "issues" {
			cols = strings.Join(store.TableColumns(t), ", ")
		}
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("CREATE TABLE %s.%s AS SELECT %s FROM main.%s", alias, t, cols, t)); err != nil {
			return rollback(fmt.Errorf("copy %s: %w", t, err))
		}
		var n int64
		if err := conn.QueryRowContext(ctx, fmt.Sprintf("SELECT count(*) FROM %s.%s", alias, t)).Scan(&n); err != nil {
			return rollback(err)
		}
		res.Rows[t] = n
	}
	dims, err := snapshotDimensions(ctx, conn)
	if err != nil {
		return rollback(err)
	}
	for _, t := range dims {
		// The store's dim_<table> becomes <table>, as analysts name it.
		cols := strings.Join(dimensions.StoreTable(t).QuotedColumns(), ", ")
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("CREATE TABLE %s.%s AS SELECT %s FROM main.%s", alias, t.Table, cols,
			store.DimensionTableName(t.Table))); err != nil {
			return rollback(fmt.Errorf("copy %s: %w", t.Table, err))
		}
		var n int64
		if err := conn.QueryRowContext(ctx, fmt.Sprintf("SELECT count(*) FROM %s.%s", alias, t.Table)).Scan(&n); err != nil {
			return rollback(err)
		}
		res.Rows[t.Table] = n
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`CREATE TABLE %s._meta (table_name VARCHAR, description VARCHAR, rows BIGINT,
		size_bytes BIGINT, extracted_at TIMESTAMPTZ, query_mode VARCHAR)`, alias)); err != nil {
		return rollback(err)
	}
	sizes := map[string]int64{}
	err = store.RunQuery(ctx, conn, `SELECT table_name, sum(bytes) FROM main.partitions GROUP BY table_name`, func(rows *sql.Rows) error {
		var t string
		var n int64
		if err := rows.Scan(&t, &n); err != nil {
			return err
		}
		sizes[t] = n
		return nil
	})
	if err != nil {
		return rollback(err)
	}
	for _, t := range append(slices.Clone(normalize.Tables), dimensions.Tables(dims)...) {
		if _, err := conn.ExecContext(ctx, fmt.Sprintf(`INSERT INTO %s._meta VALUES (?, ?, ?, ?, ?, 'snapshot')`, alias),
			t, tableDescriptions[t], res.Rows[t], sizes[t], extracted); err != nil {
			return rollback(err)
		}
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return rollback(err)
	}
	// Views are created inside the snapshot's own catalog so they resolve
	// there when the file is opened alone.
	if _, err := conn.ExecContext(ctx, "USE "+alias); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	views, err := snapshotViews(dimensions.Tables(dims), opts.Site)
	if err != nil {
		_, _ = conn.ExecContext(context.Background(), "USE "+home)
		return nil, fmt.Errorf("snapshot: view: %w", err)
	}
	for _, st := range views {
		if _, err := conn.ExecContext(ctx, st); err != nil {
			_, _ = conn.ExecContext(context.Background(), "USE "+home)
			return nil, fmt.Errorf("snapshot: view: %w", err)
		}
	}
	if _, err := conn.ExecContext(ctx, "USE "+home); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "DETACH "+alias); err != nil {
		return nil, fmt.Errorf("snapshot: detach: %w", err)
	}
	attached = false
	if opts.Replace {
		if err := files.Publish(staging, out); err != nil {
			return nil, fmt.Errorf("snapshot: %w", err)
		}
	} else if err := files.PublishNew(staging, out); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("snapshot: %s: %w", out, ErrExists)
		}
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	if st, err := os.Stat(out); err == nil {
		res.Bytes = st.Size()
	}
	res.Took = time.Since(start)
	return res, nil
}

// snapshotDimensions lists the dimension tables the store holds: those
// made for this version's sources.
func snapshotDimensions(ctx context.Context, conn *sql.Conn) ([]dimensions.Source, error) {
	var out []dimensions.Source
	for _, src := range dimensions.Sources() {
		var exists bool
		if err := conn.QueryRowContext(ctx, `SELECT count(*) > 0 FROM duckdb_tables() WHERE database_name = current_database()
			AND schema_name = 'main' AND table_name = ?`, store.DimensionTableName(src.Table)).Scan(&exists); err != nil {
			return nil, err
		}
		if exists {
			out = append(out, src)
		}
	}
	return out, nil
}

// checkNotStore refuses a snapshot target that is the store or its WAL,
// however it is spelt: writing there destroyed the store.
func checkNotStore(s *store.Store, out string) error {
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	st, statErr := os.Stat(abs)
	for _, p := range []string{s.Path(), s.Path() + ".wal"} {
		pa, err := filepath.Abs(p)
		if err != nil {
			return err
		}
		if pa == abs {
			return fmt.Errorf("%s is the store's own file; refused", out)
		}
		if statErr == nil {
			if pst, err := os.Stat(pa); err == nil && os.SameFile(st, pst) {
				return fmt.Errorf("%s is the store's own file; refused", out)
			}
		}
	}
	return nil
}

// snapshotViews are the analyst views over a snapshot's own tables, with the
// month column of the Parquet layout (the UTC month of the created)
// and the site column of the bucket's, the dimension tables' views with the
// site column, then the derived views, which read those.
func snapshotViews(dims []string, site string) ([]string, error) {
	var out []string
	lit := siteLiteral(site)
	for _, t := range dims {
		out = append(out, fmt.Sprintf("CREATE OR REPLACE VIEW jira_%s AS SELECT *, %s AS site FROM %s", t, lit, t))
	}
	for _, t := range normalize.Tables {
		var q string
		if t == "issues" {
			q = "SELECT *, strftime(created_at AT TIME ZONE 'UTC', '%Y-%m') AS month, " + lit + " AS site FROM issues"
		} else {
			q = fmt.Sprintf("SELECT t.*, strftime(i.created_at AT TIME ZONE 'UTC', '%%Y-%%m') AS month, %s AS site FROM %s t JOIN issues i USING (issue_key)", lit, t)
		}
		out = append(out, fmt.Sprintf("CREATE OR REPLACE VIEW jira_%s AS %s", t, q))
	}
	derived, err := DerivedViews()
	if err != nil {
		return nil, err
	}
	for _, v := range derived {
		out = append(out, v.SQL)
	}
	return out, nil
}
