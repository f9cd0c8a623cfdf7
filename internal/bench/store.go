package bench

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jiraduck/jiraduck/internal/emulator"
	"github.com/jiraduck/jiraduck/internal/files"
	"github.com/jiraduck/jiraduck/internal/store"
)

// P4 builds the large store with the backfill command, P5 rebuilds copies of
// it with the rebuild command and compares with DuckDB alone, and P7 rebuilds
// a store ten times larger made of clones of its payloads. Each jiraduck
// command runs as a child process, whose peak memory is measured.

// completeMarker marks a store whose build finished, for --reuse.
const completeMarker = ".bench-complete"

var backfillLine = regexp.MustCompile(`fetched (\d+), skipped (\d+).*; (\d+) partitions exported`)

func (b *bench) buildBase(ctx context.Context) error {
	dir := filepath.Join(b.dir, fmt.Sprintf("base-%d", b.sz.big))
	generation, err := b.generation()
	if err != nil {
		return err
	}
	if b.o.Reuse {
		marker, err := os.ReadFile(filepath.Join(dir, completeMarker))
		switch {
		case err != nil:
		case !strings.Contains(string(marker), "\n"+generation+"\n"):
			// Another release's emulator generated that store: its issues
			// differ from what this one serves, and the ids of the changes
			// a storm makes would collide with ids the store holds.
			b.rep.note("the %d-issue store in %s was built from another emulator generation: built again", b.sz.big, dir)
		default:
			migrated, err := migrateKept(ctx, dir)
			if err != nil {
				return err
			}
			if migrated != "" {
				b.rep.note("%s", migrated)
				b.progress("%s", migrated)
			}
			b.base = dir
			b.rep.note("P4 not measured: the %d-issue store of a previous run in %s was reused", b.sz.big, dir)
			return nil
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	b.progress("P4: emulating %d issues", b.sz.big)
	em, err := emulator.New(b.emulatorOptions(b.sz.big))
	if err != nil {
		return err
	}
	defer em.Close()
	url, err := em.Start(ctx, "127.0.0.1:0")
	if err != nil {
		return err
	}
	limit := 120 * float64(b.sz.big) / 100000
	for run := range b.runsFor(false) {
		target := dir
		if run > 0 {
			target = fmt.Sprintf("%s-run%d", dir, run+1)
		}
		em.ResetStats()
		b.progress("P4 run %d: jiraduck backfill of %d issues", run+1, b.sz.big)
		c, err := startChild("backfill", b.dir, jiraVars(url, target), b.profile(fmt.Sprintf("P4-backfill-%d", run+1)), b.o.RSSCap, "backfill")
		if err != nil {
			return err
		}
		if err := c.wait(ctx); err != nil {
			return err
		}
		m := backfillLine.FindStringSubmatch(c.stdout.String())
		if m == nil {
			return fmt.Errorf("P4: unexpected backfill output %q", tailText(c.stdout.String(), 500))
		}
		fetched, _ := strconv.Atoi(m[1])
		secs := c.took.Seconds()
		calls := int64(0)
		for _, n := range em.Stats().Calls {
			calls += n
		}
		b.rep.add("P4", "issues fetched", "", goalExactly, float64(b.sz.big), float64(fetched))
		b.timed("P4", fmt.Sprintf("backfill of %d issues", b.sz.big), "s", goalAtMost, limit, secs)
		b.rep.info("P4", "issues per second", "/s", float64(fetched)/secs)
		b.rep.info("P4", "backfill CPU time (the emulator's not counted)", "s", c.cpu.Seconds())
		b.rep.info("P4", "Jira calls per issue", "", float64(calls)/float64(max(fetched, 1)))
		b.reportBackfillCalls(em.Stats().Calls, fetched)
		b.rep.info("P4", "backfill peak RSS", "MB", megabytes(c.PeakRSS()))
		b.rep.info("P4", "data directory size", "MB", megabytes(dataDirSize(target)))
		b.recordLoad("P4")
		b.progress("P4 run %d: %d issues in %s (%.0f issues/s), peak RSS %.0f MB", run+1, fetched, c.took.Round(time.Second),
			float64(fetched)/secs, megabytes(c.PeakRSS()))
		if run > 0 {
			os.RemoveAll(target)
		}
	}
	if err := b.backfillAtLatency(ctx); err != nil {
		return err
	}
	b.base = dir
	return os.WriteFile(filepath.Join(dir, completeMarker), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"+generation+"\n"), files.FileMode)
}

// migrateKept brings a kept store to this binary's schema before any
// scenario copies it, and says what it did ("" when nothing was pending).
// Otherwise every copy is migrated as its serve starts, and each run
// measures a store fresh from a migration, not the one a migrated serve
// lives with: with migration 0009 pending on the 100,000-issue store, P3's
// serve took 2.6 to 2.8 s to be ready instead of 0.4 to 0.6 s.
func migrateKept(ctx context.Context, dir string) (string, error) {
	start := time.Now()
	s, err := store.Open(ctx, filepath.Join(dir, store.FileName), store.Options{MemoryLimit: "256MB"})
	if err != nil {
		return "", fmt.Errorf("migrate the kept store in %s: %w", dir, err)
	}
	version, applied, err := s.Migrate(ctx)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("migrate the kept store in %s: %w", dir, err)
	}
	if len(applied) == 0 {
		return "", nil
	}
	return fmt.Sprintf("the kept store in %s was migrated to schema version %d first (%d migration(s), %s)",
		dir, version, len(applied), time.Since(start).Round(time.Millisecond)), nil
}

// generation names what the emulator generates with the bench's seed: a
// digest of a small site generated with the same options, which changes
// whenever a release changes what the emulator generates.
func (b *bench) generation() (string, error) {
	opts := b.emulatorOptions(200)
	em, err := emulator.New(opts)
	if err != nil {
		return "", err
	}
	defer em.Close()
	h := sha256.New()
	for _, key := range em.Keys() {
		is, err := em.Issue(key)
		if err != nil {
			return "", err
		}
		if err := json.NewEncoder(h).Encode(is); err != nil {
			return "", fmt.Errorf("emulator generation: %w", err)
		}
	}
	return "emulator " + hex.EncodeToString(h.Sum(nil))[:16], nil
}

var rebuildLine = regexp.MustCompile(`rebuild: (\d+) issues re-derived, (\d+) skipped, (\d+) partitions exported`)

// rebuildChild rebuilds src with the rebuild command, on a copy unless
// inPlace, and returns the child (its time and memory) and the issues it
// re-derived.
func (b *bench) rebuildChild(ctx context.Context, src, name string, inPlace bool) (*childProc, int, error) {
	dir := src
	if !inPlace {
		dir = filepath.Join(b.dir, "rebuild-run")
		os.RemoveAll(dir)
		if err := copyDataDir(src, dir); err != nil {
			return nil, 0, err
		}
		defer os.RemoveAll(dir)
	}
	vars := map[string]string{"JIRADUCK_DATA_DIR": dir}
	c, err := startChild("rebuild", b.dir, vars, b.profile(name), b.o.RSSCap, "rebuild")
	if err != nil {
		return nil, 0, err
	}
	if err := c.wait(ctx); err != nil {
		// The caller reports the memory reached, with the failure.
		return c, 0, err
	}
	m := rebuildLine.FindStringSubmatch(c.stdout.String())
	if m == nil {
		return nil, 0, fmt.Errorf("unexpected rebuild output %q", tailText(c.stdout.String(), 500))
	}
	issues, _ := strconv.Atoi(m[1])
	if skipped, _ := strconv.Atoi(m[2]); skipped > 0 {
		b.rep.note("%s: rebuild skipped %d payloads", name, skipped)
	}
	return c, issues, nil
}

// rebuildScenario is P5, and the rebuild half of P7 at the large store's
// size.
func (b *bench) rebuildScenario(ctx context.Context) error {
	ndjson := filepath.Join(b.dir, fmt.Sprintf("raw-%d.ndjson", b.sz.big))
	if err := exportPayloads(ctx, b.base, ndjson); err != nil {
		return fmt.Errorf("P5: export payloads: %w", err)
	}
	defer os.Remove(ndjson)
	for run := range b.runsFor(true) {
		b.progress("P5 run %d: jiraduck rebuild of %d issues", run+1, b.sz.big)
		c, issues, err := b.rebuildChild(ctx, b.base, fmt.Sprintf("P5-rebuild-%d", run+1), false)
		if c != nil && c.Capped() {
			b.rep.info("P7", fmt.Sprintf("rebuild peak RSS at %d issues", b.sz.big), "MB", megabytes(c.PeakRSS())).Note = "killed at --rss-cap"
			b.rep.note("P5 run %d: %v", run+1, err)
			continue
		}
		if err != nil {
			return fmt.Errorf("P5: %w", err)
		}
		b.progress("P5 run %d: DuckDB alone: every table from the same payloads, COPY to Parquet", run+1)
		cpu0 := processCPU()
		ref, rows, err := referenceCopy(ctx, ndjson, filepath.Join(b.dir, "reference"))
		if err != nil {
			return fmt.Errorf("P5: reference: %w", err)
		}
		refCPU := processCPU() - cpu0
		ratio := c.took.Seconds() / ref.Seconds()
		b.rep.add("P5", "issues re-derived", "", goalExactly, float64(b.sz.big), float64(issues))
		b.rep.info("P5", fmt.Sprintf("rebuild of %d issues", b.sz.big), "s", c.took.Seconds())
		b.rep.info("P5", "reference: DuckDB SQL deriving every table, COPY to Parquet", "s", ref.Seconds())
		b.timed("P5", "rebuild / reference", "x", goalAtMost, 3, ratio)
		// CPU time is less disturbed than wall time by other work on a
		// shared machine.
		b.rep.info("P5", "rebuild CPU time", "s", c.cpu.Seconds())
		b.rep.info("P5", "reference CPU time", "s", refCPU.Seconds())
		b.rep.info("P5", "rebuild / reference, CPU time", "x", c.cpu.Seconds()/refCPU.Seconds())
		if rows["issues"] != int64(b.sz.big) {
			b.rep.note("P5: the reference wrote %d issues, want %d", rows["issues"], b.sz.big)
		}
		b.rep.info("P7", fmt.Sprintf("rebuild peak RSS at %d issues", b.sz.big), "MB", megabytes(c.PeakRSS()))
		b.recordLoad("P5")
		b.progress("P5 run %d: rebuild %s, reference %s (%.1fx); rebuild peak RSS %.0f MB", run+1,
			c.took.Round(time.Millisecond), ref.Round(time.Millisecond), ratio, megabytes(c.PeakRSS()))
	}
	return nil
}

// exportPayloads writes the stored raw payloads of a data directory as
// newline-delimited JSON, one bundle a line: the input of the reference.
func exportPayloads(ctx context.Context, dataDir, out string) error {
	db, err := store.OpenMemory(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, fmt.Sprintf(`ATTACH %s AS src (READ_ONLY)`, store.Quote(filepath.Join(dataDir, store.FileName)))); err != nil {
		return err
	}
	rows, err := db.QueryContext(ctx, `SELECT payload::VARCHAR FROM src.raw_issues WHERE deleted_at IS NULL AND payload IS NOT NULL`)
	if err != nil {
		return err
	}
	defer rows.Close()
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			f.Close()
			return err
		}
		w.WriteString(p)
		w.WriteByte('\n')
	}
	if err := rows.Err(); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// largeRebuild is the second half of P7: a rebuild of a store of
// --rss-issues issues. Backfilling that many from the emulator would take
// hours here, so the store is the large store's raw payloads cloned under
// new ids and keys (rebuild reads nothing else), then rebuilt.
func (b *bench) largeRebuild(ctx context.Context) error {
	n := b.sz.rss
	if n <= 0 {
		b.rep.note("P7: the large rebuild was skipped (--rss-issues 0)")
		return nil
	}
	dir := filepath.Join(b.dir, fmt.Sprintf("clone-%d", n))
	// The clone carries its base's marker: a base built again (another
	// emulator generation) makes the clone of the old one stale.
	baseMarker, err := os.ReadFile(filepath.Join(b.base, completeMarker))
	if err != nil {
		return fmt.Errorf("P7: %w", err)
	}
	cloneMarker, err := os.ReadFile(filepath.Join(dir, completeMarker))
	if err != nil || !b.o.Reuse || string(cloneMarker) != string(baseMarker) {
		os.RemoveAll(dir)
		if fi, err := os.Stat(filepath.Join(b.base, store.FileName)); err == nil {
			// The clone's store grows with its issues: about 25 GB for
			// 1,000,000, which once filled the disk at the ninth copy.
			if err := checkRoom(b.dir, fi.Size()*int64(n)/int64(max(b.sz.big, 1))); err != nil {
				return fmt.Errorf("P7: cloning the store up to %d issues: %w; free some, or skip it with --rss-issues 0", n, err)
			}
		}
		b.progress("P7: cloning the %d stored payloads up to %d issues", b.sz.big, n)
		start := time.Now()
		if err := cloneStore(ctx, b.base, dir, n); err != nil {
			return fmt.Errorf("P7: clone: %w", err)
		}
		b.progress("P7: cloned in %s", time.Since(start).Round(time.Second))
		if err := os.WriteFile(filepath.Join(dir, completeMarker), baseMarker, files.FileMode); err != nil {
			return err
		}
	}
	if b.o.Dir == "" {
		defer os.RemoveAll(dir)
	}
	for run := range b.runsFor(false) {
		b.progress("P7 run %d: jiraduck rebuild of %d issues", run+1, n)
		// In place: a copy of a store this size would double the disk it
		// takes, and a rebuild leaves the raw payloads as they were.
		c, issues, err := b.rebuildChild(ctx, dir, fmt.Sprintf("P7-rebuild-%d", run+1), true)
		if c == nil {
			return fmt.Errorf("P7: %w", err)
		}
		name := fmt.Sprintf("rebuild peak RSS at %d issues", n)
		m := b.timed("P7", name, "MB", goalAtMost, 1000, megabytes(c.PeakRSS()))
		if n != 1000000 {
			m.Note = "target is for 1,000,000"
		}
		if c.Capped() {
			m.Note = strings.TrimPrefix(m.Note+"; killed at --rss-cap, the peak would be higher", "; ")
			b.rep.note("P7 run %d: %v", run+1, err)
			continue
		}
		if err != nil {
			// A rebuild that fails is reported, with the memory it reached,
			// before the benchmark stops on it.
			m.Note = strings.TrimPrefix(m.Note+"; the rebuild failed", "; ")
			b.rep.add("P7", fmt.Sprintf("issues re-derived of %d", n), "", goalExactly, float64(n), 0)
			b.rep.note("P7 run %d: the rebuild failed: %s", run+1, tailText(err.Error(), 300))
			return fmt.Errorf("P7: %w", err)
		}
		b.rep.add("P7", fmt.Sprintf("issues re-derived of %d", n), "", goalExactly, float64(n), float64(issues))
		b.rep.info("P7", fmt.Sprintf("rebuild of %d issues", n), "s", c.took.Seconds())
		b.rep.info("P7", fmt.Sprintf("rebuild CPU time at %d issues", n), "s", c.cpu.Seconds())
		b.recordLoad("P7")
		b.progress("P7 run %d: rebuild of %d issues in %s, peak RSS %.0f MB", run+1, issues, c.took.Round(time.Second), megabytes(c.PeakRSS()))
	}
	return nil
}

// cloneStore copies the data directory src to dst and adds copies of its raw
// payloads until dst holds n issues. Copy k prefixes every numeric id with
// "k000" and every issue number with "k000", so ids and keys stay unique and
// links between clones stay consistent; months and contents are unchanged.
func cloneStore(ctx context.Context, src, dst string, n int) error {
	if err := copyDataDir(src, dst); err != nil {
		return err
	}
	s, err := store.Open(ctx, filepath.Join(dst, store.FileName), store.Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	db := s.DB()
	var have int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM raw_issues WHERE payload IS NOT NULL`).Scan(&have); err != nil {
		return err
	}
	if have == 0 {
		return fmt.Errorf("no payloads to clone")
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE bench_originals AS SELECT * FROM raw_issues WHERE payload IS NOT NULL AND deleted_at IS NULL ORDER BY issue_id`); err != nil {
		return err
	}
	originals := have
	for k := 1; have < n; k++ {
		// Each round clones the originals once more (or the part of them
		// still missing): a round cannot clone more than there are.
		take := min(n-have, originals)
		// The clone's numbers are longer than any original's (k, then four
		// zeros, then the original number), so no clone takes a key or an
		// id a stored issue has. The payload is copied as text, as the
		// store writes it: a cast to JSON would parse every payload again.
		p := strconv.Itoa(k) + "0000"
		q := fmt.Sprintf(`INSERT INTO raw_issues (issue_id, issue_key, created_at, updated_at, status_category_key, payload,
			comments_state, changelog_state, remote_links_state, sla_state, attachments_state, incomplete, row_hashes, fetched_at)
			SELECT '%[1]s' || issue_id, regexp_replace(issue_key, '-', '-%[1]s'), created_at, updated_at, status_category_key,
				regexp_replace(regexp_replace(payload::VARCHAR, '"id":"([0-9]+)"', '"id":"%[1]s\1"', 'g'),
					'"key":"([A-Z][A-Z0-9_]*)-([0-9]+)"', '"key":"\1-%[1]s\2"', 'g'),
				comments_state, changelog_state, remote_links_state, sla_state, attachments_state, incomplete, NULL, fetched_at
			FROM bench_originals ORDER BY issue_id LIMIT %[2]d`, p, take)
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("clone %d: %w", k, err)
		}
		have += take
	}
	if _, err := db.ExecContext(ctx, `DROP TABLE bench_originals`); err != nil {
		return err
	}
	var got int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM raw_issues WHERE payload IS NOT NULL`).Scan(&got); err != nil {
		return err
	}
	if got != n {
		return fmt.Errorf("cloned %d payloads, want %d", got, n)
	}
	return s.Checkpoint(ctx)
}

// checkRoom reports an error when the file system of dir has less than need
// bytes free for an unprivileged writer.
func checkRoom(dir string, need int64) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return err
	}
	if free := int64(st.Bavail) * int64(st.Bsize); free < need {
		return fmt.Errorf("it needs about %.1f GB of disk and %s has %.1f GB free", float64(need)/1e9, dir, float64(free)/1e9)
	}
	return nil
}
