-- Everything else an issue carries: time tracking, status-category time,
-- project and issue-type facts, sub-tasks, security level, votes and watches
-- on issues; the account ids and display names of comment update authors and
-- attachment authors; the accounts a change of a user field moved between
-- and the history's metadata on changelog; and inline_media, the media
-- nodes of descriptions and comments linked to the issue's attachments.
--
-- Every value is in the stored payloads: the next start derives every table
-- again from them and rewrites every partition once (the issue-columns
-- record of internal/app names these columns), so no fetch is needed and no
-- Parquet file keeps the old columns.

-- A JIRA_FIELD_MAP column may have taken one of these names before they were
-- built in: the settings now refuse that name, and the promoted column goes
-- (its values are in the stored payloads, and come back under the name the
-- setting gives it next).
ALTER TABLE issues DROP COLUMN IF EXISTS original_estimate_seconds;
ALTER TABLE issues DROP COLUMN IF EXISTS remaining_estimate_seconds;
ALTER TABLE issues DROP COLUMN IF EXISTS time_spent_seconds;
ALTER TABLE issues DROP COLUMN IF EXISTS aggregate_original_estimate_seconds;
ALTER TABLE issues DROP COLUMN IF EXISTS aggregate_remaining_estimate_seconds;
ALTER TABLE issues DROP COLUMN IF EXISTS aggregate_time_spent_seconds;
ALTER TABLE issues DROP COLUMN IF EXISTS status_category_changed_at;
ALTER TABLE issues DROP COLUMN IF EXISTS project_type;
ALTER TABLE issues DROP COLUMN IF EXISTS team_managed;
ALTER TABLE issues DROP COLUMN IF EXISTS issue_type_hierarchy_level;
ALTER TABLE issues DROP COLUMN IF EXISTS subtask_keys;
ALTER TABLE issues DROP COLUMN IF EXISTS security_level;
ALTER TABLE issues DROP COLUMN IF EXISTS votes;
ALTER TABLE issues DROP COLUMN IF EXISTS watches;

ALTER TABLE issues ADD COLUMN original_estimate_seconds BIGINT;
ALTER TABLE issues ADD COLUMN remaining_estimate_seconds BIGINT;
ALTER TABLE issues ADD COLUMN time_spent_seconds BIGINT;
ALTER TABLE issues ADD COLUMN aggregate_original_estimate_seconds BIGINT;
ALTER TABLE issues ADD COLUMN aggregate_remaining_estimate_seconds BIGINT;
ALTER TABLE issues ADD COLUMN aggregate_time_spent_seconds BIGINT;
ALTER TABLE issues ADD COLUMN status_category_changed_at TIMESTAMPTZ;
ALTER TABLE issues ADD COLUMN project_type VARCHAR;
ALTER TABLE issues ADD COLUMN team_managed BOOLEAN;
ALTER TABLE issues ADD COLUMN issue_type_hierarchy_level INTEGER;
ALTER TABLE issues ADD COLUMN subtask_keys VARCHAR[];
ALTER TABLE issues ADD COLUMN security_level VARCHAR;
ALTER TABLE issues ADD COLUMN votes INTEGER;
ALTER TABLE issues ADD COLUMN watches INTEGER;

ALTER TABLE comments ADD COLUMN update_author_name VARCHAR;
ALTER TABLE comments ADD COLUMN update_author_account_id VARCHAR;

ALTER TABLE attachments ADD COLUMN author_name VARCHAR;
ALTER TABLE attachments ADD COLUMN author_account_id VARCHAR;

ALTER TABLE changelog ADD COLUMN from_account_id VARCHAR;
ALTER TABLE changelog ADD COLUMN to_account_id VARCHAR;
ALTER TABLE changelog ADD COLUMN activity_type VARCHAR;
ALTER TABLE changelog ADD COLUMN activity_description VARCHAR;

-- One row per media node (media, mediaInline) of an issue's description
-- (comment_id NULL) or of one of its comments, in document order
-- (media_index counts from 0 within each). attachment_id is the issue's
-- attachment the node shows, found by the attachment id in its URL or its
-- id, else by its file name (linked_by says which); NULL when none matches.
-- Rows are replaced with the issue's comments: no primary key is needed, and
-- none can hold the NULL comment_id of the description.
CREATE TABLE inline_media (
    issue_key     VARCHAR NOT NULL,
    comment_id    VARCHAR,
    media_index   INTEGER NOT NULL,
    node_type     VARCHAR,
    media_type    VARCHAR,
    media_id      VARCHAR,
    collection    VARCHAR,
    url           VARCHAR,
    alt           VARCHAR,
    attachment_id VARCHAR,
    filename      VARCHAR,
    linked_by     VARCHAR
);
