-- Issues changed today: every issue whose updated_at is today, newest first,
-- with the fields its change history shows as changed today (a new comment
-- moves updated_at but is not a field change, so that list can be empty).
--
-- "Today" starts at midnight in the session's time zone: UTC in
-- `jiraduck query`, your computer's zone in the DuckDB CLI and in Python.
-- For another zone, run first:  SET TimeZone = 'Europe/Berlin';
SELECT
    i.issue_key,
    i.summary,
    i.status,
    i.assignee_name,
    i.updated_at,
    (SELECT string_agg(DISTINCT c.field, ', ' ORDER BY c.field)
       FROM jira_changelog c
      WHERE c.issue_key = i.issue_key
        AND c.changed_at >= current_date)      AS fields_changed_today,
    i.issue_url
FROM jira_issues i
WHERE i.updated_at >= current_date
ORDER BY i.updated_at DESC, i.issue_key;
