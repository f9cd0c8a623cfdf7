-- The site's objects other than issues (projects, users, versions, statuses,
-- sprints, organizations, ...): each dimension table's objects as Jira gave
-- them, so that rebuild derives the tables again without calling Jira. The
-- tables themselves (dim_<table>) are made from the columns their source
-- declares (internal/dimensions), and made again when those change: their
-- content is always derivable from here.
CREATE TABLE dimension_objects (
    table_name VARCHAR NOT NULL,
    object_id  VARCHAR NOT NULL,
    payload    VARCHAR NOT NULL, -- JSON text
    fetched_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (table_name, object_id)
);

-- One row per dimension table: what its last refresh found and did.
-- rows_sha256 and objects_sha256 digest the table's rows and its objects as
-- last written: a refresh that finds the same leaves the table, its
-- Parquet file and its manifest entry alone. status is ok, skipped (the
-- product's API answered 403 or 404: the site lacks it) or failed (the
-- stored table is kept); note says why, for the status page.
CREATE TABLE dimension_tables (
    table_name     VARCHAR PRIMARY KEY,
    rows           BIGINT NOT NULL DEFAULT 0,
    rows_sha256    VARCHAR,
    objects_sha256 VARCHAR,
    column_list    VARCHAR, -- the column list the table was made with
    refreshed_at   TIMESTAMPTZ, -- the last refresh that reached Jira
    changed_at     TIMESTAMPTZ, -- the last refresh that changed the rows
    status         VARCHAR NOT NULL DEFAULT 'never',
    note           VARCHAR,
    failures       INTEGER NOT NULL DEFAULT 0
);
