-- jira_remote_links: the exported remote_links partitions, one file per month of the parent issue's
-- created date. {{root}} is replaced by the parquet/jira folder in use.
CREATE OR REPLACE VIEW jira_remote_links AS
SELECT * FROM read_parquet('{{root}}/remote_links/month=*/*.parquet', hive_partitioning = true, union_by_name = true);
