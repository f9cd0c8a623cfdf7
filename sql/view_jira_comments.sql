-- jira_comments: the exported comments partitions, one file per month of the parent issue's
-- created date. {{root}} is replaced by the parquet/jira folder in use.
CREATE OR REPLACE VIEW jira_comments AS
SELECT * FROM read_parquet('{{root}}/comments/month=*/*.parquet', hive_partitioning = true, union_by_name = true);
