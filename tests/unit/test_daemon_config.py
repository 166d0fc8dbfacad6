"""The ``daemon:`` section of touchflow.yaml: defaults, durations, and mistakes at their line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from support import config_problems, load_config, the_problem

from touchflow.config.daemon import DaemonSettings


def test_a_project_without_a_daemon_section_gets_the_defaults(tmp_path: Path) -> None:
    settings = load_config(tmp_path, "name: Shop\n").daemon
    assert settings == DaemonSettings()
    assert (settings.horizon, settings.retry_first, settings.retry_max) == (
        timedelta(days=2),
        timedelta(minutes=1),
        timedelta(hours=1),
    )
    assert (settings.claim_timeout, settings.shutdown_grace, settings.watch_every) == (
        timedelta(minutes=5),
        timedelta(seconds=30),
        timedelta(seconds=2),
    )


def test_an_empty_daemon_section_keeps_the_defaults(tmp_path: Path) -> None:
    assert load_config(tmp_path, "daemon: {}\n").daemon == DaemonSettings()


def test_every_daemon_setting_reads_periods_and_seconds(tmp_path: Path) -> None:
    settings = load_config(
        tmp_path,
        """\
        daemon:
          horizon: 2 days
          replan_every: 90 minutes
          catch_up: 2 weeks
          claim_timeout: 10 minutes
          retry_first: 30 seconds
          retry_max: 1 hour
          shutdown_grace: 45s
          watch_every: 1 second
        """,
    ).daemon
    assert settings == DaemonSettings(
        horizon=timedelta(days=2),
        replan_every=timedelta(minutes=90),
        catch_up=timedelta(weeks=2),
        claim_timeout=timedelta(minutes=10),
        retry_first=timedelta(seconds=30),
        retry_max=timedelta(hours=1),
        shutdown_grace=timedelta(seconds=45),
        watch_every=timedelta(seconds=1),
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30 seconds", timedelta(seconds=30)),
        ("30 secs", timedelta(seconds=30)),
        ("30s", timedelta(seconds=30)),
        ("2 days", timedelta(days=2)),
        ("1 day", timedelta(days=1)),
        ("24 hours", timedelta(hours=24)),
        ("90 minutes", timedelta(minutes=90)),
        ("10 mins", timedelta(minutes=10)),
        ("2 weeks", timedelta(weeks=2)),
    ],
)
def test_a_period_is_read_in_the_unit_it_names(
    tmp_path: Path, text: str, expected: timedelta
) -> None:
    assert load_config(tmp_path, f"daemon:\n  horizon: {text}\n").daemon.horizon == expected


def test_an_unknown_daemon_key_suggests_the_closest_one_at_its_line(tmp_path: Path) -> None:
    where, message = the_problem(
        config_problems(
            tmp_path,
            """\
            name: Shop
            daemon:
              horizon: 2 days
              retry_frist: 1 minute
            """,
        )
    )
    assert where == "touchflow.yaml:4"
    assert "unknown key 'retry_frist' in daemon" in message
    assert 'did you mean "retry_first"?' in message


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("soon", "cannot read period 'soon'"),
        ("0 seconds", "cannot read period '0 seconds'"),
        ("0 minutes", "must be longer than zero"),
        ("3 business days", "cannot read period"),
        ("30", "period must be text"),
    ],
)
def test_an_unreadable_period_is_reported_at_its_line(
    tmp_path: Path, value: str, words: str
) -> None:
    where, message = the_problem(
        config_problems(
            tmp_path,
            f"""\
            name: Shop
            daemon:
              horizon: 2 days
              claim_timeout: {value}
            """,
        )
    )
    assert where == "touchflow.yaml:4"
    assert message.startswith("daemon.claim_timeout: ")
    assert words in message


def test_retry_max_shorter_than_retry_first_is_an_error(tmp_path: Path) -> None:
    where, message = the_problem(
        config_problems(
            tmp_path,
            """\
            name: Shop
            daemon:
              retry_first: 10 minutes
              retry_max: 5 minutes
            """,
        )
    )
    assert where == "touchflow.yaml:3"  # the daemon section, like other cross-field checks
    assert message == "daemon.retry_max must not be shorter than daemon.retry_first"


def test_retry_first_longer_than_the_default_retry_max_is_an_error(tmp_path: Path) -> None:
    where, message = the_problem(config_problems(tmp_path, "daemon:\n  retry_first: 2 hours\n"))
    assert where == "touchflow.yaml:2"
    assert "retry_max must not be shorter than daemon.retry_first" in message


def test_retry_max_equal_to_retry_first_is_fine(tmp_path: Path) -> None:
    settings = load_config(
        tmp_path, "daemon:\n  retry_first: 5 minutes\n  retry_max: 300 seconds\n"
    )
    assert settings.daemon.retry_first == settings.daemon.retry_max == timedelta(minutes=5)


def test_a_daemon_section_that_is_not_a_mapping_is_an_error(tmp_path: Path) -> None:
    where, message = the_problem(config_problems(tmp_path, "name: Shop\ndaemon: fast\n"))
    assert where == "touchflow.yaml:2"
    assert "daemon must be a mapping" in message


def test_the_worker_process_is_on_by_default_and_can_be_turned_off(tmp_path: Path) -> None:
    assert DaemonSettings().worker_process is True
    settings = load_config(tmp_path, "daemon:\n  worker_process: false\n").daemon
    assert settings == DaemonSettings(worker_process=False)


@pytest.mark.parametrize("value", ["yes", "1", "off", "2 days"])
def test_worker_process_must_be_true_or_false(tmp_path: Path, value: str) -> None:
    where, message = the_problem(
        config_problems(tmp_path, f"name: Shop\ndaemon:\n  worker_process: '{value}'\n")
    )
    assert where == "touchflow.yaml:3"
    assert message == f"daemon.worker_process must be true or false, not '{value}'"


def test_plan_workers_is_auto_by_default_and_takes_a_number(tmp_path: Path) -> None:
    assert DaemonSettings().plan_workers is None
    assert load_config(tmp_path, "daemon:\n  plan_workers: auto\n").daemon.plan_workers is None
    assert load_config(tmp_path, "daemon:\n  plan_workers: 3\n").daemon.plan_workers == 3
    assert load_config(tmp_path, "daemon:\n  plan_workers: 1\n").daemon.plan_workers == 1
    assert load_config(tmp_path, "daemon:\n  plan_workers: 64\n").daemon.plan_workers == 64


@pytest.mark.parametrize("value", ["0", "-2", "65", "2.5", "'many'", "true", "'3'"])
def test_plan_workers_must_be_auto_or_a_whole_number_from_one(tmp_path: Path, value: str) -> None:
    where, message = the_problem(
        config_problems(
            tmp_path, f"name: Shop\ndaemon:\n  horizon: 2 days\n  plan_workers: {value}\n"
        )
    )
    assert where == "touchflow.yaml:4"
    assert message.startswith("daemon.plan_workers must be auto or a whole number of processes")
    assert message.endswith(f", not {yaml_value(value)!r}")


def yaml_value(text: str) -> object:
    return yaml.safe_load(text)
