"""Claim contention on one PostgreSQL store: 1 process vs P processes claiming the same rows.

    python bench/pg_claims.py [--rows 100000] [--processes 3] [--batch 32] [--group 4]
                              [--rounds 3] [--smoke]

Each round fills a fresh schema of the database at ``TOUCHFLOW_TEST_PG_URL`` (default
the local test one) with ROWS due outbox rows (not timed), then starts the claimers,
each a process of its own with its own store (``open_store(url)``), and lets them go
at once. A claimer does what the daemon's dispatcher does with the store: claims
BATCH ready rows (``claim_due``, its next claim running while it records this one's
outcomes) and records them as sent GROUP at a time (``finish_claims``, one outcome a
connection of a 4-connection daemon), until nothing is left. One process and P
processes run interleaved round by round.

Figures: claims a second overall (ROWS over the time from the first start to the last
finish) and per process (its rows over its own time), medians of the rounds, min-max.
Proof, counted on the database after every round: every row ``sent`` with
``attempts = 1`` (finished exactly once), none left claimed, each process's rows (from
the Message-ID it wrote) equal to what it claimed, no outcome refused (a row claimed
twice has one refused: its state or owner changed), the claims adding up to ROWS.
After the timed rounds, one more round of each runs with a trigger logging every claim
on the server (not timed: the trigger costs time); ``claimed_twice_server_log`` is its
claims minus its distinct keys. Any contradiction is printed and the script fails.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import psycopg

from touchflow.models import Category, OutboxRow, OutboxState
from touchflow.store import Finish, open_store

SERVER = "postgresql://postgres@127.0.0.1:5432/test"
TTL = timedelta(minutes=5)
FILL_CHUNK = 20_000
AUDIT = """
CREATE TABLE claim_log (key text NOT NULL, owner text NOT NULL);
CREATE FUNCTION log_claim() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO claim_log VALUES (NEW.key, NEW.claim_owner);
    RETURN NEW;
END $$;
CREATE TRIGGER outbox_claim_log AFTER UPDATE ON outbox FOR EACH ROW
WHEN (NEW.state = 'claimed') EXECUTE FUNCTION log_claim();
"""


def server() -> str:
    return os.environ.get("TOUCHFLOW_TEST_PG_URL") or SERVER


@contextmanager
def fresh_schema() -> Iterator[str]:
    schema = f"tf_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server(), autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{server()}{'&' if '?' in server() else '?'}options={quote(f'-csearch_path={schema}')}"
    try:
        yield url
    finally:
        with psycopg.connect(server(), autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


async def fill(url: str, rows: int, *, audit: bool) -> None:
    """ROWS pending rows, due over the last hour, in the store at ``url``."""
    now = datetime.now(UTC)
    async with await open_store(url) as store:
        for start in range(0, rows, FILL_CHUNK):
            chunk = []
            for i in range(start, min(start + FILL_CHUNK, rows)):
                due = now - timedelta(seconds=3600 * (rows - i) / rows)
                chunk.append(
                    OutboxRow(
                        key=f"bench:c{i:07d}:1", rule_id="bench", customer_id=f"c{i:07d}",
                        category=Category.TRANSACTIONAL, counts_for_caps=False,
                        state=OutboxState.PENDING, due_at=due,
                        expires_at=now + timedelta(days=1), next_attempt_at=due,
                        to=f"c{i}@bench.example",
                    )
                )  # fmt: skip
            await store.write_plan(chunk, [], now=now)
    if audit:
        with psycopg.connect(url, autocommit=True) as db:
            db.execute(AUDIT)
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("ANALYZE outbox")


# --- one claimer (a process of its own) -------------------------------------------------


async def claimer(url: str, owner: str, batch: int, group: int) -> dict[str, float]:
    """Claim and record as sent until nothing is ready; what it did and when."""
    async with await open_store(url) as store:

        async def claim() -> list[OutboxRow]:
            return await store.claim_due(owner=owner, now=datetime.now(UTC), ttl=TTL, limit=batch)

        print("ready", flush=True)
        sys.stdin.readline()  # the go: every claimer starts at once
        started = time.time()
        claimed = refused = 0
        rows = await claim()
        while rows:
            claimed += len(rows)
            following = asyncio.create_task(claim()) if len(rows) == batch else None
            for i in range(0, len(rows), group):
                now = datetime.now(UTC)
                items = [
                    Finish(row=_sent(row, owner, now), attempted=True)
                    for row in rows[i : i + group]
                ]
                done = await store.finish_claims(items, owner=owner, now=now)
                refused += done.count(False)
            rows = await following if following else []
        ended = time.time()
    return {"claimed": claimed, "refused": refused, "started": started, "ended": ended}


def _sent(row: OutboxRow, owner: str, now: datetime) -> OutboxRow:
    return dataclasses.replace(
        row, state=OutboxState.SENT, sent_at=now, message_id=f"<{owner}/{row.key}>"
    )


# --- the rounds -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Round:
    overall: float  # claims a second, all processes
    each: list[float]  # claims a second of each process, over its own time
    shares: list[int]  # rows each process claimed
    twice: int  # claims beyond one a row: counted by the server's log if audited
    problems: list[str]  # what the server's counts contradict


def run_round(args: argparse.Namespace, processes: int, *, audit: bool = False) -> Round:

    with fresh_schema() as url:
        asyncio.run(fill(url, args.rows, audit=audit))
        owners = [f"p{i}-{uuid.uuid4().hex[:6]}" for i in range(processes)]
        command = [sys.executable, __file__, "--claimer", url]
        tail = [str(args.batch), str(args.group)]
        procs = [
            subprocess.Popen(
                [*command, owner, *tail], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
            )
            for owner in owners
        ]
        for proc in procs:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise SystemExit("a claimer did not start")
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = []
        for proc in procs:
            out, _ = proc.communicate()
            if proc.returncode != 0:
                raise SystemExit(f"a claimer failed ({proc.returncode})")
            results.append(json.loads(out.strip().splitlines()[-1]))
        shares = [int(r["claimed"]) for r in results]
        twice, problems = check(url, args.rows, dict(zip(owners, shares, strict=True)), results)
    first = min(r["started"] for r in results)
    last = max(r["ended"] for r in results)
    each = [r["claimed"] / max(r["ended"] - r["started"], 1e-6) for r in results]
    overall = args.rows / max(last - first, 1e-6)
    return Round(overall=overall, each=each, shares=shares, twice=twice, problems=problems)


def check(
    url: str, rows: int, claimed: dict[str, int], results: list[dict[str, float]]
) -> tuple[int, list[str]]:
    """Counted on the server: every row sent once, by the process that claimed it. The
    claims beyond one a row (the server's log of claims if there is one), and the
    problems found."""
    with psycopg.connect(url) as db:
        states = dict(db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall())
        not_once = db.execute("SELECT COUNT(*) FROM outbox WHERE attempts <> 1").fetchone()
        by_owner = dict(
            db.execute(
                "SELECT split_part(substr(message_id, 2), '/', 1), COUNT(*) FROM outbox"
                " WHERE state = 'sent' GROUP BY 1"
            ).fetchall()
        )
        logged = None
        if db.execute("SELECT to_regclass('claim_log')").fetchone() != (None,):
            logged = db.execute("SELECT COUNT(*), COUNT(DISTINCT key) FROM claim_log").fetchone()
    problems = []
    if states != {"sent": rows}:
        problems.append(f"states {states}, not {rows} sent")
    if not_once is None or not_once[0] != 0:
        problems.append(f"{not_once} rows not finished exactly once")
    if by_owner != {owner: n for owner, n in claimed.items() if n}:
        problems.append(f"rows by owner on the server {by_owner}, claimed {claimed}")
    twice = sum(claimed.values()) - rows
    if logged is not None:
        twice = logged[0] - logged[1]
        if logged[1] != rows:
            problems.append(f"claim log: {logged[1]} keys claimed of {rows}")
    if twice:
        problems.append(f"{twice} rows claimed more than once")
    if any(r["refused"] for r in results):
        problems.append(f"outcomes refused: {[r['refused'] for r in results]}")
    return twice, problems


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--claimer":
        url, owner, batch, group = argv[1:5]
        print(json.dumps(asyncio.run(claimer(url, owner, int(batch), int(group)))), flush=True)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32, help="rows a claim")
    parser.add_argument("--group", type=int, default=4, help="outcomes a finish_claims")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="tiny run for CI; no timing")
    args = parser.parse_args(argv)
    if args.smoke:
        args.rows, args.rounds = 300, 1
    counts = sorted({1, args.processes})
    timed: dict[int, list[Round]] = {n: [] for n in counts}
    for _ in range(args.rounds):
        for n in counts:
            timed[n].append(run_round(args, n))
    audited = {n: run_round(args, n, audit=True) for n in counts}
    report(args, timed, audited)
    rounds = itertools.chain(audited.values(), *timed.values())
    problems = [p for r in rounds for p in r.problems]
    if problems:
        raise SystemExit("; ".join(problems))


def report(
    args: argparse.Namespace, timed: dict[int, list[Round]], audited: dict[int, Round]
) -> None:
    print(f"pg_claims.rows {args.rows}")
    print(f"pg_claims.batch {args.batch}")
    print(f"pg_claims.group {args.group}")
    med: dict[int, float] = {}
    for n, runs in timed.items():
        twice = sum(r.twice for r in runs) + audited[n].twice
        print(f"pg_claims.p{n}_claimed_twice {twice}")
        print(f"pg_claims.p{n}_claimed_twice_server_log {audited[n].twice}")
        shares = [min(r.shares) / max(max(r.shares), 1) for r in [*runs, audited[n]]]
        print(f"pg_claims.p{n}_smallest_to_largest_share {min(shares):.2f}")
        if not runs:
            continue
        overall = [r.overall for r in runs]
        each = [rate for r in runs for rate in r.each]
        med[n] = statistics.median(overall)
        print(f"pg_claims.p{n}_claims_per_s {med[n]:.0f}")
        print(f"pg_claims.p{n}_min_max {min(overall):.0f} {max(overall):.0f}")
        print(f"pg_claims.p{n}_per_process_claims_per_s {statistics.median(each):.0f}")
        print(f"pg_claims.p{n}_per_process_min_max {min(each):.0f} {max(each):.0f}")
    if len(med) > 1:
        last = max(med)
        print(f"pg_claims.ratio_p{last}_to_p1 {med[last] / med[1]:.2f}")


if __name__ == "__main__":
    main()
