-- jira_issue_organizations: the exported issue_organizations partitions, one file per month of the parent issue's
-- created date. {{root}} is replaced by the parquet/jira folder in use.
CREATE OR REPLACE VIEW jira_issue_organizations AS
SELECT * FROM read_parquet('{{root}}/issue_organizations/month=*/*.parquet', hive_partitioning = true, union_by_name = true);
