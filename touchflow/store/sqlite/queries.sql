-- The SQLite store's statements, by name: loaded once at import (queries.py), run
-- as ``SQL["name"]`` by the module beside this file that needs them.
--
-- A block starts at a line ``-- name: <name>`` and runs to the next one; the comment
-- lines right below its name say what it is for and are not part of it. Inside a
-- block, ``{other}`` where ``other`` names another block is that block's text, put
-- in when the file is loaded (the column lists are written once). Any other
-- ``{slot}`` is filled per call by the code that runs the statement: ``{marks}``
-- with one ``?`` per value of an IN list (lists come in chunks of up to 500
-- values, so the statement's length depends on the chunk), ``{values}`` with one
-- row of ``?`` per outcome recorded, ``{where}`` with the filter an operator (or
-- the daemon) combined: one named statement per combination would be many more.
-- The schema is schema.sql.

-- --- opening ----------------------------------------------------------------------

-- name: busy_timeout
-- Set first, so the statements after it wait (5 s) for another process's write.
PRAGMA busy_timeout = 5000

-- name: foreign_keys
PRAGMA foreign_keys = ON

-- name: journal_mode_wal
PRAGMA journal_mode = WAL

-- name: synchronous_normal
-- In WAL mode NORMAL syncs at checkpoints, not at every commit: a crashed process
-- loses nothing; a power cut may lose the last commits (a send recorded there goes
-- out again, with the same Message-ID).
PRAGMA synchronous = NORMAL

-- name: upgrade_1_to_2
-- 1 → 2 only added tables (the schema's IF NOT EXISTS makes them).
UPDATE meta SET value = '2' WHERE key = 'schema_version' AND value = '1';

-- name: schema_version
SELECT value FROM meta WHERE key = 'schema_version'

-- name: add_created_at
ALTER TABLE customers ADD COLUMN created_at TEXT

-- name: upgrade_2_to_3
UPDATE meta SET value = '3' WHERE key = 'schema_version' AND value = '2'

-- name: add_recorded_at
ALTER TABLE events ADD COLUMN recorded_at TEXT

-- name: upgrade_3_to_4
UPDATE meta SET value = '4' WHERE key = 'schema_version' AND value = '3'

-- name: has_column
SELECT COUNT(*) FROM pragma_table_info(?) WHERE name = ?

-- name: add_outbox_channel
ALTER TABLE outbox ADD COLUMN channel TEXT NOT NULL DEFAULT 'email'

-- name: upgrade_4_to_5
UPDATE meta SET value = '5' WHERE key = 'schema_version' AND value = '4'

-- name: add_consent_sms
ALTER TABLE customers ADD COLUMN consent_sms INTEGER NOT NULL DEFAULT 0

-- name: upgrade_5_to_6
UPDATE meta SET value = '6' WHERE key = 'schema_version' AND value = '5'

-- name: get_meta
SELECT value FROM meta WHERE key = ?

-- name: set_meta
INSERT INTO meta (key, value) VALUES (?, ?)
ON CONFLICT (key) DO UPDATE SET value = excluded.value

-- --- customers --------------------------------------------------------------------

-- name: customer_columns
id, email, phone, first_name, last_name, timezone, locale, country,
birthday, customer_since, consent_marketing, consent_sms, attributes

-- name: upsert_customer
-- created_at is written once, by the insert: a replaced customer keeps the time it came.
INSERT INTO customers ({customer_columns}, birthday_md, since_md, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    email = excluded.email, phone = excluded.phone,
    first_name = excluded.first_name, last_name = excluded.last_name,
    timezone = excluded.timezone, locale = excluded.locale, country = excluded.country,
    birthday = excluded.birthday, customer_since = excluded.customer_since,
    consent_marketing = excluded.consent_marketing, consent_sms = excluded.consent_sms,
    attributes = excluded.attributes,
    birthday_md = excluded.birthday_md, since_md = excluded.since_md
-- An unchanged row is not rewritten, so a nightly re-import of everyone does not
-- mark everyone changed for the daemon (the customers_updated trigger).
WHERE (customers.email, customers.phone, customers.first_name, customers.last_name,
       customers.timezone, customers.locale, customers.country, customers.birthday,
       customers.customer_since, customers.consent_marketing, customers.consent_sms,
       customers.attributes)
    IS NOT (excluded.email, excluded.phone, excluded.first_name, excluded.last_name,
       excluded.timezone, excluded.locale, excluded.country, excluded.birthday,
       excluded.customer_since, excluded.consent_marketing, excluded.consent_sms,
       excluded.attributes)

-- name: count_customers
SELECT COUNT(*) FROM customers

-- name: select_customers
SELECT {customer_columns}, created_at FROM customers

-- name: customer
{select_customers} WHERE id = ?

-- name: all_customers
{select_customers} ORDER BY id

-- name: customers_in
{select_customers} WHERE id IN ({marks})

-- name: customer_ids_in
SELECT id FROM customers WHERE id IN ({marks})

-- name: customer_id_at
-- The id at an offset: where one id range ends and the next begins.
SELECT id FROM customers ORDER BY id LIMIT 1 OFFSET ?

-- name: list_customers
{select_customers} WHERE id > ? ORDER BY id LIMIT ?

-- name: list_customers_by_email
-- lower(email): the customers_email index.
{select_customers} WHERE id > ? AND lower(email) = ? ORDER BY id LIMIT ?

-- name: customer_email
SELECT email, phone FROM customers WHERE id = ?

-- --- events -----------------------------------------------------------------------

-- name: insert_event
-- An id already stored keeps its first version, recorded_at included.
INSERT INTO events (id, type, customer_id, at, data, recorded_at) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO NOTHING

-- name: select_events
-- The planner's facts: without recorded_at, a column per event it never reads.
SELECT id, type, customer_id, at, data FROM events

-- name: select_recorded_events
-- What people and copies read: with recorded_at.
SELECT id, type, customer_id, at, data, recorded_at FROM events

-- name: all_events
{select_events} ORDER BY customer_id, at, id

-- name: events_of_customers_in
{select_events} WHERE customer_id IN ({marks}) ORDER BY customer_id, at, id

-- name: events_in
{select_events} WHERE id IN ({marks})

-- name: count_events_of_customer
SELECT COUNT(*) FROM events WHERE customer_id = ?

-- name: events_of_customer_newest_first
-- LIMIT -1: no limit.
{select_recorded_events} WHERE customer_id = ? ORDER BY at DESC, id DESC LIMIT ?

-- --- suppressions -----------------------------------------------------------------

-- name: upsert_suppression
-- A repeated suppression keeps its first date, and its reason unless a new one is
-- given (a 5.1.x bounce writes one with the claim it finishes).
INSERT INTO suppressions (email, scope, reason, created_at) VALUES (?, ?, ?, ?)
ON CONFLICT (email, scope) DO UPDATE SET
    reason = COALESCE(excluded.reason, suppressions.reason),
    created_at = COALESCE(suppressions.created_at, excluded.created_at)

-- name: all_suppression_scopes
SELECT email, scope FROM suppressions

-- name: suppression_scopes_in
SELECT email, scope FROM suppressions WHERE email IN ({marks})

-- name: select_suppressions
SELECT email, scope, reason, created_at FROM suppressions

-- name: list_suppressions
{select_suppressions} WHERE 1 = 1 ORDER BY created_at DESC, email, scope LIMIT ?

-- name: list_suppressions_of_address
-- The address plain and hashed (kept so after an erasure).
{select_suppressions} WHERE email IN (?, ?) ORDER BY created_at DESC, email, scope LIMIT ?

-- name: remove_suppressions
DELETE FROM suppressions WHERE email IN (?, ?) AND scope IN ({marks})

-- name: mark_address_changed
-- No trigger on DELETE: a lifted suppression tells a running daemon here. The address is
-- an e-mail address (lower-cased) or a phone number (E.164): each on its index.
INSERT INTO changes (customer_id) SELECT id FROM customers WHERE lower(email) = ?1
UNION SELECT id FROM customers WHERE phone = ?1

-- name: delete_suppression
DELETE FROM suppressions WHERE email = ? AND scope = ?

-- --- facts, a page at a time --------------------------------------------------------
-- One page of customers and what belongs to them, by id range (the primary key
-- and the events_customer_at / outbox_customer indexes): no IN lists, no scans.

-- name: customers_page
{select_customers} WHERE id > ? ORDER BY id LIMIT ?

-- name: customers_page_up_to
{select_customers} WHERE id > ? AND id <= ? ORDER BY id LIMIT ?

-- name: events_page
{select_events} WHERE customer_id BETWEEN ? AND ? ORDER BY customer_id, at, id

-- name: suppression_scopes_page
-- The page's e-mail addresses, then its phone numbers (E.164, stored as they are), each
-- a lookup on the suppressions' key per customer of the page. Erased customers' addresses,
-- kept hashed: the facts match them if one comes back.
SELECT s.email, s.scope FROM customers c JOIN suppressions s ON s.email = lower(c.email)
WHERE c.id BETWEEN ?1 AND ?2
UNION ALL SELECT s.email, s.scope FROM customers c JOIN suppressions s ON s.email = c.phone
WHERE c.id BETWEEN ?1 AND ?2
UNION ALL SELECT email, scope FROM suppressions WHERE email >= ?3 AND email < ?4

-- name: sent_counted
-- Sends count towards caps at their due time (see touchflow.plan.candidates.apply_caps).
state = 'sent' AND counts_for_caps = 1 AND due_at >= ?

-- name: select_sent
SELECT key, customer_id, category, due_at, channel FROM outbox WHERE {sent_counted}

-- name: sent_on_customer_index
-- select_sent for some customers: always on the customer index. Without statistics
-- SQLite prefers (state, due_at) and reads every send since then, everyone's: one
-- customer's `why` took 4 s at 1M outbox rows (a few ms here), a 20k page 4 s (0.6 s).
SELECT key, customer_id, category, due_at, channel FROM outbox INDEXED BY outbox_customer
WHERE {sent_counted}

-- name: sent_page
{sent_on_customer_index} AND customer_id BETWEEN ? AND ?

-- name: sent_of_customers_in
{sent_on_customer_index} AND customer_id IN ({marks})

-- --- what the store learnt when (known_since, for `touchflow backtest`) ----------------

-- name: customer_emails_in
SELECT id, email, phone FROM customers WHERE id IN ({marks})

-- name: events_recorded_in
SELECT customer_id, id, recorded_at FROM events WHERE customer_id IN ({marks})

-- name: suppressions_known_in
-- A customer's address as the facts match it: lower-cased, and hashed after an erasure
-- (the caller gives both forms of each address, as load_facts does).
SELECT email, scope, created_at FROM suppressions WHERE email IN ({marks})

-- --- erasure and deletion -----------------------------------------------------------

-- name: delete_customer
DELETE FROM customers WHERE id = ?

-- name: delete_events_of_customer
DELETE FROM events WHERE customer_id = ?

-- name: delete_unsent_of_customer
-- Rows that were only ever a plan: deleted with the customer. Sent, failed, expired
-- and claimed rows stay (their keys stop a comeback from repeating a send).
DELETE FROM outbox WHERE customer_id = ?
AND state IN ('pending', 'retry', 'cancelled', 'suppressed')

-- name: forget_address_of_customer
-- replace(x, '', y) leaves x as it is: a customer without an address.
UPDATE outbox SET to_addr = NULL, last_error = replace(replace(last_error, ?, ?), ?, ?)
WHERE customer_id = ?

-- name: delete_changes_of_customer
DELETE FROM changes WHERE customer_id = ?

-- name: suppressions_of_address
SELECT scope, reason, created_at FROM suppressions WHERE email = ?

-- name: insert_hashed_suppression
INSERT INTO suppressions (email, scope, reason, created_at) VALUES (?, ?, ?, ?)
ON CONFLICT (email, scope) DO NOTHING

-- name: delete_suppressions_of_address
DELETE FROM suppressions WHERE email = ?

-- name: delete_customers_in
DELETE FROM customers WHERE id IN ({marks})

-- name: delete_events_of_customers_in
DELETE FROM events WHERE customer_id IN ({marks})

-- name: delete_outbox_of_customers_in
DELETE FROM outbox WHERE customer_id IN ({marks})

-- name: delete_changes_of_customers_in
DELETE FROM changes WHERE customer_id IN ({marks})

-- --- the outbox ---------------------------------------------------------------------

-- name: outbox_columns
key, rule_id, customer_id, category, counts_for_caps, state, due_at, expires_at,
next_attempt_at, attempts, reason, last_error, claim_owner, claim_expires_at,
message_id, to_addr, created_at, updated_at, sent_at, channel

-- name: select_outbox
SELECT {outbox_columns} FROM outbox

-- name: outbox_row
{select_outbox} WHERE key = ?

-- name: outbox_rows_in
{select_outbox} WHERE key IN ({marks})

-- name: open_outbox
{select_outbox} WHERE state IN ('pending', 'retry') AND due_at >= ? AND due_at < ?

-- name: open_outbox_of_customers_in
-- Per page of a full plan and per re-plan: always on the customer index. Without
-- statistics SQLite prefers (state, due_at), and then every chunk of 500 customers
-- reads every open row in the window: a set that grows as a full plan writes pages,
-- so the plan turned quadratic (32.6 ms a chunk at the end of 1M, 0.2 ms here).
{select_outbox} INDEXED BY outbox_customer
WHERE state IN ('pending', 'retry') AND due_at >= ? AND due_at < ? AND customer_id IN ({marks})

-- name: sent_of_customers_between
-- On the customer index, as open_outbox_of_customers_in.
{select_outbox} INDEXED BY outbox_customer
WHERE state = 'sent' AND due_at >= ? AND due_at < ? AND customer_id IN ({marks})
ORDER BY customer_id, due_at, key

-- name: open_outbox_of_other_rules
{select_outbox} WHERE state IN ('pending', 'retry') AND NOT rule_id IN ({marks})

-- name: open_outbox_without_customer
{select_outbox}
WHERE state IN ('pending', 'retry') AND customer_id NOT IN (SELECT id FROM customers)

-- name: outbox_where
{select_outbox} WHERE {where}

-- name: insert_outbox
INSERT INTO outbox ({outbox_columns})
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, NULL, NULL, NULL, ?, ?, ?, NULL, ?)
ON CONFLICT (key) DO NOTHING

-- name: replan_outbox
-- Only a row still in the state the planner read it in, and never one a person cancelled
-- since (a row the plan cancelled, read so, then re-queued and cancelled by hand).
UPDATE outbox SET state = ?, due_at = ?, expires_at = ?, next_attempt_at = ?,
    reason = ?, last_error = ?, to_addr = ?, category = ?, counts_for_caps = ?,
    updated_at = ?, channel = ?
WHERE key = ? AND state = ?
    AND NOT (state = 'cancelled' AND reason IS 'cancelled_by_hand')

-- name: claim
UPDATE outbox SET state = 'claimed', claim_owner = ?, claim_expires_at = ?, updated_at = ?
WHERE key IN (
    SELECT key FROM outbox WHERE state IN ('pending', 'retry') AND next_attempt_at <= ?
    ORDER BY next_attempt_at LIMIT ?
)
RETURNING {outbox_columns}

-- name: finish_claims
-- The outcomes of several claimed rows in one statement, which SQLite runs as one
-- transaction (autocommit): one round trip to the store's thread for a group of sends.
-- RETURNING names the rows that were still ours; the others' claims were taken back.
WITH v(k, new_state, new_reason, new_error, tried, new_next, new_due, new_expires,
       new_message_id, new_sent_at) AS (VALUES {values})
UPDATE outbox SET state = v.new_state, reason = v.new_reason, last_error = v.new_error,
    attempts = attempts + v.tried,
    next_attempt_at = COALESCE(v.new_next, next_attempt_at),
    due_at = COALESCE(v.new_due, due_at),
    expires_at = COALESCE(v.new_expires, expires_at),
    message_id = COALESCE(v.new_message_id, message_id), sent_at = v.new_sent_at,
    claim_owner = NULL, claim_expires_at = NULL, updated_at = ?
FROM v WHERE outbox.key = v.k AND outbox.state = 'claimed' AND outbox.claim_owner = ?
RETURNING outbox.key

-- name: renew_claims
-- A live owner's lease, extended (touchflow.send.daemon's reclaim timer).
UPDATE outbox SET claim_expires_at = ?
WHERE state = 'claimed' AND claim_owner = ? AND key IN ({marks})

-- name: take_back_claims
UPDATE outbox SET state = 'retry', reason = 'claim_expired',
    next_attempt_at = ?, claim_owner = NULL, claim_expires_at = NULL,
    updated_at = ? WHERE {where}

-- name: next_ready_at
-- On the ready index, named: without statistics SQLite takes (state, due_at) and reads
-- every open row (0.8 s at a million rows, 0.02 ms on outbox_ready); as the next two.
SELECT MIN(next_attempt_at) FROM outbox INDEXED BY outbox_ready WHERE state IN ('pending', 'retry')

-- name: requeue
UPDATE outbox SET state = 'pending', next_attempt_at = ?, expires_at = ?,
    reason = 'requeued', updated_at = ? WHERE key = ?

-- name: cancel_by_hand
-- Only a row still pending or retrying: one a dispatcher claimed is being sent.
UPDATE outbox SET state = 'cancelled', reason = ?, last_error = ?, updated_at = ?
WHERE key = ? AND state IN ('pending', 'retry')

-- name: outbox_counts
SELECT state, COUNT(*) FROM outbox GROUP BY state

-- --- changes ------------------------------------------------------------------------

-- name: done
-- The last seq the daemon planned (``drop_changes``): changes up to it are not pending.
COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'changes_done'), 0)

-- name: mark_changed
INSERT INTO changes (customer_id) VALUES (?)

-- name: pending_changes
-- Distinct customers are counted only up to the limit: after a big import the table
-- has a row per change, and run --once asks twice (Daemon._warm_up in touchflow/send/daemon.py).
-- Changes up to ``changes_done`` are planned (kept while a shared full plan runs).
SELECT (SELECT MAX(seq) FROM changes WHERE seq > {done}), COUNT(*) FROM
(SELECT DISTINCT customer_id FROM changes WHERE seq > {done} LIMIT ?)

-- name: changed_customers
SELECT DISTINCT customer_id FROM changes WHERE seq > {done} AND seq <= ?

-- name: drop_changes
DELETE FROM changes WHERE seq <= ?

-- name: changes_done
SELECT {done}

-- name: replanned_after
SELECT DISTINCT customer_id FROM changes WHERE seq <= {done} AND seq > ? AND customer_id IN ({marks})

-- --- a full plan shared out (planning.py) ---------------------------------------------

-- name: drop_plan_ranges
DELETE FROM plan_ranges

-- name: add_plan_range
INSERT INTO plan_ranges (run, lo, hi, cursor) VALUES (?, ?, ?, ?)

-- name: take_plan_range
-- One daemon per SQLite file: a range is free when never taken or its lease ended.
UPDATE plan_ranges SET owner = ?, lease_until = ?
WHERE (run, lo) = (SELECT run, lo FROM plan_ranges
    WHERE run = ? AND NOT done AND (owner IS NULL OR lease_until < ?) ORDER BY lo LIMIT 1)
RETURNING lo, hi, cursor

-- name: advance_plan_range
UPDATE plan_ranges SET cursor = ?, done = ?, lease_until = ?
WHERE run = ? AND lo = ? AND owner = ? AND NOT done

-- name: plan_ranges_left
SELECT COUNT(*) FROM plan_ranges WHERE run = ? AND NOT done

-- name: end_plan_run
DELETE FROM plan_ranges WHERE run = ?

-- --- counts for /metrics ------------------------------------------------------------

-- name: outbox_counts_by_rule
SELECT state, rule_id, COUNT(*) FROM outbox GROUP BY state, rule_id

-- name: outbox_ready_count
SELECT COUNT(*) FROM outbox INDEXED BY outbox_ready
WHERE state IN ('pending', 'retry') AND next_attempt_at <= ?

-- name: last_sent_at
SELECT MAX(sent_at) FROM outbox INDEXED BY outbox_sent WHERE state = 'sent'

-- name: outbox_reason_counts
SELECT state, reason, COUNT(*) FROM outbox
WHERE state IN ('cancelled', 'suppressed', 'failed', 'expired', 'retry')
AND reason IS NOT NULL GROUP BY state, reason

-- name: outbox_trouble_held
-- On the partial index of trouble's rows: its WHERE is repeated word for word, so SQLite
-- knows the index holds every row asked for; the reasons given narrow it further.
SELECT reason, COUNT(*), COUNT(DISTINCT customer_id) FROM outbox INDEXED BY outbox_trouble
WHERE state IN ('cancelled', 'failed')
    AND reason IN ('invalid_data', 'render_error', 'invalid_message', 'rejected')
    AND due_at >= ? AND reason IN ({marks})
GROUP BY reason

-- name: outbox_trouble_held_any
-- Other reasons than those: on the (state, due_at) index.
SELECT reason, COUNT(*), COUNT(DISTINCT customer_id) FROM outbox
WHERE state IN ('cancelled', 'failed') AND due_at >= ? AND reason IN ({marks})
GROUP BY reason

-- name: outbox_trouble_retrying
SELECT 'retry', COUNT(*), COUNT(DISTINCT customer_id) FROM outbox
WHERE state = 'retry' AND attempts >= ? HAVING COUNT(*) > 0

-- name: failed_count
-- On the (state, due_at) index.
SELECT COUNT(*) FROM outbox WHERE state = 'failed' AND due_at >= ?

-- --- history: every row as it is (`touchflow store copy`, history.py) -----------------
-- Pages by primary key; rows written with every column as given (plain INSERT: the
-- copy writes into a store it has emptied, so a key already there is a mistake).

-- name: history_counts
SELECT (SELECT COUNT(*) FROM customers), (SELECT COUNT(*) FROM events),
    (SELECT COUNT(*) FROM suppressions), (SELECT COUNT(*) FROM outbox),
    (SELECT COUNT(DISTINCT customer_id) FROM changes WHERE seq > {done})

-- name: history_meta
SELECT key, value FROM meta ORDER BY key

-- name: history_events
{select_recorded_events} WHERE id > ? ORDER BY id LIMIT ?

-- name: history_suppressions
{select_suppressions} WHERE (email, scope) > (?, ?) ORDER BY email, scope LIMIT ?

-- name: history_outbox
{select_outbox} WHERE key > ? ORDER BY key LIMIT ?

-- name: history_changed
SELECT DISTINCT customer_id FROM changes WHERE seq > {done} AND customer_id > ?
ORDER BY customer_id LIMIT ?

-- name: history_last_change
SELECT COALESCE(MAX(seq), 0) FROM changes

-- name: history_forget_changes_after
-- The changes the triggers recorded for rows written as they are.
DELETE FROM changes WHERE seq > ?

-- name: history_put_customer
INSERT INTO customers ({customer_columns}, birthday_md, since_md, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)

-- name: history_put_event
INSERT INTO events (id, type, customer_id, at, data, recorded_at) VALUES (?, ?, ?, ?, ?, ?)

-- name: history_put_suppression
INSERT INTO suppressions (email, scope, reason, created_at) VALUES (?, ?, ?, ?)

-- name: history_put_outbox
INSERT INTO outbox ({outbox_columns})
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)

-- name: history_clear_customers
DELETE FROM customers

-- name: history_clear_events
DELETE FROM events

-- name: history_clear_suppressions
DELETE FROM suppressions

-- name: history_clear_outbox
DELETE FROM outbox

-- name: history_clear_changes
DELETE FROM changes

-- name: history_delete_meta
DELETE FROM meta WHERE key = ?
