-- Schema version 5: the console's outbox pages and health page (keyset by due time and key), with no
-- filter or a rule's, read by index at a million rows. Run by migrate.py after version 4,
-- in the same transaction (building them on a large outbox takes seconds, once).
CREATE INDEX outbox_due ON outbox (due_at, key);
CREATE INDEX outbox_rule_due ON outbox (rule_id, due_at, key);
-- The last send (/healthz, the console's health page): not a scan of every sent row.
CREATE INDEX outbox_sent ON outbox (sent_at) WHERE state = 'sent';

UPDATE meta SET value = '5' WHERE key = 'schema_version';
