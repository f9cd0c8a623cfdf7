-- worklogs: time logged on issues, one row per worklog, partitioned like the
-- other child tables by the UTC month of the parent issue's created date.
-- issue_id is kept besides issue_key: worklog events and Jira's worklog
-- lists name the issue by id only.
CREATE TABLE worklogs (
    worklog_id               VARCHAR PRIMARY KEY,
    issue_id                 VARCHAR NOT NULL,
    issue_key                VARCHAR NOT NULL,
    author_account_id        VARCHAR,
    author_name              VARCHAR,
    update_author_account_id VARCHAR,
    started_at               TIMESTAMPTZ,
    time_spent_seconds       BIGINT,
    comment                  VARCHAR,
    created_at               TIMESTAMPTZ,
    updated_at               TIMESTAMPTZ,
    visibility_type          VARCHAR,
    visibility_value         VARCHAR
);

-- raw_issues.worklogs_state: complete, partial or unknown, like the other
-- collections. Payloads stored before this migration hold the worklogs the
-- issue embedded (Jira embeds at most 20) and no list of their own: where the
-- embedded total exceeds what is embedded, the issue is marked partial and
-- incomplete, so that the next reconcile fetches those issues, and only those,
-- again; rebuild derives the rest from the payloads without calling Jira.
ALTER TABLE raw_issues ADD COLUMN worklogs_state VARCHAR;

-- Parsing every payload at once took more than serve's memory: this runs on
-- a few MB of payloads at a time (internal/store/migrate_batched.go).
-- batched: raw_issues.payload
UPDATE raw_issues SET
    worklogs_state = CASE
        WHEN json_extract(payload, '$.issue.fields.worklog') IS NULL
            OR json_type(json_extract(payload, '$.issue.fields.worklog')) = 'NULL' THEN 'unknown'
        WHEN coalesce(TRY_CAST(json_extract_string(payload, '$.issue.fields.worklog.total') AS BIGINT), 0)
            > coalesce(json_array_length(json_extract(payload, '$.issue.fields.worklog.worklogs')), 0) THEN 'partial'
        ELSE 'complete'
    END
WHERE payload IS NOT NULL AND deleted_at IS NULL AND rowid >= $1 AND rowid < $2;

UPDATE raw_issues SET incomplete = true WHERE worklogs_state = 'partial';

-- The worklog change lists of Jira (GET /rest/api/3/worklog/updated and
-- /worklog/deleted) are read from where the previous reconcile stopped: name
-- is the list, value its next since (epoch milliseconds, as text).
CREATE TABLE sync_cursors (
    name       VARCHAR PRIMARY KEY,
    value      VARCHAR NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
