-- jira_inline_media: the exported inline_media partitions, one file per month of the parent issue's
-- created date. {{root}} is replaced by the parquet/jira folder in use.
CREATE OR REPLACE VIEW jira_inline_media AS
SELECT * FROM read_parquet('{{root}}/inline_media/month=*/*.parquet', hive_partitioning = true, union_by_name = true);
