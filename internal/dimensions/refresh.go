package dimensions

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jiraduck/jiraduck/internal/jira"
	"github.com/jiraduck/jiraduck/internal/jira/client"
	"github.com/jiraduck/jiraduck/internal/logx"
	"github.com/jiraduck/jiraduck/internal/store"
	"github.com/sirupsen/logrus"
)

// Deps are what refreshing the dimension tables needs. Client may be nil
// for Rederive, which never calls Jira.
type Deps struct {
	Client *client.Client
	Store  *store.Store
	Writer *store.Writer
	Logger logrus.FieldLogger
	// Notify, if set, is called after a refresh changed a table: serve's
	// exporter then writes its file at once.
	Notify func()
}

// Refresher keeps the dimension tables of its sources: it fetches them
// from Jira (Refresh) or derives them again from the stored objects
// (Rederive), one table at a time per table, so that an older answer of
// Jira is never written over a newer one.
type Refresher struct {
	d       Deps
	log     logrus.FieldLogger
	sources []Source
	locks   map[string]*sync.Mutex
}

// NewRefresher builds a refresher of sources (Sources() when nil).
func NewRefresher(d Deps, sources []Source) *Refresher {
	if sources == nil {
		sources = Sources()
	}
	log := d.Logger
	if log == nil {
		log = logx.Discard()
	}
	r := &Refresher{d: d, log: log.WithField("component", "dimensions"), sources: sources, locks: map[string]*sync.Mutex{}}
	for _, s := range sources {
		r.locks[s.Table] = &sync.Mutex{}
	}
	return r
}

// Sources lists the refresher's sources.
func (r *Refresher) Sources() []Source { return r.sources }

// StoreTable is how the store makes a source's table.
func StoreTable(s Source) store.DimensionTable {
	cols := make([]store.Column, len(s.Columns))
	for i, c := range s.Columns {
		cols[i] = store.Column{Name: c.Name, Type: c.Type}
	}
	return store.DimensionTable{Name: s.Table, Columns: cols, Key: s.Key}
}

// StoreTables is StoreTable of every source.
func StoreTables(sources []Source) []store.DimensionTable {
	out := make([]store.DimensionTable, len(sources))
	for i, s := range sources {
		out[i] = StoreTable(s)
	}
	return out
}

// Ensure makes the store's table of every source, and derives again from
// the stored objects those it had to make anew (a source whose columns
// changed): their files are then written again with the new columns.
func (r *Refresher) Ensure(ctx context.Context) error {
	made, err := r.d.Store.EnsureDimensionTables(ctx, StoreTables(r.sources))
	if err != nil {
		return err
	}
	if len(made) == 0 {
		return nil
	}
	r.log.WithField("tables", strings.Join(made, ",")).Info("dimension tables made from their columns; deriving them from the stored objects")
	_, err = r.Rederive(ctx, made...)
	return err
}

// Table outcomes of a refresh.
const (
	OutcomeChanged   = "changed"
	OutcomeUnchanged = "unchanged"
	OutcomeSkipped   = "skipped"
	OutcomeFailed    = "failed"
)

// TableResult is what a refresh did to one table.
type TableResult struct {
	Table   string
	Outcome string
	Rows    int
	// Resolved counts the objects looked up by id (References) beyond
	// what Fetch listed; Unresolved the referenced ids Jira did not know.
	Resolved, Unresolved int
	// Unreadable counts objects whose row could not be derived: they are
	// kept as objects, not as rows.
	Unreadable int
	Note       string
	Err        error
}

// Result is what a refresh did to every table it was asked for.
type Result struct {
	Tables []TableResult
}

// Counts are the result as sync_runs stores it.
func (res Result) Counts() map[string]int {
	c := map[string]int{"tables": len(res.Tables), "changed": 0, "unchanged": 0, "skipped": 0, "failed": 0, "rows": 0}
	for _, t := range res.Tables {
		c[t.Outcome]++
		c["rows"] += t.Rows
		if t.Resolved > 0 {
			c["resolved"] += t.Resolved
		}
		if t.Unresolved > 0 {
			c["unresolved"] += t.Unresolved
		}
		if t.Unreadable > 0 {
			c["unreadable"] += t.Unreadable
		}
	}
	return c
}

// Err joins the failures of the tables that failed.
func (res Result) Err() error {
	var errs []error
	for _, t := range res.Tables {
		if t.Err != nil {
			errs = append(errs, t.Err)
		}
	}
	return errors.Join(errs...)
}

// pick returns the sources of the given tables, all when none; an unknown
// table is an error.
func (r *Refresher) pick(tables []string) ([]Source, error) {
	if len(tables) == 0 {
		return r.sources, nil
	}
	var out []Source
	for _, s := range r.sources {
		if slices.Contains(tables, s.Table) {
			out = append(out, s)
		}
	}
	for _, t := range tables {
		if !slices.ContainsFunc(out, func(s Source) bool { return s.Table == t }) {
			return nil, fmt.Errorf("unknown dimension table %q (known: %s)", t, strings.Join(Tables(r.sources), ", "))
		}
	}
	return out, nil
}

// Tables lists the names of sources.
func Tables(sources []Source) []string {
	out := make([]string, len(sources))
	for i, s := range sources {
		out[i] = s.Table
	}
	return out
}

// Refresh fetches the given tables (every one when none) from Jira, in
// source order, and stores each in one transaction. A table whose product
// answers 403 or 404 is skipped with one log line and a note; a table that
// fails otherwise keeps what is stored. The error joins the failures.
func (r *Refresher) Refresh(ctx context.Context, tables ...string) (Result, error) {
	var res Result
	if r.d.Client == nil {
		return res, errors.New("refresh dimension tables: jira is not configured")
	}
	sources, err := r.pick(tables)
	if err != nil {
		return res, err
	}
	for _, s := range sources {
		if err := ctx.Err(); err != nil {
			return res, errors.Join(res.Err(), err)
		}
		res.Tables = append(res.Tables, r.refreshOne(ctx, s))
	}
	return res, res.Err()
}

func (r *Refresher) refreshOne(ctx context.Context, s Source) TableResult {
	mu := r.locks[s.Table]
	mu.Lock()
	defer mu.Unlock()
	start := time.Now()
	log := r.log.WithField("table", s.Table)
	tr := TableResult{Table: s.Table}
	objects, err := s.Fetch(ctx, r.d.Client)
	if err == nil && s.Resolve != nil && len(s.References) > 0 {
		objects, tr.Resolved, tr.Unresolved, err = r.resolve(ctx, s, objects)
	}
	at := time.Now().UTC()
	if err != nil {
		if ctx.Err() != nil {
			tr.Outcome, tr.Err = OutcomeFailed, fmt.Errorf("refresh %s: %w", s.Table, err)
			return tr
		}
		if absent(err) {
			tr.Outcome, tr.Note = OutcomeSkipped, skipNote(s, err)
			log.WithField("reason", tr.Note).Info("dimension table skipped")
			if werr := r.record(ctx, s.Table, store.DimensionSkipped, tr.Note, at); werr != nil {
				tr.Outcome, tr.Err = OutcomeFailed, werr
			}
			return tr
		}
		tr.Outcome, tr.Err = OutcomeFailed, fmt.Errorf("refresh %s: %w", s.Table, err)
		tr.Note = "refresh failed; the stored table is kept: " + firstLine(err.Error())
		log.WithError(err).Error("dimension table refresh failed; the stored table is kept")
		if werr := r.record(ctx, s.Table, store.DimensionFailed, tr.Note, at); werr != nil {
			log.WithError(werr).Warn("could not record the failed refresh")
		}
		return tr
	}
	rows, unreadable, note := derive(s, objects)
	tr.Rows, tr.Unreadable, tr.Note = len(rows), unreadable, note
	if unreadable > 0 {
		log.WithField("objects", unreadable).WithField("first_error", note).Warn("objects whose row could not be derived are kept as objects only")
	}
	written, err := r.write(ctx, s, objects, rows, note, at, true, false)
	if err != nil {
		tr.Outcome, tr.Err = OutcomeFailed, fmt.Errorf("refresh %s: %w", s.Table, err)
		log.WithError(err).Error("dimension table not stored; the stored table is kept")
		return tr
	}
	tr.Outcome = OutcomeUnchanged
	if written.RowsChanged {
		tr.Outcome = OutcomeChanged
		if r.d.Notify != nil {
			r.d.Notify()
		}
	}
	log.WithFields(logrus.Fields{"rows": len(rows), "outcome": tr.Outcome, "resolved": tr.Resolved,
		"duration_ms": time.Since(start).Milliseconds()}).Debug("dimension table refreshed")
	return tr
}

// resolve adds to objects those of the ids the store's issue-level tables
// refer to (s.References) that Fetch did not list.
func (r *Refresher) resolve(ctx context.Context, s Source, objects []Object) ([]Object, int, int, error) {
	refs, err := r.d.Store.ReferencedValues(ctx, s.References)
	if err != nil {
		return nil, 0, 0, err
	}
	have := make(map[string]bool, len(objects))
	for _, o := range objects {
		have[o.ID] = true
	}
	var missing []string
	for _, id := range refs {
		if !have[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return objects, 0, 0, nil
	}
	found, err := s.Resolve(ctx, r.d.Client, missing)
	if err != nil {
		return nil, 0, 0, err
	}
	n := 0
	for _, o := range found {
		if !have[o.ID] {
			have[o.ID] = true
			objects = append(objects, o)
			n++
		}
	}
	return objects, n, len(missing) - n, nil
}

// absent reports whether err says the API is not there for this site or
// this account: 403 or 404.
func absent(err error) bool {
	return errors.Is(err, jira.ErrNotFound) || errors.Is(err, jira.ErrForbidden)
}

func skipNote(s Source, err error) string {
	what := "403 Forbidden"
	if errors.Is(err, jira.ErrNotFound) {
		what = "404 Not Found"
	}
	switch s.Product {
	case Software:
		return "Jira Software's API answered " + what + ": the site has no Jira Software, or the account may not use it"
	case ServiceDesk:
		return "Jira Service Management's API answered " + what + ": the site has no Jira Service Management, or the account is not an agent"
	}
	return "Jira answered " + what + ": the account lacks the permission to list these"
}

// derive makes the rows of objects, in key order. An object whose row
// cannot be derived is counted and left out; note tells the first error.
func derive(s Source, objects []Object) (rows [][]any, unreadable int, note string) {
	rows = make([][]any, 0, len(objects))
	for _, o := range objects {
		row, err := s.Row(o)
		if err == nil && len(row) != len(s.Columns) {
			err = fmt.Errorf("%s %s: the row has %d values for %d columns", s.Table, o.ID, len(row), len(s.Columns))
		}
		if err != nil {
			if unreadable == 0 {
				note = firstLine(err.Error())
			}
			unreadable++
			continue
		}
		rows = append(rows, row)
	}
	if unreadable > 0 {
		note = fmt.Sprintf("%d object(s) could not be read and are kept as objects only; the first: %s", unreadable, note)
	}
	keyIdx := keyIndexes(s)
	slices.SortStableFunc(rows, func(a, b []any) int { return cmp.Compare(keyText(a, keyIdx), keyText(b, keyIdx)) })
	return rows, unreadable, note
}

func keyIndexes(s Source) []int {
	var idx []int
	for _, k := range s.Key {
		for i, c := range s.Columns {
			if c.Name == k {
				idx = append(idx, i)
			}
		}
	}
	return idx
}

func keyText(row []any, idx []int) string {
	var b strings.Builder
	for _, i := range idx {
		writeValue(&b, row[i])
	}
	return b.String()
}

// writeValue writes a value in a form that tells every value apart, for
// digests and ordering.
func writeValue(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("N")
	case string:
		fmt.Fprintf(b, "s%d:%s", len(x), x)
	case time.Time:
		b.WriteString("t" + x.UTC().Format(time.RFC3339Nano))
	case []string:
		fmt.Fprintf(b, "l%d[", len(x))
		for _, s := range x {
			fmt.Fprintf(b, "%d:%s", len(s), s)
		}
		b.WriteString("]")
	default:
		fmt.Fprintf(b, "%T:%v", v, v)
	}
	b.WriteByte(0)
}

// rowsDigest digests a table's rows (in key order) with its columns.
func rowsDigest(s Source, rows [][]any) string {
	h := sha256.New()
	var b strings.Builder
	for _, c := range s.Columns {
		b.WriteString(c.Name + " " + c.Type + ",")
	}
	b.WriteByte('\n')
	h.Write([]byte(b.String()))
	for _, r := range rows {
		b.Reset()
		for _, v := range r {
			writeValue(&b, v)
		}
		b.WriteByte('\n')
		h.Write([]byte(b.String()))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// objectsDigest digests objects in id order.
func objectsDigest(objects []Object) string {
	sorted := slices.SortedFunc(slices.Values(objects), func(a, b Object) int { return strings.Compare(a.ID, b.ID) })
	h := sha256.New()
	for _, o := range sorted {
		fmt.Fprintf(h, "%d:%s\x00%d:", len(o.ID), o.ID, len(o.Payload))
		h.Write(o.Payload)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// write stores a table's objects (nil: leave them) and rows in one
// transaction through the writer.
func (r *Refresher) write(ctx context.Context, s Source, objects []Object, rows [][]any, note string, at time.Time, fetched, force bool) (store.DimensionWritten, error) {
	w := store.DimensionWrite{Table: StoreTable(s), Rows: rows, RowsSHA256: rowsDigest(s, rows), At: at, Fetched: fetched, Force: force, Note: note}
	if fetched {
		w.ObjectsSHA256 = objectsDigest(objects)
		w.Objects = make([]store.DimensionObject, len(objects))
		for i, o := range objects {
			w.Objects[i] = store.DimensionObject{ID: o.ID, Payload: o.Payload}
		}
	}
	var written store.DimensionWritten
	err := r.d.Writer.Do(ctx, func(ctx context.Context, tx *store.Tx) error {
		var err error
		written, err = r.d.Store.WriteDimension(ctx, tx, w)
		return err
	})
	return written, err
}

func (r *Refresher) record(ctx context.Context, table, status, note string, at time.Time) error {
	return r.d.Writer.Do(ctx, func(ctx context.Context, tx *store.Tx) error {
		return store.RecordDimensionTrouble(ctx, tx, table, status, note, at)
	})
}

// Rederive derives the given tables (every one when none) again from their
// stored objects, without calling Jira, and marks their files to be
// written again. A table never fetched (its product absent, or no refresh
// yet) is left as it is.
func (r *Refresher) Rederive(ctx context.Context, tables ...string) (Result, error) {
	var res Result
	sources, err := r.pick(tables)
	if err != nil {
		return res, err
	}
	states, err := r.d.Store.DimensionStates(ctx)
	if err != nil {
		return res, err
	}
	for _, s := range sources {
		if err := ctx.Err(); err != nil {
			return res, errors.Join(res.Err(), err)
		}
		if states[s.Table].ObjectsSHA256 == "" {
			continue
		}
		res.Tables = append(res.Tables, r.rederiveOne(ctx, s))
	}
	return res, res.Err()
}

func (r *Refresher) rederiveOne(ctx context.Context, s Source) TableResult {
	mu := r.locks[s.Table]
	mu.Lock()
	defer mu.Unlock()
	tr := TableResult{Table: s.Table}
	stored, err := r.d.Store.DimensionObjects(ctx, s.Table)
	if err != nil {
		tr.Outcome, tr.Err = OutcomeFailed, fmt.Errorf("rederive %s: %w", s.Table, err)
		return tr
	}
	objects := make([]Object, len(stored))
	for i, o := range stored {
		objects[i] = Object{ID: o.ID, Payload: o.Payload}
	}
	rows, unreadable, note := derive(s, objects)
	tr.Rows, tr.Unreadable, tr.Note = len(rows), unreadable, note
	if _, err := r.write(ctx, s, nil, rows, note, time.Now().UTC(), false, true); err != nil {
		tr.Outcome, tr.Err = OutcomeFailed, fmt.Errorf("rederive %s: %w", s.Table, err)
		return tr
	}
	tr.Outcome = OutcomeChanged
	return tr
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
