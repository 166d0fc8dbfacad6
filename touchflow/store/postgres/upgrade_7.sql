-- Schema version 7: consent is recorded per channel (customers.consent_sms: consent to
-- text messages; customers stored before have none), and a suppressed address may be a
-- phone number (E.164, as imported): an index on the number, and the suppressions'
-- trigger tells a running daemon about its customers too. Run by migrate.py after
-- version 6, in the same transaction; a column with a constant default is added without
-- rewriting the table.
ALTER TABLE customers ADD COLUMN consent_sms boolean NOT NULL DEFAULT false;

CREATE INDEX customers_phone ON customers (phone);

CREATE OR REPLACE FUNCTION touchflow_suppression_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO changes (customer_id)
        SELECT id FROM customers WHERE lower(email) = NEW.email
        UNION SELECT id FROM customers WHERE phone = NEW.email;
    RETURN NULL;
END $$;

UPDATE meta SET value = '7' WHERE key = 'schema_version';
