package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/jiraduck/jiraduck/internal/normalize"
)

func sp(s string) *string { return &s }

// sampleRows builds an issue with two comments, one changelog item, one
// remote link, one SLA cycle and one worklog, all collections complete.
func sampleRows(key, id string, created time.Time) *normalize.Rows {
	now := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	r := &normalize.Rows{
		Raw: normalize.Raw{IssueID: id, IssueKey: key, CreatedAt: created, Payload: []byte(`{"id":"` + id + `"}`),
			CommentsState: normalize.Complete, ChangelogState: normalize.Complete, RemoteLinksState: normalize.Complete,
			SLAState: normalize.Complete, AttachmentsState: normalize.Complete, WorklogsState: normalize.Complete, FetchedAt: now},
		Issue: normalize.Issue{IssueKey: key, IssueID: id, Summary: sp("summary of " + key), CreatedAt: created,
			Labels: []string{"a", "b"}, SyncedAt: now,
			SLA: []normalize.SLAColumns{{Name: "first_response"}, {Name: "time_to_resolution"}}},
		Comments: []normalize.Comment{
			{CommentID: id + "01", IssueKey: key, Body: sp("first")},
			{CommentID: id + "02", IssueKey: key, Body: sp("second")},
		},
		Changelog:   []normalize.ChangeItem{{ChangeID: id + "9", ItemIndex: 0, IssueKey: key, Field: sp("status")}},
		RemoteLinks: []normalize.RemoteLink{{IssueKey: key, RemoteLinkID: "1", URL: sp("https://example.test")}},
		SLA:         []normalize.SLA{{IssueKey: key, FieldID: "customfield_1", Cycle: "ongoing", ObservedAt: now}},
		Attachments: []normalize.Attachment{{AttachmentID: id + "5", IssueKey: key, Filename: sp("a.txt")}},
		Worklogs:    []normalize.Worklog{{WorklogID: id + "7", IssueID: id, IssueKey: key, Comment: sp("logged")}},
	}
	return r
}

func apply(t *testing.T, s *Store, r *normalize.Rows) ApplyResult {
	t.Helper()
	var res ApplyResult
	err := s.WithTx(context.Background(), func(tx *Tx) error {
		var err error
		res, err = s.ApplyIssue(context.Background(), tx, r)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func count(t *testing.T, s *Store, query string, args ...any) int {
	t.Helper()
	var n int
	if err := s.DB().QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func dirty(t *testing.T, s *Store) []string {
	t.Helper()
	d, err := s.DirtyPartitions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range d {
		out = append(out, p.Table+"@"+p.Month)
	}
	sort.Strings(out)
	return out
}

func clearDirty(t *testing.T, s *Store) {
	t.Helper()
	if _, err := s.DB().Exec(`DELETE FROM dirty_partitions`); err != nil {
		t.Fatal(err)
	}
}

var march = time.Date(2024, 3, 10, 23, 30, 0, 0, time.FixedZone("", -5*3600)) // 2024-03-11 04:30 UTC

func TestApplyIssueWritesEveryTable(t *testing.T) {
	t.Parallel()
	s := migrated(t)
	res := apply(t, s, sampleRows("SUP-1", "100", march))
	// A new issue dirties the tables it has rows in: not issuelinks and
	// issue_fields, which the sample leaves empty.
	if strings.Join(res.Changed, ",") != "issues,comments,attachments,changelog,remote_links,sla,worklogs" {
		t.Errorf("changed: got %v", res.Changed)
	}
	for table, want := range map[string]int{"issues": 1, "comments": 2, "changelog": 1, "remote_links": 1, "sla": 1, "attachments": 1, "worklogs": 1, "raw_issues": 1} {
		if got := count(t, s, "SELECT count(*) FROM "+table); got != want {
			t.Errorf("%s: got %d rows, want %d", table, got, want)
		}
	}
	got := dirty(t, s)
	if len(got) != 7 || !strings.HasSuffix(got[0], "@2024-03") {
		t.Errorf("dirty: got %v, want the seven tables with rows at 2024-03", got)
	}
}

func TestApplyUnchangedIssueDirtiesNothing(t *testing.T) {
	t.Parallel()
	s := migrated(t)
	apply(t, s, sampleRows("SUP-1", "100", march))
	clearDirty(t, s)
	again := sampleRows("SUP-1", "100", march)
	again.Issue.SyncedAt = again.Issue.SyncedAt.Add(time.Hour)
	again.SLA[0].ObservedAt = again.SLA[0].ObservedAt.Add(time.Hour)
	res := apply(t, s, again)
	if len(res.Changed) != 0 {
		t.Errorf("changed: got %v, want none", res.Changed)
	}
	if d := dirty(t, s); len(d) != 0 {
		t.Errorf("dirty: got %v, want none", d)
	}
	edited := sampleRows("SUP-1", "100", march)
	edited.Comments[1].Body = sp("edited")
	res = apply(t, s, edited)
	if strings.Join(res.Changed, ",") != "comments" {
		t.Errorf("changed: got %v, want [comments]", res.Changed)
	}
	if d := dirty(t, s); strings.Join(d, ",") != "comments@2024-03" {
		t.Errorf("dirty: got %v, want comments@2024-03", d)
	}
}

func TestApplyStates(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		state        normalize.State
		comments     []string
		wantComments []string
	}{
		{"complete replaces", normalize.Complete, []string{"10001"}, []string{"10001"}},
		{"complete empty wipes", normalize.Complete, nil, nil},
		{"partial upserts and keeps the rest", normalize.Partial, []string{"10002", "10003"}, []string{"10001", "10002", "10003"}},
		{"unknown keeps everything", normalize.Unknown, nil, []string{"10001", "10002"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := migrated(t)
			apply(t, s, sampleRows("SUP-1", "100", march))
			r := sampleRows("SUP-1", "100", march)
			r.Raw.CommentsState = tc.state
			r.Comments = nil
			for _, id := range tc.comments {
				r.Comments = append(r.Comments, normalize.Comment{CommentID: id, IssueKey: "SUP-1", Body: sp("new " + id)})
			}
			apply(t, s, r)
			rows, err := s.DB().Query(`SELECT comment_id FROM comments ORDER BY comment_id`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var got []string
			for rows.Next() {
				var id string
				rows.Scan(&id)
				got = append(got, id)
			}
			if strings.Join(got, ",") != strings.Join(tc.wantComments, ",") {
				t.Errorf("comments: got %v, want %v", got, tc.wantComments)
			}
			var state string
			var incomplete bool
			s.DB().QueryRow(`SELECT comments_state, incomplete FROM raw_issues`).Scan(&state, &incomplete)
			if state != string(tc.state) || incomplete != (tc.state != normalize.Complete) {
				t.Errorf("raw state: got %s incomplete=%v", state, incomplete)
			}
		})
	}
}

func TestApplyMovedIssue(t *testing.T) {
	t.Parallel()
	s := migrated(t)
	apply(t, s, sampleRows("SUP-1", "100", march))
	moved := sampleRows("OPS-7", "100", march)
	moved.Raw.RemoteLinksState = normalize.Unknown // a failed remote-link fetch during the move
	moved.RemoteLinks = nil
	res := apply(t, s, moved)
	if res.Moved != "SUP-1" {
		t.Errorf("moved: got %q, want SUP-1", res.Moved)
	}
	for _, table := range []string{"issues", "comments", "changelog", "remote_links", "sla", "attachments"} {
		if n := count(t, s, "SELECT count(*) FROM "+table+" WHERE issue_key = 'SUP-1'"); n != 0 {
			t.Errorf("%s: %d rows still under the old key", table, n)
		}
	}
	if n := count(t, s, "SELECT count(*) FROM remote_links WHERE issue_key = 'OPS-7'"); n != 1 {
		t.Errorf("remote link of unknown state: got %d rows under the new key, want 1 (kept and moved)", n)
	}
	if n := count(t, s, "SELECT count(*) FROM issues"); n != 1 {
		t.Errorf("issues: got %d rows, want 1", n)
	}
}

// TestApplyReplacesARowHoldingTheIdUnderAnotherKey: an issues row whose
// key raw_issues does not name (its payload lost) still goes when its issue
// is written again under a new key, or the two rows would hold one id.
func TestApplyReplacesARowHoldingTheIdUnderAnotherKey(t *testing.T) {
	t.Parallel()
	s := migrated(t)
	bare := func(key string) *normalize.Rows {
		r := sampleRows(key, "100", march)
		r.Comments, r.Changelog, r.RemoteLinks, r.SLA, r.Attachments, r.Worklogs = nil, nil, nil, nil, nil, nil
		return r
	}
	apply(t, s, bare("SUP-1"))
	if _, err := s.DB().ExecContext(context.Background(), `DELETE FROM raw_issues WHERE issue_id = '100'`); err != nil {
		t.Fatal(err)
	}
	res := apply(t, s, bare("OPS-7"))
	if res.Moved != "" {
		t.Errorf("moved: got %q, want nothing (raw_issues knew no key)", res.Moved)
	}
	if n := count(t, s, "SELECT count(*) FROM issues WHERE issue_key = 'SUP-1'"); n != 0 {
		t.Errorf("issues: %d rows still under the former key", n)
	}
	if n := count(t, s, "SELECT count(*) FROM issues WHERE issue_key = 'OPS-7' AND issue_id = '100'"); n != 1 {
		t.Errorf("issues: got %d rows under the new key, want 1", n)
	}
}

func TestApplyKeepsDownloadedAttachment(t *testing.T) {
	t.Parallel()
	s := migrated(t)
	r := sampleRows("SUP-1", "100", march)
	size := int64(5)
	r.Attachments[0].LocalPath, r.Attachments[0].SHA256, r.Attachments[0].SizeBytes = sp("attachments/SUP-1/1005_a.txt"), sp("abc"), &size
	apply(t, s, r)
	again := sampleRows("SUP-1", "100", march)
	again.Attachments[0].SizeBytes = &size
	again.Attachments[0].SkippedReason = sp("download failed: status 503")
	apply(t, s, again)
	var path, sum sql.NullString
	var skipped sql.NullString
	s.DB().QueryRow(`SELECT local_path, sha256, skipped_reason FROM attachments`).Scan(&path, &sum, &skipped)
	if path.String != "attachments/SUP-1/1005_a.txt" || sum.String != "abc" || skipped.Valid {
		t.Errorf("got path %v sum %v skipped %v, want the stored file kept", path, sum, skipped)
	}
}

func TestDeleteIssue(t *testing.T) {
	t.Parallel()
	s := migrated(t)
	apply(t, s, sampleRows("SUP-1", "100", march))
	apply(t, s, sampleRows("SUP-2", "200", march))
	clearDirty(t, s)
	var found bool
	err := s.WithTx(context.Background(), func(tx *Tx) error {
		var err error
		found, err = s.DeleteIssue(context.Background(), tx, "100", "SUP-1", "jira:issue_deleted", time.Now())
		return err
	})
	if err != nil || !found {
		t.Fatalf("got %v %v", found, err)
	}
	for _, table := range normalize.Tables {
		if n := count(t, s, "SELECT count(*) FROM "+table+" WHERE issue_key = 'SUP-1'"); n != 0 {
			t.Errorf("%s: %d rows left", table, n)
		}
	}
	if n := count(t, s, "SELECT count(*) FROM comments WHERE issue_key = 'SUP-2'"); n != 2 {
		t.Errorf("the other issue lost rows: %d comments", n)
	}
	var reason string
	s.DB().QueryRow(`SELECT deleted_reason FROM raw_issues WHERE issue_id = '100' AND deleted_at IS NOT NULL AND payload IS NULL`).Scan(&reason)
	if reason != "jira:issue_deleted" {
		t.Errorf("tombstone reason: got %q", reason)
	}
	if d := dirty(t, s); len(d) != len(normalize.Tables) {
		t.Errorf("dirty: got %v, want every table", d)
	}
	err = s.WithTx(context.Background(), func(tx *Tx) error {
		var err error
		found, err = s.DeleteIssue(context.Background(), tx, "999", "NOPE-1", "x", time.Now())
		return err
	})
	if err != nil || found {
		t.Errorf("deleting an unknown issue: got %v %v, want false nil", found, err)
	}
}

func TestWriterBatchesAndIsolatesFailures(t *testing.T) {
	t.Parallel()
	s := migrated(t)
	var commits []int
	w := s.NewWriter(16, func(n int) { commits = append(commits, n) })
	ctx := context.Background()
	errs := make(chan error, 10)
	for i := 0; i < 10; i++ {
		id := string(rune('a' + i))
		go func() {
			errs <- w.Do(ctx, func(ctx context.Context, tx *Tx) error {
				if id == "e" {
					_, err := tx.ExecContext(ctx, `INSERT INTO nope VALUES (1)`)
					return err
				}
				_, err := tx.ExecContext(ctx, `INSERT INTO fields (field_id, name, custom, fetched_at) VALUES (?, 'n', true, now())`, id)
				return err
			})
		}()
	}
	failed := 0
	for i := 0; i < 10; i++ {
		if err := <-errs; err != nil {
			failed++
		}
	}
	w.Close()
	if failed != 1 {
		t.Errorf("got %d failed ops, want 1", failed)
	}
	if n := count(t, s, `SELECT count(*) FROM fields`); n != 9 {
		t.Errorf("got %d rows, want 9", n)
	}
	if err := w.Do(ctx, func(context.Context, *Tx) error { return nil }); err != ErrClosed {
		t.Errorf("after Close: got %v, want ErrClosed", err)
	}
}

func TestApplyUnknownSLAKeepsFlatColumns(t *testing.T) {
	t.Parallel()
	s := migrated(t)
	r := sampleRows("SUP-1", "100", march)
	el := int64(4200)
	yes := true
	r.Issue.SLA[0].ElapsedMillis, r.Issue.SLA[0].Breached = &el, &yes
	apply(t, s, r)
	again := sampleRows("SUP-1", "100", march)
	again.Raw.SLAState = normalize.Unknown
	again.SLA = nil
	apply(t, s, again)
	var got sql.NullInt64
	var breached sql.NullBool
	s.DB().QueryRow(`SELECT first_response_elapsed_millis, first_response_breached FROM issues`).Scan(&got, &breached)
	if got.Int64 != 4200 || !breached.Bool {
		t.Errorf("got elapsed %v breached %v, want the stored 4200 and true kept", got, breached)
	}
	if n := count(t, s, `SELECT count(*) FROM sla`); n != 1 {
		t.Errorf("sla rows: got %d, want 1 kept", n)
	}
}

func TestPruneKeepsNewestEvent(t *testing.T) {
	t.Parallel()
	s := migrated(t)
	ctx := context.Background()
	old := time.Now().Add(-48 * time.Hour).UTC()
	err := s.WithTx(ctx, func(tx *Tx) error {
		return InsertEvents(ctx, tx, []*Event{
			{ID: 1, Type: "jira:issue_updated", ReceivedAt: old, State: EventDone},
			{ID: 2, Type: "jira:issue_updated", ReceivedAt: old, State: EventDone},
			{ID: 3, Type: "jira:issue_updated", ReceivedAt: old, State: EventFailed},
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	err = s.WithTx(ctx, func(tx *Tx) error {
		var err error
		n, err = PruneEvents(ctx, tx, time.Now().Add(-time.Hour))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("pruned %d, want 2 (done ones; the failed one stays)", n)
	}
	next, _ := s.NextEventID(ctx)
	if next != 4 {
		t.Errorf("next event id after pruning: got %d, want 4", next)
	}
	err = s.WithTx(ctx, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE webhook_events SET state = 'done' WHERE event_id = 3`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	s.WithTx(ctx, func(tx *Tx) error { _, err := PruneEvents(ctx, tx, time.Now()); return err })
	if next, _ := s.NextEventID(ctx); next != 4 {
		t.Errorf("next event id when only old events existed: got %d, want 4 (the newest is kept)", next)
	}
}

// TestWriterAppendsJSONAsJSON checks the bulk path: JSON columns written
// through the appender hold JSON values, not JSON strings of their text.
func TestWriterAppendsJSONAsJSON(t *testing.T) {
	t.Parallel()
	s := migrated(t)
	w := s.NewWriter(8, nil)
	defer w.Close()
	r := sampleRows("SUP-1", "100", march)
	r.Fields = []normalize.IssueField{{IssueKey: "SUP-1", FieldID: "customfield_1", ValueJSON: sp(`{"value":"Gold"}`)}}
	if _, err := w.Apply(context.Background(), r, nil); err != nil {
		t.Fatal(err)
	}
	var payloadType, hashesType, value string
	err := s.DB().QueryRow(`SELECT json_type(payload), json_type(row_hashes) FROM raw_issues`).Scan(&payloadType, &hashesType)
	if err != nil {
		t.Fatal(err)
	}
	if payloadType != "OBJECT" || hashesType != "OBJECT" {
		t.Errorf("raw_issues JSON types: got %s and %s, want OBJECT", payloadType, hashesType)
	}
	if err := s.DB().QueryRow(`SELECT value_json->>'$.value' FROM issue_fields`).Scan(&value); err != nil || value != "Gold" {
		t.Errorf("issue_fields.value_json: got %q, %v", value, err)
	}
	// Applying the same issue again through the bulk path changes nothing.
	res, err := w.Apply(context.Background(), sampleRowsWithField("SUP-1", "100"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changed) != 0 {
		t.Errorf("re-applying an unchanged issue changed %v", res.Changed)
	}
}

func sampleRowsWithField(key, id string) *normalize.Rows {
	r := sampleRows(key, id, march)
	r.Fields = []normalize.IssueField{{IssueKey: key, FieldID: "customfield_1", ValueJSON: sp(`{"value":"Gold"}`)}}
	return r
}

// TestInsertEventsPathsAgree checks that the appender (WithBulkTx) and the
// multi-row INSERT (WithTx) store an event identically: NULLs for the
// absent ids and timestamp, the body byte for byte, the counters.
func TestInsertEventsPathsAgree(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	received := time.Date(2025, 3, 1, 9, 34, 49, 730000000, time.UTC)
	events := func(first int64) []*Event {
		return []*Event{
			{ID: first, DeliveryID: fmt.Sprintf("d-%d", first), Type: "jira:issue_updated", IssueKey: "SUP-1", IssueID: "100",
				JiraTimestamp: received.Add(-time.Second), ReceivedAt: received, RetryCount: 2, State: EventPending,
				Body: []byte(`{"webhookEvent":"jira:issue_updated","text":"line\nquote\" é \u0000"}`)},
			{ID: first + 1, Type: "issuelink_created", RelatedIssueID: "200", ReceivedAt: received, State: EventIgnored},
		}
	}
	dump := func(s *Store, first int64) string {
		var out strings.Builder
		rows, err := s.DB().QueryContext(ctx, `SELECT event_id - ?, coalesce(delivery_id, '<null>'), webhook_event,
			coalesce(issue_key, '<null>'), coalesce(issue_id, '<null>'), coalesce(related_issue_id, '<null>'),
			coalesce(strftime(jira_timestamp, '%Y-%m-%dT%H:%M:%S.%g%z'), '<null>'), strftime(received_at, '%Y-%m-%dT%H:%M:%S.%g%z'),
			retry_count, state, attempts, coalesce(body, '<null>')
			FROM webhook_events WHERE event_id BETWEEN ? AND ? + 1 ORDER BY event_id`, first, first, first)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&out, vals...)
		}
		return strings.ReplaceAll(out.String(), fmt.Sprintf("d-%d", first), "d-N")
	}
	s := migrated(t)
	if err := s.WithTx(ctx, func(tx *Tx) error { return InsertEvents(ctx, tx, events(1)) }); err != nil {
		t.Fatal(err)
	}
	err := s.WithBulkTx(ctx, func(tx *Tx) error {
		if tx.conn == nil {
			t.Error("WithBulkTx gave no connection for the appender")
		}
		return InsertEvents(ctx, tx, events(10))
	})
	if err != nil {
		t.Fatal(err)
	}
	inserted, appended := dump(s, 1), dump(s, 10)
	if !strings.Contains(inserted, `\u0000`) || !strings.Contains(inserted, "<null>") {
		t.Fatalf("inserted rows lack what the test is about:\n%s", inserted)
	}
	if inserted != appended {
		t.Errorf("appended events differ from inserted ones:\ninserted:\n%s\nappended:\n%s", inserted, appended)
	}
}

// TestWithBulkTxRollsBack checks that a failing bulk transaction leaves
// nothing behind, a duplicate key included (the appender reports it only
// when it is closed).
func TestWithBulkTxRollsBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := migrated(t)
	ev := func(id int64, delivery string) *Event {
		return &Event{ID: id, DeliveryID: delivery, Type: "jira:issue_updated", ReceivedAt: time.Now().UTC(), State: EventPending}
	}
	if err := s.WithBulkTx(ctx, func(tx *Tx) error {
		return InsertEvents(ctx, tx, []*Event{ev(1, "d-1")})
	}); err != nil {
		t.Fatal(err)
	}
	err := s.WithBulkTx(ctx, func(tx *Tx) error {
		return InsertEvents(ctx, tx, []*Event{ev(2, "d-2"), ev(3, "d-1")})
	})
	if err == nil {
		t.Fatal("a repeated delivery id was appended without an error")
	}
	err = s.WithBulkTx(ctx, func(tx *Tx) error {
		if err := InsertEvents(ctx, tx, []*Event{ev(4, "d-4")}); err != nil {
			return err
		}
		return errors.New("caller gave up")
	})
	if err == nil || err.Error() != "caller gave up" {
		t.Fatalf("got %v, want the caller's error", err)
	}
	if n := count(t, s, `SELECT count(*) FROM webhook_events`); n != 1 {
		t.Errorf("events stored: got %d, want 1 (the failed transactions left nothing)", n)
	}
}

// TestKeepPayloadLeavesDigestsToTheNextApply: a rebuild's batches
// (KeepPayload) write the analyst tables but not raw_issues, so the digests
// the rebuild cleared stay NULL; the next apply of the issue rewrites every
// table and stores them, and the one after it changes nothing.
func TestKeepPayloadLeavesDigestsToTheNextApply(t *testing.T) {
	t.Parallel()
	s := migrated(t)
	ctx := context.Background()
	apply(t, s, sampleRows("SUP-1", "100", march))
	if _, err := s.DB().Exec(`UPDATE raw_issues SET row_hashes = NULL`); err != nil {
		t.Fatal(err)
	}
	err := s.WithTx(ctx, func(tx *Tx) error {
		if err := EmptyTables(ctx, tx, normalize.Tables); err != nil {
			return err
		}
		res, err := s.ApplyBatch(ctx, tx, []*normalize.Rows{sampleRows("SUP-1", "100", march)}, ApplyOptions{KeepPayload: true, Fresh: true, DeferLinks: true})
		if err == nil && strings.Join(res[0].Changed, ",") != "issues,comments,attachments,changelog,remote_links,sla,worklogs" {
			t.Errorf("rebuild batch changed %v, want every table with rows", res[0].Changed)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM raw_issues WHERE row_hashes IS NULL`); n != 1 {
		t.Errorf("raw_issues rows without digests after the rebuild batch: got %d, want 1", n)
	}
	if n := count(t, s, `SELECT count(*) FROM comments`); n != 2 {
		t.Errorf("comments after the rebuild batch: got %d, want 2", n)
	}
	clearDirty(t, s)
	res := apply(t, s, sampleRows("SUP-1", "100", march))
	if strings.Join(res.Changed, ",") != strings.Join(normalize.Tables, ",") {
		t.Errorf("first apply after the rebuild changed %v, want every table (%v): without a digest nothing is known to be unchanged", res.Changed, normalize.Tables)
	}
	if n := count(t, s, `SELECT count(*) FROM raw_issues WHERE json_type(row_hashes) = 'OBJECT'`); n != 1 {
		t.Errorf("raw_issues rows with digests after the first apply: got %d, want 1", n)
	}
	if n := count(t, s, `SELECT count(*) FROM comments`); n != 2 {
		t.Errorf("comments after the first apply: got %d, want 2", n)
	}
	clearDirty(t, s)
	if res := apply(t, s, sampleRows("SUP-1", "100", march)); len(res.Changed) != 0 {
		t.Errorf("second apply after the rebuild changed %v, want none", res.Changed)
	}
}

// TestDirtyPartitionsIssuesFirst: the exporter publishes in this order, so the
// issues table's partitions come before the rows an edit adds elsewhere.
func TestDirtyPartitionsIssuesFirst(t *testing.T) {
	t.Parallel()
	s := migrated(t)
	ctx := context.Background()
	err := s.WithTx(ctx, func(tx *Tx) error {
		return s.MarkDirty(ctx, tx, Partition{"changelog", "2024-01"}, Partition{"issues", "2024-05"},
			Partition{"comments", "2023-12"}, Partition{"issues", "2024-02"}, Partition{"changelog", "2023-12"})
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.DirtyPartitions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range d {
		got = append(got, p.Table+"@"+p.Month)
	}
	want := []string{"issues@2024-02", "issues@2024-05", "changelog@2023-12", "comments@2023-12", "changelog@2024-01"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("export order (-want +got):\n%s", diff)
	}
}

// applyBy writes r on one of the two paths an issue write takes: "writer"
// (the Writer's batch and appender) or "transaction" (ApplyIssue in a plain
// transaction, its failure explained as the Writer explains it).
func applyBy(ctx context.Context, s *Store, path string, r *normalize.Rows) error {
	if path == "writer" {
		w := s.NewWriter(8, nil)
		defer w.Close()
		_, err := w.Apply(ctx, r, nil)
		return err
	}
	err := s.WithTx(ctx, func(tx *Tx) error {
		_, err := s.ApplyIssue(ctx, tx, r)
		return err
	})
	return s.ExplainConflict(ctx, r, err)
}

// TestKeyConflictNamesBothIssues stores SUP-1, then writes SUP-2 whose
// changelog, comment or attachment id is one SUP-1 holds: the write fails
// with a *KeyConflictError naming both issues, on the writer's appender path
// as in a plain transaction, and SUP-1 is left as it was.
func TestKeyConflictNamesBothIssues(t *testing.T) {
	t.Parallel()
	created := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name, table, id string
		clash           func(r *normalize.Rows)
	}{
		{"changelog", "changelog", "1009", func(r *normalize.Rows) { r.Changelog[0].ChangeID = "1009" }},
		{"comment", "comments", "10001", func(r *normalize.Rows) { r.Comments[1].CommentID = "10001" }},
		{"attachment", "attachments", "1005", func(r *normalize.Rows) { r.Attachments[0].AttachmentID = "1005" }},
	}
	for _, tc := range tests {
		for _, path := range []string{"writer", "transaction"} {
			t.Run(tc.name+" "+path, func(t *testing.T) {
				s := migrated(t)
				ctx := context.Background()
				apply(t, s, sampleRows("SUP-1", "100", created))
				r := sampleRows("SUP-2", "200", created)
				tc.clash(r)
				err := applyBy(ctx, s, path, r)
				var kc *KeyConflictError
				if !errors.As(err, &kc) {
					t.Fatalf("got error %v, want a *KeyConflictError", err)
				}
				if kc.Issue != "SUP-2" || kc.Other != "SUP-1" || kc.Table != tc.table || kc.ID != tc.id {
					t.Errorf("got issue %s other %s table %s id %s, want SUP-2 SUP-1 %s %s", kc.Issue, kc.Other, kc.Table, kc.ID, tc.table, tc.id)
				}
				if msg := err.Error(); !strings.Contains(msg, "SUP-2") || !strings.Contains(msg, "SUP-1") {
					t.Errorf("got message %q, want both issue keys", msg)
				}
				if n := count(t, s, `SELECT count(*) FROM issues`); n != 1 {
					t.Errorf("got %d issues stored, want 1 (SUP-1 alone)", n)
				}
				if n := count(t, s, `SELECT count(*) FROM `+tc.table+` WHERE issue_key = 'SUP-1'`); n == 0 {
					t.Errorf("got no %s rows left for SUP-1, want them kept", tc.table)
				}
			})
		}
	}
}

// TestExplainConflictLeavesOtherErrors checks that failures other than a
// key another issue holds come back unchanged.
func TestExplainConflictLeavesOtherErrors(t *testing.T) {
	t.Parallel()
	s := migrated(t)
	ctx := context.Background()
	created := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	apply(t, s, sampleRows("SUP-1", "100", created))
	other := errors.New("some other failure")
	if got := s.ExplainConflict(ctx, sampleRows("SUP-2", "100", created), other); got != other {
		t.Errorf("got %v, want the error unchanged", got)
	}
	// A duplicate key that no other issue holds (the same issue under its
	// former key) is not blamed on anyone.
	dup := errors.New(`Constraint Error: Duplicate key "change_id: 1009" violates primary key constraint`)
	if got := s.ExplainConflict(ctx, sampleRows("OPS-7", "100", created), dup); got != dup {
		t.Errorf("got %v, want the error unchanged for the issue's own rows under its former key", got)
	}
}

// TestTxCarriesItsConnection checks which transactions let the bulk writes
// append: those of WithBulkTx and the Writer, whatever context the helpers
// inside are given, and not those of WithTx.
func TestTxCarriesItsConnection(t *testing.T) {
	ctx := context.Background()
	s := migrated(t)
	w := s.NewWriter(4, nil)
	t.Cleanup(func() { w.Close() })
	cases := []struct {
		name       string
		run        func(fn func(tx *Tx) error) error
		wantAppend bool
	}{
		{"WithTx", func(fn func(tx *Tx) error) error { return s.WithTx(ctx, fn) }, false},
		{"WithBulkTx", func(fn func(tx *Tx) error) error { return s.WithBulkTx(ctx, fn) }, true},
		{"Writer.Do", func(fn func(tx *Tx) error) error {
			return w.Do(ctx, func(_ context.Context, tx *Tx) error { return fn(tx) })
		}, true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := int64(100 + i)
			err := c.run(func(tx *Tx) error {
				if got := tx.conn != nil; got != c.wantAppend {
					t.Errorf("got a connection for the appender %v, want %v", got, c.wantAppend)
				}
				// A context of the caller's own, not the one of the
				// transaction, changes nothing.
				return InsertEvents(context.Background(), tx, []*Event{{ID: id, Type: "jira:issue_updated",
					ReceivedAt: time.Now().UTC(), State: EventPending}})
			})
			if err != nil {
				t.Fatal(err)
			}
			if n := count(t, s, fmt.Sprintf(`SELECT count(*) FROM webhook_events WHERE event_id = %d`, id)); n != 1 {
				t.Errorf("got %d events stored, want 1", n)
			}
		})
	}
}

// TestUnkeyedTablesRefuseAnIdTwice: the tables that lost their primary key
// (migration 0008) still take an id once per issue, on the writer's appender
// path as in a plain transaction, and an issue may hold the same id as
// another issue.
func TestUnkeyedTablesRefuseAnIdTwice(t *testing.T) {
	t.Parallel()
	twice := map[string]func(r *normalize.Rows){
		"issue_fields": func(r *normalize.Rows) {
			r.Fields = []normalize.IssueField{{IssueKey: r.Issue.IssueKey, FieldID: "customfield_1"}, {IssueKey: r.Issue.IssueKey, FieldID: "customfield_1"}}
		},
		"issuelinks": func(r *normalize.Rows) {
			r.IssueLinks = []normalize.IssueLink{{IssueKey: r.Issue.IssueKey, LinkID: "7"}, {IssueKey: r.Issue.IssueKey, LinkID: "7"}}
		},
		"issue_sprints": func(r *normalize.Rows) {
			r.IssueSprints = []normalize.IssueSprint{{IssueKey: r.Issue.IssueKey, SprintID: "3"}, {IssueKey: r.Issue.IssueKey, SprintID: "3"}}
		},
		"issue_organizations": func(r *normalize.Rows) {
			r.IssueOrganizations = []normalize.IssueOrganization{{IssueKey: r.Issue.IssueKey, OrganizationID: "9"}, {IssueKey: r.Issue.IssueKey, OrganizationID: "9"}}
		},
	}
	for table, dup := range twice {
		for _, path := range []string{"writer", "transaction"} {
			t.Run(table+" "+path, func(t *testing.T) {
				t.Parallel()
				s := migrated(t)
				ctx := context.Background()
				// Another issue holding the same ids is no clash.
				other := sampleRows("SUP-1", "100", march)
				dup(other)
				switch table {
				case "issue_fields":
					other.Fields = other.Fields[:1]
				case "issuelinks":
					other.IssueLinks = other.IssueLinks[:1]
				case "issue_sprints":
					other.IssueSprints = other.IssueSprints[:1]
				case "issue_organizations":
					other.IssueOrganizations = other.IssueOrganizations[:1]
				}
				apply(t, s, other)
				r := sampleRows("SUP-2", "200", march)
				dup(r)
				err := applyBy(ctx, s, path, r)
				if err == nil || !strings.Contains(err.Error(), "SUP-2") || !strings.Contains(err.Error(), "twice") {
					t.Fatalf("got %v, want an error that SUP-2 lists an id twice", err)
				}
				if n := count(t, s, `SELECT count(*) FROM issues`); n != 1 {
					t.Errorf("got %d issues stored, want 1 (SUP-1 alone)", n)
				}
				if n := count(t, s, `SELECT count(*) FROM `+table+` WHERE issue_key = 'SUP-1'`); n != 1 {
					t.Errorf("got %d %s rows of SUP-1, want 1", n, table)
				}
			})
		}
	}
}

// TestRecordExports: a pass's record clears the marks it saw and no newer
// one, records the files it published and forgets the months it emptied,
// across more partitions than one statement takes.
func TestRecordExports(t *testing.T) {
	t.Parallel()
	s := migrated(t)
	ctx := context.Background()
	var parts []Partition
	for i := range 1200 {
		parts = append(parts, Partition{Table: fmt.Sprintf("t%02d", i%12), Month: fmt.Sprintf("%04d-%02d", 2000+i/144, 1+(i/12)%12)})
	}
	if err := s.WithTx(ctx, func(tx *Tx) error { return s.MarkDirty(ctx, tx, parts...) }); err != nil {
		t.Fatal(err)
	}
	seen, err := s.DirtyPartitions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(parts) {
		t.Fatalf("setup: %d dirty partitions, want %d", len(seen), len(parts))
	}
	// One partition changes again after the pass read the marks, and one
	// month was published before and is empty now.
	again := seen[700].Partition
	emptied := seen[3]
	if err := s.WithTx(ctx, func(tx *Tx) error {
		if err := s.MarkDirty(ctx, tx, again); err != nil {
			return err
		}
		return RecordExport(ctx, tx, DirtyPartition{Partition: emptied.Partition}, &PublishedPartition{Table: emptied.Table, Month: emptied.Month, Rows: 9, SHA256: "old"})
	}); err != nil {
		t.Fatal(err)
	}
	written := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var recs []ExportRecord
	for i, d := range seen {
		r := ExportRecord{Dirty: d}
		if i != 3 {
			r.Published = &PublishedPartition{Table: d.Table, Month: d.Month, Rows: int64(i), Bytes: 10, SHA256: fmt.Sprint("sum", i), WrittenAt: written}
		}
		recs = append(recs, r)
	}
	if err := s.WithTx(ctx, func(tx *Tx) error { return RecordExports(ctx, tx, recs) }); err != nil {
		t.Fatal(err)
	}
	left, err := s.DirtyPartitions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0].Partition != again {
		t.Errorf("dirty after the record: got %v, want only %v (marked after the pass read it)", left, again)
	}
	published, err := s.Partitions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(published) != len(parts)-1 {
		t.Errorf("published partitions: got %d, want %d", len(published), len(parts)-1)
	}
	for _, p := range published {
		if (Partition{Table: p.Table, Month: p.Month}) == emptied.Partition {
			t.Errorf("the emptied month %v is still recorded", emptied.Partition)
		}
	}
	if n := count(t, s, `SELECT count(*) FROM partitions WHERE sha256 = 'sum1199' AND rows = 1199 AND written_at = ?`, written); n != 1 {
		t.Errorf("the last partition of the pass: %d rows as recorded, want 1", n)
	}
}
