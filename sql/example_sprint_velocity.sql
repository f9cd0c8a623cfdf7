-- Velocity: story points completed in each closed sprint, and what was left
-- over, as Jira Software's velocity chart counts them. An issue counts as
-- completed in the last sprint it was in when it is done; in every earlier
-- sprint of its, it was carried over.
--
-- jira_issue_sprints holds the sprints each issue is or was in, with the
-- sprint's state as of the issue's last fetch: a sprint is taken as closed
-- once any of its issues was fetched after it closed. jira_sprints has every
-- sprint's dates and current state; join it on sprint_id = id to order by
-- date or to limit to one board. story_points is JIRA_STORY_POINTS_FIELD,
-- else the field named "Story Points" or "Story point estimate".
WITH sprint AS (
    SELECT sprint_id, any_value(sprint_name) AS sprint_name, bool_or(sprint_state = 'closed') AS closed
    FROM jira_issue_sprints
    GROUP BY sprint_id
),
last_sprint AS (
    SELECT issue_key, arg_max(sprint_id, TRY_CAST(sprint_id AS BIGINT)) AS sprint_id
    FROM jira_issue_sprints
    GROUP BY issue_key
),
work AS (
    SELECT x.sprint_id, i.story_points,
        i.status_category = 'Done' AND l.sprint_id = x.sprint_id AS completed
    FROM jira_issue_sprints x
    JOIN jira_issues i ON i.issue_key = x.issue_key
    JOIN last_sprint l ON l.issue_key = x.issue_key
)
SELECT
    s.sprint_id,
    s.sprint_name,
    count(*) FILTER (WHERE w.completed)                                  AS issues_completed,
    coalesce(sum(w.story_points) FILTER (WHERE w.completed), 0)          AS points_completed,
    count(*) FILTER (WHERE NOT coalesce(w.completed, false))             AS issues_not_completed,
    coalesce(sum(w.story_points) FILTER (WHERE NOT coalesce(w.completed, false)), 0) AS points_not_completed,
    count(*) FILTER (WHERE w.story_points IS NULL)                       AS issues_without_estimate
FROM sprint s
JOIN work w ON w.sprint_id = s.sprint_id
WHERE s.closed
GROUP BY s.sprint_id, s.sprint_name
ORDER BY TRY_CAST(s.sprint_id AS BIGINT), s.sprint_id;
