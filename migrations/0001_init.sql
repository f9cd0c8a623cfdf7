-- The canonical store: analyst tables (exported to Parquet) and store-only tables.
-- Timestamps are TIMESTAMPTZ in UTC, lists are native lists, ids are strings.
-- Child rows carry issue_key; the month of every row is the UTC month of its
-- parent issue's created_at, found through issues at export time.

CREATE TABLE issues (
    issue_key                         VARCHAR PRIMARY KEY,
    issue_id                          VARCHAR NOT NULL UNIQUE,
    issue_url                         VARCHAR,
    project_key                       VARCHAR,
    project_name                      VARCHAR,
    summary                           VARCHAR,
    description                       VARCHAR,
    issue_type                        VARCHAR,
    parent_key                        VARCHAR,
    status                            VARCHAR,
    status_category                   VARCHAR,
    priority                          VARCHAR,
    resolution                        VARCHAR,
    creator_email                     VARCHAR,
    creator_name                      VARCHAR,
    creator_account_id                VARCHAR,
    reporter_email                    VARCHAR,
    reporter_name                     VARCHAR,
    reporter_account_id               VARCHAR,
    assignee_email                    VARCHAR,
    assignee_name                     VARCHAR,
    assignee_account_id               VARCHAR,
    created_at                        TIMESTAMPTZ NOT NULL,
    updated_at                        TIMESTAMPTZ,
    resolved_at                       TIMESTAMPTZ,
    due_date                          DATE,
    labels                            VARCHAR[],
    components                        VARCHAR[],
    fix_versions                      VARCHAR[],
    attachment_count                  INTEGER,
    comment_count                     INTEGER,
    issuelink_count                   INTEGER,
    request_type                      VARCHAR,
    request_status                    VARCHAR,
    first_response_breached           BOOLEAN,
    first_response_goal_millis        BIGINT,
    first_response_elapsed_millis     BIGINT,
    first_response_remaining_millis   BIGINT,
    time_to_resolution_breached       BOOLEAN,
    time_to_resolution_goal_millis    BIGINT,
    time_to_resolution_elapsed_millis BIGINT,
    time_to_resolution_remaining_millis BIGINT,
    synced_at                         TIMESTAMPTZ NOT NULL
);

CREATE TABLE comments (
    comment_id          VARCHAR PRIMARY KEY,
    issue_key           VARCHAR NOT NULL,
    author_email        VARCHAR,
    author_name         VARCHAR,
    author_account_id   VARCHAR,
    body                VARCHAR,
    created_at          TIMESTAMPTZ,
    updated_at          TIMESTAMPTZ,
    update_author_email VARCHAR,
    public_visibility   BOOLEAN,
    visibility_type     VARCHAR,
    visibility_value    VARCHAR
);

CREATE TABLE attachments (
    attachment_id  VARCHAR PRIMARY KEY,
    issue_key      VARCHAR NOT NULL,
    filename       VARCHAR,
    local_path     VARCHAR,
    size_bytes     BIGINT,
    mime_type      VARCHAR,
    author_email   VARCHAR,
    created_at     TIMESTAMPTZ,
    content_url    VARCHAR,
    thumbnail_url  VARCHAR,
    sha256         VARCHAR,
    skipped_reason VARCHAR
);

CREATE TABLE changelog (
    change_id         VARCHAR NOT NULL,
    item_index        INTEGER NOT NULL,
    issue_key         VARCHAR NOT NULL,
    author_email      VARCHAR,
    author_name       VARCHAR,
    author_account_id VARCHAR,
    field             VARCHAR,
    field_id          VARCHAR,
    field_type        VARCHAR,
    from_value        VARCHAR,
    from_string       VARCHAR,
    to_value          VARCHAR,
    to_string         VARCHAR,
    changed_at        TIMESTAMPTZ,
    PRIMARY KEY (change_id, item_index)
);

CREATE TABLE issuelinks (
    issue_key             VARCHAR NOT NULL,
    link_id               VARCHAR NOT NULL,
    link_type             VARCHAR,
    direction             VARCHAR,
    linked_issue_key      VARCHAR,
    linked_issue_summary  VARCHAR,
    linked_issue_status   VARCHAR,
    linked_issue_priority VARCHAR,
    PRIMARY KEY (issue_key, link_id)
);

CREATE TABLE remote_links (
    issue_key        VARCHAR NOT NULL,
    remote_link_id   VARCHAR NOT NULL,
    global_id        VARCHAR,
    url              VARCHAR,
    title            VARCHAR,
    application_name VARCHAR,
    application_type VARCHAR,
    relationship     VARCHAR,
    PRIMARY KEY (issue_key, remote_link_id)
);

CREATE TABLE sla (
    issue_key             VARCHAR NOT NULL,
    field_id              VARCHAR NOT NULL,
    sla_name              VARCHAR,
    cycle                 VARCHAR NOT NULL,
    cycle_index           INTEGER NOT NULL,
    start_time            TIMESTAMPTZ,
    stop_time             TIMESTAMPTZ,
    breach_time           TIMESTAMPTZ,
    breached              BOOLEAN,
    paused                BOOLEAN,
    within_calendar_hours BOOLEAN,
    goal_millis           BIGINT,
    elapsed_millis        BIGINT,
    remaining_millis      BIGINT,
    observed_at           TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (issue_key, field_id, cycle, cycle_index)
);

CREATE TABLE issue_fields (
    issue_key  VARCHAR NOT NULL,
    field_id   VARCHAR NOT NULL,
    field_name VARCHAR,
    value_text VARCHAR,
    value_json JSON,
    PRIMARY KEY (issue_key, field_id)
);

-- Store-only tables.

-- The fetched bundle (issue + every comment/changelog page + remote links + SLA
-- overlay) and the state of each collection: complete, partial or unknown.
-- rebuild re-derives every analyst table from here. A deleted issue keeps a
-- tombstone: deleted_at and the reason, its payload cleared.
CREATE TABLE raw_issues (
    issue_id            VARCHAR PRIMARY KEY,
    issue_key           VARCHAR NOT NULL,
    created_at          TIMESTAMPTZ,
    updated_at          TIMESTAMPTZ,
    status_category_key VARCHAR,
    payload             VARCHAR, -- JSON text; VARCHAR, so writes skip JSON parsing
    comments_state      VARCHAR,
    changelog_state     VARCHAR,
    remote_links_state  VARCHAR,
    sla_state           VARCHAR,
    attachments_state   VARCHAR,
    incomplete          BOOLEAN NOT NULL DEFAULT false,
    -- a hash per analyst table of this issue's rows as last written: an apply
    -- that changes nothing in a table neither rewrites it nor dirties its month
    row_hashes          VARCHAR, -- JSON object: table -> digest
    fetched_at          TIMESTAMPTZ NOT NULL,
    deleted_at          TIMESTAMPTZ,
    deleted_reason      VARCHAR
);

-- Field metadata from GET /rest/api/3/field.
CREATE TABLE fields (
    field_id      VARCHAR PRIMARY KEY,
    name          VARCHAR NOT NULL,
    custom        BOOLEAN NOT NULL,
    schema_type   VARCHAR,
    schema_custom VARCHAR,
    schema_items  VARCHAR,
    fetched_at    TIMESTAMPTZ NOT NULL
);

CREATE SEQUENCE webhook_events_seq START 1;

-- Every accepted webhook delivery: the audit log and the durable queue.
-- state: pending, done, failed, ignored, duplicate-free by delivery_id.
CREATE TABLE webhook_events (
    event_id         BIGINT PRIMARY KEY DEFAULT nextval('webhook_events_seq'),
    delivery_id      VARCHAR UNIQUE,
    webhook_event    VARCHAR NOT NULL,
    issue_key        VARCHAR,
    issue_id         VARCHAR,
    related_issue_id VARCHAR,
    jira_timestamp   TIMESTAMPTZ,
    received_at      TIMESTAMPTZ NOT NULL,
    retry_count      INTEGER NOT NULL DEFAULT 0,
    state            VARCHAR NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       VARCHAR,
    processed_at     TIMESTAMPTZ,
    body             VARCHAR -- the delivery as received (JSON text)
);

CREATE SEQUENCE sync_runs_seq START 1;

-- Every poll, reconcile, backfill, rebuild, export and snapshot run.
CREATE TABLE sync_runs (
    run_id      BIGINT PRIMARY KEY DEFAULT nextval('sync_runs_seq'),
    job         VARCHAR NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    status      VARCHAR NOT NULL,
    counts      VARCHAR, -- JSON object
    args        VARCHAR, -- JSON object
    cursor      VARCHAR,
    error       VARCHAR
);

-- (table, month) partitions changed since their last export; written in the
-- same transaction as the rows that made them dirty. generation grows with
-- every mark, so an export clears only the marks it has seen.
CREATE TABLE dirty_partitions (
    table_name VARCHAR NOT NULL,
    month      VARCHAR NOT NULL,
    generation BIGINT NOT NULL,
    marked_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (table_name, month)
);

-- The published partitions, mirrored in parquet/jira/manifest.json.
CREATE TABLE partitions (
    table_name VARCHAR NOT NULL,
    month      VARCHAR NOT NULL,
    rows       BIGINT NOT NULL,
    bytes      BIGINT NOT NULL,
    sha256     VARCHAR NOT NULL,
    written_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (table_name, month)
);
