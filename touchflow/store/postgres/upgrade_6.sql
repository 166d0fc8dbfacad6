-- Schema version 6: each outbox row names its channel (the rule's action.channel: email or
-- webhook), so the outbox listing, why, /metrics and the console show it without the rules.
-- Rows stored before were all email. Run by migrate.py after version 5, in the same
-- transaction; a column with a constant default is added without rewriting the table.
ALTER TABLE outbox ADD COLUMN channel text COLLATE "C" NOT NULL DEFAULT 'email';

UPDATE meta SET value = '6' WHERE key = 'schema_version';
