-- touchflow store schema, version 1 (see SCHEMA_VERSION in sqlite.py).
-- Kept to SQL that PostgreSQL also accepts, so its schema can follow this one.
-- Dates are ISO text; instants are UTC text 'YYYY-MM-DDTHH:MM:SS.ffffffZ', fixed
-- width, so ordering the text orders the time.

CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

INSERT INTO meta (key, value) VALUES ('schema_version', '1')
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
    since_md          TEXT
);

CREATE INDEX IF NOT EXISTS customers_birthday_md ON customers (birthday_md);
CREATE INDEX IF NOT EXISTS customers_since_md ON customers (since_md);

-- No foreign key to customers: events may arrive (CLI, webhook, an export)
-- before the customer import that names their customer; load_facts simply
-- leaves out events whose customer is unknown.
CREATE TABLE IF NOT EXISTS events (
    id          TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    at          TEXT NOT NULL,           -- UTC, see above
    data        TEXT NOT NULL DEFAULT '{}'  -- JSON object
);

CREATE INDEX IF NOT EXISTS events_customer_at ON events (customer_id, at);
CREATE INDEX IF NOT EXISTS events_type_at ON events (type, at);

CREATE TABLE IF NOT EXISTS suppressions (
    email      TEXT NOT NULL,            -- lower-cased
    scope      TEXT NOT NULL,            -- 'marketing' or 'all'
    reason     TEXT,
    created_at TEXT,                     -- UTC, see above
    PRIMARY KEY (email, scope)
);
