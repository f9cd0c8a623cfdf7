-- Time in status: how long tickets stay in each workflow status, from the
-- status intervals of jira_issue_field_history (wall-clock hours).
--
-- A ticket is in the status it was created in until its first status change,
-- then in each status a change moved it to until the next change; a ticket
-- whose status never changed has been in it since it was created. The
-- current status of an open ticket counts up to now; the final status of a
-- resolved ticket (Done, Closed...) is where it rests, so it is left out.
-- visits counts stays (a ticket reopened twice visits In Progress 3 times).
WITH stays AS (
    SELECT issue_key, value AS status, valid_from, valid_to
    FROM jira_issue_field_history
    WHERE field_id = 'status'
    UNION ALL
    -- tickets whose status never changed
    SELECT i.issue_key, i.status, i.created_at, NULL
    FROM jira_issues i
    WHERE NOT EXISTS (SELECT 1 FROM jira_issue_field_history h
                      WHERE h.issue_key = i.issue_key AND h.field_id = 'status')
),
timed AS (
    SELECT s.issue_key, s.status,
           date_diff('second', s.valid_from,
                     coalesce(s.valid_to, CASE WHEN i.status_category <> 'Done' THEN now() END)) / 3600.0 AS hours
    FROM stays s
    JOIN jira_issues i USING (issue_key)
)
SELECT
    status,
    count(DISTINCT issue_key)                           AS tickets,
    count(*)                                            AS visits,
    round(median(hours), 1)                             AS median_hours_per_visit,
    round(quantile_cont(hours, 0.9), 1)                 AS p90_hours_per_visit,
    round(sum(hours) / count(DISTINCT issue_key), 1)    AS avg_hours_per_ticket
FROM timed
WHERE hours IS NOT NULL
GROUP BY status
ORDER BY avg_hours_per_ticket DESC;
