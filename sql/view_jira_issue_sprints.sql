-- jira_issue_sprints: the exported issue_sprints partitions, one file per month of the parent issue's
-- created date. {{root}} is replaced by the parquet/jira folder in use.
CREATE OR REPLACE VIEW jira_issue_sprints AS
SELECT * FROM read_parquet('{{root}}/issue_sprints/month=*/*.parquet', hive_partitioning = true, union_by_name = true);
