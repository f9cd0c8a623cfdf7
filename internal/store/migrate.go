package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jiraduck/jiraduck/migrations"
)

// Migration is one numbered schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

var migrationName = regexp.MustCompile(`^([0-9]{4})_([a-z0-9_]+)\.sql$`)

// Migrations lists the embedded migrations in order.
func Migrations() ([]Migration, error) {
	return loadMigrations(migrations.FS)
}

func loadMigrations(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		v, _ := strconv.Atoi(m[1])
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", prev, e.Name(), v)
		}
		seen[v] = e.Name()
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: m[2], SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Migrate applies every pending migration, each in its own transaction, and
// returns the schema version and the versions it applied.
func (s *Store) Migrate(ctx context.Context) (version int, applied []int, err error) {
	all, err := Migrations()
	if err != nil {
		return 0, nil, fmt.Errorf("migrate: %w", err)
	}
	return s.migrate(ctx, all)
}

func (s *Store) migrate(ctx context.Context, all []Migration) (int, []int, error) {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       VARCHAR NOT NULL,
		applied_at TIMESTAMPTZ NOT NULL)`); err != nil {
		return 0, nil, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	current, err := s.SchemaVersion(ctx)
	if err != nil {
		return 0, nil, err
	}
	if len(all) > 0 && current > all[len(all)-1].Version {
		return current, nil, fmt.Errorf("migrate: the database is at version %d, newer than this binary knows (%d); upgrade jiraduck", current, all[len(all)-1].Version)
	}
	// Every migration not recorded is applied, in order, not only those
	// above the highest recorded: numbers are handed out to changes made
	// side by side, so a binary may know 0005 before 0004 exists, and a
	// store it migrated must still get 0004 from the binary that brings it.
	done, err := Collect(ctx, s.db, `SELECT version FROM schema_migrations`, scanOne[int])
	if err != nil {
		return current, nil, fmt.Errorf("migrate: read applied versions: %w", err)
	}
	var applied []int
	for _, m := range all {
		if slices.Contains(done, m.Version) {
			continue
		}
		steps, err := migrationSteps(m.SQL)
		if err != nil {
			return current, applied, fmt.Errorf("migrate: %04d_%s: %w", m.Version, m.Name, err)
		}
		s.log.WithField("version", m.Version).WithField("name", m.Name).Info("applying migration")
		start := time.Now()
		err = s.WithTx(ctx, func(tx *Tx) error {
			for _, st := range steps {
				if err := st.run(ctx, tx); err != nil {
					return err
				}
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.Version, m.Name, time.Now().UTC())
			return err
		})
		if err != nil {
			return current, applied, &MigrationError{Version: m.Version, Name: m.Name, Before: current, Err: err}
		}
		s.log.WithField("version", m.Version).WithField("name", m.Name).WithField("duration_ms", time.Since(start).Milliseconds()).
			Info("migration applied")
		current = max(current, m.Version)
		applied = append(applied, m.Version)
	}
	if err := s.seedGeneration(ctx); err != nil {
		return current, applied, err
	}
	return current, applied, nil
}

// MigrationError is a migration that failed. Its transaction was rolled
// back: the store is as it was, at version Before.
type MigrationError struct {
	Version int
	Name    string
	Before  int
	Err     error
}

// Error is one line: what failed, that nothing changed, and what to do.
func (e *MigrationError) Error() string {
	msg := e.Err.Error()
	var todo string
	switch {
	case OutOfMemory(e.Err):
		todo = "DuckDB ran out of memory: with serve stopped, run jiraduck migrate with JIRADUCK_DUCKDB_MEMORY_LIMIT raised (such as 1GB), then start serve again"
	case strings.Contains(msg, "No space left"):
		todo = "the disk is full: free space beside the store (DuckDB writes what does not fit in memory to " + FileName + ".tmp), then start again"
	default:
		todo = "start the previous release on it, or report this error"
	}
	return fmt.Sprintf("migrate: apply %04d_%s: %s; rolled back, the store stays at version %d: %s", e.Version, e.Name, firstLine(msg), e.Before, todo)
}

func (e *MigrationError) Unwrap() error { return e.Err }

// seedGeneration continues the dirty-mark numbering where the file left it.
func (s *Store) seedGeneration(ctx context.Context) error {
	var exists bool
	if err := s.db.QueryRowContext(ctx,
		`SELECT count(*) > 0 FROM duckdb_tables() WHERE table_name = 'dirty_partitions' AND schema_name = 'main'`).Scan(&exists); err != nil || !exists {
		return err
	}
	var g sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT max(generation) FROM dirty_partitions`).Scan(&g); err != nil {
		return fmt.Errorf("seed dirty generation: %w", err)
	}
	if g.Int64 > s.gen.Load() {
		s.gen.Store(g.Int64)
	}
	return nil
}

// PendingMigrations lists the versions of the embedded migrations the store
// has not applied.
func (s *Store) PendingMigrations(ctx context.Context) ([]int, error) {
	all, err := Migrations()
	if err != nil {
		return nil, fmt.Errorf("pending migrations: %w", err)
	}
	var exists bool
	if err := s.db.QueryRowContext(ctx,
		`SELECT count(*) > 0 FROM duckdb_tables() WHERE table_name = 'schema_migrations' AND schema_name = 'main'`).Scan(&exists); err != nil {
		return nil, fmt.Errorf("pending migrations: %w", err)
	}
	var done []int
	if exists {
		if done, err = Collect(ctx, s.db, `SELECT version FROM schema_migrations`, scanOne[int]); err != nil {
			return nil, fmt.Errorf("pending migrations: %w", err)
		}
	}
	var pending []int
	for _, m := range all {
		if !slices.Contains(done, m.Version) {
			pending = append(pending, m.Version)
		}
	}
	return pending, nil
}

// SchemaVersion is the highest applied migration, 0 for a new database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var exists bool
	if err := s.db.QueryRowContext(ctx,
		`SELECT count(*) > 0 FROM duckdb_tables() WHERE table_name = 'schema_migrations' AND schema_name = 'main'`).Scan(&exists); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return int(v.Int64), nil
}

// EnsureIssueColumns adds promoted columns (JIRA_FIELD_MAP, extra SLA metrics)
// to issues when they are missing. It only adds: the columns of a setting
// removed since are dropped by DropIssueColumns when the recorded promoted
// set is applied (see AppliedIssueColumns).
func (s *Store) EnsureIssueColumns(ctx context.Context, cols []Column) error {
	for _, c := range cols {
		if !columnName.MatchString(c.Name) {
			return fmt.Errorf("ensure column %q: not a valid column name", c.Name)
		}
		if _, err := s.db.ExecContext(ctx, fmt.Sprintf(`ALTER TABLE issues ADD COLUMN IF NOT EXISTS %s %s`, c.Name, c.Type)); err != nil {
			return fmt.Errorf("ensure column %s: %w", c.Name, err)
		}
	}
	return nil
}

var columnName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
