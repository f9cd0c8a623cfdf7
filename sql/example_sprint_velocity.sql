-- Velocity: story points completed in each closed sprint, and what was left
-- over, as Jira Software's velocity chart counts them, oldest sprint first.
-- An issue counts as completed in the last sprint it was in when it is done;
-- in every earlier sprint of its, it was carried over. A closed sprint with
-- no issue is listed with zeros.
--
-- jira_sprints has every sprint's board, dates and current state, refreshed
-- on each sprint webhook; jira_issue_sprints the sprints each issue is or
-- was in (its sprint_state is as of the issue's last fetch: the current
-- state is jira_sprints'). story_points is JIRA_STORY_POINTS_FIELD, else the
-- field named "Story Points" or "Story point estimate". Add
-- `AND s.board_id = '<id>'` to the WHERE clause for one board's chart.
WITH last_sprint AS (
    -- An issue's last sprint is its latest started one; a sprint not yet
    -- started (no start date) comes after every started one.
    SELECT x.issue_key,
        arg_max(x.sprint_id, [CASE WHEN s.start_at IS NULL THEN 1 ELSE 0 END, coalesce(epoch(s.start_at), 0), coalesce(TRY_CAST(x.sprint_id AS BIGINT), 0)])
            AS sprint_id
    FROM jira_issue_sprints x
    LEFT JOIN jira_sprints s ON s.id = x.sprint_id
    GROUP BY x.issue_key
),
work AS (
    SELECT x.sprint_id, i.story_points,
        coalesce(i.status_category = 'Done', false) AND l.sprint_id = x.sprint_id AS completed
    FROM jira_issue_sprints x
    JOIN jira_issues i ON i.issue_key = x.issue_key
    JOIN last_sprint l ON l.issue_key = x.issue_key
)
SELECT
    s.id                                                                AS sprint_id,
    s.name                                                              AS sprint_name,
    s.board_id,
    s.start_at,
    s.complete_at,
    count(*) FILTER (WHERE w.completed)                                 AS issues_completed,
    coalesce(sum(w.story_points) FILTER (WHERE w.completed), 0)         AS points_completed,
    count(w.sprint_id) FILTER (WHERE NOT w.completed)                   AS issues_not_completed,
    coalesce(sum(w.story_points) FILTER (WHERE NOT w.completed), 0)     AS points_not_completed,
    count(w.sprint_id) FILTER (WHERE w.story_points IS NULL)            AS issues_without_estimate
FROM jira_sprints s
LEFT JOIN work w ON w.sprint_id = s.id
WHERE s.state = 'closed'
GROUP BY s.id, s.name, s.board_id, s.start_at, s.complete_at
ORDER BY s.start_at NULLS LAST, TRY_CAST(s.id AS BIGINT), s.id;
