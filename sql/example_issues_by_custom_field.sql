-- Open tickets by a custom field (here "Severity"), read from
-- jira_issue_fields: one row per ticket and non-empty custom field, value_text
-- for reading (options by their value, users by name, lists joined with ", ")
-- and value_json for Jira's full value. Tickets without the field show NULL.
-- A multi-select field's single values come from value_json, e.g.
--   SELECT unnest(json_extract_string(value_json, '$[*].value')) ...
-- List the fields your site has:
--   SELECT field_id, field_name, count(*) FROM jira_issue_fields GROUP BY ALL ORDER BY 3 DESC;
SELECT
    f.value_text                AS severity,
    i.project_key,
    count(*)                    AS open_tickets,
    min(i.created_at)           AS oldest_created_at
FROM jira_issues i
LEFT JOIN jira_issue_fields f
       ON f.issue_key = i.issue_key
      AND f.field_name = 'Severity'
WHERE coalesce(i.status_category, '') <> 'Done'
GROUP BY ALL
ORDER BY severity NULLS LAST, project_key;
