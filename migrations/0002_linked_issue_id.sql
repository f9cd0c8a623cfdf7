-- issuelinks.linked_issue_id: the id of the other end of a link. A moved issue
-- keeps its id, so the store finds by it the rows that describe an issue it
-- applies or deletes, and keeps their linked_issue_* columns in step with that
-- issue (internal/store/links.go). Store-only: the Parquet files keep the
-- columns of the design.
ALTER TABLE issuelinks ADD COLUMN linked_issue_id VARCHAR;

-- Rows stored before this column existed learn the id from their issue's raw
-- payload, as the normalizer reads it: the outward issue, else the inward one,
-- of the first link with that id. (No semi-join on issuelinks here: DuckDB
-- may build its hash table from raw_issues, payloads and all, and run out of
-- memory on a large store; the UPDATE's join restricts the rows anyway.)
-- Parsing every payload at once took more than serve's memory: this runs on
-- a few MB of payloads at a time (internal/store/migrate_batched.go).
-- batched: raw_issues.payload
UPDATE issuelinks SET linked_issue_id = ends.linked_issue_id
FROM (
    SELECT issue_key, link_id, arg_min(linked_issue_id, position) AS linked_issue_id
    FROM (
        SELECT issue_key,
               json_extract_string(link, '$.id') AS link_id,
               coalesce(json_extract_string(link, '$.outwardIssue.id'), json_extract_string(link, '$.inwardIssue.id')) AS linked_issue_id,
               position
        FROM (
            SELECT issue_key, unnest(links) AS link, generate_subscripts(links, 1) AS position
            FROM (
                SELECT issue_key, json_extract(payload, '$.issue.fields.issuelinks[*]') AS links
                FROM raw_issues
                WHERE payload IS NOT NULL AND deleted_at IS NULL AND rowid >= $1 AND rowid < $2
            )
        )
    )
    GROUP BY issue_key, link_id
) ends
WHERE issuelinks.issue_key = ends.issue_key AND issuelinks.link_id = ends.link_id;
