-- webhook_events.body_sha256: the SHA-256 (lower-case hex) of the delivery's
-- body. Jira puts a millisecond timestamp in every body and two deliveries of
-- one event share their X-Atlassian-Webhook-Identifier, so two real
-- deliveries with different identifiers never share a body: one that does is
-- a replay of a captured delivery, refused as a duplicate for as long as the
-- event is kept (JIRADUCK_EVENT_RETENTION). The intake asks this index only
-- for the few bodies its Bloom filter cannot rule out (internal/intake).
ALTER TABLE webhook_events ADD COLUMN body_sha256 VARCHAR;

-- DuckDB creates no index in a transaction that updated the table: index
-- first, then hash the bodies already stored.
CREATE INDEX webhook_events_body_sha256 ON webhook_events (body_sha256);

UPDATE webhook_events SET body_sha256 = sha256(body) WHERE body IS NOT NULL;

-- fetch_failures: the issues whose latest fetch failed, whatever asked for it
-- (a webhook, reconcile, the SLA heal, a backfill, the debug endpoint), until
-- a fetch of the issue succeeds. issue is the key or id the fetch was asked
-- with; reason is a short kind of failure safe to show on unauthenticated
-- pages, error the full text for operators.
CREATE TABLE fetch_failures (
    issue        VARCHAR PRIMARY KEY,
    issue_key    VARCHAR,
    issue_id     VARCHAR,
    reason       VARCHAR NOT NULL,
    error        VARCHAR NOT NULL,
    first_failed TIMESTAMPTZ NOT NULL,
    last_failed  TIMESTAMPTZ NOT NULL,
    failures     INTEGER NOT NULL
);
