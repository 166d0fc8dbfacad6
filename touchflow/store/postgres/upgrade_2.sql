-- Schema version 2: several daemons on one store (issue 16). Run by migrate.py after
-- version 1 (schema.sql), in the same transaction.
--
-- Every statement that writes a change now also tells the daemons listening (LISTEN
-- touchflow) at its commit: the payload is '<schema> changes', so daemons of another
-- store in the same database skip it. PostgreSQL folds identical notifications of one
-- transaction into one: an import of a million rows notifies once.
CREATE OR REPLACE FUNCTION touchflow_changes_writer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared((736673::bigint << 32) | TG_RELID::bigint);
    PERFORM pg_notify('touchflow', TG_TABLE_SCHEMA || ' changes');
    RETURN NULL;
END $$;

UPDATE meta SET value = '2' WHERE key = 'schema_version';
