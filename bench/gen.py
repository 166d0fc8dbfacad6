"""Make a benchmark project: the sample's rules and templates over N synthetic customers.

    python bench/gen.py --customers 100000 --out /tmp/tf-100k [--seed 1] [--now ISO]

Spreads: birthdays over the whole year (Feb 29 included, as often as it comes),
customer_since over ten years, 20 countries and time zones, about one
appointment and half a coupon per customer per quarter (some rescheduled,
cancelled or redeemed). Data is generated, never committed.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import shutil
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

from touchflow.models import Customer, Event
from touchflow.store.sqlite import SqliteStore

REPO = Path(__file__).resolve().parents[1]
PLACES = (
    ("DE", "Europe/Berlin", "de"), ("US", "America/New_York", "en_US"),
    ("GB", "Europe/London", "en_GB"), ("FR", "Europe/Paris", "fr"),
    ("JP", "Asia/Tokyo", "ja"), ("AU", "Australia/Sydney", "en_AU"),
    ("BR", "America/Sao_Paulo", "pt_BR"), ("CA", "America/Toronto", "en_CA"),
    ("ES", "Europe/Madrid", "es"), ("IT", "Europe/Rome", "it"),
    ("NL", "Europe/Amsterdam", "nl"), ("SE", "Europe/Stockholm", "sv"),
    ("PL", "Europe/Warsaw", "pl"), ("AT", "Europe/Vienna", "de_AT"),
    ("CH", "Europe/Zurich", "de_CH"), ("MX", "America/Mexico_City", "es_MX"),
    ("IN", "Asia/Kolkata", "en_IN"), ("ZA", "Africa/Johannesburg", "en_ZA"),
    ("NZ", "Pacific/Auckland", "en_NZ"), ("US", "America/Los_Angeles", "en_US"),
)  # fmt: skip
SERVICES = ("Colour and cut", "Massage", "Consultation", "Manicure")
CHUNK = 20_000
T = TypeVar("T")


def customers(n: int, rng: random.Random, today: date) -> Iterator[Customer]:
    for i in range(n):
        country, tz, locale = PLACES[i % len(PLACES)]
        born = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55 + 14))
        yield Customer(
            id=f"c{i:07d}",
            email=f"customer{i}@example.com",
            first_name=f"Kim{i % 997}",
            last_name=f"Lee{i % 991}",
            timezone=tz,
            locale=locale,
            country=country,
            birthday=born,
            customer_since=today - timedelta(days=rng.randrange(3650)),
            consent_marketing=rng.random() < 0.7,
            attributes={"tier": rng.choice(("gold", "silver", "bronze")), "tags": []},
        )


def events(n: int, rng: random.Random, now: datetime) -> Iterator[Event]:
    """Per customer and quarter: ~1 appointment, ~0.5 coupon, spread over the last 90 days."""
    for i in range(n):
        cid = f"c{i:07d}"
        tz = ZoneInfo(PLACES[i % len(PLACES)][1])
        booked = now - timedelta(minutes=rng.randrange(90 * 24 * 60))
        day = (booked + timedelta(days=rng.randint(1, 30))).astimezone(tz).date()
        starts = datetime(day.year, day.month, day.day, rng.randint(9, 17), 0, tzinfo=tz)
        appt = f"a{i}"
        yield _event(f"{cid}-b", "appointment_booked", cid, booked,
                     {"appointment_id": appt, "starts_at": starts.isoformat(),
                      "service": rng.choice(SERVICES)})  # fmt: skip
        roll = rng.random()
        if roll < 0.05:
            yield _event(f"{cid}-x", "appointment_cancelled", cid,
                         booked + timedelta(hours=2), {"appointment_id": appt})  # fmt: skip
        elif roll < 0.10:
            moved = starts + timedelta(days=rng.randint(1, 5))
            yield _event(f"{cid}-r", "appointment_rescheduled", cid, booked + timedelta(hours=3),
                         {"appointment_id": appt, "starts_at": moved.isoformat()})  # fmt: skip
        if rng.random() < 0.5:
            issued = now - timedelta(minutes=rng.randrange(90 * 24 * 60))
            code = f"K{i}"
            yield _event(f"{cid}-c", "coupon_issued", cid, issued,
                         {"coupon_code": code, "discount": "10%",
                          "expires_at": (issued + timedelta(days=30)).isoformat()})  # fmt: skip
            if rng.random() < 0.3:
                yield _event(f"{cid}-u", "coupon_redeemed", cid, issued + timedelta(days=3),
                             {"coupon_code": code})  # fmt: skip


def _event(eid: str, kind: str, cid: str, at: datetime, data: dict[str, object]) -> Event:
    return Event(id=eid, type=kind, customer_id=cid, at=at.astimezone(UTC), data=data)


def make_project(out: Path) -> Path:
    """The sample project's config, rules and templates, without its sample data."""
    out.mkdir(parents=True, exist_ok=True)
    for part in ("rules", "message_templates"):
        shutil.rmtree(out / part, ignore_errors=True)
        shutil.copytree(REPO / part, out / part)
    config = (REPO / "touchflow.yaml").read_text(encoding="utf-8")
    config = re.sub(r"(?m)^sample:.*\n", "", config)
    (out / "touchflow.yaml").write_text(config, encoding="utf-8")
    return out


async def fill_store(out: Path, n: int, *, seed: int, now: datetime) -> tuple[int, int]:
    store_file = out / ".touchflow" / "store.sqlite3"
    for suffix in ("", "-wal", "-shm", ".lock"):
        Path(f"{store_file}{suffix}").unlink(missing_ok=True)
    rng = random.Random(seed)
    made = [0, 0]
    async with await SqliteStore.open(store_file) as store:
        for batch in _chunks(customers(n, rng, now.date())):
            made[0] += (await store.upsert_customers(batch)).total
        for chunk in _chunks(events(n, rng, now)):
            made[1] += (await store.add_events(chunk))[0]
        # A fresh import is not "changes" for a daemon benchmark to replay.
        await store.drop_changes((await store.pending_changes(limit=1))[0])
    return made[0], made[1]


def _chunks(items: Iterator[T]) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--now", default="2026-11-23T08:00:00+00:00")
    args = parser.parse_args(argv)
    now = datetime.fromisoformat(args.now)
    started = time.perf_counter()
    project = make_project(args.out)
    n_customers, n_events = asyncio.run(
        fill_store(project, args.customers, seed=args.seed, now=now)
    )
    seconds = time.perf_counter() - started
    print(f"gen.customers {n_customers}")
    print(f"gen.events {n_events}")
    print(f"gen.seconds {seconds:.2f}")
    print(f"gen.project {project}", file=sys.stderr)


if __name__ == "__main__":
    main()
