"""`touchflow diff` as a user runs it on the sample project under git: exactly the keys a
change makes differ, what it does to rows already in the outbox, --exit-code for CI, and
the errors of a base that cannot be had."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from click.testing import CliRunner, Result
from daemon_support import copy_sample, touchflow

from touchflow.cli.main import cli

NOW = "2026-12-10"


def git(project: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=Ops", "-c", "user.email=ops@example.com", *args],
        cwd=project, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout


def committed(project: Path) -> Path:
    """The project as a git repository with everything committed (the base: HEAD)."""
    (project / ".gitignore").write_text(".touchflow/\n")
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "as it is")
    return project


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def diff(project: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["diff", "--project", str(project), "--now", NOW, *args])


def diff_json(project: Path, *args: str) -> dict[str, object]:
    result = diff(project, "--format", "json", *args)
    assert result.exit_code == 0, result.output
    document: dict[str, object] = json.loads(result.stdout)
    return document


def kinds_by_key(document: dict[str, object]) -> dict[str, list[str]]:
    changes = document["changes"]
    assert isinstance(changes, list)
    return {c["key"]: c["kinds"] for c in changes}


def test_a_change_lists_exactly_the_keys_it_makes_differ(sample: Path) -> None:
    project = committed(sample)
    shop, calendar = project / "rules" / "shop.yaml", project / "rules" / "calendar.yaml"
    edit(shop, 'at: "10:00"', 'at: "16:00"')  # the coupon reminder: moved
    edit(shop, "send: 2 business days after", "send: 3 business days after")  # a new key
    edit(shop, "    template: invoice_survey", "    template: invoice_survey\n  conditions:\n"
         "    - customer.country != 'AU'")  # fmt: skip
    consent = '  at: "09:00"\n  policies:\n    require_consent: false\n'
    edit(calendar, '  at: "09:00"\n', consent)
    edit(project / "message_templates" / "review_request" / "subject.txt", "Thank you", "Thanks")
    assert kinds_by_key(diff_json(project)) == {
        "coupon-expiry-reminder:c-005:THANKS10:3d-before": ["moved"],
        "coupon-expiry-reminder:c-001:AUTUMN15:3d-before": ["moved"],
        "satisfaction-survey:c-005:o-5001:2bd-after": ["gone"],
        "satisfaction-survey:c-005:o-5001:3bd-after": ["added"],
        "invoice-survey:c-005:inv-7001:0": ["now_held"],
        "birthday-card:c-004:2026:0": ["now_planned"],
        "review-request:c-008:s-9001:1d-after": ["content"],
    }


def test_held_and_planned_come_with_both_reasons_and_content_with_a_unified_diff(
    sample: Path,
) -> None:
    project = committed(sample)
    edit(project / "rules" / "calendar.yaml", "  at: \"09:00\"\n",
         "  at: \"09:00\"\n  policies:\n    require_consent: false\n")  # fmt: skip
    edit(project / "message_templates" / "review_request" / "subject.txt", "Thank you", "Thanks")
    changes = {c["key"]: c for c in diff_json(project)["changes"]}  # type: ignore[union-attr]
    card = changes["birthday-card:c-004:2026:0"]
    assert (card["base"]["status"], card["base"]["reason"]) == ("held", "no_consent")
    assert (card["new"]["status"], card["new"]["reason"]) == ("planned", None)
    review = changes["review-request:c-008:s-9001:1d-after"]["content"]
    assert review["subject"][-2:] == [
        "-Thank you for the 10/10, Mariana!",
        "+Thanks for the 10/10, Mariana!",
    ]
    # The HTML part's <title> is the subject (the layout's), so it changed with it.
    assert (review["text"], review["html_changed"]) == ([], True)


def test_the_summary_names_each_changed_rule_with_its_line_and_examples(sample: Path) -> None:
    project = committed(sample)
    edit(project / "rules" / "shop.yaml", 'at: "10:00"', 'at: "16:00"')
    result = diff(project)
    assert result.exit_code == 0, result.output
    assert "coupon-expiry-reminder (rules/shop.yaml:2): 2 moved" in result.stdout
    assert "  for example c-001, c-005" in result.stdout
    assert "No change in the other 16 rules." in result.stdout


def test_rows_already_in_the_outbox_are_moved_cancelled_or_kept(sample: Path) -> None:
    project = committed(sample)
    # In its own process: the daemon sets up logging for good.
    touchflow("run", "--once", "--now", "2026-12-10T09:00:00+01:00", cwd=project)
    service = project / "rules" / "service.yaml"
    edit(service, 'at: "09:30"', 'at: "11:30"')  # the welcome: moved
    edit(service, "send: immediately", "send: 1 hour after")  # the inquiry's: new keys
    edit(project / "rules" / "shop.yaml", "    template: invoice_survey",
         "    template: invoice_survey\n  conditions:\n    - customer.country == 'XX'")  # fmt: skip
    # From before the first acknowledgement was due: its window holds the row already sent.
    document = diff_json(project, "--now", "2026-12-09T23:00:00+01:00")
    effects = {(e["key"], e["effect"], e["state"], e["new_state"]) for e in document["outbox"]}  # type: ignore[union-attr, index]
    assert effects == {
        ("welcome-new-customer:c-003:e-014:1d-after", "moved", "pending", "pending"),
        ("invoice-survey:c-005:inv-7001:0", "cancelled", "pending", "cancelled"),
        ("inquiry-acknowledgement:c-006:q-3000:0", "kept", "sent", "sent"),
        ("inquiry-acknowledgement:c-006:q-3001:0", "cancelled", "pending", "cancelled"),
    }


def test_exit_code_is_0_without_a_change_and_1_with_one(sample: Path) -> None:
    project = committed(sample)
    same = diff(project, "--exit-code")
    assert same.exit_code == 0, same.output
    assert "No change: both versions plan the same touchpoints" in same.stdout
    edit(project / "rules" / "shop.yaml", 'at: "10:00"', 'at: "16:00"')
    assert diff(project, "--exit-code").exit_code == 1
    assert diff(project).exit_code == 0


def test_a_base_that_does_not_validate_is_named_with_its_file_and_line(sample: Path) -> None:
    project = committed(sample)
    shop = project / "rules" / "shop.yaml"
    good = shop.read_text(encoding="utf-8")
    edit(shop, "template: coupon_expiry", "template: coupon_expiri")
    git(project, "commit", "-qam", "a typo")
    shop.write_text(good, encoding="utf-8")
    result = diff(project)
    assert result.exit_code == 2
    commit = git(project, "rev-parse", "--short=7", "HEAD").strip()
    assert f"base HEAD ({commit}): rules/shop.yaml:2: rule 'coupon-expiry-reminder' uses " \
        "template 'coupon_expiri'" in result.stderr  # fmt: skip


def test_no_git_repository_and_an_unknown_revision_are_clear_errors(sample: Path) -> None:
    result = diff(sample)
    assert result.exit_code == 2
    assert "is not in a git repository: pass the base as --base-dir DIR" in result.stderr
    project = committed(sample)
    result = diff(project, "--base", "no-such-branch")
    assert result.exit_code == 2
    assert "unknown revision 'no-such-branch'" in result.stderr


def test_base_dir_compares_with_another_checkout(sample: Path, tmp_path: Path) -> None:
    before = tmp_path / "before"
    before.mkdir()
    for part in ("touchflow.yaml", "rules", "message_templates"):
        subprocess.run(["cp", "-r", str(sample / part), str(before)], check=True)
    edit(sample / "rules" / "shop.yaml", 'at: "10:00"', 'at: "16:00"')
    document = diff_json(sample, "--base-dir", str(before))
    assert document["base"] == {"label": str(before), "rev": None, "commit": None,
                                "dir": str(before)}  # fmt: skip
    assert list(kinds_by_key(document).values()) == [["moved"], ["moved"]]


def test_a_project_in_a_subdirectory_of_its_repository(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "crm").mkdir(parents=True)
    copy_sample(repo / "crm")
    committed(repo)
    edit(repo / "crm" / "rules" / "shop.yaml", 'at: "10:00"', 'at: "16:00"')
    assert len(kinds_by_key(diff_json(repo / "crm"))) == 2


def test_the_json_shape(sample: Path) -> None:
    project = committed(sample)
    edit(project / "rules" / "shop.yaml", 'at: "10:00"', 'at: "16:00"')
    document = diff_json(project, "--rule", "coupon-expiry-reminder")
    assert list(document) == ["base", "now", "window", "filters", "customers", "touchpoints",
                              "changed", "rules", "changes", "outbox"]  # fmt: skip
    assert document["window"] == {"from": "2026-12-09T23:00:00Z", "to": "2027-01-08T23:00:00Z"}
    assert document["filters"] == {"customer": None, "rule": "coupon-expiry-reminder",
                                   "category": None}  # fmt: skip
    (rule,) = document["rules"]  # type: ignore[misc]
    assert rule == {
        "rule": "coupon-expiry-reminder", "version": "both", "where": "rules/shop.yaml:2",
        "added": 0, "gone": 0, "moved": 2, "now_held": 0, "now_planned": 0, "reason": 0,
        "content": 0, "examples": ["c-001", "c-005"],
        "outbox": {"kept": 0, "moved": 0, "cancelled": 0, "suppressed": 0, "revived": 0,
                   "updated": 0},
    }  # fmt: skip
    change = document["changes"][1]  # type: ignore[index]
    assert change == {
        "key": "coupon-expiry-reminder:c-001:AUTUMN15:3d-before",
        "rule": "coupon-expiry-reminder", "customer": "c-001", "kinds": ["moved"],
        "base": {"status": "planned", "reason": None, "detail": None,
                 "send_at": "2026-12-16T09:00:00Z", "template": "coupon_expiry",
                 "category": "marketing"},
        "new": {"status": "planned", "reason": None, "detail": None,
                "send_at": "2026-12-16T15:00:00Z", "template": "coupon_expiry",
                "category": "marketing"},
        "content": None,
    }  # fmt: skip


def test_a_revision_that_looks_like_an_option_is_refused(sample: Path) -> None:
    project = committed(sample)
    result = diff(project, "--base", "--output=/tmp/x")
    assert result.exit_code == 2
    assert "unknown revision '--output=/tmp/x'" in result.stderr


def test_a_removed_rule_cancels_its_open_rows_once_as_rule_removed(sample: Path) -> None:
    project = committed(sample)
    # In its own process: the daemon sets up logging for good.
    touchflow("run", "--once", "--now", "2026-12-10T09:00:00+01:00", cwd=project)
    shop = project / "rules" / "shop.yaml"
    text = shop.read_text(encoding="utf-8")
    start, end = text.index("- id: invoice-survey"), text.index("- id: review-request")
    shop.write_text(text[:start] + text[end:], encoding="utf-8")
    result = diff(project, "--now", "2026-12-10T09:30:00+01:00", "--details")
    assert result.exit_code == 0, result.output
    assert "invoice-survey (rule removed) (rules/shop.yaml:41): 1 no longer sent" in result.stdout
    assert result.stdout.count("invoice-survey:c-005:inv-7001:0 · pending → cancelled") == 1
    assert "pending → cancelled: rule_removed" in result.stdout


def test_customer_and_category_keep_only_theirs(sample: Path) -> None:
    project = committed(sample)
    edit(project / "rules" / "shop.yaml", 'at: "10:00"', 'at: "16:00"')
    only_anna = kinds_by_key(diff_json(project, "--customer", "c-001"))
    assert list(only_anna) == ["coupon-expiry-reminder:c-001:AUTUMN15:3d-before"]
    assert kinds_by_key(diff_json(project, "--category", "transactional")) == {}
    unknown = diff(project, "--customer", "c-999")
    assert unknown.exit_code == 2
    assert "no customer 'c-999' in the store" in unknown.stderr


def test_a_rule_added_with_nothing_due_is_named_among_the_changes(sample: Path) -> None:
    project = committed(sample)
    edit(project / "rules" / "shop.yaml", 'at: "10:00"', 'at: "16:00"')
    calendar = project / "rules" / "calendar.yaml"
    text = calendar.read_text(encoding="utf-8")
    calendar.write_text(text + "\n- id: summer-card\n  category: marketing\n  trigger:\n"
                        "    cron: \"0 10 21 6 *\"\n  action:\n    template: monthly_sale\n",
                        encoding="utf-8")  # fmt: skip
    result = diff(project)
    assert result.exit_code == 0, result.output
    assert "summer-card (new rule) (rules/calendar.yaml:" in result.stdout
    assert "): nothing due in the period" in result.stdout
