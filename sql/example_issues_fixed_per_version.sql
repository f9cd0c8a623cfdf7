-- Tickets fixed per released version: for every released version of every
-- project (newest release first), how many tickets name it as a fix version,
-- how many of them are resolved, and how many were resolved only after the
-- release date (a release that went out before its tickets were done).
--
-- Tickets name their fix versions by name (jira_issues.fix_versions), and a
-- version's name is unique within its project, so the join is on the project
-- and the name.
SELECT
    p.key                                                            AS project_key,
    v.name                                                           AS version,
    v.release_date,
    count(i.issue_key)                                               AS tickets,
    count(i.resolved_at)                                             AS resolved,
    count(i.issue_key) FILTER (WHERE CAST(i.resolved_at AS DATE) > v.release_date) AS resolved_after_release
FROM jira_versions v
JOIN jira_projects p ON p.id = v.project_id
LEFT JOIN jira_issues i ON i.project_key = p.key AND list_contains(i.fix_versions, v.name)
WHERE v.released
GROUP BY p.key, v.name, v.release_date
ORDER BY v.release_date DESC NULLS LAST, p.key, v.name;
