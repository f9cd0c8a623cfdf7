-- jira_resolutions: the exported resolutions dimension table, one file (parquet/jira/resolutions/data.parquet)
-- rewritten whenever its content changes. {{root}} is replaced by the parquet/jira folder in use.
CREATE OR REPLACE VIEW jira_resolutions AS
SELECT * FROM read_parquet('{{root}}/resolutions/data.parquet');
