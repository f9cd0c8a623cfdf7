-- jira_issue_field_history: one row per issue, field and value interval, built
-- from jira_changelog: the value a field held from valid_from until valid_to
-- (NULL while it still holds it), its id where Jira gives one (value_id: a
-- status id, an account id, an option id), and who set it.
--
-- The first interval of each field is its value at creation: the first
-- change's from_string/from_value, from the issue's created_at (set by the
-- issue's creator) until that change. A field never changed has no rows;
-- its current value is in jira_issues. Fields are told apart by field_id
-- (by field name where Jira gives no id), so a renamed custom field keeps one
-- history. Changes within the same millisecond are ordered by history id.
-- A changelog that Jira cut short (raw payload marked incomplete) gives a
-- history that starts at its first stored change.
CREATE OR REPLACE VIEW jira_issue_field_history AS
WITH items AS (
    SELECT issue_key, field, field_id, coalesce(field_id, field) AS field_key,
           from_string, from_value, to_string, to_value, changed_at, author_account_id,
           row_number() OVER w AS n,
           lead(changed_at) OVER w AS next_at
    FROM jira_changelog
    WHERE changed_at IS NOT NULL AND coalesce(field_id, field) IS NOT NULL
    WINDOW w AS (PARTITION BY issue_key, coalesce(field_id, field)
                 ORDER BY changed_at, try_cast(change_id AS BIGINT), change_id, item_index)
)
SELECT i.issue_key, f.field, f.field_id,
       f.from_string          AS value,
       f.from_value           AS value_id,
       i.created_at           AS valid_from,
       f.changed_at           AS valid_to,
       i.creator_account_id   AS changed_by_account_id,
       i.month
FROM items f
JOIN jira_issues i USING (issue_key)
WHERE f.n = 1 AND f.changed_at > i.created_at
UNION ALL
SELECT f.issue_key, f.field, f.field_id,
       f.to_string            AS value,
       f.to_value             AS value_id,
       f.changed_at           AS valid_from,
       f.next_at              AS valid_to,
       f.author_account_id    AS changed_by_account_id,
       i.month
FROM items f
JOIN jira_issues i USING (issue_key);
