"""The CLI as a user runs it: subprocesses on the sample project and on fresh projects."""

from __future__ import annotations

import json
from pathlib import Path

from daemon_support import touchflow


def preview_json(project: Path, *args: str) -> list[dict[str, object]]:
    out = touchflow("preview", "--format", "json", *args, cwd=project).stdout
    data = json.loads(out)
    assert isinstance(data, list)
    return data


def test_the_sample_project_validates(sample: Path) -> None:
    result = touchflow("validate", cwd=sample)
    assert "OK: 17 rules in 5 files, 16 templates" in result.stdout


def test_the_sample_shows_a_planned_send_for_every_rule_within_a_year(sample: Path) -> None:
    items = preview_json(sample, "--days", "366")
    rule_ids = {
        line.split(":", 1)[1].strip()
        for path in (sample / "rules").glob("*.yaml")
        for line in path.read_text().splitlines()
        if line.startswith("- id:")
    }
    assert len(rule_ids) == 17
    assert {i["rule"] for i in items if i["status"] == "planned"} == rule_ids


def test_the_first_preview_loads_the_sample_and_shows_the_next_days(sample: Path) -> None:
    result = touchflow("preview", cwd=sample)
    assert "Loaded the sample data (8 customers" in result.stderr
    assert "appointment-reminder" in result.stdout
    assert "Per rule" in result.stdout
    again = touchflow("preview", cwd=sample)
    assert "Loaded the sample" not in again.stderr  # loaded once, then it is the store's


def test_preview_json_elements_carry_the_documented_fields(sample: Path) -> None:
    items = preview_json(sample, "--days", "30", "--all")
    required = {
        "key",
        "rule",
        "customer",
        "channel",
        "category",
        "status",
        "reason",
        "send_at",
        "expires_at",
        "local_send_at",
        "to",
        "subject",
        "text",
    }
    for item in items:
        assert required <= item.keys()
        assert str(item["send_at"]).endswith("Z")
        assert (item["reason"] is None) == (item["status"] == "planned")
    reasons = {i["reason"] for i in items}
    assert {"cancelled", "no_consent", "suppressed"} <= reasons
    planned = [i for i in items if i["status"] == "planned"]
    texts = [i for i in planned if i["channel"] == "sms"]
    assert texts, "the sample texts its appointment reminders to customers who agreed"
    assert all(i["sms"] and i["to"].startswith("+") for i in texts)
    assert all(i["subject"] and i["text"] for i in planned if i["channel"] == "email")
    assert all(str(i["expires_at"]) > str(i["send_at"]) for i in planned)
    assert [i["send_at"] for i in items] == sorted(str(i["send_at"]) for i in items)


def test_now_fixes_the_clock_and_filters_narrow_the_preview(sample: Path) -> None:
    touchflow("sample", "--now", "2026-11-22", cwd=sample)
    eve = preview_json(sample, "--now", "2026-12-24", "--days", "1", "--rule", "christmas-greeting")
    assert eve and all(i["rule"] == "christmas-greeting" for i in eve)
    assert {str(i["local_send_at"])[:16] for i in eve} <= {"2026-12-24T10:00"}
    one = preview_json(sample, "--now", "2026-11-22", "--days", "30", "--customer", "c-001")
    assert one and {i["customer"] for i in one} == {"c-001"}


def test_preview_eml_writes_the_exact_messages(sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "mails"
    result = touchflow("preview", "--days", "30", "--format", "eml", "--out", str(out), cwd=sample)
    files = sorted(out.glob("*.eml"))
    assert files and f"Wrote {len(files)} messages" in result.stdout
    text = files[0].read_bytes().decode()
    assert "Message-ID: <" in text and "From: Lumen Studio <hello@lumen.example>" in text


def test_a_typo_gets_file_line_and_a_hint_and_exit_2(sample: Path) -> None:
    rules = sample / "rules" / "appointments.yaml"
    lines = rules.read_text().replace("cancel_on:", "cancel_onn:").splitlines()
    rules.write_text("\n".join(lines) + "\n")
    line = next(n for n, text in enumerate(lines, start=1) if "cancel_onn:" in text)
    result = touchflow("validate", cwd=sample, check=False)
    assert result.returncode == 2
    assert f"rules/appointments.yaml:{line}: unknown key 'cancel_onn'" in result.stderr
    assert 'did you mean "cancel_on"?' in result.stderr
    assert "Traceback" not in result.stderr
    preview = touchflow("preview", cwd=sample, check=False)
    assert preview.returncode == 2  # nothing previews from a project that does not validate


def test_an_unknown_template_variable_is_caught_before_deploy(sample: Path) -> None:
    body = sample / "message_templates" / "welcome" / "body.txt"
    body.write_text(body.read_text().replace("customer.first_name", "customer.frist_name"))
    result = touchflow("validate", cwd=sample, check=False)
    assert result.returncode == 2
    assert "message_templates/welcome/body.txt:3: unknown variable customer.frist_name" in (
        result.stderr
    )


def test_init_scaffolds_a_project_that_validates_and_previews(tmp_path: Path) -> None:
    touchflow("init", "shop", cwd=tmp_path)
    project = tmp_path / "shop"
    assert "OK: 1 rules" in touchflow("validate", cwd=project).stdout
    items = preview_json(project, "--days", "7")
    assert [i["rule"] for i in items] == ["purchase-thank-you"]
    again = touchflow("init", "shop", cwd=tmp_path, check=False)
    assert again.returncode == 2 and "already has" in again.stderr


def test_a_rule_written_from_the_docs_shows_up_in_preview_json(tmp_path: Path) -> None:
    touchflow("init", "p", cwd=tmp_path)
    project = tmp_path / "p"
    (project / "rules" / "coupons.yaml").write_text(
        """\
- id: coupon-reminder
  description: Three days before a coupon expires.
  category: transactional
  trigger:
    event: coupon_issued
    anchor: event.data.expires_at
    occurrence: event.data.code
  cancel_on: [coupon_redeemed]
  send: 3 days before
  at: "10:00"
  action:
    template: thank_you
"""
    )
    config = project / "touchflow.yaml"
    config.write_text(
        config.read_text() + "  coupon_issued: {code: string, expires_at: datetime}\n"
        "  coupon_redeemed: {code: string}\n"
    )
    body = project / "message_templates" / "thank_you" / "body.txt"
    body.write_text("Hello {{ customer.first_name }}\n")
    (body.parent / "body.html").write_text(
        '{% extends "base.html" %}{% block content %}Hello {{ customer.first_name }}{% endblock %}'
    )
    touchflow("validate", cwd=project)
    touchflow("preview", cwd=project)  # loads the sample customer
    touchflow(
        "event",
        "coupon_issued",
        "--customer",
        "c-1",
        "--at",
        "2026-11-01T10:00:00Z",
        "--data",
        '{"code": "X1", "expires_at": "2026-12-10T23:59:00+00:00"}',
        cwd=project,
    )
    # --rule: the starter's own sample purchase is dated relative to the day the test runs,
    # and some day falls into this fixed fortnight.
    window = ("--now", "2026-12-01T00:00:00Z", "--days", "14", "--rule", "coupon-reminder")
    items = preview_json(project, *window)
    assert [(i["rule"], i["local_send_at"]) for i in items] == [
        ("coupon-reminder", "2026-12-07T10:00:00+00:00")
    ]
    touchflow(
        "event",
        "coupon_redeemed",
        "--customer",
        "c-1",
        "--at",
        "2026-12-02T10:00:00Z",
        "--data",
        '{"code": "X1"}',
        cwd=project,
    )
    assert preview_json(project, *window) == []


def test_import_reports_the_bad_line_and_imports_nothing(sample: Path, tmp_path: Path) -> None:
    touchflow("preview", cwd=sample)  # sample loaded: 8 customers
    bad = tmp_path / "customers.csv"
    bad.write_text(
        "id,email,timezone,birthday\n"
        "n-1,new1@example.com,Europe/Berlin,1990-01-01\n"
        "n-2,new2@example.com,Europe/Berln,1990-01-01\n"
        "n-3,new3@example.com,Europe/Berlin,1990-02-30\n"
    )
    result = touchflow("import", "customers", str(bad), cwd=sample, check=False)
    assert result.returncode == 2
    assert f"{bad}:3:" in result.stderr and "Europe/Berlin" in result.stderr
    assert f"{bad}:4:" in result.stderr
    after = preview_json(sample, "--days", "30", "--customer", "c-001")
    assert after  # the store still works
    missing = touchflow("preview", "--customer", "n-1", cwd=sample, check=False)
    assert missing.returncode == 2 and "no customer 'n-1'" in missing.stderr


def test_import_then_suppress(sample: Path, tmp_path: Path) -> None:
    touchflow("preview", cwd=sample)
    good = tmp_path / "more.jsonl"
    good.write_text(
        '{"id": "n-1", "email": "n1@example.com", "first_name": "Nia", '
        '"timezone": "Europe/Berlin", "birthday": "1990-12-03", "consent_marketing": true}\n'
        '{"id": "n-2", "email": "n2@example.com", "timezone": "Europe/Berlin", '
        '"birthday": "1990-12-03", "consent_marketing": true}\n'
    )
    assert "Imported 2 customers" in touchflow("import", "customers", str(good), cwd=sample).stdout
    window = (
        "--now",
        "2026-12-01T00:00:00Z",
        "--days",
        "7",
        "--customer",
        "n-1",
        "--rule",
        "birthday-card",
    )
    assert [i["status"] for i in preview_json(sample, *window)] == ["planned"]
    touchflow("suppress", "N1@example.com", "--reason", "asked us", cwd=sample)
    assert [i["reason"] for i in preview_json(sample, *window, "--all")] == ["suppressed"]
    # n-2 has no first name: the card is held, never sent as "Happy birthday, None!"
    nameless = preview_json(
        sample, *window[:-4], "--customer", "n-2", "--rule", "birthday-card", "--all"
    )
    assert [(i["reason"], "empty" in str(i["detail"])) for i in nameless] == [
        ("render_error", True)
    ]


def test_help_teaches(sample: Path) -> None:
    assert "Exit codes" in touchflow("--help", cwd=sample).stdout
    assert "--days" in touchflow("preview", "--help", cwd=sample).stdout
