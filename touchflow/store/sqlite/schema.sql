-- touchflow store schema, version 6 (see SCHEMA_VERSION in store.py).
-- Kept to SQL that PostgreSQL also accepts, so its schema can follow this one,
-- except the change triggers at the end (PostgreSQL spells triggers differently).
-- Dates are ISO text; instants are UTC text 'YYYY-MM-DDTHH:MM:SS.ffffffZ', fixed
-- width, so ordering the text orders the time.

CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

INSERT INTO meta (key, value) VALUES ('schema_version', '6')
    ON CONFLICT (key) DO NOTHING;

CREATE TABLE IF NOT EXISTS customers (
    id                TEXT PRIMARY KEY,
    email             TEXT,
    phone             TEXT,
    first_name        TEXT,
    last_name         TEXT,
    timezone          TEXT,
    locale            TEXT,
    country           TEXT,
    birthday          TEXT,              -- YYYY-MM-DD
    customer_since    TEXT,              -- YYYY-MM-DD
    consent_marketing INTEGER NOT NULL DEFAULT 0,
    attributes        TEXT NOT NULL DEFAULT '{}',  -- JSON object
    -- 'MM-DD' of birthday / customer_since: lets yearly rules ask only for the
    -- customers whose day falls in the planning window.
    birthday_md       TEXT,
    since_md          TEXT,
    -- created_at: UTC, first stored (NULL: before version 3). consent_sms: consent to
    -- text messages; last, where version 6 added it to a file made before, so a new
    -- store and an upgraded one have their columns in the same order.
    created_at        TEXT,
    consent_sms       INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX IF NOT EXISTS customers_birthday_md ON customers (birthday_md);
CREATE INDEX IF NOT EXISTS customers_since_md ON customers (since_md);
CREATE INDEX IF NOT EXISTS customers_email ON customers (lower(email));
-- Phone numbers are E.164 (as imported): a suppression of a number finds its customers.
CREATE INDEX IF NOT EXISTS customers_phone ON customers (phone);

-- No foreign key to customers: events may arrive (CLI, webhook, an export)
-- before the customer import that names their customer; load_facts simply
-- leaves out events whose customer is unknown.
CREATE TABLE IF NOT EXISTS events (
    id          TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    at          TEXT NOT NULL,           -- UTC, see above
    data        TEXT NOT NULL DEFAULT '{}',  -- JSON object
    recorded_at TEXT                     -- UTC: when stored (NULL: before version 4)
);

CREATE INDEX IF NOT EXISTS events_customer_at ON events (customer_id, at);
CREATE INDEX IF NOT EXISTS events_type_at ON events (type, at);

CREATE TABLE IF NOT EXISTS suppressions (
    email      TEXT NOT NULL,            -- the address: e-mail lower-cased, or E.164 phone
    scope      TEXT NOT NULL,            -- 'marketing' or 'all'
    reason     TEXT,
    created_at TEXT,                     -- UTC, see above
    PRIMARY KEY (email, scope)
);

-- The outbox: one row per touchpoint key, the daemon's durable memory of what
-- it planned, sent, retries and gave up on. See OutboxState in models.py.
CREATE TABLE IF NOT EXISTS outbox (
    key              TEXT PRIMARY KEY,
    rule_id          TEXT NOT NULL,
    customer_id      TEXT NOT NULL,
    category         TEXT NOT NULL,
    counts_for_caps  INTEGER NOT NULL DEFAULT 1,
    state            TEXT NOT NULL,
    due_at           TEXT NOT NULL,      -- UTC, see above
    expires_at       TEXT NOT NULL,
    next_attempt_at  TEXT NOT NULL,      -- due_at, or later after a temporary failure
    attempts         INTEGER NOT NULL DEFAULT 0,
    reason           TEXT,               -- a machine word: cancelled, expired, bad_mailbox...
    last_error       TEXT,               -- words for people
    claim_owner      TEXT,
    claim_expires_at TEXT,
    message_id       TEXT,
    to_addr          TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    sent_at          TEXT,
    channel          TEXT NOT NULL DEFAULT 'email'  -- email or webhook (version 5)
);

-- What the dispatcher asks every time: the ready rows in time order.
CREATE INDEX IF NOT EXISTS outbox_ready ON outbox (next_attempt_at)
    WHERE state IN ('pending', 'retry');
CREATE INDEX IF NOT EXISTS outbox_claimed ON outbox (claim_expires_at) WHERE state = 'claimed';
CREATE INDEX IF NOT EXISTS outbox_customer ON outbox (customer_id, due_at);
CREATE INDEX IF NOT EXISTS outbox_state ON outbox (state, due_at);
-- The console's outbox pages (keyset by due time and key), with no filter or a rule's.
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (due_at, key);
CREATE INDEX IF NOT EXISTS outbox_rule_due ON outbox (rule_id, due_at, key);
-- The last send (/healthz, the console's health page): not a scan of every sent row.
CREATE INDEX IF NOT EXISTS outbox_sent ON outbox (sent_at) WHERE state = 'sent';
-- What needs a look (/healthz, `touchflow outbox`, the console's health page): only the
-- rows held or failed for trouble's reasons (send/trouble.py), not every cancelled row.
CREATE INDEX IF NOT EXISTS outbox_trouble ON outbox (due_at, reason, customer_id)
    WHERE state IN ('cancelled', 'failed')
    AND reason IN ('invalid_data', 'render_error', 'invalid_message', 'rejected');

-- Customers whose facts changed since the daemon last planned them. Triggers
-- fill it, so every writer (CLI, HTTP, a script with sqlite3) is seen.
CREATE TABLE IF NOT EXISTS changes (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id TEXT NOT NULL
);

-- A full plan shared out in id ranges (touchflow/store/planning.py): (lo, hi] of a run,
-- planned and written up to cursor by its owner, whose lease ends at lease_until.
CREATE TABLE IF NOT EXISTS plan_ranges (
    run         TEXT NOT NULL,
    lo          TEXT NOT NULL,
    hi          TEXT,
    cursor      TEXT NOT NULL,
    owner       TEXT,
    lease_until TEXT,
    done        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run, lo)
);

CREATE TRIGGER IF NOT EXISTS customers_inserted AFTER INSERT ON customers
BEGIN
    INSERT INTO changes (customer_id) VALUES (NEW.id);
END;

CREATE TRIGGER IF NOT EXISTS customers_updated AFTER UPDATE ON customers
BEGIN
    INSERT INTO changes (customer_id) VALUES (NEW.id);
END;

CREATE TRIGGER IF NOT EXISTS events_inserted AFTER INSERT ON events
BEGIN
    INSERT INTO changes (customer_id) VALUES (NEW.customer_id);
END;

CREATE TRIGGER IF NOT EXISTS suppressions_inserted AFTER INSERT ON suppressions
BEGIN
    INSERT INTO changes (customer_id)
        SELECT id FROM customers WHERE lower(email) = NEW.email;
END;

-- A suppressed phone number (version 6; its own trigger, so an upgraded store gets it).
CREATE TRIGGER IF NOT EXISTS suppressions_inserted_phone AFTER INSERT ON suppressions
BEGIN
    INSERT INTO changes (customer_id)
        SELECT id FROM customers WHERE phone = NEW.email;
END;
