-- jira_priorities: the exported priorities dimension table, one file (parquet/jira/priorities/data.parquet)
-- rewritten whenever its content changes. {{root}} is replaced by the parquet/jira folder in use.
CREATE OR REPLACE VIEW jira_priorities AS
SELECT * FROM read_parquet('{{root}}/priorities/data.parquet');
