"""psycopg 3 against asyncpg on what the PostgreSQL store does most (docs/decisions.md).

Writes 20k outbox-shaped rows (executemany, then COPY), claims them all 200 at a time
(the CTE with FOR UPDATE SKIP LOCKED, then UPDATE ... RETURNING), and times a trivial
round trip; the two drivers interleaved, N rounds, medians. asyncpg is not a touchflow
dependency: ``pip install asyncpg==0.32.0`` first (without it, psycopg alone is
measured). Uses (and drops) a table ``drvbench`` in the database of
``TOUCHFLOW_TEST_PG_URL`` (default: the local test one).

    python bench/pg_drivers.py [--rounds 7] [--smoke]
"""

import argparse
import asyncio
import os
import statistics
import time
from datetime import UTC, datetime, timedelta

import psycopg

try:
    import asyncpg
except ImportError:  # not a touchflow dependency
    asyncpg = None

URL = os.environ.get("TOUCHFLOW_TEST_PG_URL") or "postgresql://postgres@127.0.0.1:5432/test"
DDL = """DROP TABLE IF EXISTS drvbench;
CREATE TABLE drvbench (key text primary key, rule_id text not null, customer_id text not null,
 state text not null, due_at timestamptz not null, next_attempt_at timestamptz not null,
 claim_owner text, claim_expires_at timestamptz, to_addr text, updated_at timestamptz);
CREATE INDEX drvbench_ready ON drvbench (next_attempt_at) WHERE state IN ('pending','retry');"""
now = datetime(2026, 12, 6, tzinfo=UTC)
ROWS: list[tuple[object, ...]] = []


def outbox_rows(n: int) -> list[tuple[object, ...]]:
    return [
        (f"k{i:06d}", "rule", f"c{i:06d}", "pending", now, now, f"c{i}@example.com", now)
        for i in range(n)
    ]


COLUMNS = "key, rule_id, customer_id, state, due_at, next_attempt_at, to_addr, updated_at"
INS = f"INSERT INTO drvbench ({COLUMNS}) VALUES ({{}}) ON CONFLICT (key) DO NOTHING"
CLAIM = """WITH picked AS (SELECT key FROM drvbench
 WHERE state IN ('pending','retry') AND next_attempt_at <= {0}
 ORDER BY next_attempt_at LIMIT {1} FOR UPDATE SKIP LOCKED)
UPDATE drvbench d SET state='claimed', claim_owner={2}, claim_expires_at={3}, updated_at={0}
FROM picked WHERE d.key = picked.key RETURNING d.*"""


async def pg_psycopg():
    async with await psycopg.AsyncConnection.connect(URL, autocommit=True) as c:
        await c.execute(DDL)
        t = time.perf_counter()
        async with c.transaction():
            async with c.cursor() as cur:
                await cur.executemany(INS.format(",".join(["%s"] * 8)), ROWS)
        ins = time.perf_counter() - t
        await c.execute("TRUNCATE drvbench")
        t = time.perf_counter()
        async with c.transaction():
            async with c.cursor() as cur:
                async with cur.copy(f"COPY drvbench ({COLUMNS}) FROM STDIN") as cp:
                    for r in ROWS:
                        await cp.write_row(r)
        copy = time.perf_counter() - t
        t = time.perf_counter()
        got = 0
        q = CLAIM.format("%s", "%s", "%s", "%s")
        while True:
            async with c.transaction():
                cur = await c.execute(q, (now, 200, "me", now + timedelta(minutes=5), now))
                rows = await cur.fetchall()
            if not rows:
                break
            got += len(rows)
        claim = time.perf_counter() - t
        t = time.perf_counter()
        for _ in range(500):
            cur = await c.execute(
                "SELECT value FROM (VALUES ('x')) v(value) WHERE %s = %s", ("a", "a")
            )
            await cur.fetchall()
        rt = (time.perf_counter() - t) / 500
        return ins, copy, claim, got, rt


async def pg_asyncpg():
    c = await asyncpg.connect(URL)
    try:
        await c.execute(DDL)
        t = time.perf_counter()
        async with c.transaction():
            await c.executemany(INS.format(",".join(f"${i}" for i in range(1, 9))), ROWS)
        ins = time.perf_counter() - t
        await c.execute("TRUNCATE drvbench")
        t = time.perf_counter()
        async with c.transaction():
            await c.copy_records_to_table(
                "drvbench",
                records=ROWS,
                columns=[
                    "key",
                    "rule_id",
                    "customer_id",
                    "state",
                    "due_at",
                    "next_attempt_at",
                    "to_addr",
                    "updated_at",
                ],
            )
        copy = time.perf_counter() - t
        t = time.perf_counter()
        got = 0
        q = CLAIM.format("$1", "$2", "$3", "$4")
        while True:
            async with c.transaction():
                rows = await c.fetch(q, now, 200, "me", now + timedelta(minutes=5))
            if not rows:
                break
            got += len(rows)
        claim = time.perf_counter() - t
        t = time.perf_counter()
        for _ in range(500):
            await c.fetch("SELECT value FROM (VALUES ('x')) v(value) WHERE $1 = $2", "a", "a")
        rt = (time.perf_counter() - t) / 500
        return ins, copy, claim, got, rt
    finally:
        await c.close()


async def measure(rounds: int) -> dict[str, list[tuple[float, ...]]]:
    drivers = [("psycopg", pg_psycopg)] + ([("asyncpg", pg_asyncpg)] if asyncpg else [])
    found: dict[str, list[tuple[float, ...]]] = {name: [] for name, _ in drivers}
    for _ in range(rounds):
        for name, run in drivers:
            found[name].append(await run())
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="tiny run for CI; no timing")
    args = parser.parse_args()
    if args.smoke:
        args.n, args.rounds = 200, 1
    ROWS[:] = outbox_rows(args.n)
    found = asyncio.run(measure(args.rounds))
    with psycopg.connect(URL, autocommit=True) as db:
        db.execute("DROP TABLE IF EXISTS drvbench")  # leave the database as found
    print(f"drivers.rows {args.n}")
    for name, runs in found.items():
        med = [statistics.median(r[i] for r in runs) for i in range(5)]
        print(f"drivers.{name}_executemany_ms {med[0] * 1000:.0f}")
        print(f"drivers.{name}_copy_ms {med[1] * 1000:.0f}")
        print(f"drivers.{name}_claim_all_ms {med[2] * 1000:.0f}")
        print(f"drivers.{name}_claimed {med[3]:.0f}")
        print(f"drivers.{name}_round_trip_us {med[4] * 1e6:.0f}")


if __name__ == "__main__":
    main()
