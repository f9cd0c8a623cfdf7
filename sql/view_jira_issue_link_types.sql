-- jira_issue_link_types: the exported issue_link_types dimension table, one file (parquet/jira/issue_link_types/data.parquet)
-- rewritten whenever its content changes. {{root}} is replaced by the parquet/jira folder in use.
CREATE OR REPLACE VIEW jira_issue_link_types AS
SELECT * FROM read_parquet('{{root}}/issue_link_types/data.parquet');
