-- jira_users: the exported users dimension table, one file (parquet/jira/users/data.parquet)
-- rewritten whenever its content changes. {{root}} is replaced by the parquet/jira folder in use.
CREATE OR REPLACE VIEW jira_users AS
SELECT * FROM read_parquet('{{root}}/users/data.parquet');
