-- jira_worklogs: the exported worklogs partitions, one file per month of the parent issue's
-- created date. {{root}} is replaced by the parquet/jira folder in use.
CREATE OR REPLACE VIEW jira_worklogs AS
SELECT * FROM read_parquet('{{root}}/worklogs/month=*/*.parquet', hive_partitioning = true, union_by_name = true);
