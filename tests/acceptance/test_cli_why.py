"""`touchflow why` as a user runs it on the sample project: the docs' examples as written,
the JSON on standard output, and the errors an ops person meets."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from daemon_support import touchflow

REPO = Path(__file__).resolve().parents[2]
NOW = "2026-12-10"


def why_section() -> str:
    text = (REPO / "docs" / "explain.md").read_text(encoding="utf-8")
    return text.split("## `touchflow why`", 1)[1].split("\n## ", 1)[0]


def doc_steps() -> list[tuple[str, str | None]]:
    """Each ```sh block of the why section, with the ```text block that follows it (its
    output as printed), if one does."""
    blocks = re.findall(r"```(sh|text)\n(.*?)```", why_section(), flags=re.DOTALL)
    steps: list[tuple[str, str | None]] = []
    for kind, body in blocks:
        if kind == "sh":
            steps.append((body, None))
        else:
            command, _ = steps[-1]
            steps[-1] = (command, body)
    return steps


def shell(command: str, cwd: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``command`` in bash, with the `touchflow` under test first on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "touchflow").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m touchflow "$@"\n')
    (bin_dir / "touchflow").chmod(0o755)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHFLOW_")}
    environ["PATH"] = f"{bin_dir}{os.pathsep}{environ.get('PATH', '')}"
    return subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + command], cwd=cwd, capture_output=True,
        text=True, timeout=120, env=environ,
    )  # fmt: skip


def test_the_examples_in_docs_explain_md_print_what_they_show(sample: Path, tmp_path: Path) -> None:
    steps = doc_steps()
    assert len(steps) >= 3, "the why section lost its examples"
    assert "touchflow why c-004 birthday-card" in steps[0][0]
    for command, expected in steps:
        result = shell(command, sample, tmp_path)
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
        if expected is not None:
            assert result.stdout == expected, f"{command}\n{result.stdout}"


def test_why_didnt_c004_get_the_birthday_card_names_consent_and_the_rule_line(
    sample: Path,
) -> None:
    out = touchflow("why", "c-004", "birthday-card", "--now", NOW, cwd=sample).stdout
    assert (
        "stopped by: the customer has not consented to marketing (consent_marketing is false), "
        "which this rule requires (policies: require_consent) (rules/calendar.yaml:2)"
    ) in out


def test_the_json_is_one_document_on_stdout(sample: Path) -> None:
    result = touchflow("why", "c-001", "--now", NOW, "--format", "json", cwd=sample)
    document = json.loads(result.stdout)
    assert document["customer"]["id"] == "c-001"
    assert [r["rule"] for r in document["rules"]][:2] == ["appointment-reminder", "birthday-card"]
    assert "Loaded the sample data" in result.stderr


def test_a_past_sent_touchpoint_shows_its_outbox_history(sample: Path) -> None:
    touchflow("run", "--once", "--now", "2026-12-10T09:00:00+01:00", cwd=sample)
    result = touchflow(
        "why", "c-006", "inquiry-acknowledgement", "--now", "2026-12-10T10:00:00+01:00",
        "--format", "json", cwd=sample,
    )  # fmt: skip
    (rule,) = json.loads(result.stdout)["rules"]
    (sent,) = [tp for tp in rule["touchpoints"] if tp["period"] == "past"]
    assert sent["outbox"]["state"] == "sent"
    assert sent["outbox"]["attempts"] == 1
    assert sent["outbox"]["message_id"].endswith("@lumen.example>")
    assert sent["outbox"]["sent_at"].startswith("2026-12-10T08:00")
    assert sent["checks"][-1]["stage"] == "outbox"
    assert sent["stopped_by"] is None


def test_an_unknown_customer_is_an_error_with_exit_code_2(sample: Path) -> None:
    result = touchflow("why", "c-999", "--now", NOW, cwd=sample, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().endswith("error: no customer 'c-999' in the store")
    assert result.stdout == ""


def test_an_unknown_rule_lists_the_rules(sample: Path) -> None:
    result = touchflow("why", "c-004", "birthday", "--now", NOW, cwd=sample, check=False)
    assert result.returncode == 2
    assert "RULE: no rule 'birthday'; rules: appointment-reminder, birthday-card" in result.stderr


def test_rule_is_also_an_option_as_the_other_commands_take_it(sample: Path) -> None:
    as_argument = touchflow("why", "c-004", "birthday-card", "--now", NOW, "--format", "json",
                            cwd=sample)  # fmt: skip
    as_option = touchflow("why", "c-004", "--rule", "birthday-card", "--now", NOW, "--format",
                          "json", cwd=sample)  # fmt: skip
    assert [r["rule"] for r in json.loads(as_option.stdout)["rules"]] == ["birthday-card"]
    assert as_option.stdout == as_argument.stdout
    unknown = touchflow("why", "c-004", "--rule", "birthday", "--now", NOW, cwd=sample, check=False)
    assert unknown.returncode == 2
    assert "--rule: no rule 'birthday'; rules: appointment-reminder" in unknown.stderr
    both = touchflow("why", "c-004", "birthday-card", "--rule", "monthly-sale", cwd=sample,
                     check=False)  # fmt: skip
    assert both.returncode == 2
    assert "--rule: give RULE or --rule, not both" in both.stderr
