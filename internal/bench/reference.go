package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jiraduck/jiraduck/internal/store"
)

// The reference of P5 is what DuckDB alone does with the payloads a rebuild
// reads: read the stored bundles once with read_json, derive the rows of the
// analyst tables (unnesting comments, histories and their items, worklogs,
// attachments, links, remote links, SLA cycles and custom fields, timestamps
// parsed) and COPY each table to a zstd Parquet file. It renders no ADF,
// redacts nothing and writes one file per table rather than one per month,
// so it stays a lower bound of the work a rebuild does.

// referenceTimestamp is Jira's timestamp layout in strptime's words.
const referenceTimestamp = `'%Y-%m-%dT%H:%M:%S.%g%z'`

// referenceLoad reads the bundles into a table: the fields the
// tables need, typed (one JSON parse per issue), the fields object as JSON
// for the custom fields, and the bundle's lists.
const referenceLoad = `CREATE TEMP TABLE ref_raw AS
SELECT
	json_transform(issue, '{
		"id": "VARCHAR", "key": "VARCHAR", "self": "VARCHAR",
		"fields": {
			"project": {"key": "VARCHAR", "name": "VARCHAR"}, "summary": "VARCHAR", "description": "JSON",
			"issuetype": {"name": "VARCHAR"}, "parent": {"key": "VARCHAR"},
			"status": {"name": "VARCHAR", "statusCategory": {"name": "VARCHAR"}},
			"priority": {"name": "VARCHAR"}, "resolution": {"name": "VARCHAR"},
			"creator": {"emailAddress": "VARCHAR", "displayName": "VARCHAR", "accountId": "VARCHAR"},
			"reporter": {"emailAddress": "VARCHAR", "displayName": "VARCHAR", "accountId": "VARCHAR"},
			"assignee": {"emailAddress": "VARCHAR", "displayName": "VARCHAR", "accountId": "VARCHAR"},
			"created": "VARCHAR", "updated": "VARCHAR", "resolutiondate": "VARCHAR", "duedate": "VARCHAR",
			"labels": ["VARCHAR"], "components": [{"name": "VARCHAR"}], "fixVersions": [{"name": "VARCHAR"}],
			"comment": {"total": "INTEGER"},
			"attachment": [{"id": "VARCHAR", "filename": "VARCHAR", "size": "BIGINT", "mimeType": "VARCHAR",
				"created": "VARCHAR", "content": "VARCHAR", "thumbnail": "VARCHAR", "author": {"emailAddress": "VARCHAR"}}],
			"issuelinks": [{"id": "VARCHAR", "type": {"name": "VARCHAR"},
				"outwardIssue": {"id": "VARCHAR", "key": "VARCHAR", "fields": {"summary": "VARCHAR", "status": {"name": "VARCHAR"}, "priority": {"name": "VARCHAR"}}},
				"inwardIssue": {"id": "VARCHAR", "key": "VARCHAR", "fields": {"summary": "VARCHAR", "status": {"name": "VARCHAR"}, "priority": {"name": "VARCHAR"}}}}],
			"customfield_10010": "JSON", "customfield_10040": "JSON", "customfield_10041": "JSON"
		}}') AS i,
	json_extract(issue, '$.fields') AS fields,
	coalesce(comments, []) AS comments, coalesce(histories, []) AS histories, coalesce(remote_links, []) AS remote_links,
	coalesce(worklogs, json_extract(issue, '$.fields.worklog.worklogs')::JSON[], []) AS worklogs,
	fetched_at::TIMESTAMPTZ AS synced_at
FROM read_json({{input}}, format = 'newline_delimited', maximum_object_size = 134217728,
	columns = {issue: 'JSON', comments: 'JSON[]', histories: 'JSON[]', remote_links: 'JSON[]', worklogs: 'JSON[]', fetched_at: 'VARCHAR'})`

// referenceTables derive each analyst table from ref_raw, in the columns of
// the store's tables.
var referenceTables = []struct{ name, query string }{
	{"issues", `SELECT
		i.key AS issue_key, i.id AS issue_id, i.self AS issue_url,
		i.fields.project.key AS project_key, i.fields.project.name AS project_name,
		i.fields.summary AS summary, i.fields.description::VARCHAR AS description,
		i.fields.issuetype.name AS issue_type, i.fields.parent.key AS parent_key,
		i.fields.status.name AS status, i.fields.status.statusCategory.name AS status_category,
		i.fields.priority.name AS priority, i.fields.resolution.name AS resolution,
		i.fields.creator.emailAddress AS creator_email, i.fields.creator.displayName AS creator_name,
		i.fields.creator.accountId AS creator_account_id,
		i.fields.reporter.emailAddress AS reporter_email, i.fields.reporter.displayName AS reporter_name,
		i.fields.reporter.accountId AS reporter_account_id,
		i.fields.assignee.emailAddress AS assignee_email, i.fields.assignee.displayName AS assignee_name,
		i.fields.assignee.accountId AS assignee_account_id,
		strptime(i.fields.created, {{ts}}) AS created_at,
		strptime(i.fields.updated, {{ts}}) AS updated_at,
		try_strptime(i.fields.resolutiondate, {{ts}}) AS resolved_at,
		try_cast(i.fields.duedate AS DATE) AS due_date,
		coalesce(list_sort(i.fields.labels), []) AS labels,
		coalesce(list_transform(i.fields.components, lambda c: c.name), []) AS components,
		coalesce(list_transform(i.fields.fixVersions, lambda v: v.name), []) AS fix_versions,
		coalesce(len(i.fields.attachment), 0) AS attachment_count,
		greatest(len(comments), coalesce(i.fields.comment.total, 0)) AS comment_count,
		coalesce(len(i.fields.issuelinks), 0) AS issuelink_count,
		json_extract_string(i.fields.customfield_10010, '$.requestType.name') AS request_type,
		json_extract_string(i.fields.customfield_10010, '$.currentStatus.status') AS request_status,
		json_extract(i.fields.customfield_10041, '$.ongoingCycle.breached')::BOOLEAN AS first_response_breached,
		json_extract(i.fields.customfield_10041, '$.ongoingCycle.goalDuration.millis')::BIGINT AS first_response_goal_millis,
		json_extract(i.fields.customfield_10041, '$.ongoingCycle.elapsedTime.millis')::BIGINT AS first_response_elapsed_millis,
		json_extract(i.fields.customfield_10041, '$.ongoingCycle.remainingTime.millis')::BIGINT AS first_response_remaining_millis,
		json_extract(i.fields.customfield_10040, '$.ongoingCycle.breached')::BOOLEAN AS time_to_resolution_breached,
		json_extract(i.fields.customfield_10040, '$.ongoingCycle.goalDuration.millis')::BIGINT AS time_to_resolution_goal_millis,
		json_extract(i.fields.customfield_10040, '$.ongoingCycle.elapsedTime.millis')::BIGINT AS time_to_resolution_elapsed_millis,
		json_extract(i.fields.customfield_10040, '$.ongoingCycle.remainingTime.millis')::BIGINT AS time_to_resolution_remaining_millis,
		TRY_CAST(json_extract_string(fields, '$.customfield_10031') AS DOUBLE) AS story_points,
		synced_at,
		strftime(strptime(i.fields.created, {{ts}}) AT TIME ZONE 'UTC', '%Y-%m') AS month
	FROM ref_raw`},
	{"comments", `SELECT DISTINCT ON (issue_key, comment_id) * FROM (SELECT
		c->>'$.id' AS comment_id, i.key AS issue_key,
		c->>'$.author.emailAddress' AS author_email, c->>'$.author.displayName' AS author_name,
		c->>'$.author.accountId' AS author_account_id, (c->'$.body')::VARCHAR AS body,
		strptime(c->>'$.created', {{ts}}) AS created_at, try_strptime(c->>'$.updated', {{ts}}) AS updated_at,
		c->>'$.updateAuthor.emailAddress' AS update_author_email,
		try_cast(c->>'$.jsdPublic' AS BOOLEAN) AS public_visibility,
		c->>'$.visibility.type' AS visibility_type, c->>'$.visibility.value' AS visibility_value
	FROM ref_raw, unnest(comments) AS u(c)) WHERE comment_id IS NOT NULL`},
	{"attachments", `SELECT DISTINCT ON (issue_key, attachment_id) * FROM (SELECT
		a.id AS attachment_id, i.key AS issue_key, a.filename AS filename, NULL::VARCHAR AS local_path,
		a.size AS size_bytes, a.mimeType AS mime_type, a.author.emailAddress AS author_email,
		try_strptime(a.created, {{ts}}) AS created_at, a.content AS content_url, a.thumbnail AS thumbnail_url
	FROM ref_raw, unnest(i.fields.attachment) AS u(a)) WHERE attachment_id IS NOT NULL`},
	{"changelog", `WITH h AS (
		SELECT DISTINCT ON (issue_key, change_id) * FROM (SELECT i.key AS issue_key, h->>'$.id' AS change_id,
			h->>'$.author.emailAddress' AS author_email, h->>'$.author.displayName' AS author_name,
			h->>'$.author.accountId' AS author_account_id, try_strptime(h->>'$.created', {{ts}}) AS changed_at,
			coalesce((h->'$.items')::JSON[], []) AS items
		FROM ref_raw, unnest(histories) AS u(h)) WHERE change_id IS NOT NULL),
	item AS (SELECT *, unnest(range(len(items))) AS item_index FROM h)
	SELECT change_id, item_index, issue_key, author_email, author_name, author_account_id,
		items[item_index + 1]->>'$.field' AS field, items[item_index + 1]->>'$.fieldId' AS field_id,
		items[item_index + 1]->>'$.fieldtype' AS field_type,
		items[item_index + 1]->>'$.from' AS from_value, items[item_index + 1]->>'$.fromString' AS from_string,
		items[item_index + 1]->>'$.to' AS to_value, items[item_index + 1]->>'$.toString' AS to_string,
		changed_at
	FROM item`},
	{"issuelinks", `SELECT DISTINCT ON (issue_key, link_id) * FROM (SELECT
		i.key AS issue_key, l.id AS link_id, l.type.name AS link_type,
		CASE WHEN l.outwardIssue IS NOT NULL THEN 'outward' ELSE 'inward' END AS direction,
		coalesce(l.outwardIssue.key, l.inwardIssue.key) AS linked_issue_key,
		coalesce(l.outwardIssue.fields.summary, l.inwardIssue.fields.summary) AS linked_issue_summary,
		coalesce(l.outwardIssue.fields.status.name, l.inwardIssue.fields.status.name) AS linked_issue_status,
		coalesce(l.outwardIssue.fields.priority.name, l.inwardIssue.fields.priority.name) AS linked_issue_priority
	FROM ref_raw, unnest(i.fields.issuelinks) AS u(l)) WHERE link_id IS NOT NULL`},
	{"remote_links", `SELECT DISTINCT ON (issue_key, remote_link_id) * FROM (SELECT
		i.key AS issue_key, r->>'$.id' AS remote_link_id, r->>'$.globalId' AS global_id,
		r->>'$.object.url' AS url, r->>'$.object.title' AS title,
		r->>'$.application.name' AS application_name, r->>'$.application.type' AS application_type,
		r->>'$.relationship' AS relationship
	FROM ref_raw, unnest(remote_links) AS u(r)) WHERE remote_link_id IS NOT NULL`},
	{"sla", `WITH f AS (
		SELECT i.key AS issue_key, synced_at, unnest([
			{'field_id': 'customfield_10041', 'v': i.fields.customfield_10041},
			{'field_id': 'customfield_10040', 'v': i.fields.customfield_10040}]) AS s
		FROM ref_raw),
	v AS (SELECT issue_key, synced_at, s.field_id AS field_id, s.v->>'$.name' AS sla_name,
			coalesce((s.v->'$.completedCycles')::JSON[], []) AS completed, s.v->'$.ongoingCycle' AS ongoing
		FROM f WHERE s.v IS NOT NULL AND json_type(s.v) = 'OBJECT' AND (s.v->'$.errorMessage') IS NULL),
	cycles AS (
		SELECT issue_key, synced_at, field_id, sla_name, 'completed' AS cycle, unnest(range(len(completed))) AS cycle_index,
			completed AS list FROM v
		UNION ALL
		SELECT issue_key, synced_at, field_id, sla_name, 'ongoing', 0, [ongoing] FROM v WHERE ongoing IS NOT NULL AND json_type(ongoing) = 'OBJECT'),
	c AS (SELECT *, list[CASE WHEN cycle = 'ongoing' THEN 1 ELSE cycle_index + 1 END] AS c FROM cycles)
	SELECT issue_key, field_id, sla_name, cycle, cycle_index,
		to_timestamp((c->>'$.startTime.epochMillis')::BIGINT / 1000) AS start_time,
		to_timestamp((c->>'$.stopTime.epochMillis')::BIGINT / 1000) AS stop_time,
		to_timestamp((c->>'$.breachTime.epochMillis')::BIGINT / 1000) AS breach_time,
		(c->>'$.breached')::BOOLEAN AS breached,
		CASE WHEN cycle = 'ongoing' THEN (c->>'$.paused')::BOOLEAN END AS paused,
		(c->>'$.withinCalendarHours')::BOOLEAN AS within_calendar_hours,
		(c->>'$.goalDuration.millis')::BIGINT AS goal_millis, (c->>'$.elapsedTime.millis')::BIGINT AS elapsed_millis,
		(c->>'$.remainingTime.millis')::BIGINT AS remaining_millis, synced_at AS observed_at
	FROM c`},
	{"worklogs", `SELECT DISTINCT ON (worklog_id) * FROM (SELECT
		w->>'$.id' AS worklog_id, i.id AS issue_id, i.key AS issue_key,
		w->>'$.author.accountId' AS author_account_id, w->>'$.author.displayName' AS author_name,
		w->>'$.updateAuthor.accountId' AS update_author_account_id,
		try_strptime(w->>'$.started', {{ts}}) AS started_at, (w->>'$.timeSpentSeconds')::BIGINT AS time_spent_seconds,
		(w->'$.comment')::VARCHAR AS comment,
		try_strptime(w->>'$.created', {{ts}}) AS created_at, try_strptime(w->>'$.updated', {{ts}}) AS updated_at,
		w->>'$.visibility.type' AS visibility_type, w->>'$.visibility.value' AS visibility_value
	FROM ref_raw, unnest(worklogs) AS u(w)) WHERE worklog_id IS NOT NULL`},
	{"inline_media", `WITH docs AS (
		SELECT i.key AS issue_key, NULL::VARCHAR AS comment_id, i.fields.description AS doc, i.fields.attachment AS attachments
		FROM ref_raw
		UNION ALL
		SELECT i.key, c->>'$.id', c->'$.body', i.fields.attachment FROM ref_raw, unnest(comments) AS u(c)),
	m AS (SELECT issue_key, comment_id, attachments,
			list_filter(json_extract(doc, '$..content[*]'), lambda n: n->>'$.type' IN ('media', 'mediaInline')) AS media
		FROM docs WHERE doc IS NOT NULL AND json_type(doc) = 'OBJECT'),
	r AS (SELECT issue_key, comment_id, attachments, media, unnest(range(len(media))) AS media_index FROM m),
	n AS (SELECT issue_key, comment_id, attachments, media_index, media[media_index + 1] AS n,
			media[media_index + 1]->>'$.attrs.alt' AS alt FROM r),
	l AS (SELECT *, list_filter(attachments, lambda a: a.filename = alt) AS same_name FROM n)
	SELECT issue_key, comment_id, media_index, n->>'$.type' AS node_type, n->>'$.attrs.type' AS media_type,
		n->>'$.attrs.id' AS media_id, n->>'$.attrs.collection' AS collection, n->>'$.attrs.url' AS url, alt,
		same_name[len(same_name)].id AS attachment_id, alt AS filename,
		CASE WHEN len(same_name) > 0 THEN 'filename' END AS linked_by
	FROM l`},
	{"issue_sprints", `SELECT DISTINCT ON (issue_key, sprint_id) * FROM (SELECT i.key AS issue_key, s->>'$.id' AS sprint_id,
		s->>'$.name' AS sprint_name, s->>'$.state' AS sprint_state
	FROM ref_raw, unnest(json_extract(fields, '$.customfield_10020')::JSON[]) AS u(s)) WHERE sprint_id IS NOT NULL`},
	{"issue_organizations", `SELECT DISTINCT ON (issue_key, organization_id) * FROM (SELECT i.key AS issue_key,
		o->>'$.id' AS organization_id, o->>'$.name' AS organization_name
	FROM ref_raw, unnest(json_extract(fields, '$.customfield_10002')::JSON[]) AS u(o)) WHERE organization_id IS NOT NULL`},
	{"issue_fields", `WITH k AS (SELECT i.key AS issue_key, fields, unnest(json_keys(fields)) AS field_id FROM ref_raw),
	v AS (SELECT issue_key, field_id, json_extract(fields, '$."' || field_id || '"') AS value
		FROM k WHERE field_id LIKE 'customfield\_%' ESCAPE '\')
	SELECT issue_key, field_id, NULL::VARCHAR AS field_name,
		CASE WHEN json_type(value) = 'VARCHAR' THEN value->>'$' ELSE value::VARCHAR END AS value_text,
		value::VARCHAR AS value_json
	FROM v
	WHERE value IS NOT NULL AND value::VARCHAR NOT IN ('null', '""', '[]', '{}')
		AND NOT (json_type(value) = 'OBJECT' AND (value->'$.errorMessage') IS NOT NULL
			AND len(list_filter(json_keys(value), lambda k: k NOT IN ('errorMessage', 'i18nErrorMessage'))) = 0)`},
}

// referenceCopy runs the reference in a fresh in-memory DuckDB, writing the
// tables under out (a folder, removed at the end), and returns its time and
// the rows written per table.
func referenceCopy(ctx context.Context, ndjson, out string) (time.Duration, map[string]int64, error) {
	db, err := store.OpenMemory(ctx)
	if err != nil {
		return 0, nil, err
	}
	defer db.Close()
	if err := os.MkdirAll(out, 0o750); err != nil {
		return 0, nil, err
	}
	defer os.RemoveAll(out)
	rows := map[string]int64{}
	start := time.Now()
	if _, err := db.ExecContext(ctx, strings.ReplaceAll(referenceLoad, "{{input}}", store.Quote(ndjson))); err != nil {
		return 0, nil, fmt.Errorf("load: %w", err)
	}
	for _, t := range referenceTables {
		q := strings.ReplaceAll(t.query, "{{ts}}", referenceTimestamp)
		copyTo := fmt.Sprintf("COPY (%s) TO %s (FORMAT parquet, COMPRESSION zstd)", q, store.Quote(filepath.Join(out, t.name+".parquet")))
		res, err := db.ExecContext(ctx, copyTo)
		if err != nil {
			return 0, nil, fmt.Errorf("%s: %w", t.name, err)
		}
		n, _ := res.RowsAffected()
		rows[t.name] = n
	}
	return time.Since(start), rows, nil
}
