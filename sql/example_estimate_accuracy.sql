-- Estimate accuracy: resolved work with an original estimate, per project
-- and issue type, compared with the time logged on it.
--
-- The aggregate_ columns sum an issue and its sub-tasks, as Jira's own
-- "Σ Time Spent" does; sub-tasks themselves (issue_type_hierarchy_level -1)
-- are left out so that their time is not counted twice. spent_to_estimate
-- above 1 means more time was logged than estimated. Issues without time
-- logged count as spent 0: in projects that do not log work, read only the
-- estimated columns.
WITH work AS (
    SELECT project_key, issue_type,
           coalesce(aggregate_original_estimate_seconds, original_estimate_seconds) AS estimate_s,
           coalesce(aggregate_time_spent_seconds, time_spent_seconds, 0)             AS spent_s
    FROM jira_issues
    WHERE status_category = 'Done'
      AND coalesce(issue_type_hierarchy_level, 0) >= 0
)
SELECT
    project_key,
    issue_type,
    count(*)                                                     AS resolved_with_estimate,
    round(sum(estimate_s) / 3600.0, 1)                           AS hours_estimated,
    round(sum(spent_s) / 3600.0, 1)                              AS hours_spent,
    round(median(spent_s::DOUBLE / estimate_s), 2)               AS median_spent_to_estimate,
    count(*) FILTER (WHERE spent_s > estimate_s)                 AS over_estimate,
    count(*) FILTER (WHERE spent_s = 0)                          AS nothing_logged
FROM work
WHERE estimate_s > 0
GROUP BY ALL
ORDER BY project_key, issue_type;
