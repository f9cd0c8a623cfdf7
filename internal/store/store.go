// Package store is jiraduck's canonical DuckDB database: opening it with the
// settings that matter, migrations, transactions and every query on it. It is
// the only package that imports the DuckDB driver.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/jiraduck/jiraduck/internal/files"
	"github.com/jiraduck/jiraduck/internal/logx"
	"github.com/sirupsen/logrus"
)

// FileName is the canonical store's name inside the data directory.
const FileName = "jiraduck.duckdb"

// ErrLocked means another process holds the database file open.
var ErrLocked = errors.New("the database file is held by another process (is jiraduck serve running?)")

// Options tune Open.
type Options struct {
	// ReadOnly opens the file without write access.
	ReadOnly bool
	// Logger receives lifecycle messages; nil discards them.
	Logger logrus.FieldLogger
	// MemoryLimit caps DuckDB's buffer pool ("512MB"); empty leaves DuckDB's
	// default, 80% of the machine's memory. The process uses more than this:
	// indexes, query state and Go's own heap are outside it.
	MemoryLimit string
	// ReleaseMemory returns what DuckDB frees to the system at once. DuckDB
	// allocates with its own jemalloc, which keeps freed pages for about a
	// second for reuse: under a bulk edit that was a good part of serve's
	// peak, which this removes for some CPU (see docs/configuration.md).
	ReleaseMemory bool
	// AllowedDirs are directories besides the store's own where DuckDB may
	// read and write files: the folder of a snapshot written elsewhere.
	AllowedDirs []string
	// CheckpointThreshold is the size of the write-ahead log at which DuckDB
	// checkpoints on its own (default 1GB, see dsnSettings).
	CheckpointThreshold string
}

// Column is a column name and its DuckDB type.
type Column struct {
	Name string
	Type string
}

// Store is an open canonical database.
type Store struct {
	db   *sql.DB
	path string
	log  logrus.FieldLogger
	// gen numbers dirty-partition marks; seeded from the table at Migrate.
	gen atomic.Int64
	// isolated admits one RunIsolated at a time: DuckDB's threads are
	// shared by every query of the process, and operators' statements
	// running side by side took them all from the writer and the exporter.
	isolated chan struct{}
	// shared says another handle of this process had the file open when
	// this one was opened: the file must then not be replaced (Compact).
	shared bool
}

// dsnSettings are fixed for every connection of the process. DuckDB refuses a
// second sql.Open of the same file with another configuration, so there is one
// place that builds it. Extensions cannot be downloaded here and an autoload
// attempt stalls, so both are off; checkpoints are moved off the write path by a
// high threshold (Options.CheckpointThreshold) and run explicitly at quiet
// moments and at Close.
const dsnSettings = "autoinstall_known_extensions=false&autoload_known_extensions=false"

// defaultCheckpointThreshold is the write-ahead log's size at which DuckDB
// checkpoints on its own, unless Options say otherwise.
const defaultCheckpointThreshold = "1GB"

// Open opens (creating when needed) the DuckDB file at path. The directory is
// created with files.DirMode and the file gets files.FileMode: the analysts'
// sync group reads, only jiraduck writes. DuckDB creates the WAL and the
// .tmp folder itself, under the process umask (files.RestrictUmask).
// DuckDB's file access is confined to the file's directory and
// opts.AllowedDirs, with its configuration locked (confine).
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	log := opts.Logger
	if log == nil {
		log = logx.Discard()
	}
	if !opts.ReadOnly {
		if err := files.MkdirAll(filepath.Dir(path)); err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
	}
	threshold := opts.CheckpointThreshold
	if threshold == "" {
		threshold = defaultCheckpointThreshold
	}
	dsn := path + "?" + dsnSettings + "&checkpoint_threshold=" + url.QueryEscape(threshold)
	if opts.ReadOnly {
		dsn += "&access_mode=read_only"
	}
	if opts.MemoryLimit != "" {
		dsn += "&memory_limit=" + url.QueryEscape(opts.MemoryLimit)
	}
	if opts.ReleaseMemory {
		// A "bulk deallocation" past this threshold purges the allocator's
		// freed pages; at zero, every one does.
		dsn += "&allocator_bulk_deallocation_flush_threshold=0KB"
	}
	// No per-connection setup: the configuration is locked once the store
	// is confined, and TimeZone is set globally before that.
	connector, err := duckdb.NewConnector(dsn, nil)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, classify(err))
	}
	db := sql.OpenDB(connector)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, classify(err))
	}
	// A configuration already locked means another handle of this process
	// has the file open, and this one shares its DuckDB instance.
	var shared bool
	if err := db.QueryRowContext(ctx, "SELECT current_setting('lock_configuration')").Scan(&shared); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := confine(ctx, db, append([]string{filepath.Dir(path)}, opts.AllowedDirs...), nil); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if !opts.ReadOnly {
		_ = os.Chmod(path, files.FileMode)
	}
	s := &Store{db: db, path: path, log: log.WithField("component", "store"), isolated: make(chan struct{}, 1), shared: shared}
	return s, nil
}

// confine limits DuckDB's file access to dirs (and everything under them)
// and paths, then locks DuckDB's configuration so that no statement can
// widen that, turn it off, or change a setting the process relies on
// (memory_limit, threads, the extension repository): SET and RESET of any
// setting fail from then on, for every connection. ATTACH, COPY, read_text
// and the like fail outside dirs and paths; INSTALL and LOAD always fail.
// DuckDB adds its own temp directory (<store>.tmp) to the allowed ones.
// TimeZone, otherwise set per connection, is set globally first.
func confine(ctx context.Context, db *sql.DB, dirs, paths []string) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("confine: %w", err)
	}
	defer conn.Close()
	var locked bool
	if err := conn.QueryRowContext(ctx, "SELECT current_setting('lock_configuration')").Scan(&locked); err != nil {
		return fmt.Errorf("confine: %w", err)
	}
	if locked {
		// A second Open of the file in this process shares DuckDB's
		// instance, confined by the first.
		return nil
	}
	var stmts []string
	if list, err := sqlList(dirs, true); err != nil {
		return err
	} else if list != "" {
		stmts = append(stmts, "SET allowed_directories = "+list)
	}
	if list, err := sqlList(paths, false); err != nil {
		return err
	} else if list != "" {
		stmts = append(stmts, "SET allowed_paths = "+list)
	}
	// allowed_* cannot change once external access is off, and nothing can
	// once the configuration is locked: this order is the only one.
	stmts = append(stmts, "SET GLOBAL TimeZone = 'UTC'", "SET enable_external_access = false", "SET lock_configuration = true")
	for _, st := range stmts {
		if _, err := conn.ExecContext(ctx, st); err != nil {
			return fmt.Errorf("confine: %s: %w", st, err)
		}
	}
	return nil
}

// sqlList is a DuckDB list literal of absolute, cleaned paths; directories
// end with a separator, since DuckDB matches them as prefixes and /data
// would otherwise let /data2 through.
func sqlList(paths []string, dirs bool) (string, error) {
	var quoted []string
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", fmt.Errorf("confine: %w", err)
		}
		if dirs && !strings.HasSuffix(abs, string(filepath.Separator)) {
			abs += string(filepath.Separator)
		}
		quoted = append(quoted, Quote(abs))
	}
	if len(quoted) == 0 {
		return "", nil
	}
	return "[" + strings.Join(quoted, ", ") + "]", nil
}

// initConn runs on every new pooled connection: settings such as TimeZone are
// per connection in DuckDB, and the DSN does not accept them.
func initConn(execer driver.ExecerContext) error {
	_, err := execer.ExecContext(context.Background(), "SET TimeZone = 'UTC'", nil)
	return err
}

// classify maps driver errors that callers act on to sentinel errors.
func classify(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	// The third: another handle of this process holds the file with other
	// settings (serve's smaller pool, in the tests that run serve and a
	// command in one process); it is as busy as a file another process
	// locked.
	if strings.Contains(msg, "Could not set lock on file") || strings.Contains(msg, "Conflicting lock is held") ||
		strings.Contains(msg, "with a different configuration than existing connections") {
		return fmt.Errorf("%w: %v", ErrLocked, firstLine(msg))
	}
	return err
}

// ErrInvalidated means DuckDB has given up on the open database after a
// fatal error (such as running out of memory while rolling a transaction
// back): every statement fails from then on, and only closing the process's
// handle and opening the file again brings the store back.
var ErrInvalidated = errors.New("DuckDB invalidated the open store after a fatal error; it must be opened again (restart)")

// invalidatedMessage is what DuckDB says of every statement once it has
// invalidated a database.
const invalidatedMessage = "database has been invalidated"

// Invalidated reports whether err says the open store is invalidated.
func Invalidated(err error) bool {
	return err != nil && (errors.Is(err, ErrInvalidated) || strings.Contains(err.Error(), invalidatedMessage))
}

// Usable runs the cheapest statement there is and returns ErrInvalidated,
// with the fatal error DuckDB reported first, once the open store is beyond
// use. Any other error (a cancelled context, a busy pool) is returned as it
// is: it says nothing about the store's state.
func (s *Store) Usable(ctx context.Context) error {
	var one int
	err := s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
	if Invalidated(err) {
		return fmt.Errorf("%w: %s", ErrInvalidated, originalError(err.Error()))
	}
	return err
}

// originalError is the cause DuckDB quotes in an invalidation message
// ("Original error: ..."), on one line, or the message's first line.
func originalError(msg string) string {
	if _, cause, ok := strings.Cut(msg, "Original Error: "); ok {
		return firstLine(cause)
	}
	if _, cause, ok := strings.Cut(msg, "Original error: "); ok {
		return strings.Trim(firstLine(cause), `"`)
	}
	return firstLine(msg)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Path is the database file's path.
func (s *Store) Path() string { return s.path }

// DB gives packages that run their own SQL (export, snapshot) the handle.
func (s *Store) DB() *sql.DB { return s.db }

// Checkpoint writes the WAL into the main file.
func (s *Store) Checkpoint(ctx context.Context) error {
	// A transaction whose context was cancelled (a job stopped at
	// shutdown) is rolled back by database/sql in a goroutine of its own,
	// after the caller has already returned: DuckDB refuses a checkpoint
	// until that rollback is through, which takes moments.
	if err := checkpointOn(ctx, s.db, checkpointWait); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// checkpointOn runs CHECKPOINT on q, trying again for up to wait while
// DuckDB refuses it for another write transaction still open.
func checkpointOn(ctx context.Context, q Execer, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		_, err := q.ExecContext(ctx, "CHECKPOINT")
		if err == nil {
			return nil
		}
		if !strings.Contains(err.Error(), "other write transactions active") || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// checkpointWait bounds how long Checkpoint waits for other write
// transactions to end.
const checkpointWait = 5 * time.Second

// Close checkpoints (best effort) and closes the database; closing is what
// folds DuckDB's WAL into the file.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// Tx is a transaction on the store; the helpers that run inside one take it.
// A Tx of WithBulkTx or of the Writer holds the connection the transaction
// is open on, and the bulk writes of this package (InsertEvents, the inserts
// of ApplyBatch) go through DuckDB's appender there, which joins the
// transaction of its connection; a Tx of WithTx has none, and they bind
// every value as a parameter instead.
type Tx struct {
	*sql.Tx
	// conn is where the appender may join the transaction, nil when it
	// may not.
	conn *sql.Conn
}

// WithTx runs fn in one transaction, committing when fn returns nil and rolling
// back on error or panic. DuckDB silently discards a transaction whose statement
// failed even when Commit returns nil, so fn must return every Exec error; a
// conflict with a concurrent writer comes back as ErrConflict.
func (s *Store) WithTx(ctx context.Context, fn func(tx *Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	return finishTx(&Tx{Tx: tx}, fn)
}

// WithBulkTx is WithTx on a connection of its own, whose transaction DuckDB's
// appender joins: the bulk writes of this package append to the tables instead
// of binding every value as a parameter.
func (s *Store) WithBulkTx(ctx context.Context, fn func(tx *Tx) error) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connection: %w", err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	return finishTx(&Tx{Tx: tx, conn: conn}, fn)
}

// finishTx runs fn inside tx, then commits, or rolls back on error or panic.
func finishTx(tx *Tx, fn func(tx *Tx) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return conflict(err)
	}
	if err = tx.Commit(); err != nil {
		return conflict(fmt.Errorf("commit: %w", err))
	}
	return nil
}

// ErrConflict is DuckDB's optimistic write-write conflict; the loser must retry.
var ErrConflict = errors.New("write conflict")

func conflict(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if strings.Contains(msg, "Conflict on") || strings.Contains(msg, "conflict") && strings.Contains(msg, "Transaction") {
		return fmt.Errorf("%w: %v", ErrConflict, err)
	}
	return err
}

// EngineVersion is the embedded DuckDB's version, from an in-memory database.
func EngineVersion(ctx context.Context) (string, error) {
	connector, err := duckdb.NewConnector("?"+dsnSettings, nil)
	if err != nil {
		return "", err
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	var v string
	err = db.QueryRowContext(ctx, "SELECT version()").Scan(&v)
	return v, err
}
