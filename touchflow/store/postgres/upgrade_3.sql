-- Schema version 3: a full plan shared out among the daemons (touchflow/store/planning.py).
-- Run by migrate.py after version 2, in the same transaction.
--
-- A run's id ranges (lo, hi], each planned and written up to cursor by its owner (an
-- instance id) while its lease lasts, or while that daemon lives (its instance lock).
CREATE TABLE plan_ranges (
    run         text NOT NULL,
    lo          text COLLATE "C" NOT NULL,
    hi          text COLLATE "C",
    cursor      text COLLATE "C" NOT NULL,
    owner       text,
    lease_until timestamptz,
    done        boolean NOT NULL DEFAULT false,
    PRIMARY KEY (run, lo)
);

UPDATE meta SET value = '3' WHERE key = 'schema_version';
