-- The PostgreSQL store's statements, by name: loaded once at import (queries.py), run
-- as ``SQL["name"]`` by the module beside this file that needs them.
--
-- Blocks and fragments as in the SQLite store's queries.sql (touchflow.store.named_sql).
-- Parameters are psycopg's: ``%(name)s`` (named) or ``%s`` (in order). A list of
-- values is one array parameter (``= ANY(%b::text[])``, ``unnest(%b::text[], ...)``),
-- so no statement's text depends on a list's length; arrays go in binary (``%b``, its
-- type cast beside it): psycopg escapes each element of a text array in Python, about
-- 14 µs an outbox row, and packs a binary one in about 2 (docs/performance.md). The
-- one per-call slot is ``{where}``, the filter an operator (or the daemon) combined.
-- The schema is schema.sql.

-- --- opening ----------------------------------------------------------------------

-- name: schema_lock
-- Two processes opening a new database at once: one creates, the other waits.
SELECT pg_advisory_xact_lock(7366735000)

-- name: has_schema
SELECT to_regclass('meta') IS NOT NULL

-- name: schema_version
SELECT value FROM meta WHERE key = 'schema_version'

-- name: get_meta
SELECT value FROM meta WHERE key = %s

-- name: set_meta
INSERT INTO meta (key, value) VALUES (%s, %s)
ON CONFLICT (key) DO UPDATE SET value = excluded.value

-- --- customers --------------------------------------------------------------------

-- name: customer_columns
id, email, phone, first_name, last_name, timezone, locale, country,
birthday, customer_since, consent_marketing, consent_sms, attributes

-- name: upsert_customer
-- created_at is written once, by the insert: a replaced customer keeps the time it came.
INSERT INTO customers ({customer_columns}, birthday_md, since_md, created_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
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
    IS DISTINCT FROM (excluded.email, excluded.phone, excluded.first_name,
       excluded.last_name, excluded.timezone, excluded.locale, excluded.country,
       excluded.birthday, excluded.customer_since, excluded.consent_marketing,
       excluded.consent_sms, excluded.attributes)

-- name: count_customers
SELECT COUNT(*) FROM customers

-- name: select_customers
SELECT {customer_columns}, created_at FROM customers

-- name: customer
{select_customers} WHERE id = %s

-- name: all_customers
{select_customers} ORDER BY id

-- name: customers_in
{select_customers} WHERE id = ANY(%b::text[]) ORDER BY id

-- name: customer_ids_in
SELECT id FROM customers WHERE id = ANY(%b::text[])

-- name: customer_id_at
-- The id at an offset: where one id range ends and the next begins.
SELECT id FROM customers ORDER BY id LIMIT 1 OFFSET %s

-- name: list_customers
{select_customers} WHERE id > %s ORDER BY id LIMIT %s

-- name: list_customers_by_email
-- lower(email): the customers_email index.
{select_customers} WHERE id > %s AND lower(email) = %s ORDER BY id LIMIT %s

-- name: customer_email
SELECT email, phone FROM customers WHERE id = %s

-- --- events -----------------------------------------------------------------------

-- name: insert_events
-- Many events in one statement; an id already stored (or twice in the list) keeps
-- its first version, recorded_at included.
INSERT INTO events (id, type, customer_id, at, data, recorded_at)
SELECT v.id, v.type, v.customer_id, v.at, v.data::jsonb, v.recorded_at
FROM unnest(%b::text[], %b::text[], %b::text[], %b::timestamptz[], %b::text[],
    %b::timestamptz[])
    AS v(id, type, customer_id, at, data, recorded_at)
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
{select_events} WHERE customer_id = ANY(%b::text[]) ORDER BY customer_id, at, id

-- name: events_in
SELECT id, type, customer_id, at, data::text FROM events WHERE id = ANY(%b::text[])

-- name: count_events_of_customer
SELECT COUNT(*) FROM events WHERE customer_id = %s

-- name: events_of_customer_newest_first
-- LIMIT NULL: no limit.
{select_recorded_events} WHERE customer_id = %s ORDER BY at DESC, id DESC LIMIT %s

-- --- suppressions -----------------------------------------------------------------

-- name: upsert_suppression
-- A repeated suppression keeps its first date, and its reason unless a new one is
-- given (a 5.1.x bounce writes one with the claim it finishes).
INSERT INTO suppressions (email, scope, reason, created_at) VALUES (%s, %s, %s, %s)
ON CONFLICT (email, scope) DO UPDATE SET
    reason = COALESCE(excluded.reason, suppressions.reason),
    created_at = COALESCE(suppressions.created_at, excluded.created_at)

-- name: all_suppression_scopes
SELECT email, scope FROM suppressions

-- name: suppression_scopes_in
SELECT email, scope FROM suppressions WHERE email = ANY(%b::text[])

-- name: select_suppressions
SELECT email, scope, reason, created_at FROM suppressions

-- name: list_suppressions
-- NULLS LAST: where SQLite puts a suppression of unknown date.
{select_suppressions} ORDER BY created_at DESC NULLS LAST, email, scope LIMIT %s

-- name: list_suppressions_of_address
-- The address plain and hashed (kept so after an erasure).
{select_suppressions} WHERE email IN (%s, %s)
ORDER BY created_at DESC NULLS LAST, email, scope LIMIT %s

-- name: remove_suppressions
DELETE FROM suppressions WHERE email IN (%s, %s) AND scope = ANY(%b::text[])

-- name: mark_address_changed
-- No trigger on DELETE: a lifted suppression tells a running daemon here. The address
-- (twice) is an e-mail address, lower-cased, or a phone number (E.164): each on its index.
INSERT INTO changes (customer_id) SELECT id FROM customers WHERE lower(email) = %s
UNION SELECT id FROM customers WHERE phone = %s

-- name: delete_suppression
DELETE FROM suppressions WHERE email = %s AND scope = %s

-- --- facts, a page at a time --------------------------------------------------------

-- name: customers_page
{select_customers} WHERE id > %s ORDER BY id LIMIT %s

-- name: customers_page_up_to
{select_customers} WHERE id > %s AND id <= %s ORDER BY id LIMIT %s

-- name: events_page
{select_events} WHERE customer_id BETWEEN %s AND %s ORDER BY customer_id, at, id

-- name: suppression_scopes_page
-- The page's e-mail addresses, then its phone numbers (E.164, as stored; the id range is
-- given twice). Erased customers' addresses, kept hashed: the facts match them if one
-- comes back.
SELECT s.email, s.scope FROM customers c JOIN suppressions s ON s.email = lower(c.email)
WHERE c.id BETWEEN %s AND %s
UNION ALL SELECT s.email, s.scope FROM customers c JOIN suppressions s ON s.email = c.phone
WHERE c.id BETWEEN %s AND %s
UNION ALL SELECT email, scope FROM suppressions WHERE email >= %s AND email < %s

-- name: select_sent
-- Sends count towards caps at their due time (see touchflow.plan.candidates.apply_caps).
SELECT key, customer_id, category, due_at, channel FROM outbox
WHERE state = 'sent' AND counts_for_caps AND due_at >= %s

-- name: sent_page
{select_sent} AND customer_id BETWEEN %s AND %s

-- name: sent_of_customers_in
{select_sent} AND customer_id = ANY(%b::text[])

-- --- what the store learnt when (known_since, for `touchflow backtest`) ----------------

-- name: emails_and_events_recorded_in
-- Both in one round trip: (customer id, email, NULL, true) for each customer, (customer
-- id, phone, NULL, NULL) for each with a phone number, (customer id, event id,
-- recorded_at, false) for each event. The ids are given three times.
SELECT id, email, NULL::timestamptz, true FROM customers WHERE id = ANY(%b::text[])
UNION ALL
SELECT id, phone, NULL::timestamptz, NULL::boolean FROM customers
WHERE id = ANY(%b::text[]) AND phone IS NOT NULL
UNION ALL
SELECT customer_id, id, recorded_at, false FROM events WHERE customer_id = ANY(%b::text[])

-- name: suppressions_known_in
-- A customer's address as the facts match it: lower-cased, and hashed after an erasure
-- (the caller gives both forms of each address, as load_facts does).
SELECT email, scope, created_at FROM suppressions WHERE email = ANY(%b::text[])

-- --- erasure and deletion -----------------------------------------------------------

-- name: delete_customer
DELETE FROM customers WHERE id = %s

-- name: delete_events_of_customer
DELETE FROM events WHERE customer_id = %s

-- name: delete_unsent_of_customer
-- Rows that were only ever a plan: deleted with the customer. Sent, failed, expired
-- and claimed rows stay (their keys stop a comeback from repeating a send).
DELETE FROM outbox WHERE customer_id = %s
AND state IN ('pending', 'retry', 'cancelled', 'suppressed')

-- name: forget_address_of_customer
-- replace(x, '', y) leaves x as it is: a customer without an address.
UPDATE outbox SET to_addr = NULL, last_error = replace(replace(last_error, %s, %s), %s, %s)
WHERE customer_id = %s

-- name: delete_changes_of_customer
DELETE FROM changes WHERE customer_id = %s

-- name: suppressions_of_address
SELECT scope, reason, created_at FROM suppressions WHERE email = %s

-- name: insert_hashed_suppression
INSERT INTO suppressions (email, scope, reason, created_at) VALUES (%s, %s, %s, %s)
ON CONFLICT (email, scope) DO NOTHING

-- name: delete_suppressions_of_address
DELETE FROM suppressions WHERE email = %s

-- name: delete_customers_in
DELETE FROM customers WHERE id = ANY(%b::text[])

-- name: delete_events_of_customers_in
DELETE FROM events WHERE customer_id = ANY(%b::text[])

-- name: delete_outbox_of_customers_in
DELETE FROM outbox WHERE customer_id = ANY(%b::text[])

-- name: delete_changes_of_customers_in
DELETE FROM changes WHERE customer_id = ANY(%b::text[])

-- --- the outbox ---------------------------------------------------------------------

-- name: outbox_columns
key, rule_id, customer_id, category, counts_for_caps, state, due_at, expires_at,
next_attempt_at, attempts, reason, last_error, claim_owner, claim_expires_at,
message_id, to_addr, created_at, updated_at, sent_at, channel

-- name: select_outbox
SELECT {outbox_columns} FROM outbox

-- name: outbox_row
{select_outbox} WHERE key = %s

-- name: outbox_rows_in
{select_outbox} WHERE key = ANY(%b::text[])

-- name: open_outbox
{select_outbox} WHERE state IN ('pending', 'retry') AND due_at >= %s AND due_at < %s

-- name: open_outbox_of_customers_in
{select_outbox}
WHERE state IN ('pending', 'retry') AND due_at >= %s AND due_at < %s AND customer_id = ANY(%b::text[])

-- name: sent_of_customers_between
{select_outbox}
WHERE state = 'sent' AND due_at >= %s AND due_at < %s AND customer_id = ANY(%b::text[])
ORDER BY customer_id, due_at, key

-- name: open_outbox_of_other_rules
{select_outbox} WHERE state IN ('pending', 'retry') AND NOT rule_id = ANY(%b::text[])

-- name: open_outbox_without_customer
{select_outbox} WHERE state IN ('pending', 'retry')
AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = outbox.customer_id)

-- name: outbox_where
{select_outbox} WHERE {where}

-- name: insert_outbox
-- A plan's new rows in one statement; a key already there changes nothing.
INSERT INTO outbox ({outbox_columns})
SELECT v.key, v.rule_id, v.customer_id, v.category, v.counts_for_caps, v.state, v.due_at,
    v.expires_at, v.next_attempt_at, 0, v.reason, v.last_error, NULL, NULL, NULL,
    v.to_addr, %(now)s, %(now)s, NULL, v.channel
FROM unnest(%(key)b::text[], %(rule_id)b::text[], %(customer_id)b::text[],
    %(category)b::text[], %(counts_for_caps)b::boolean[], %(state)b::text[],
    %(due_at)b::timestamptz[], %(expires_at)b::timestamptz[],
    %(next_attempt_at)b::timestamptz[], %(reason)b::text[], %(last_error)b::text[],
    %(to_addr)b::text[], %(channel)b::text[])
    AS v(key, rule_id, customer_id, category, counts_for_caps, state, due_at, expires_at,
         next_attempt_at, reason, last_error, to_addr, channel)
ON CONFLICT (key) DO NOTHING

-- name: replan_outbox
-- Only a row still in the state the planner read it in, and never one a person cancelled
-- since (a row the plan cancelled, read so, then re-queued and cancelled by hand).
UPDATE outbox SET state = v.state, due_at = v.due_at, expires_at = v.expires_at,
    next_attempt_at = v.next_attempt_at, reason = v.reason, last_error = v.last_error,
    to_addr = v.to_addr, category = v.category, counts_for_caps = v.counts_for_caps,
    channel = v.channel, updated_at = %(now)s
FROM unnest(%(key)b::text[], %(read_state)b::text[], %(state)b::text[],
    %(due_at)b::timestamptz[], %(expires_at)b::timestamptz[],
    %(next_attempt_at)b::timestamptz[], %(reason)b::text[], %(last_error)b::text[],
    %(to_addr)b::text[], %(category)b::text[], %(counts_for_caps)b::boolean[],
    %(channel)b::text[])
    AS v(key, read_state, state, due_at, expires_at, next_attempt_at, reason, last_error,
         to_addr, category, counts_for_caps, channel)
WHERE outbox.key = v.key AND outbox.state = v.read_state
    AND NOT (outbox.state = 'cancelled' AND outbox.reason IS NOT DISTINCT FROM 'cancelled_by_hand')

-- name: claim
-- The anchors' claim: the CTE picks (and locks) at most LIMIT ready rows, skipping
-- those another claim holds; the UPDATE takes exactly those, each found by its key
-- (`= ANY(ARRAY(...))`: one index lookup a row; joined to the CTE instead, the planner
-- chose a hash join over the whole outbox, its sent history too, at every claim).
-- Its commit waits for the disk (docs/decisions.md): a claim is one commit a batch.
WITH picked AS (
    SELECT key AS picked_key FROM outbox
    WHERE state IN ('pending', 'retry') AND next_attempt_at <= %(now)s
    ORDER BY next_attempt_at LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE outbox SET state = 'claimed', claim_owner = %(owner)s,
    claim_expires_at = %(until)s, updated_at = %(now)s
WHERE outbox.key = ANY(ARRAY(SELECT picked_key FROM picked))
RETURNING {outbox_columns}

-- name: finish_claims
-- The outcomes of several claimed rows in one statement, a transaction of its own when
-- no suppression comes with them: one round trip. RETURNING names the rows that were
-- still ours; the others' claims were taken back.
--
-- Run on the outcomes' own sessions (store.py, OUTCOME_SESSION), whose commits return
-- before their WAL reaches the disk. A crash of the server (not of touchflow) may lose
-- the last ~0.6 s of outcomes; their rows stay claimed, are taken back and sent again
-- with the same Message-ID: the at-least-once window the SQLite store's
-- synchronous=NORMAL keeps too. Waiting for the disk at every commit (~6 ms here)
-- capped sending at ~4 outcomes per commit. Claims and every other write wait for it.
--
-- Those sessions plan it once, for any values (plan_cache_mode), not at every run: so
-- only the key may lead the plan to a row. Written `state = 'claimed'`, the generic
-- plan could scan every claimed row through an index on state; `IS NOT DISTINCT FROM`
-- (the same test here: neither side is ever NULL) is no index condition.
UPDATE outbox SET state = v.new_state, reason = v.new_reason, last_error = v.new_error,
    attempts = attempts + v.tried,
    next_attempt_at = COALESCE(v.new_next, next_attempt_at),
    due_at = COALESCE(v.new_due, due_at),
    expires_at = COALESCE(v.new_expires, expires_at),
    message_id = COALESCE(v.new_message_id, message_id), sent_at = v.new_sent_at,
    claim_owner = NULL, claim_expires_at = NULL, updated_at = %(now)s
FROM unnest(%(key)b::text[], %(state)b::text[], %(reason)b::text[], %(error)b::text[],
    %(tried)b::integer[], %(next)b::timestamptz[], %(due)b::timestamptz[],
    %(expires)b::timestamptz[], %(message_id)b::text[], %(sent_at)b::timestamptz[])
    AS v(k, new_state, new_reason, new_error, tried, new_next, new_due, new_expires,
         new_message_id, new_sent_at)
WHERE outbox.key = v.k
    AND (outbox.state, outbox.claim_owner) IS NOT DISTINCT FROM ('claimed', %(owner)s::text)
RETURNING outbox.key

-- name: renew_claims
-- A live owner's lease, extended (touchflow.send.daemon's reclaim timer).
UPDATE outbox SET claim_expires_at = %(until)s
WHERE state = 'claimed' AND claim_owner = %(owner)s AND key = ANY(%(keys)b::text[])

-- name: owner_gone
-- A claim whose owner's session no longer holds its instance lock (lock.py): the
-- server let go of it when that daemon's connection ended, killed or not.
NOT EXISTS (SELECT 1 FROM pg_locks l
    WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 7366736 AND l.objsubid = 2
    AND l.objid = (hashtext(current_schema() || ' ' || outbox.claim_owner) & 2147483647)::oid
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))

-- name: take_back_claims
-- The rows are returned as they were (claimed): the CTE's columns, read before.
WITH old AS (
    SELECT {outbox_columns} FROM outbox WHERE {where} FOR UPDATE SKIP LOCKED
)
UPDATE outbox SET state = 'retry', reason = 'claim_expired',
    next_attempt_at = %(now)s, claim_owner = NULL, claim_expires_at = NULL,
    updated_at = %(now)s
FROM old WHERE outbox.key = old.key
RETURNING old.key, old.rule_id, old.customer_id, old.category, old.counts_for_caps,
    old.state, old.due_at, old.expires_at, old.next_attempt_at, old.attempts, old.reason,
    old.last_error, old.claim_owner, old.claim_expires_at, old.message_id, old.to_addr,
    old.created_at, old.updated_at, old.sent_at, old.channel

-- name: next_ready_at
SELECT MIN(next_attempt_at) FROM outbox WHERE state IN ('pending', 'retry')

-- name: requeue_row
-- Locked: a re-queue and a claim of the same row do not interleave.
{select_outbox} WHERE key = %s FOR UPDATE

-- name: requeue
UPDATE outbox SET state = 'pending', next_attempt_at = %(now)s, expires_at = %(expires)s,
    reason = 'requeued', updated_at = %(now)s WHERE key = %(key)s
RETURNING {outbox_columns}

-- name: cancel_by_hand
-- Only a row still pending or retrying (read locked, as requeue_row): one a dispatcher
-- claimed is being sent.
UPDATE outbox SET state = 'cancelled', reason = %(reason)s, last_error = %(detail)s,
    updated_at = %(now)s
WHERE key = %(key)s AND state IN ('pending', 'retry')
RETURNING {outbox_columns}

-- name: outbox_counts
SELECT state, COUNT(*) FROM outbox GROUP BY state

-- --- changes ------------------------------------------------------------------------

-- name: mark_changed
INSERT INTO changes (customer_id) VALUES (%s)

-- name: changes_reader
-- No writer in flight (see touchflow_changes_writer in schema.sql): tried, never queued
-- for, so a writer never waits behind the reader (which could deadlock two writers).
SELECT pg_try_advisory_xact_lock((736673::bigint << 32) | 'changes'::regclass::oid::bigint)

-- name: done
-- The last seq the daemon planned (``drop_changes``): changes up to it are not pending.
COALESCE((SELECT value::bigint FROM meta WHERE key = 'changes_done'), 0)

-- name: pending_changes
-- Distinct customers are counted only up to the limit. Changes up to ``changes_done``
-- are planned (kept while a shared full plan runs).
SELECT (SELECT MAX(seq) FROM changes WHERE seq > {done}), COUNT(*) FROM
(SELECT DISTINCT customer_id FROM changes WHERE seq > {done} LIMIT %s) AS changed

-- name: changed_customers
SELECT DISTINCT customer_id FROM changes WHERE seq > {done} AND seq <= %s

-- name: mark_changes_done
-- Never past the last change recorded: a seq drawn later must be pending.
INSERT INTO meta (key, value)
SELECT 'changes_done', LEAST(%(upto)s, COALESCE(MAX(seq), 0))::text FROM changes
ON CONFLICT (key) DO UPDATE SET value = GREATEST(meta.value::bigint, excluded.value::bigint)::text
RETURNING value::bigint

-- name: drop_changes
DELETE FROM changes WHERE seq <= %s

-- name: changes_done
SELECT {done}

-- name: replanned_after
SELECT DISTINCT customer_id FROM changes
WHERE seq <= {done} AND seq > %s AND customer_id = ANY(%b::text[])

-- --- a full plan shared out (planning.py) ---------------------------------------------

-- name: drop_plan_ranges
DELETE FROM plan_ranges

-- name: add_plan_ranges
INSERT INTO plan_ranges (run, lo, hi, cursor)
SELECT %(run)s, lo, hi, lo FROM unnest(%(los)b::text[], %(his)b::text[]) AS r (lo, hi)

-- name: notify_plan
SELECT pg_notify('touchflow', current_schema() || ' plan')

-- name: take_plan_range
-- A range never taken, whose lease ended, or whose owner's session no longer holds its
-- instance lock (as owner_gone for claims); SKIP LOCKED: two takers never wait on one.
UPDATE plan_ranges SET owner = %(me)s, lease_until = %(until)s
WHERE (run, lo) = (SELECT run, lo FROM plan_ranges p
    WHERE run = %(run)s AND NOT done AND (owner IS NULL OR lease_until < %(now)s
        OR (%(gone)s AND owner IS DISTINCT FROM %(me)s AND NOT EXISTS (SELECT 1 FROM pg_locks l
            WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 7366736
            AND l.objsubid = 2
            AND l.objid = (hashtext(current_schema() || ' ' || p.owner) & 2147483647)::oid
            AND l.database = (SELECT oid FROM pg_database
                WHERE datname = current_database()))))
    ORDER BY lo LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING lo, hi, cursor

-- name: advance_plan_range
UPDATE plan_ranges SET cursor = %(cursor)s, done = %(done)s, lease_until = %(until)s
WHERE run = %(run)s AND lo = %(lo)s AND owner = %(me)s AND NOT done

-- name: plan_ranges_left
SELECT COUNT(*) FROM plan_ranges WHERE run = %s AND NOT done

-- name: end_plan_run
DELETE FROM plan_ranges WHERE run = %s

-- --- several daemons on one store ------------------------------------------------------

-- name: planning_turn
-- One planning step at a time across every process of this store (a session lock on a
-- connection of its own, waited for; released with planning_turn_end).
SELECT pg_advisory_lock(7366737, hashtext(current_schema()))

-- name: planning_turn_end
SELECT pg_advisory_unlock(7366737, hashtext(current_schema()))

-- name: planning_turn_shared
-- A page of a full plan shared out: pages of other ranges (other customers) may be
-- written meanwhile, a re-plan of changes or an erasure (the turn alone) may not.
SELECT pg_advisory_lock_shared(7366737, hashtext(current_schema()))

-- name: planning_turn_shared_end
SELECT pg_advisory_unlock_shared(7366737, hashtext(current_schema()))

-- name: listen
-- What the triggers (upgrade_2.sql) and write_plan notify: '<schema> changes|ready'.
LISTEN touchflow

-- name: current_schema
SELECT current_schema()

-- name: notify_ready
SELECT pg_notify('touchflow', current_schema() || ' ready')

-- --- counts for /metrics ------------------------------------------------------------

-- name: outbox_counts_by_rule
SELECT state, rule_id, COUNT(*) FROM outbox GROUP BY state, rule_id

-- name: outbox_ready_count
SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'retry') AND next_attempt_at <= %s

-- name: last_sent_at
SELECT MAX(sent_at) FROM outbox WHERE state = 'sent'

-- name: outbox_reason_counts
SELECT state, reason, COUNT(*) FROM outbox
WHERE state IN ('cancelled', 'suppressed', 'failed', 'expired', 'retry')
AND reason IS NOT NULL GROUP BY state, reason

-- name: outbox_trouble_held
SELECT reason, COUNT(*), COUNT(DISTINCT customer_id) FROM outbox
WHERE state IN ('cancelled', 'failed') AND due_at >= %s AND reason = ANY(%b::text[])
GROUP BY reason

-- name: outbox_trouble_retrying
SELECT 'retry', COUNT(*), COUNT(DISTINCT customer_id) FROM outbox
WHERE state = 'retry' AND attempts >= %s HAVING COUNT(*) > 0

-- name: failed_count
-- On the (state, due_at) index, as the trouble statements.
SELECT COUNT(*) FROM outbox WHERE state = 'failed' AND due_at >= %s

-- --- the single-daemon lock (lock.py) -------------------------------------------------

-- name: try_writer_lock
-- A session lock, one per schema of a database: released when the connection ends,
-- also when its process is killed.
SELECT pg_try_advisory_lock(7366735, hashtext(current_schema()))

-- name: try_daemon_lock
-- The same lock, shared: every daemon holds it so, a command that must have none
-- planning (try_writer_lock) waits until none does.
SELECT pg_try_advisory_lock_shared(7366735, hashtext(current_schema()))

-- name: take_instance_lock
-- A daemon's own lock, by its instance id: while it is held, the daemon is alive
-- (owner_gone). The key is a hash: a second live daemon whose id shares it cannot take
-- it and refuses to start (lock.py), so no daemon vouches for another.
SELECT pg_try_advisory_lock(7366736, hashtext(current_schema() || ' ' || %s) & 2147483647)

-- name: try_lead
-- The one daemon that plans; the others send.
SELECT pg_try_advisory_lock(7366738, hashtext(current_schema()))

-- name: still_there
SELECT 1

-- name: daemon_sessions
-- The daemons of this store: every one holds the store lock shared (try_daemon_lock);
-- the one that also holds the lead (try_lead) plans. The console's health page.
SELECT a.application_name, host(a.client_addr), a.backend_start,
    EXISTS (SELECT 1 FROM pg_locks lead WHERE lead.pid = l.pid AND lead.locktype = 'advisory'
        AND lead.granted AND lead.classid = 7366738 AND lead.objid = l.objid
        AND lead.database = l.database)
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.mode = 'ShareLock' AND l.classid = 7366735
AND l.objid = (hashtext(current_schema())::bigint & 4294967295)
AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY a.backend_start, a.pid

-- name: writer_lock_holder
-- Who holds it: its application_name says the command and the client's pid.
SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 7366735
AND l.objid = (hashtext(current_schema())::bigint & 4294967295)
AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
LIMIT 1

-- --- dropping the store (`touchflow sample --reset`) ----------------------------------

-- name: drop_schema
-- Everything schema.sql made, in the store's schema; the next open makes it anew. Not
-- CASCADE: a view or table of the user's that depends on one of these stops the drop
-- (PostgreSQL says which) instead of going with it.
DROP TABLE IF EXISTS plan_ranges, changes, outbox, suppressions, events, customers, meta;
DROP FUNCTION IF EXISTS touchflow_changes_writer(), touchflow_customer_changed(),
    touchflow_event_added(), touchflow_suppression_added()

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
{select_recorded_events} WHERE id > %s ORDER BY id LIMIT %s

-- name: history_suppressions
{select_suppressions} WHERE (email, scope) > (%s, %s) ORDER BY email, scope LIMIT %s

-- name: history_outbox
{select_outbox} WHERE key > %s ORDER BY key LIMIT %s

-- name: history_changed
SELECT DISTINCT customer_id FROM changes WHERE seq > {done} AND customer_id > %s
ORDER BY customer_id LIMIT %s

-- name: history_changes_lock
-- The changes lock (touchflow_changes_writer in schema.sql) taken exclusively, waiting:
-- writers of facts wait until the copy ends, so every change recorded meanwhile is
-- one of its own rows', forgotten (history_forget_changes_after).
SELECT pg_advisory_xact_lock((736673::bigint << 32) | 'changes'::regclass::oid::bigint)

-- name: history_last_change
SELECT COALESCE(MAX(seq), 0) FROM changes

-- name: history_forget_changes_after
DELETE FROM changes WHERE seq > %s

-- name: history_put_customers
-- A page in one statement, one array per column (as insert_outbox).
INSERT INTO customers ({customer_columns}, birthday_md, since_md, created_at)
SELECT v.id, v.email, v.phone, v.first_name, v.last_name, v.timezone, v.locale, v.country,
    v.birthday, v.customer_since, v.consent_marketing, v.consent_sms, v.attributes::jsonb,
    v.birthday_md, v.since_md, v.created_at
FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[],
    %b::text[], %b::text[], %b::date[], %b::date[], %b::boolean[], %b::boolean[],
    %b::text[], %b::text[], %b::text[], %b::timestamptz[])
    AS v(id, email, phone, first_name, last_name, timezone, locale, country, birthday,
         customer_since, consent_marketing, consent_sms, attributes, birthday_md, since_md,
         created_at)

-- name: history_put_events
INSERT INTO events (id, type, customer_id, at, data, recorded_at)
SELECT v.id, v.type, v.customer_id, v.at, v.data::jsonb, v.recorded_at
FROM unnest(%b::text[], %b::text[], %b::text[], %b::timestamptz[], %b::text[],
    %b::timestamptz[])
    AS v(id, type, customer_id, at, data, recorded_at)

-- name: history_put_suppressions
INSERT INTO suppressions (email, scope, reason, created_at)
SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::timestamptz[])

-- name: history_put_outbox
INSERT INTO outbox ({outbox_columns})
SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::boolean[],
    %b::text[], %b::timestamptz[], %b::timestamptz[], %b::timestamptz[], %b::integer[],
    %b::text[], %b::text[], %b::text[], %b::timestamptz[], %b::text[], %b::text[],
    %b::timestamptz[], %b::timestamptz[], %b::timestamptz[], %b::text[])

-- name: history_put_changed
INSERT INTO changes (customer_id) SELECT * FROM unnest(%b::text[])

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
DELETE FROM meta WHERE key = %s
