"""SpamAssassin judges every message the sample can send: none scores 1.0 or more.

Each rule and locale of the sample (``sample_messages``: built as the dispatcher builds
them) goes through SpamAssassin's local rules, no network: ``spamassassin -t -L``'s
engine, run once for all messages by ``tests/spamassassin_scores.pl`` (one Perl process
compiles the rules once: ~0.2 s a message instead of ~3 s a ``spamassassin`` start). The
highest-scoring message also goes through ``spamassassin -t -L`` itself, which must agree.

Skipped, saying why, where SpamAssassin is not installed; ``.ci/run`` installs it and sets
``TOUCHFLOW_REQUIRE_SPAMASSASSIN=1``, which turns the skip into a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from sample_messages import SampleMessage, sample_messages

REQUIRE_ENV = "TOUCHFLOW_REQUIRE_SPAMASSASSIN"
SCORES = Path(__file__).resolve().parents[1] / "spamassassin_scores.pl"
LIMIT = 1.0


def unavailable() -> str | None:
    """Why SpamAssassin cannot judge here, or None."""
    if shutil.which("spamassassin") is None:
        return "spamassassin is not installed (Debian: apt-get install spamassassin)"
    found = subprocess.run(
        ["perl", "-MMail::SpamAssassin", "-e", "1"], capture_output=True, text=True, check=False
    )
    if found.returncode != 0:
        return f"perl cannot load Mail::SpamAssassin: {found.stderr.strip()[:200]}"
    return None


@pytest.fixture(scope="module")
def spamassassin() -> None:
    why = unavailable()
    if why is None:
        return
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but {why}", pytrace=False)
    pytest.skip(why)


def scores(files: list[Path], state: Path) -> dict[str, tuple[float, str]]:
    done = subprocess.run(
        ["perl", str(SCORES), str(state), *map(str, files)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    found = {}
    for line in done.stdout.splitlines():
        name, score, tests = line.split("\t")
        found[Path(name).stem] = (float(score), tests)
    return found


def score_by_command(file: Path, home: Path) -> float:
    """``spamassassin -t -L < file``: the score in its X-Spam-Status header."""
    done = subprocess.run(
        ["spamassassin", "-t", "-L"],
        input=file.read_bytes(),
        capture_output=True,
        check=True,
        timeout=120,
        env={**os.environ, "HOME": str(home)},
    )
    status = re.search(rb"^X-Spam-Status: \w+, score=(-?[0-9.]+)", done.stdout, re.MULTILINE)
    assert status is not None, done.stdout[:2000]
    return float(status.group(1))


def test_no_sample_message_scores_one_or_more(spamassassin: None, tmp_path: Path) -> None:
    messages: list[SampleMessage] = sample_messages(tmp_path / "project")
    out = tmp_path / "messages"
    out.mkdir()
    files = []
    for message in messages:
        path = out / f"{message.name}.eml"
        path.write_bytes(message.data)
        files.append(path)
    state = tmp_path / "state"
    state.mkdir()
    found = scores(files, state)
    assert sorted(found) == sorted(m.name for m in messages)
    too_high = {name: hit for name, hit in found.items() if hit[0] >= LIMIT}
    assert not too_high, f"scored {LIMIT} or more (score, tests hit): {too_high}"
    worst = max(found, key=lambda name: found[name][0])
    by_command = score_by_command(out / f"{worst}.eml", state)
    assert by_command == pytest.approx(found[worst][0], abs=0.01)
