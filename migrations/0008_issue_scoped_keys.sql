-- The tables whose rows are an issue's own, keyed by the issue's key and an
-- id that is unique within the issue (issue_fields, issuelinks,
-- issue_sprints, issue_organizations), lose their primary keys. Every write
-- of an issue deletes all of its rows in them and inserts the new ones, so
-- the key never decided anything; the writer checks that an issue does not
-- list one id twice (store.uniqueWithinIssue), which is all the key enforced.
--
-- What the keys cost: DuckDB keeps a primary key's index nodes in its
-- buffer pool, where they cannot be evicted, from the first lookup until a
-- checkpoint, and every delete and insert updates them. Rewriting 1,047
-- issues of the 100,000-issue store in one transaction (their rows deleted
-- and inserted again in every analyst table) left 88.6 MB of indexes in the
-- pool, committed in 373 and 376 ms and checkpointed in 1.84 and 1.47 s;
-- without these four keys, 52.2 MB, 259 and 253 ms, 1.13 and 1.02 s.
-- issue_fields alone holds 433,000 rows there.
--
-- Each table is created anew without the key, its rows copied in their
-- order, and the old one dropped, in this migration's transaction.

CREATE TABLE issue_fields_unkeyed (
    issue_key  VARCHAR NOT NULL,
    field_id   VARCHAR NOT NULL,
    field_name VARCHAR,
    value_text VARCHAR,
    value_json JSON
);
INSERT INTO issue_fields_unkeyed SELECT issue_key, field_id, field_name, value_text, value_json FROM issue_fields;
DROP TABLE issue_fields;
ALTER TABLE issue_fields_unkeyed RENAME TO issue_fields;

CREATE TABLE issuelinks_unkeyed (
    issue_key             VARCHAR NOT NULL,
    link_id               VARCHAR NOT NULL,
    link_type             VARCHAR,
    direction             VARCHAR,
    linked_issue_key      VARCHAR,
    linked_issue_summary  VARCHAR,
    linked_issue_status   VARCHAR,
    linked_issue_priority VARCHAR,
    linked_issue_id       VARCHAR
);
INSERT INTO issuelinks_unkeyed SELECT issue_key, link_id, link_type, direction, linked_issue_key, linked_issue_summary,
    linked_issue_status, linked_issue_priority, linked_issue_id FROM issuelinks;
DROP TABLE issuelinks;
ALTER TABLE issuelinks_unkeyed RENAME TO issuelinks;

CREATE TABLE issue_sprints_unkeyed (
    issue_key    VARCHAR NOT NULL,
    sprint_id    VARCHAR NOT NULL,
    sprint_name  VARCHAR,
    sprint_state VARCHAR
);
INSERT INTO issue_sprints_unkeyed SELECT issue_key, sprint_id, sprint_name, sprint_state FROM issue_sprints;
DROP TABLE issue_sprints;
ALTER TABLE issue_sprints_unkeyed RENAME TO issue_sprints;

CREATE TABLE issue_organizations_unkeyed (
    issue_key         VARCHAR NOT NULL,
    organization_id   VARCHAR NOT NULL,
    organization_name VARCHAR
);
INSERT INTO issue_organizations_unkeyed SELECT issue_key, organization_id, organization_name FROM issue_organizations;
DROP TABLE issue_organizations;
ALTER TABLE issue_organizations_unkeyed RENAME TO issue_organizations;
