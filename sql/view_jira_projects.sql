-- jira_projects: the exported projects dimension table, one file (parquet/jira/projects/data.parquet)
-- rewritten whenever its content changes. {{root}} is replaced by the parquet/jira folder in use.
CREATE OR REPLACE VIEW jira_projects AS
SELECT * FROM read_parquet('{{root}}/projects/data.parquet');
