-- Tickets and SLA breach rate per customer organization per month: the
-- requests shared with each organization (Jira Service Management's
-- Organizations field), by the month they were raised, how many had an SLA,
-- and how many of those breached one, in any cycle of any metric (a
-- reopened request that breached before counts).
--
-- A request shared with two organizations counts for both. organization
-- name is as of the request's last fetch; jira_organizations has the
-- current names.
WITH sla AS (
    SELECT issue_key, bool_or(coalesce(breached, false)) AS breached
    FROM jira_sla
    GROUP BY issue_key
)
SELECT
    o.organization_id,
    any_value(o.organization_name)                                          AS organization,
    o.month,
    count(*)                                                                AS tickets,
    count(s.issue_key)                                                      AS tickets_with_sla,
    count(*) FILTER (WHERE s.breached)                                      AS tickets_breached,
    round(100.0 * count(*) FILTER (WHERE s.breached) / nullif(count(s.issue_key), 0), 1) AS breach_rate_pct
FROM jira_issue_organizations o
LEFT JOIN sla s ON s.issue_key = o.issue_key
GROUP BY o.organization_id, o.month
ORDER BY o.month, organization, o.organization_id;
