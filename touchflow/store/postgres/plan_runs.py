"""A full plan shared out in id ranges (``touchflow.store.planning``), on PostgreSQL.

Any daemon of the store takes a range (``FOR UPDATE SKIP LOCKED``: two takers never
wait on one row); a range whose owner's lease ended, or whose owner's session no longer
holds its instance lock (a daemon that died: as for claims), is taken from where it
got to. Starting a run tells the daemons listening (``'<schema> plan'``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from touchflow.store.planning import IdRange, RangeTaken
from touchflow.store.postgres.columns import aware
from touchflow.store.postgres.connection import Connection, changed, fetch
from touchflow.store.postgres.queries import SQL


class PlanRunMethods(Connection):
    async def start_plan_run(self, run_id: str, ranges: Sequence[IdRange]) -> None:
        params = {"run": run_id, "los": [lo for lo, _ in ranges], "his": [hi for _, hi in ranges]}
        async with self._transaction("share out a plan in") as db:
            await db.execute(SQL["drop_plan_ranges"])
            await db.execute(SQL["add_plan_ranges"], params)
            await db.execute(SQL["notify_plan"])

    async def take_plan_range(
        self, run_id: str, *, me: str, now: datetime, until: datetime, owners_gone: bool = False
    ) -> RangeTaken | None:
        params = {
            "run": run_id, "me": me, "now": aware(now), "until": aware(until), "gone": owners_gone,
        }  # fmt: skip
        async with self._transaction("take a plan range in") as db:
            rows = await fetch(db, SQL["take_plan_range"], params)
        if not rows:
            return None
        lo, hi, cursor = rows[0]
        return RangeTaken(run=run_id, lo=str(lo), hi=hi, cursor=str(cursor))

    async def advance_plan_range(
        self, taken: RangeTaken, *, me: str, cursor: str, done: bool, until: datetime
    ) -> bool:
        params = {
            "cursor": cursor, "done": done, "until": aware(until),
            "run": taken.run, "lo": taken.lo, "me": me,
        }  # fmt: skip
        async with self._transaction("record planning in") as db:
            return await changed(db, SQL["advance_plan_range"], params) == 1

    async def plan_ranges_left(self, run_id: str) -> int:
        rows = await self._fetch(SQL["plan_ranges_left"], (run_id,))
        return int(rows[0][0])

    async def end_plan_run(self, run_id: str) -> None:
        async with self._transaction("end a shared plan in") as db:
            await db.execute(SQL["end_plan_run"], (run_id,))
