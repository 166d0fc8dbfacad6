"""The web console's pages at scale: a real `touchflow run` with `http:`, timed over HTTP.

    python bench/console.py --customers 100000 --rows 1000000 --requests 20 [--project DIR]
    python bench/console.py --smoke

Makes a `bench/gen.py` project (or reuses ``--project``, made by gen.py), starts
`touchflow run` on it with an `http:` section, waits for its start-up plan, then adds
``--rows`` outbox rows through the store in bulk (states mixed, due over the past and
the next 30 days, every rule, customers round-robin), logs in once and times each
page over ``--requests`` requests: median and p95 in milliseconds. The calendar and
the day are timed once counted (their first count's seconds are printed too);
``outbox_counts`` is timed alone, as it scans the outbox's state index.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dispatch
import gen

from touchflow.models import Category, OutboxRow, OutboxState
from touchflow.project import load_project_checked
from touchflow.store.sqlite import SqliteStore

NOW = datetime.fromisoformat("2026-11-23T08:00:00+00:00")
TOKEN = "bench-console-token-0123456789abcdef"
ENV = {
    "TOUCHFLOW_API_TOKEN": TOKEN,
    "TOUCHFLOW_UNSUBSCRIBE_SECRET": "bench-secret-0123456789abcdef",
}
CHUNK = 20_000
SLOW, SLOW_REQUESTS = 2.0, 3
PAST = (OutboxState.SENT,) * 7 + (OutboxState.FAILED, OutboxState.CANCELLED, OutboxState.EXPIRED)
AHEAD = (OutboxState.PENDING,) * 9 + (OutboxState.CANCELLED,)


def store_file(project: Path) -> Path:
    return project / ".touchflow" / "store.sqlite3"


def with_http(project: Path, port: int) -> None:
    config = project / "touchflow.yaml"
    text = re.sub(r"(?ms)^http:\n(?:  .*\n)*", "", config.read_text(encoding="utf-8"))
    http = f"http:\n  port: {port}\n  public_url: http://127.0.0.1:{port}\n"
    config.write_text(text + http, encoding="utf-8")


def bulk_rows(project: Path, n: int, customers: int) -> list[OutboxRow]:
    rules = [(r.id, r.category) for r in load_project_checked(project).rules]
    rng = random.Random(7)
    rows = []
    for i in range(n):
        rule, category = rules[i % len(rules)]
        due = NOW + timedelta(seconds=rng.uniform(-30, 30) * 86400)
        if NOW <= due < NOW + timedelta(hours=1):
            due += timedelta(hours=1)  # nothing of these becomes due while the bench runs
        state = rng.choice(PAST if due < NOW else AHEAD)
        rows.append(_row(f"bulk:{i:07d}", rule, category, f"c{i % customers:07d}", state, due))
    return rows


def _row(key: str, rule: str, category: Category, customer: str, state: OutboxState,
         due: datetime) -> OutboxRow:  # fmt: skip
    return OutboxRow(
        key=key, rule_id=rule, customer_id=customer, category=category, counts_for_caps=True,
        state=state, due_at=due, expires_at=due + timedelta(days=1), next_attempt_at=due,
        reason="bad_mailbox" if state is OutboxState.FAILED else None,
        last_error="550 5.1.1 no such user" if state is OutboxState.FAILED else None,
        to=f"customer{customer}@example.com",
    )  # fmt: skip


async def fill_outbox(project: Path, rows: list[OutboxRow]) -> float:
    """Write ``rows`` beside the running daemon; the seconds ``outbox_counts`` takes then."""
    async with await SqliteStore.open(store_file(project)) as store:
        for start in range(0, len(rows), CHUNK):
            await store.write_plan(rows[start : start + CHUNK], [], now=NOW)
        started = time.perf_counter()
        await store.outbox_counts()
        return time.perf_counter() - started


def start_daemon(project: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "touchflow", "run", "--log-level", "error",
         "--now", NOW.isoformat()],
        cwd=project, env={**os.environ, **ENV},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def wait_ready(client: httpx.Client, timeout: float = 1800) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        try:
            if client.get("/healthz").json().get("status") == "ok":
                return time.perf_counter() - started
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.2)
    raise SystemExit(f"the daemon was not ready within {timeout} s")


def wait_planned(client: httpx.Client, timeout: float = 1800) -> float:
    """Wait for the daemon's first full plan (the health page names it once it ended)."""
    started = time.perf_counter()
    while "<dt>Last full plan</dt><dd>none" in client.get("/console/health").text:
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"no full plan within {timeout} s")
        time.sleep(0.2)
    return time.perf_counter() - started


def counted(client: httpx.Client, path: str, timeout: float = 1800) -> float:
    """Wait out a page's first count; the seconds the page says it took."""
    deadline = time.monotonic() + timeout
    while 'http-equiv="refresh"' in (text := client.get(path).text) or "counting again" in text:
        if time.monotonic() > deadline:
            raise SystemExit(f"{path} still counting after {timeout} s")
        time.sleep(0.2)
    found = re.search(r"Counted at [^(]*\(in ([\d.]+) s\)", text)
    if not found:
        raise SystemExit(f"{path}: no count on the page")
    return float(found[1])


def timed(client: httpx.Client, path: str, requests: int) -> tuple[float, float]:
    """Median and p95 of ``requests`` GETs of ``path``, in milliseconds (``SLOW_REQUESTS``
    of them for a page that takes more than ``SLOW`` seconds)."""
    times: list[float] = []
    while len(times) < (SLOW_REQUESTS if times and times[0] > SLOW * 1000 else requests):
        started = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise SystemExit(f"{path}: {answer.status_code}")
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]


def pages(customers: int) -> dict[str, str]:
    deep = (NOW + timedelta(days=25)).isoformat()
    after = httpx.QueryParams({"after_due": deep, "after_key": "bulk:"})
    return {
        "calendar": "/console/",
        "day": f"/console/day/{(NOW + timedelta(days=2)).date().isoformat()}",
        "outbox_first": "/console/outbox",
        "outbox_deep": f"/console/outbox?{after}",
        "outbox_failed_deep": f"/console/outbox?state=failed&{after}",
        "outbox_rule_deep": f"/console/outbox?rule=birthday-card&{after}",
        "customer": f"/console/customers/c{customers // 2:07d}",
        "rules": "/console/rules",
        "health": "/console/health",
    }


def run(project: Path, args: argparse.Namespace) -> None:
    port = dispatch.free_port()
    with_http(project, port)
    daemon = start_daemon(project)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
            print(f"console.start_seconds {wait_ready(client):.2f}")
            login = client.post("/console/login", data={"token": TOKEN})
            client.cookies.set("touchflow_console", login.cookies["touchflow_console"])
            print(f"console.first_plan_seconds {wait_planned(client):.2f}")
            rows = bulk_rows(project, args.rows, args.customers)
            started = time.perf_counter()
            counts_s = asyncio.run(fill_outbox(project, rows))
            print(f"console.fill_seconds {time.perf_counter() - started:.2f}")
            print(f"console.outbox_counts_ms {counts_s * 1000:.1f}")
            for name, path in pages(args.customers).items():
                if name in ("calendar", "day", "rules"):
                    print(f"console.{name}_count_seconds {counted(client, path):.2f}")
                median, p95 = timed(client, path, args.requests)
                print(f"console.{name}_ms_median {median:.1f}")
                print(f"console.{name}_ms_p95 {p95:.1f}")
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=300)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--project", type=Path, help="a gen.py project to copy (not changed)")
    parser.add_argument("--smoke", action="store_true", help="tiny run for CI; no timing")
    args = parser.parse_args(argv)
    if args.smoke:
        args = replace_args(args, customers=200, rows=3000, requests=3)
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        if args.project is not None:
            shutil.copytree(args.project, project)
            for suffix in ("-wal", "-shm", ".lock"):
                Path(f"{store_file(project)}{suffix}").unlink(missing_ok=True)
        else:
            gen.make_project(project)
            asyncio.run(gen.fill_store(project, args.customers, seed=1, now=NOW))
        print(f"console.customers {args.customers}")
        print(f"console.rows {args.rows}")
        run(project, args)


def replace_args(args: argparse.Namespace, **values: object) -> argparse.Namespace:
    return argparse.Namespace(**{**vars(args), **values})


if __name__ == "__main__":
    main()
