"""`touchflow validate` on touchflow.yaml: every mistake is one `file:line: message` problem."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest
from support import config_problems, load_config, the_problem, write_project

from touchflow.config.lifecycle import Lifecycle
from touchflow.config.project_config import load_project
from touchflow.errors import ProblemsError
from touchflow.models import Category


def test_unknown_top_level_key_suggests_the_closest_one(tmp_path: Path) -> None:
    where, message = the_problem(
        config_problems(
            tmp_path,
            """\
            name: Lumen Studio
            timezon: Europe/Berlin
            """,
        )
    )
    assert where == "touchflow.yaml:2"
    assert "unknown key 'timezon' in touchflow.yaml" in message
    assert 'did you mean "timezone"?' in message


def test_invalid_yaml_is_reported_at_the_line_of_the_error(tmp_path: Path) -> None:
    where, message = the_problem(
        config_problems(
            tmp_path,
            """\
            name: Lumen Studio
            locale: en
            country: DE: Germany
            """,
        )
    )
    assert where == "touchflow.yaml:3"
    assert "invalid YAML" in message


def test_unknown_time_zone_suggests_the_closest_one(tmp_path: Path) -> None:
    where, message = the_problem(
        config_problems(
            tmp_path,
            """\
            name: Lumen Studio
            timezone: Europe/Berln
            """,
        )
    )
    assert where == "touchflow.yaml:2"
    assert "unknown time zone 'Europe/Berln'" in message
    assert 'did you mean "Europe/Berlin"?' in message


@pytest.mark.parametrize("country", ["Germany", "DEU", "D", "42"])
def test_country_must_be_a_two_letter_code(tmp_path: Path, country: str) -> None:
    where, message = the_problem(
        config_problems(tmp_path, f'name: Lumen Studio\ncountry: "{country}"\n')
    )
    assert where == "touchflow.yaml:2"
    assert f"country must be an ISO 3166 two-letter code like DE or US, not {country!r}" in message


@pytest.mark.parametrize(
    ("send_time", "words"),
    [
        ("9am", "cannot read time of day '9am'; write it as \"HH:MM\""),
        ('"25:00"', "time of day '25:00' is out of range"),
        ('"9.30"', "cannot read time of day '9.30'"),
    ],
)
def test_send_time_must_be_a_time_of_day(tmp_path: Path, send_time: str, words: str) -> None:
    where, message = the_problem(
        config_problems(tmp_path, f"name: Lumen Studio\nsend_time: {send_time}\n")
    )
    assert where == "touchflow.yaml:2"
    assert message.startswith("send_time: ")
    assert words in message


def test_unquoted_times_stay_times_not_sexagesimal_numbers(tmp_path: Path) -> None:
    # YAML 1.1 reads 09:00 as 9 * 60 = 540; touchflow must read the time the user wrote.
    config = load_config(
        tmp_path,
        """\
        send_time: 09:00
        vars:
          opens_at: 08:30
        policies:
          marketing:
            send_window: {from: 07:45, to: 21:00}
        """,
    )
    assert config.send_time == time(9, 0)
    assert config.vars["opens_at"] == "08:30"
    window = config.policies[Category.MARKETING].send_window
    assert window is not None
    assert (window.start, window.end) == (time(7, 45), time(21, 0))


def test_unknown_weekday_lists_the_weekdays(tmp_path: Path) -> None:
    where, message = the_problem(
        config_problems(
            tmp_path,
            """\
            name: Lumen Studio
            business_days: [mon, tue, wendsday, thu, fri]
            """,
        )
    )
    assert where == "touchflow.yaml:2"
    assert message == (
        "unknown weekday 'wendsday' (use mon, tue, wed, thu, fri, sat, sun)"
        ' — did you mean "wednesday"?'
    )


def test_full_weekday_names_are_read(tmp_path: Path) -> None:
    config = load_config(tmp_path, "business_days: [Monday, tuesday, WED]\n")
    assert config.business_days == frozenset({0, 1, 2})


def test_unknown_weekday_in_a_block_list_is_reported_at_its_item(tmp_path: Path) -> None:
    where, message = the_problem(
        config_problems(
            tmp_path,
            """\
            business_days:
              - mon
              - tue
              - wendsday
            """,
        )
    )
    assert where == "touchflow.yaml:4"
    assert "unknown weekday 'wendsday'" in message


def test_a_word_that_only_starts_like_a_weekday_is_not_one(tmp_path: Path) -> None:
    where, message = the_problem(config_problems(tmp_path, "business_days: [monkey, fri]\n"))
    assert where == "touchflow.yaml:1"
    assert "unknown weekday 'monkey'" in message


@pytest.mark.parametrize(
    ("cap", "line", "words"),
    [
        pytest.param(
            "category: marketing\n    max: three\n    per: 7 days",
            3,
            "cap max must be a whole number ≥ 0, not 'three'",
            id="max-not-int",
        ),
        pytest.param(
            "category: marketing\n    max: 3\n    per: 7 dayz",
            4,
            "cap per: cannot read period '7 dayz'; write e.g. \"7 days\"",
            id="bad-period",
        ),
        pytest.param(
            "category: marketing\n    max: 3\n    per: 0 days",
            4,
            "cap per: period '0 days' must be longer than zero",
            id="zero-period",
        ),
        pytest.param(
            "category: marketting\n    max: 3\n    per: 7 days",
            2,
            "cap category must be marketing or transactional, not 'marketting'",
            id="bad-category",
        ),
    ],
)
def test_cap_problems(tmp_path: Path, cap: str, line: int, words: str) -> None:
    where, message = the_problem(config_problems(tmp_path, f"caps:\n  - {cap}\n"))
    assert where == f"touchflow.yaml:{line}"
    assert words in message


def test_every_problem_of_one_cap_is_reported(tmp_path: Path) -> None:
    problems = config_problems(
        tmp_path,
        """\
        caps:
          - category: marketting
            max: three
            per: 7 dayz
        """,
    )
    assert [f"{p.path}:{p.line}" for p in problems] == [
        "touchflow.yaml:2",
        "touchflow.yaml:3",
        "touchflow.yaml:4",
    ]


def test_a_cap_that_is_not_a_mapping_is_reported_at_its_item(tmp_path: Path) -> None:
    where, message = the_problem(
        config_problems(
            tmp_path,
            """\
            caps:
              - category: marketing
                max: 3
                per: 7 days
              - 3 per week
            """,
        )
    )
    assert where == "touchflow.yaml:5"
    assert "a cap must be a mapping" in message


def test_a_valid_cap_is_read(tmp_path: Path) -> None:
    config = load_config(tmp_path, "caps:\n  - {category: marketing, max: 3, per: 2 weeks}\n")
    (cap,) = config.caps
    assert (cap.category, cap.max, cap.per) == (Category.MARKETING, 3, timedelta(weeks=2))


def test_unknown_customer_attribute_type_suggests_the_closest_one(tmp_path: Path) -> None:
    where, message = the_problem(
        config_problems(
            tmp_path,
            """\
            customer_attributes:
              tier: string
              tags: lsit
            """,
        )
    )
    assert where == "touchflow.yaml:3"
    assert "customer_attributes.tags: unknown type 'lsit'" in message
    assert 'did you mean "list"?' in message
    assert "(types: string, int, float, bool, date, datetime, list, any)" in message


def test_unknown_event_field_type_suggests_the_closest_one(tmp_path: Path) -> None:
    where, message = the_problem(
        config_problems(
            tmp_path,
            """\
            events:
              signed_up: {}
              appointment_booked:
                appointment_id: string
                starts_at: datetme
            """,
        )
    )
    assert where == "touchflow.yaml:5"
    assert "events.appointment_booked.starts_at: unknown type 'datetme'" in message
    assert 'did you mean "datetime"?' in message


def test_event_declared_as_a_list_must_be_a_mapping(tmp_path: Path) -> None:
    where, message = the_problem(
        config_problems(
            tmp_path,
            """\
            events:
              signed_up: {}
              coupon_issued: [coupon_code, expires_at]
            """,
        )
    )
    assert where == "touchflow.yaml:3"
    assert "events.coupon_issued must be a mapping" in message


def test_lifecycle_long_time_must_come_before_integral(tmp_path: Path) -> None:
    # The default integral_years is 5.
    where, message = the_problem(config_problems(tmp_path, "lifecycle:\n  long_time_years: 6\n"))
    assert where == "touchflow.yaml:2"
    assert message == "lifecycle.long_time_years (6) must be smaller than integral_years (5)"


def test_lifecycle_clash_is_reported_at_long_time_years(tmp_path: Path) -> None:
    where, message = the_problem(
        config_problems(
            tmp_path,
            """\
            lifecycle:
              new_days: 90
              long_time_years: 5
              integral_years: 5
            """,
        )
    )
    assert where == "touchflow.yaml:3"
    assert "must be smaller than integral_years" in message


def test_lifecycle_thresholds_must_be_positive_whole_numbers(tmp_path: Path) -> None:
    problems = config_problems(
        tmp_path,
        """\
        lifecycle:
          new_days: 0
          long_time_years: -1
          integral_years: five
        """,
    )
    assert [str(p) for p in problems] == [
        "touchflow.yaml:2: lifecycle.new_days must be a whole number > 0",
        "touchflow.yaml:3: lifecycle.long_time_years must be a whole number > 0",
        "touchflow.yaml:4: lifecycle.integral_years must be a whole number > 0",
    ]


def test_valid_lifecycle_is_read(tmp_path: Path) -> None:
    config = load_config(
        tmp_path, "lifecycle: {new_days: 30, long_time_years: 3, integral_years: 10}\n"
    )
    assert config.lifecycle == Lifecycle(new_days=30, long_time_years=3, integral_years=10)


def test_unknown_policy_category_suggests_the_closest_one(tmp_path: Path) -> None:
    where, message = the_problem(
        config_problems(
            tmp_path,
            """\
            policies:
              marketing: {holidays: next_day}
              transactionl: {holidays: send}
            """,
        )
    )
    assert where == "touchflow.yaml:3"
    assert "unknown key 'transactionl' in policies" in message
    assert 'did you mean "transactional"?' in message


def test_a_directory_without_rules_says_how_to_make_it_a_project(tmp_path: Path) -> None:
    (tmp_path / "touchflow.yaml").write_text("name: Lumen Studio\n", encoding="utf-8")

    with pytest.raises(ProblemsError) as caught:
        load_project(tmp_path)

    (problem,) = caught.value.problems
    assert problem.path == str(tmp_path.resolve())
    assert problem.line is None
    assert "no rules/ directory" in problem.message
    assert "touchflow init DIR" in problem.message
    assert "--project DIR" in problem.message


def test_every_problem_of_the_config_is_reported_in_one_run(tmp_path: Path) -> None:
    problems = config_problems(
        tmp_path,
        """\
        name: Lumen Studio
        timezone: Europe/Berln
        country: Germany
        send_time: 9am
        business_days: [mon, funday]
        customer_attributes: {tier: strin}
        lifecycle: {new_days: 0}
        sample_dir: sample
        """,  # sample_dir: an unknown key (it is `sample`)
    )
    assert sorted(p.line or 0 for p in problems) == [2, 3, 4, 5, 6, 7, 8]
    assert all(p.path == "touchflow.yaml" for p in problems)


def test_a_missing_config_gives_the_defaults(tmp_path: Path) -> None:
    write_project(tmp_path, "")
    config = load_project(tmp_path)
    assert (config.timezone, config.send_time, config.caps) == ("UTC", time(9), ())


@pytest.mark.parametrize(
    ("value", "path"),
    [
        (".touchflow/store.sqlite3", ".touchflow/store.sqlite3"),
        ("sqlite:///data/shop.db", "data/shop.db"),
        ("sqlite:////srv/shop/store.db", "/srv/shop/store.db"),
    ],
)
def test_the_store_is_a_path_or_a_sqlite_url(tmp_path: Path, value: str, path: str) -> None:
    config = load_config(tmp_path, f"store: {value}\n")
    assert config.store_file() == tmp_path / path


@pytest.mark.parametrize(
    ("value", "url"),
    [
        ("postgresql://shop@db.internal:5433/shop", "postgresql://shop@db.internal:5433/shop"),
        ("postgres://db.internal/shop", "postgresql://db.internal/shop"),
        ("postgresql+psycopg://shop@db/shop", "postgresql://shop@db/shop"),
    ],
)
def test_the_store_is_a_postgresql_url_without_a_password(
    tmp_path: Path, value: str, url: str
) -> None:
    config = load_config(tmp_path, f"store: {value}\n")
    assert config.store_location(environ={}) == url


def test_touchflow_store_url_wins_over_the_yaml_and_may_carry_a_password(tmp_path: Path) -> None:
    config = load_config(tmp_path, "store: postgresql://shop@db/shop\n")
    secret = {"TOUCHFLOW_STORE_URL": "postgresql://shop:s3cret@other/shop"}
    assert config.store_location(environ=secret) == "postgresql://shop:s3cret@other/shop"
    relative = {"TOUCHFLOW_STORE_URL": "state/shop.db"}
    assert config.store_location(environ=relative) == tmp_path / "state/shop.db"
    assert (
        config.store_location(environ={"TOUCHFLOW_STORE_URL": " "}) == "postgresql://shop@db/shop"
    )


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (
            "postgresql://shop:secret@db.internal/shop",
            "store: postgresql://db.internal/shop: a password does not belong in touchflow.yaml",
        ),
        (
            "postgresql://shop@db.internal/shop?password=secret",
            "store: postgresql://db.internal/shop: a password does not belong in touchflow.yaml",
        ),
        ("mysql://root@localhost/shop", "store: cannot open store mysql://…: a store is a"),
        ("sqlite://data.db", "store: cannot open store sqlite://…: write the path of a file"),
        ("", "store: expected the path of a file, like .touchflow/store.sqlite3"),
        ("[a, b]", "store: expected the path of a file"),
    ],
)
def test_a_store_no_store_can_open_is_a_problem_at_its_line(
    tmp_path: Path, value: str, says: str
) -> None:
    where, message = the_problem(config_problems(tmp_path, f"name: Shop\nstore: {value}\n"))
    assert where == "touchflow.yaml:2"
    assert message.startswith(says)
    assert "secret" not in message  # a database URL's password is never repeated
