"""`touchflow validate` on rules: every mistake is one `file:line: what is wrong` problem.

Each test writes a small project, names the line that is wrong and checks the
problem lands there with words (and a "did you mean" hint) that say how to fix it.
"""

from __future__ import annotations

import textwrap
from datetime import time
from pathlib import Path

import pytest
from support import project, write_project

from touchflow.config.project_config import load_project
from touchflow.durations import Offset, Unit
from touchflow.errors import Problem, ProblemsError
from touchflow.project import load_project_checked
from touchflow.rules.loader import collect_rules

EVENTS = """\
events:
  signed_up: {}
  appointment_booked: {appointment_id: string, starts_at: datetime, service: string}
  appointment_cancelled: {appointment_id: string}
"""


def rule_problems(root: Path, rules_yaml: str, config_yaml: str = "") -> list[Problem]:
    write_project(root, rules_yaml, config_yaml)
    _, problems = collect_rules(load_project(root))
    return problems


def the_problem(problems: list[Problem]) -> tuple[str, str]:
    """``("rules/rules.yaml:7", message)`` of the one problem expected."""
    assert len(problems) == 1, "expected one problem, got:\n" + "\n".join(map(str, problems))
    (problem,) = problems
    return f"{problem.path}:{problem.line}", problem.message


def write_template(root: Path, name: str, *, subject: str = "Hello", body: str = "Hi") -> None:
    folder = root / "message_templates" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "subject.txt").write_text(subject, encoding="utf-8")
    (folder / "body.txt").write_text(textwrap.dedent(body), encoding="utf-8")


def project_problems(root: Path) -> list[Problem]:
    """What `touchflow validate` sees: config, rules, templates and their variables."""
    with pytest.raises(ProblemsError) as caught:
        load_project_checked(root)
    return list(caught.value.problems)


# --- the file itself ---------------------------------------------------------------------


def test_invalid_yaml_is_reported_at_the_line_of_the_error(tmp_path: Path) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            """\
            - id: welcome
              category: transactional
              trigger:
                event: signed_up
              description: Welcome: the first mail
              action:
                template: welcome
            """,
        )
    )
    assert where == "rules/rules.yaml:5"
    assert "invalid YAML" in message
    assert "hint: put the value in quotes" in message


def test_unclosed_quote_is_reported_where_the_quote_opens(tmp_path: Path) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            """\
            - id: welcome
              category: transactional
              description: "Welcome mail
              trigger:
                event: signed_up
              action:
                template: welcome
            """,
        )
    )
    assert where == "rules/rules.yaml:3"
    assert "invalid YAML" in message


def test_duplicate_key_is_reported_at_its_second_occurrence(tmp_path: Path) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            """\
            - id: welcome
              category: transactional
              trigger:
                event: signed_up
              category: marketing
              action:
                template: welcome
            """,
        )
    )
    assert where == "rules/rules.yaml:5"
    assert "duplicate key 'category'" in message


def test_a_rules_file_holding_a_mapping_asks_for_a_list(tmp_path: Path) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            """\
            # one rule, but written without the leading dash

            id: welcome
            category: transactional
            """,
        )
    )
    assert where == "rules/rules.yaml:3"
    assert "list of rules" in message
    assert "- id:" in message


def test_a_rule_that_is_not_a_mapping_is_reported_at_its_own_line(tmp_path: Path) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            """\
            - id: welcome
              category: transactional
              trigger: {event: signed_up}
              action: {template: welcome}
            - welcome-again
            """,
        )
    )
    assert where == "rules/rules.yaml:5"
    assert "must be a mapping" in message


# --- rule keys ---------------------------------------------------------------------------


def test_unknown_rule_key_suggests_the_closest_one(tmp_path: Path) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            """\
            - id: welcome
              category: transactional
              trigger:
                event: signed_up
              sned: 1 day after
              action:
                template: welcome
            """,
        )
    )
    assert where == "rules/rules.yaml:5"
    assert "unknown key 'sned'" in message
    assert 'did you mean "send"?' in message


def test_a_misspelt_required_key_is_reported_once_with_the_hint(tmp_path: Path) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            """\
            - id: welcome
              categroy: transactional
              trigger: {event: signed_up}
              action: {template: welcome}
            """,
        )
    )
    assert where == "rules/rules.yaml:2"
    assert "unknown key 'categroy' in a rule — did you mean \"category\"?" in message


@pytest.mark.parametrize("missing", ["id", "category", "trigger", "action"])
def test_each_required_key_is_named_when_missing(tmp_path: Path, missing: str) -> None:
    lines = {
        "id": "id: welcome",
        "category": "category: transactional",
        "trigger": "trigger: {event: signed_up}",
        "action": "action: {template: welcome}",
    }
    kept = [text for key, text in lines.items() if key != missing]
    rules = "- description: Welcome mail\n" + "".join(f"  {text}\n" for text in kept)

    where, message = the_problem(rule_problems(tmp_path, rules))

    assert where == "rules/rules.yaml:1"
    assert message == f"a rule is missing required key {missing!r}"


@pytest.mark.parametrize("bad_id", ["Welcome", "welcome mail", "_welcome", "welcome!"])
def test_rule_id_must_be_lower_case_letters_digits_dash_underscore(
    tmp_path: Path, bad_id: str
) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            f"""\
            - category: transactional
              trigger: {{event: signed_up}}
              id: "{bad_id}"
              action: {{template: welcome}}
            """,
        )
    )
    assert where == "rules/rules.yaml:3"
    assert f"rule id {bad_id!r}" in message
    assert "lower-case letters, digits, '-' or '_'" in message


def test_a_rule_id_ending_in_a_line_break_is_refused(tmp_path: Path) -> None:
    rules = """\
        - category: transactional
          trigger: {event: signed_up}
          id: "welcome\\n"
          action: {template: welcome}
        """
    where, message = the_problem(rule_problems(tmp_path, rules))
    assert (where, message.split(" must")[0]) == ("rules/rules.yaml:3", "rule id 'welcome\\n'")


def test_a_date_ending_in_a_line_break_is_refused(tmp_path: Path) -> None:
    rules = """\
        - id: new-year
          category: marketing
          trigger: {date: "01-01\\n"}
          action: {template: welcome}
        """
    where, message = the_problem(rule_problems(tmp_path, rules))
    assert where == "rules/rules.yaml:3" and message.startswith('date must be "MM-DD"')


def test_duplicate_rule_id_in_another_file_names_the_first_file_and_line(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        """\
        # The first welcome.
        - id: welcome
          category: transactional
          trigger: {event: signed_up}
          action: {template: welcome}
        """,
    )
    (tmp_path / "rules" / "shop.yaml").write_text(
        textwrap.dedent(
            """\
            - id: coupon
              category: marketing
              trigger: {event: signed_up}
              action: {template: coupon}

            - id: welcome
              category: marketing
              trigger: {event: signed_up}
              action: {template: welcome}
            """
        ),
        encoding="utf-8",
    )
    _, problems = collect_rules(load_project(tmp_path))

    where, message = the_problem(problems)
    assert where == "rules/shop.yaml:6"
    assert message == "rule id 'welcome' is already used at rules/rules.yaml:2"


def test_unknown_category_suggests_the_closest_one(tmp_path: Path) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            """\
            - id: sale
              trigger: {date: "01-01"}
              category: marketting
              action: {template: sale}
            """,
        )
    )
    assert where == "rules/rules.yaml:3"
    assert "category must be transactional or marketing, not 'marketting'" in message
    assert 'did you mean "marketing"?' in message


@pytest.mark.parametrize("priority", ["high", "1.5", "true"])
def test_priority_must_be_a_whole_number(tmp_path: Path, priority: str) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            f"""\
            - id: welcome
              category: transactional
              trigger: {{event: signed_up}}
              action: {{template: welcome}}
              priority: {priority}
            """,
        )
    )
    assert where == "rules/rules.yaml:5"
    assert "priority must be a whole number" in message


def test_unknown_channel_lists_the_available_ones(tmp_path: Path) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            """\
            - id: welcome
              category: transactional
              trigger: {event: signed_up}
              action:
                template: welcome
                channel: fax
            """,
        )
    )
    assert where == "rules/rules.yaml:6"
    assert message == "unknown channel 'fax'; available: email, sms, webhook"


def test_an_sms_rule_without_a_configured_provider_is_refused_at_its_line(
    tmp_path: Path,
) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            """\
            - id: welcome
              category: transactional
              trigger: {event: signed_up}
              action: {template: welcome, channel: sms}
            """,
        )
    )
    assert where == "rules/rules.yaml:4"
    assert message.startswith("channel sms needs a provider to send through: add delivery.sms")


def test_a_webhook_rule_without_a_configured_webhook_is_refused_at_its_line(
    tmp_path: Path,
) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            """\
            - id: welcome
              category: transactional
              trigger: {event: signed_up}
              action:
                template: welcome
                channel: webhook
            """,
        )
    )
    assert where == "rules/rules.yaml:6"
    assert message.startswith("channel webhook needs a webhook to post to: add delivery.webhook")


# --- triggers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trigger", "found"),
    [
        pytest.param("anchor: event.at", "found none", id="no-kind"),
        pytest.param('event: signed_up\n    date: "01-01"', "found event, date", id="two-kinds"),
    ],
)
def test_trigger_needs_exactly_one_kind(tmp_path: Path, trigger: str, found: str) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            f"""\
- id: welcome
  category: transactional
  trigger:
    {trigger}
  action: {{template: welcome}}
""",
        )
    )
    assert where == "rules/rules.yaml:4"
    assert "trigger needs exactly one of: event, yearly, date, holiday, cron" in message
    assert f"({found})" in message


def test_misspelt_trigger_kind_suggests_the_closest_one(tmp_path: Path) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            """\
            - id: welcome
              category: transactional
              trigger:
                evnt: signed_up
              action: {template: welcome}
            """,
        )
    )
    assert where == "rules/rules.yaml:4"
    assert "trigger needs exactly one of" in message
    assert 'did you mean "event"?' in message


def test_unknown_key_inside_a_trigger_suggests_the_closest_one(tmp_path: Path) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            """\
            - id: reminder
              category: transactional
              trigger:
                event: appointment_booked
                ancor: event.data.starts_at
              action: {template: reminder}
            """,
        )
    )
    assert where == "rules/rules.yaml:5"
    assert "unknown key 'ancor'" in message
    assert 'did you mean "anchor"?' in message
    assert "(allowed: event, anchor, occurrence, updates)" in message


@pytest.mark.parametrize(
    "cron",
    [
        pytest.param("0 10 1 *", id="four-fields"),
        pytest.param("0 10 1 * * 2026", id="six-fields"),
    ],
)
def test_cron_needs_five_fields(tmp_path: Path, cron: str) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            f"""\
            - id: sale
              category: marketing
              trigger:
                cron: "{cron}"
              action: {{template: sale}}
            """,
        )
    )
    assert where == "rules/rules.yaml:4"
    assert "must have 5 fields: minute hour day-of-month month day-of-week" in message


@pytest.mark.parametrize("cron", ["0 ten 1 * *", "*/5 10 1 * *", "0 24 1 * *", "60 10 1 * *"])
def test_cron_minute_and_hour_must_be_single_numbers(tmp_path: Path, cron: str) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            f"""\
            - id: sale
              category: marketing
              trigger:
                cron: "{cron}"
              action: {{template: sale}}
            """,
        )
    )
    assert where == "rules/rules.yaml:4"
    assert "minute and hour must be single numbers" in message


@pytest.mark.parametrize("cron", ["0 10 32 * *", "0 10 1 13 *", "0 10 * * funday"])
def test_cron_day_month_and_weekday_fields_must_be_readable(tmp_path: Path, cron: str) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            f"""\
            - id: sale
              category: marketing
              trigger:
                cron: "{cron}"
              action: {{template: sale}}
            """,
        )
    )
    assert where == "rules/rules.yaml:4"
    assert f"cron {cron!r}: cannot read the day, month or weekday fields" in message


@pytest.mark.parametrize("day", ["13-01", "02-30", "04-31", "1-1", "00-10"])
def test_date_must_be_a_real_month_and_day(tmp_path: Path, day: str) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            f"""\
            - id: new-year
              category: marketing
              trigger:
                date: "{day}"
              action: {{template: new_year}}
            """,
        )
    )
    assert where == "rules/rules.yaml:4"
    assert f'date must be "MM-DD" (e.g. "01-01"), not {day!r}' in message


def test_yearly_on_an_unknown_field_suggests_a_date_field(tmp_path: Path) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            """\
            - id: birthday
              category: marketing
              trigger:
                yearly: customer.birthdy
              action: {template: birthday}
            """,
        )
    )
    assert where == "rules/rules.yaml:4"
    assert "yearly needs a customer date field (customer.birthday, customer.customer_since)" in (
        message
    )
    assert 'did you mean "customer.birthday"?' in message


def test_yearly_on_an_attribute_that_is_not_a_date_is_refused(tmp_path: Path) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            """\
            - id: anniversary
              category: marketing
              trigger:
                yearly: customer.tier
              action: {template: anniversary}
            """,
            "customer_attributes: {wedding_day: date, tier: string}\n",
        )
    )
    assert where == "rules/rules.yaml:4"
    assert "customer.wedding_day" in message  # the declared date attribute is offered
    assert "not 'customer.tier'" in message


def test_feb29_must_be_one_of_the_policies(tmp_path: Path) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            """\
            - id: birthday
              category: marketing
              trigger:
                yearly: customer.birthday
                feb29: mar2
              action: {template: birthday}
            """,
        )
    )
    assert where == "rules/rules.yaml:5"
    assert message == "feb29 must be one of feb28, mar1, skip, not 'mar2'"


@pytest.mark.parametrize("config", ["", "country: DE\n"], ids=["no-country", "country-DE"])
def test_unknown_holiday_suggests_the_closest_name(tmp_path: Path, config: str) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            """\
            - id: christmas
              category: marketing
              trigger:
                holiday: Christmas Dya
              action: {template: greeting}
            """,
            config,
        )
    )
    assert where == "rules/rules.yaml:4"
    assert "no country calendar has a holiday named 'Christmas Dya'" in message
    assert 'did you mean "Christmas Day"?' in message


# --- send offsets and `at` ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("immediately", Offset(amount=0, unit=Unit.MINUTES)),
        ("30 minutes after", Offset(amount=30, unit=Unit.MINUTES)),
        ("1 minute before", Offset(amount=-1, unit=Unit.MINUTES)),
        ("24 hours before", Offset(amount=-24, unit=Unit.HOURS)),
        ("1 hour after", Offset(amount=1, unit=Unit.HOURS)),
        ("3 days after", Offset(amount=3, unit=Unit.DAYS)),
        ("1 day before", Offset(amount=-1, unit=Unit.DAYS)),
        ("2 weeks before", Offset(amount=-14, unit=Unit.DAYS)),  # weeks are read as days
        ("1 week after", Offset(amount=7, unit=Unit.DAYS)),
        ("2 business days after", Offset(amount=2, unit=Unit.BUSINESS_DAYS)),
        ("1 business day before", Offset(amount=-1, unit=Unit.BUSINESS_DAYS)),
    ],
)
def test_each_unit_word_reads_as_an_offset(tmp_path: Path, text: str, offset: Offset) -> None:
    _, rules = project(
        tmp_path,
        f"""\
        - id: welcome
          category: transactional
          trigger: {{event: booked, anchor: event.data.starts_at}}
          send: {text}
          action: {{template: welcome}}
        """,
    )
    assert rules[0].offsets == (offset,)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("3 dayz after", "unknown unit 'dayz'"),
        ("soon", "cannot read offset 'soon'"),
        ("3 days", "cannot read offset '3 days'"),
        ("-3 days after", "cannot read offset '-3 days after'"),
    ],
)
def test_unreadable_offset_says_how_to_write_one(tmp_path: Path, text: str, words: str) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            f"""\
            - id: welcome
              category: transactional
              trigger: {{event: signed_up}}
              send:
                - 1 day after
                - {text}
              action: {{template: welcome}}
            """,
        )
    )
    assert where == "rules/rules.yaml:6"
    assert message.startswith("send: ")
    assert words in message
    assert '"24 hours before"' in message
    assert "units: minutes, hours, days, weeks, business days" in message


def test_an_offset_too_far_away_to_compute_is_a_problem(tmp_path: Path) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            """\
            - id: welcome
              category: transactional
              trigger: {event: signed_up}
              send: 99999999 days after
              action: {template: welcome}
            """,
        )
    )
    assert where == "rules/rules.yaml:4"
    assert message.startswith("send")


def test_the_same_offset_twice_is_a_problem(tmp_path: Path) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            """\
            - id: welcome
              category: transactional
              trigger: {event: signed_up}
              send: [1 day after, 24 hours after, 1 d after]
              action: {template: welcome}
            """,
        )
    )
    # 1 day and 24 hours differ across a DST change, so only "1 d" repeats "1 day".
    assert where == "rules/rules.yaml:4"
    assert message == "send lists '1 d after' twice; each offset sends once per occurrence"


def test_the_same_offset_twice_is_reported_at_the_repeat(tmp_path: Path) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            """\
            - id: welcome
              category: transactional
              trigger: {event: signed_up}
              send:
                - 1 day after
                - 2 hours after
                - 1 day after
              action: {template: welcome}
            """,
        )
    )
    assert where == "rules/rules.yaml:7"
    assert "send lists '1 day after' twice" in message


@pytest.mark.parametrize(
    ("at", "words"),
    [
        ('"25:00"', "out of range (00:00 to 23:59)"),
        ('"12:60"', "out of range (00:00 to 23:59)"),
        ("9am", "cannot read time of day '9am'; write it as \"HH:MM\""),
    ],
)
def test_at_must_be_a_time_of_day(tmp_path: Path, at: str, words: str) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            f"""\
            - id: welcome
              category: transactional
              trigger: {{event: signed_up}}
              send: 1 day after
              at: {at}
              action: {{template: welcome}}
            """,
        )
    )
    assert where == "rules/rules.yaml:5"
    assert message.startswith("at: ")
    assert words in message


def test_unquoted_at_stays_a_time_of_day(tmp_path: Path) -> None:
    _, rules = project(
        tmp_path,
        """\
        - id: welcome
          category: transactional
          trigger: {event: signed_up}
          send: 1 day after
          at: 09:30
          action: {template: welcome}
        """,
    )
    assert rules[0].at == time(9, 30)


def test_at_does_not_go_with_an_hours_offset_on_an_event(tmp_path: Path) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            """\
            - id: welcome
              category: transactional
              trigger: {event: signed_up}
              send: [1 day after, 2 hours after]
              at: "10:00"
              action: {template: welcome}
            """,
        )
    )
    assert where == "rules/rules.yaml:5"
    assert "'at' sets a time of day, which does not go with '2 hours after'" in message
    assert "use days or business days (e.g. '0 days after'), or drop 'at'" in message


def test_at_does_not_go_with_a_cron_trigger(tmp_path: Path) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            """\
            - id: sale
              category: marketing
              trigger:
                cron: "0 10 1 * *"
              at: "11:00"
              action: {template: sale}
            """,
        )
    )
    assert where == "rules/rules.yaml:5"
    assert "a cron trigger sets the time itself" in message
    assert "drop 'at'" in message


# --- events: cancel_on, updates, anchors ------------------------------------------------


def test_cancel_on_needs_an_event_trigger(tmp_path: Path) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            """\
            - id: new-year
              category: marketing
              trigger: {date: "01-01"}
              action: {template: new_year}
              cancel_on: [unsubscribed]
            """,
        )
    )
    assert where == "rules/rules.yaml:5"
    assert message == "cancel_on and updates need an event trigger"


@pytest.mark.parametrize(
    ("trigger", "extra", "line"),
    [
        pytest.param(
            "{event: appointment_booked}",
            "  cancel_on: [appointment_cancelled]\n",
            4,
            id="cancel_on",
        ),
        pytest.param(
            "\n    event: appointment_booked\n    updates: [appointment_moved]",
            "",
            5,
            id="updates",
        ),
    ],
)
def test_cancel_on_and_updates_need_an_event_data_occurrence(
    tmp_path: Path, trigger: str, extra: str, line: int
) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            f"""\
- id: reminder
  category: transactional
  trigger: {trigger}
{extra}  action: {{template: reminder}}
""",
        )
    )
    assert where == f"rules/rules.yaml:{line}"
    assert "match events by the occurrence key" in message
    assert "set trigger.occurrence to event.data.<field>" in message


def test_undeclared_event_type_suggests_a_declared_one(tmp_path: Path) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            """\
            - id: welcome
              category: transactional
              trigger:
                event: signed_upp
              action: {template: welcome}
            """,
            EVENTS,
        )
    )
    assert where == "rules/rules.yaml:4"
    assert "event type 'signed_upp' is not declared under events: in touchflow.yaml" in message
    assert 'did you mean "signed_up"?' in message


def test_undeclared_cancel_on_event_type_suggests_a_declared_one(tmp_path: Path) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            """\
            - id: reminder
              category: transactional
              trigger:
                event: appointment_booked
                occurrence: event.data.appointment_id
              cancel_on: [appointment_canceled]
              action: {template: reminder}
            """,
            EVENTS,
        )
    )
    assert where == "rules/rules.yaml:6"
    assert "event type 'appointment_canceled' is not declared" in message
    assert 'did you mean "appointment_cancelled"?' in message


def test_event_types_are_free_when_the_config_declares_none(tmp_path: Path) -> None:
    assert (
        rule_problems(
            tmp_path,
            """\
            - id: welcome
              category: transactional
              trigger: {event: anything_goes}
              action: {template: welcome}
            """,
        )
        == []
    )


def test_anchor_naming_an_undeclared_data_field_suggests_a_declared_one(tmp_path: Path) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            """\
            - id: reminder
              category: transactional
              trigger:
                event: appointment_booked
                anchor: event.data.start_at
              send: 1 day before
              action: {template: reminder}
            """,
            EVENTS,
        )
    )
    assert where == "rules/rules.yaml:5"
    assert "anchor: event 'appointment_booked' declares no data field 'start_at'" in message
    assert 'did you mean "starts_at"?' in message


def test_anchor_must_be_declared_as_a_date_or_datetime(tmp_path: Path) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            """\
            - id: reminder
              category: transactional
              trigger:
                event: appointment_booked
                anchor: event.data.service
              action: {template: reminder}
            """,
            EVENTS,
        )
    )
    assert where == "rules/rules.yaml:5"
    assert "event.data.service is declared as string" in message
    assert "an anchor must be a date or datetime" in message


# --- conditions ----------------------------------------------------------------------------


def test_condition_with_a_syntax_error_is_reported_at_its_item(tmp_path: Path) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            """\
            - id: welcome
              category: transactional
              trigger: {event: signed_up}
              conditions:
                - customer.lifecycle == 'new'
                - customer.age >=
              action: {template: welcome}
            """,
        )
    )
    assert where == "rules/rules.yaml:6"
    assert "cannot read condition 'customer.age >='" in message


def test_condition_with_an_unknown_variable_is_reported_at_its_item(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        """\
        - id: welcome
          category: transactional
          trigger: {event: signed_up}
          conditions:
            - customer.lifecycle == 'new'
            - customer.lifecyle == 'new'
          action: {template: welcome}
        """,
    )
    write_template(tmp_path, "welcome")

    where, message = the_problem(project_problems(tmp_path))

    assert where == "rules/rules.yaml:6"
    assert "unknown variable customer.lifecyle" in message
    assert "welcome (condition)" in message
    assert "did you mean customer.lifecycle?" in message


# --- templates -----------------------------------------------------------------------------


def test_rule_naming_a_missing_template_suggests_an_existing_one(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        """\
        # Welcome mail.
        - id: welcome
          category: transactional
          trigger: {event: signed_up}
          action: {template: welcom}
        """,
    )
    write_template(tmp_path, "welcome")

    where, message = the_problem(project_problems(tmp_path))

    assert where == "rules/rules.yaml:2"
    assert "rule 'welcome' uses template 'welcom', which does not exist" in message
    assert 'did you mean "welcome"?' in message


def test_template_using_an_unknown_variable_is_reported_at_the_template_line(
    tmp_path: Path,
) -> None:
    write_project(
        tmp_path,
        """\
        - id: welcome
          category: transactional
          trigger: {event: signed_up}
          action: {template: welcome}
        """,
    )
    write_template(tmp_path, "welcome", body="Hello,\n\nwelcome {{ customer.frist_name }}!\n")

    where, message = the_problem(project_problems(tmp_path))

    assert where == "message_templates/welcome/body.txt:3"
    assert "unknown variable customer.frist_name (used by rule welcome" in message
    assert "did you mean customer.first_name?" in message


def test_template_using_event_data_the_event_does_not_declare(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        """\
        - id: reminder
          category: transactional
          trigger:
            event: appointment_booked
            anchor: event.data.starts_at
          send: 1 day before
          action: {template: reminder}
        """,
        EVENTS,
    )
    write_template(
        tmp_path,
        "reminder",
        body="See you at {{ event.data.starts_at }}.\nRoom: {{ event.data.room }}\n",
    )

    where, message = the_problem(project_problems(tmp_path))

    assert where == "message_templates/reminder/body.txt:2"
    assert "unknown variable event.data.room (used by rule reminder" in message
    assert "event.data has: appointment_id, service, starts_at" in message


# --- per-rule policies ---------------------------------------------------------------------


def test_policies_override_with_an_unknown_key_suggests_the_closest(tmp_path: Path) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            """\
            - id: new-year
              category: marketing
              trigger: {date: "01-01"}
              policies:
                holiday: send
              action: {template: new_year}
            """,
        )
    )
    assert where == "rules/rules.yaml:5"
    assert "unknown key 'holiday' in policies" in message
    assert 'did you mean "holidays"?' in message


def test_policies_holidays_must_be_a_known_policy(tmp_path: Path) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            """\
            - id: new-year
              category: marketing
              trigger: {date: "01-01"}
              policies:
                holidays: postpone
              action: {template: new_year}
            """,
        )
    )
    assert where == "rules/rules.yaml:5"
    assert message == "holidays must be one of send, skip, next_day, not 'postpone'"


def test_policies_send_window_must_end_after_it_starts(tmp_path: Path) -> None:
    where, message = the_problem(
        rule_problems(
            tmp_path,
            """\
            - id: new-year
              category: marketing
              trigger: {date: "01-01"}
              policies:
                send_window: {from: "20:00", to: "09:00"}
              action: {template: new_year}
            """,
        )
    )
    assert where == "rules/rules.yaml:5"
    assert message == "send_window 'to' must be later than 'from' on the same day"


# --- the whole run -------------------------------------------------------------------------


def test_every_problem_of_a_file_is_reported_in_one_run(tmp_path: Path) -> None:
    problems = rule_problems(
        tmp_path,
        """\
        - id: New-Year
          category: marketting
          trigger:
            date: "13-01"
          send: soon
          at: "25:00"
          action:
            channel: fax
            template: new_year
        - id: sale
          categry: marketing
          trigger: {cron: "0 10 1 *"}
          action: {template: sale}
        """,
    )
    assert all(p.path == "rules/rules.yaml" for p in problems)
    assert sorted(p.line or 0 for p in problems) == [
        1,  # id
        2,  # category
        4,  # date
        5,  # send
        6,  # at
        8,  # channel
        11,  # categry
        12,  # cron
    ]


def test_problems_of_every_rules_file_are_reported_in_one_run(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        """\
        - id: welcome
          category: transactional
          trigger: {evnt: signed_up}
          action: {template: welcome}
        """,
    )
    (tmp_path / "rules" / "broken.yaml").write_text("- id: sale\n  category: [oops\n")

    problems = collect_rules(load_project(tmp_path))[1]

    assert sorted(str(p.path) for p in problems) == ["rules/broken.yaml", "rules/rules.yaml"]


def test_a_valid_project_has_no_problems(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        """\
        - id: reminder
          category: transactional
          priority: 100
          trigger:
            event: appointment_booked
            anchor: event.data.starts_at
            occurrence: event.data.appointment_id
          cancel_on: [appointment_cancelled]
          send: [1 day before, 2 hours before]
          action: {channel: email, template: reminder}
        - id: welcome
          category: transactional
          trigger: {event: signed_up}
          send: 1 business day after
          at: "09:30"
          conditions:
            - customer.lifecycle == 'new'
          action: {template: welcome}
        - id: birthday
          category: marketing
          trigger: {yearly: customer.birthday, feb29: mar1}
          at: 09:00
          action: {template: welcome}
        - id: leap-day
          category: marketing
          trigger: {date: "02-29", feb29: skip}
          action: {template: welcome}
        - id: christmas
          category: marketing
          trigger: {holiday: Christmas Day}
          send: 1 day before
          policies: {holidays: send, send_window: {from: "08:00", to: "21:00", days: [mon, sat]}}
          action: {template: welcome}
        - id: sale
          category: marketing
          trigger: {cron: "0 10 1 * *"}
          action: {template: welcome}
        """,
        EVENTS + "country: DE\n",
    )
    write_template(tmp_path, "welcome", body="Hi {{ customer.first_name }}\n")
    write_template(
        tmp_path, "reminder", body="{{ event.data.service }} at {{ event.data.starts_at }}\n"
    )

    loaded = load_project_checked(tmp_path)

    assert [rule.id for rule in loaded.rules] == [
        "reminder",
        "welcome",
        "birthday",
        "leap-day",
        "christmas",
        "sale",
    ]


@pytest.mark.parametrize(
    ("send", "message"),
    [
        ("[1 week after, 7 days after]", "send lists '7 days after' twice"),
        ("[immediately, 0 hours after]", "send lists '0 hours after' twice"),
        ("[immediately, 0 days after]", "are the same moment without 'at'"),
    ],
)
def test_offsets_that_are_the_same_moment_are_one_offset(tmp_path: Path, send: str, message: str):
    problems = rule_problems(
        tmp_path,
        f"""\
        - id: r
          category: transactional
          trigger: {{event: ping}}
          send: {send}
          action: {{template: t}}
        """,
    )
    assert any(message in p.message for p in problems), problems


def test_at_with_immediately_is_a_problem(tmp_path: Path):
    problems = rule_problems(
        tmp_path,
        """\
        - id: r
          category: transactional
          trigger: {event: ping}
          send: immediately
          at: "10:00"
          action: {template: t}
        """,
    )
    assert any("does not go with 'immediately'" in p.message for p in problems), problems


def test_anchor_must_be_a_time(tmp_path: Path):
    problems = rule_problems(
        tmp_path,
        """\
        - id: r
          category: transactional
          trigger: {event: ping, anchor: event.id}
          action: {template: t}
        """,
    )
    assert [(p.line, "anchor must be a time" in p.message) for p in problems] == [(3, True)]


def test_before_the_events_own_time_can_never_happen(tmp_path: Path):
    problems = rule_problems(
        tmp_path,
        """\
        - id: r
          category: transactional
          trigger: {event: signed_up}
          send: 1 day before
          action: {template: t}
        """,
    )
    assert [(p.line, "can never happen" in p.message) for p in problems] == [(4, True)]


def test_an_update_or_cancel_event_must_carry_the_occurrence_field(tmp_path: Path):
    problems = rule_problems(
        tmp_path,
        """\
        - id: r
          category: transactional
          trigger:
            event: booked
            anchor: event.data.starts_at
            occurrence: event.data.appointment_id
            updates: [moved]
          cancel_on: [cancelled]
          send: 1 hour before
          action: {template: t}
        """,
        """\
        events:
          booked: {appointment_id: string, starts_at: datetime}
          moved: {appointment_id: string, starts_at: datetime}
          cancelled: {booking_id: string}
        """,
    )
    assert [(p.line, p.message.split(",")[0]) for p in problems] == [
        (8, "event 'cancelled' declares no 'appointment_id'")
    ]


def test_a_rules_file_that_is_not_utf8_is_a_problem_with_its_line(tmp_path: Path):
    write_project(tmp_path, "")
    (tmp_path / "rules" / "rules.yaml").write_bytes(b"- id: r\n  description: caf\xe9\n")
    problems = collect_rules(load_project(tmp_path))[1]
    assert [(p.line, p.message) for p in problems] == [
        (2, "not UTF-8 text: save the file as UTF-8")
    ]


def test_a_wrong_kind_of_value_is_named_in_words_not_python() -> None:
    from touchflow.checks import described

    assert [described(v) for v in (None, 5, 2.5, True, [1], {"a": 1}, "x")] == [
        "empty", "the number 5", "the number 2.5", "true (a yes/no value)", "a list",
        "a mapping", "'x'",
    ]  # fmt: skip
