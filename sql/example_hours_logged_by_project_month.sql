-- Hours logged per project and calendar month (UTC) of the work itself: the
-- month a worklog says the work started in, how many hours, in how many
-- worklogs, on how many tickets and by how many people.
--
-- Note the difference from the month column: every row of jira_worklogs sits
-- in the partition of its ticket's creation month, so GROUP BY month would
-- count work by when its ticket was opened, not when the work was done. The
-- join is by issue_id, which a ticket keeps when it moves to another project
-- (project_key is then the project it is in now).
SELECT
    i.project_key,
    strftime(w.started_at AT TIME ZONE 'UTC', '%Y-%m')   AS worked_month,
    round(sum(w.time_spent_seconds) / 3600.0, 1)          AS hours,
    count(*)                                              AS worklogs,
    count(DISTINCT w.issue_id)                            AS tickets,
    count(DISTINCT w.author_account_id)                   AS people
FROM jira_worklogs w
JOIN jira_issues i ON i.issue_id = w.issue_id
GROUP BY i.project_key, worked_month
ORDER BY worked_month, i.project_key;
