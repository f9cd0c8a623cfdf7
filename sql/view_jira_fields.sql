-- jira_fields: the exported fields dimension table, one file (parquet/jira/fields/data.parquet)
-- rewritten whenever its content changes. {{root}} is replaced by the parquet/jira folder in use.
CREATE OR REPLACE VIEW jira_fields AS
SELECT * FROM read_parquet('{{root}}/fields/data.parquet');
