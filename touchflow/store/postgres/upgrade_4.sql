-- Schema version 4: events remember when the store recorded them (for `touchflow
-- backtest`). Run by migrate.py after version 3, in the same transaction.
--
-- Events stored before keep NULL: when they were recorded is not known.
ALTER TABLE events ADD COLUMN recorded_at timestamptz;

UPDATE meta SET value = '4' WHERE key = 'schema_version';
