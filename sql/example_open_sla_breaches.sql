-- Open tickets by SLA breach: every unresolved issue that has an SLA, the
-- breached ones first, then the ones closest to breaching.
--
-- The SLA columns of jira_issues describe the ongoing cycle of each metric
-- (first_response, time_to_resolution), or the last completed one once the
-- clock has stopped: a ticket that already had its first response shows that
-- response's final numbers. *_remaining_millis counts down on Jira's SLA
-- calendar (working hours, pauses) and turns negative once the goal has
-- passed; hours_left below is that value in hours.
SELECT
    issue_key,
    summary,
    status,
    priority,
    assignee_name,
    first_response_breached,
    round(first_response_remaining_millis / 3600000.0, 1)     AS first_response_hours_left,
    time_to_resolution_breached,
    round(time_to_resolution_remaining_millis / 3600000.0, 1) AS resolution_hours_left,
    round(time_to_resolution_goal_millis / 3600000.0, 1)      AS resolution_goal_hours,
    issue_url
FROM jira_issues
WHERE coalesce(status_category, '') <> 'Done'
  AND (first_response_goal_millis IS NOT NULL OR time_to_resolution_goal_millis IS NOT NULL)
ORDER BY
    (coalesce(first_response_breached, false) OR coalesce(time_to_resolution_breached, false)) DESC,
    least(first_response_remaining_millis, time_to_resolution_remaining_millis) NULLS LAST,
    issue_key;
