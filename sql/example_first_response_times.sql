-- First response times per month of ticket creation, measured two ways:
--   sla_*:   Jira Service Management's "Time to first response" SLA, from the
--            completed cycles in jira_sla (hours on the SLA's calendar, pauses
--            excluded; only service-desk tickets have it);
--   reply_*: the first public comment by someone other than the reporter,
--            in plain wall-clock hours after the ticket was created (works for
--            every project; internal and role-restricted comments do not count).
-- Rename the sla_name filter if your service desk calls the SLA differently:
--   SELECT DISTINCT field_id, sla_name FROM jira_sla;
WITH sla_first AS (
    SELECT issue_key,
           arg_min(elapsed_millis, cycle_index) / 3600000.0 AS sla_hours,
           arg_min(breached, cycle_index)                   AS sla_breached
    FROM jira_sla
    WHERE sla_name ILIKE '%first response%'
      AND cycle = 'completed'
    GROUP BY issue_key
),
first_reply AS (
    SELECT c.issue_key, min(c.created_at) AS replied_at
    FROM jira_comments c
    JOIN jira_issues i USING (issue_key)
    WHERE c.author_account_id IS DISTINCT FROM i.reporter_account_id
      AND coalesce(c.public_visibility, true)   -- NULL: not a service project, everyone sees it
      AND c.visibility_type IS NULL             -- not restricted to a group or role
    GROUP BY c.issue_key
),
per_issue AS (
    SELECT i.month,
           s.sla_hours,
           s.sla_breached,
           date_diff('second', i.created_at, r.replied_at) / 3600.0 AS reply_hours
    FROM jira_issues i
    LEFT JOIN sla_first s USING (issue_key)
    LEFT JOIN first_reply r USING (issue_key)
)
SELECT
    month                                      AS created_month,
    count(*)                                   AS tickets,
    count(sla_hours)                           AS sla_measured,
    round(median(sla_hours), 1)                AS sla_median_hours,
    count(*) FILTER (WHERE sla_breached)       AS sla_breached,
    count(reply_hours)                         AS replied,
    round(median(reply_hours), 1)              AS reply_median_hours,
    round(quantile_cont(reply_hours, 0.9), 1)  AS reply_p90_hours
FROM per_issue
GROUP BY month
ORDER BY month;
