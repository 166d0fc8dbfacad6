"""A full plan shared out in id ranges (``touchflow.store.planning``), in a SQLite file.

One daemon holds a SQLite file, so its own planners are the only ones: a range is
free when never taken or when its lease ended (a planner that stopped answering);
``owners_gone`` adds nothing (a daemon that died left its lock file, and the next one
starts a new run).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from touchflow.store.planning import IdRange, RangeTaken
from touchflow.store.sqlite.connection import Connection, changed, run
from touchflow.store.sqlite.queries import SQL
from touchflow.store.values import utc_text


class PlanRunMethods(Connection):
    async def start_plan_run(self, run_id: str, ranges: Sequence[IdRange]) -> None:
        async with self._transaction("share out a plan in") as db:
            await run(db.execute(SQL["drop_plan_ranges"]))
            for lo, hi in ranges:
                await run(db.execute(SQL["add_plan_range"], (run_id, lo, hi, lo)))

    async def take_plan_range(
        self, run_id: str, *, me: str, now: datetime, until: datetime, owners_gone: bool = False
    ) -> RangeTaken | None:
        params = (me, utc_text(until), run_id, utc_text(now))
        async with self._transaction("take a plan range in") as db:
            rows = list(await db.execute_fetchall(SQL["take_plan_range"], params))
        if not rows:
            return None
        lo, hi, cursor = rows[0]
        return RangeTaken(run=run_id, lo=str(lo), hi=hi, cursor=str(cursor))

    async def advance_plan_range(
        self, taken: RangeTaken, *, me: str, cursor: str, done: bool, until: datetime
    ) -> bool:
        params = (cursor, int(done), utc_text(until), taken.run, taken.lo, me)
        async with self._transaction("record planning in") as db:
            return await changed(db, SQL["advance_plan_range"], params) == 1

    async def plan_ranges_left(self, run_id: str) -> int:
        rows = await self._fetch(SQL["plan_ranges_left"], (run_id,))
        return int(rows[0][0])

    async def end_plan_run(self, run_id: str) -> None:
        async with self._transaction("end a shared plan in") as db:
            await run(db.execute(SQL["end_plan_run"], (run_id,)))
