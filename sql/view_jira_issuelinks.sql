-- jira_issuelinks: the exported issuelinks partitions, one file per month of the parent issue's
-- created date. {{root}} is replaced by the parquet/jira folder in use.
CREATE OR REPLACE VIEW jira_issuelinks AS
SELECT * FROM read_parquet('{{root}}/issuelinks/month=*/*.parquet', hive_partitioning = true, union_by_name = true);
