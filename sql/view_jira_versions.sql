-- jira_versions: the exported versions dimension table, one file (parquet/jira/versions/data.parquet)
-- rewritten whenever its content changes. {{root}} is replaced by the parquet/jira folder in use.
CREATE OR REPLACE VIEW jira_versions AS
SELECT * FROM read_parquet('{{root}}/versions/data.parquet');
