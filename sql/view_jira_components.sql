-- jira_components: the exported components dimension table, one file (parquet/jira/components/data.parquet)
-- rewritten whenever its content changes. {{root}} is replaced by the parquet/jira folder in use.
CREATE OR REPLACE VIEW jira_components AS
SELECT * FROM read_parquet('{{root}}/components/data.parquet');
