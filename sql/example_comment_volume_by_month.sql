-- Comment volume by calendar month (UTC) of the comment itself: how many
-- comments were written, how many of them the customer could see (public) or
-- not (internal notes), on how many tickets and by how many people.
-- other_project_comments are those outside service projects, where Jira has
-- no public/internal distinction.
--
-- Note the difference from the month column: every row of jira_comments sits
-- in the partition of its ticket's creation month, so GROUP BY month would
-- count comments by when their ticket was opened, not when they were written.
SELECT
    strftime(created_at AT TIME ZONE 'UTC', '%Y-%m')          AS written_month,
    count(*)                                                  AS comments,
    count(*) FILTER (WHERE public_visibility)                 AS public_comments,
    count(*) FILTER (WHERE NOT public_visibility)             AS internal_comments,
    count(*) FILTER (WHERE public_visibility IS NULL)         AS other_project_comments,
    count(DISTINCT issue_key)                                 AS tickets,
    count(DISTINCT author_account_id)                         AS authors
FROM jira_comments
GROUP BY written_month
ORDER BY written_month;
