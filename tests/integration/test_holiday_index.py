"""Holidays read without the package's country index are the same holidays (issue 15).

touchflow.calendars stands an empty package in for ``holidays.countries``, whose
``__init__`` imports all of its ~250 country modules, and imports only the countries
asked about. Each side runs in a process of its own (the stand-in, once installed,
stays for the process): one as touchflow runs, one with the real index imported
first, as any other user of the package would have it. Every country's calendar,
under each of its codes, must come out the same, in a year with and one without the
irregular holidays that move (2026, 2027).
"""

from __future__ import annotations

import json
import subprocess
import sys

_CALENDARS = """\
import json, sys
if sys.argv[1] == "real":
    import holidays.countries  # the package's own index, every country imported
from holidays.registry import EntityLoader
from touchflow import calendars
supported = sorted(calendars.supported_countries())
index = sys.modules["holidays.countries"]
out = {
    "stand_in": "Germany" not in vars(index),
    "supported": supported,
    "calendars": {
        f"{code} {year}": sorted((str(d), n) for d, n in calendars._calendar(code, year).items())
        for code in EntityLoader.get_country_codes(include_aliases=True)
        for year in (2026, 2027)
    },
    "from_index": str(index.Germany),
}
print(json.dumps(out))
"""


def _calendars(mode: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", _CALENDARS, mode],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    loaded: dict[str, object] = json.loads(result.stdout)
    return loaded


def test_every_country_calendar_is_the_same_without_the_country_index() -> None:
    lazy, real = _calendars("lazy"), _calendars("real")
    assert lazy["stand_in"] is True
    assert real["stand_in"] is False
    assert lazy["supported"] == real["supported"]
    assert len(lazy["supported"]) > 200  # type: ignore[arg-type]
    assert "DE" in lazy["supported"] and "DEU" not in lazy["supported"]  # type: ignore[operator]
    assert lazy["calendars"] == real["calendars"]
    christmas = lazy["calendars"]["DE 2026"]  # type: ignore[index]
    assert ["2026-12-25", "Christmas Day"] in christmas
    # A name asked of the stand-in package itself is imported then, as the index has it.
    assert lazy["from_index"] == real["from_index"]
