-- touchflow's PostgreSQL store, schema version 1 (SCHEMA_VERSION in migrate.py).
-- The same tables as the SQLite store's schema.sql, in PostgreSQL's own types:
-- instants are timestamptz, days are date, flags boolean, attributes and event data
-- jsonb; text is COLLATE "C", ordered and compared byte-wise as SQLite does, so
-- pages and id ranges fall where they fall there, whatever the database's locale.
-- migrate.py runs this file in one transaction, under an advisory lock, when
-- it finds no schema yet; later versions add their steps there, never edit this.

CREATE TABLE meta (
    key   text COLLATE "C" PRIMARY KEY,
    value text COLLATE "C" NOT NULL
);

INSERT INTO meta (key, value) VALUES ('schema_version', '1');

CREATE TABLE customers (
    id                text COLLATE "C" PRIMARY KEY,
    email             text COLLATE "C",
    phone             text COLLATE "C",
    first_name        text COLLATE "C",
    last_name         text COLLATE "C",
    timezone          text COLLATE "C",
    locale            text COLLATE "C",
    country           text COLLATE "C",
    birthday          date,
    customer_since    date,
    consent_marketing boolean NOT NULL DEFAULT false,
    attributes        jsonb NOT NULL DEFAULT '{}',
    -- 'MM-DD' of birthday / customer_since: lets yearly rules ask only for the
    -- customers whose day falls in the planning window.
    birthday_md       text COLLATE "C",
    since_md          text COLLATE "C",
    created_at        timestamptz
);

CREATE INDEX customers_birthday_md ON customers (birthday_md);
CREATE INDEX customers_since_md ON customers (since_md);
CREATE INDEX customers_email ON customers (lower(email));

-- No foreign key to customers: events may arrive before the customer import that
-- names their customer; the facts leave out events whose customer is unknown.
CREATE TABLE events (
    id          text COLLATE "C" PRIMARY KEY,
    type        text COLLATE "C" NOT NULL,
    customer_id text COLLATE "C" NOT NULL,
    at          timestamptz NOT NULL,
    data        jsonb NOT NULL DEFAULT '{}'
);

CREATE INDEX events_customer_at ON events (customer_id, at);
CREATE INDEX events_type_at ON events (type, at);

CREATE TABLE suppressions (
    email      text COLLATE "C" NOT NULL,            -- lower-cased
    scope      text COLLATE "C" NOT NULL,            -- 'marketing' or 'all'
    reason     text COLLATE "C",
    created_at timestamptz,
    PRIMARY KEY (email, scope)
);

-- The outbox: one row per touchpoint key. See OutboxState in models.py.
CREATE TABLE outbox (
    key              text COLLATE "C" PRIMARY KEY,
    rule_id          text COLLATE "C" NOT NULL,
    customer_id      text COLLATE "C" NOT NULL,
    category         text COLLATE "C" NOT NULL,
    counts_for_caps  boolean NOT NULL DEFAULT true,
    state            text COLLATE "C" NOT NULL,
    due_at           timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    next_attempt_at  timestamptz NOT NULL,  -- due_at, or later after a temporary failure
    attempts         integer NOT NULL DEFAULT 0,
    reason           text COLLATE "C",                  -- a machine word: cancelled, expired, bad_mailbox...
    last_error       text COLLATE "C",                  -- words for people
    claim_owner      text COLLATE "C",
    claim_expires_at timestamptz,
    message_id       text COLLATE "C",
    to_addr          text COLLATE "C",
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    sent_at          timestamptz
);

-- What the dispatcher asks every time: the ready rows in time order.
CREATE INDEX outbox_ready ON outbox (next_attempt_at) WHERE state IN ('pending', 'retry');
CREATE INDEX outbox_claimed ON outbox (claim_expires_at) WHERE state = 'claimed';
CREATE INDEX outbox_customer ON outbox (customer_id, due_at);
CREATE INDEX outbox_state ON outbox (state, due_at);

-- Customers whose facts changed since the daemon last planned them. Triggers fill
-- it, so every writer (CLI, HTTP, a script with psql) is seen.
CREATE TABLE changes (
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id text COLLATE "C" NOT NULL
);

-- A change is read and dropped by its seq (``drop_changes(upto)``), so no seq may
-- commit below one the daemon has read. Every statement writing here takes a shared
-- advisory lock first, before its rows' seqs are drawn, held to its commit; the
-- reader (pending_changes) takes it exclusively: it waits for the writers in flight,
-- and the seqs drawn after it are higher than every one it saw. The lock is this
-- store's: its key holds the changes table's oid (one per schema), so a writer to
-- another store in the same database never holds this one's reader up.
CREATE FUNCTION touchflow_changes_writer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared((736673::bigint << 32) | TG_RELID::bigint);
    RETURN NULL;
END $$;

CREATE TRIGGER changes_writer BEFORE INSERT ON changes
    FOR EACH STATEMENT EXECUTE FUNCTION touchflow_changes_writer();

CREATE FUNCTION touchflow_customer_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO changes (customer_id) VALUES (NEW.id);
    RETURN NULL;
END $$;

CREATE FUNCTION touchflow_event_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO changes (customer_id) VALUES (NEW.customer_id);
    RETURN NULL;
END $$;

CREATE FUNCTION touchflow_suppression_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO changes (customer_id)
        SELECT id FROM customers WHERE lower(email) = NEW.email;
    RETURN NULL;
END $$;

-- Row triggers, as SQLite's: an upsert whose WHERE skips an unchanged customer
-- updates no row, so it records no change.
CREATE TRIGGER customers_inserted AFTER INSERT ON customers
    FOR EACH ROW EXECUTE FUNCTION touchflow_customer_changed();
CREATE TRIGGER customers_updated AFTER UPDATE ON customers
    FOR EACH ROW EXECUTE FUNCTION touchflow_customer_changed();
CREATE TRIGGER events_inserted AFTER INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION touchflow_event_added();
CREATE TRIGGER suppressions_inserted AFTER INSERT ON suppressions
    FOR EACH ROW EXECUTE FUNCTION touchflow_suppression_added();
