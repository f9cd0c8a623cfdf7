-- jira_statuses: the exported statuses dimension table, one file (parquet/jira/statuses/data.parquet)
-- rewritten whenever its content changes. {{root}} is replaced by the parquet/jira folder in use.
CREATE OR REPLACE VIEW jira_statuses AS
SELECT * FROM read_parquet('{{root}}/statuses/data.parquet');
