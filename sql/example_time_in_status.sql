-- Time in status: how long tickets stay in each workflow status, from the
-- status changes in jira_changelog (wall-clock hours).
--
-- A ticket is in the status it was created in until its first status change
-- (that change's from_string), then in each to_string until the next change.
-- The current status of an open ticket counts up to now; the final status of
-- a resolved ticket (Done, Closed...) is where it rests, so it is left out.
-- visits counts stays (a ticket reopened twice visits In Progress 3 times).
WITH changes AS (
    SELECT issue_key, changed_at, from_string, to_string,
           row_number() OVER (PARTITION BY issue_key ORDER BY changed_at, change_id, item_index) AS n
    FROM jira_changelog
    WHERE field_id = 'status'
),
stays AS (
    -- the status each ticket was created in
    SELECT i.issue_key,
           coalesce(c.from_string, i.status) AS status,
           i.created_at                      AS entered_at,
           c.changed_at                      AS left_at
    FROM jira_issues i
    LEFT JOIN changes c ON c.issue_key = i.issue_key AND c.n = 1
    UNION ALL
    -- every status reached by a change, until the next change
    SELECT c.issue_key, c.to_string, c.changed_at, nxt.changed_at
    FROM changes c
    LEFT JOIN changes nxt ON nxt.issue_key = c.issue_key AND nxt.n = c.n + 1
),
timed AS (
    SELECT s.issue_key, s.status,
           date_diff('second', s.entered_at,
                     coalesce(s.left_at, CASE WHEN i.status_category <> 'Done' THEN now() END)) / 3600.0 AS hours
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
