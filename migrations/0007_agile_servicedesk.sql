-- Jira Software and Jira Service Management on issues: the sprints an issue
-- is or was in (its sprint field), the customer organizations a request is
-- shared with (its Organizations field), and the issue's story points.
-- Partitioned like the other child tables, by the UTC month of the parent
-- issue's created date.
--
-- Every value is in the stored payloads: the next start derives every table
-- again from them and rewrites every partition once (the issue-columns
-- record of internal/app lists these tables and the column), so no fetch is
-- needed.

-- A JIRA_FIELD_MAP column may have taken the name before it was built in:
-- the settings now refuse it (JIRA_STORY_POINTS_FIELD names the field), and
-- the promoted column goes; its values are in the stored payloads.
ALTER TABLE issues DROP COLUMN IF EXISTS story_points;
ALTER TABLE issues ADD COLUMN story_points DOUBLE;

-- One row per sprint of an issue; an issue carried over from one sprint to
-- the next keeps a row for each.
CREATE TABLE issue_sprints (
    issue_key    VARCHAR NOT NULL,
    sprint_id    VARCHAR NOT NULL,
    sprint_name  VARCHAR,
    sprint_state VARCHAR,
    PRIMARY KEY (issue_key, sprint_id)
);

-- One row per customer organization a request is shared with.
CREATE TABLE issue_organizations (
    issue_key         VARCHAR NOT NULL,
    organization_id   VARCHAR NOT NULL,
    organization_name VARCHAR,
    PRIMARY KEY (issue_key, organization_id)
);
