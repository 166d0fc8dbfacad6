"""The ``http:`` section of touchflow.yaml and the secrets it needs from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import config_problems, load_config, the_problem

from touchflow.config.http import (
    API_TOKEN_ENV,
    UNSUBSCRIBE_SECRET_ENV,
    HttpConfigError,
    HttpSettings,
    read_secrets,
)

GOOD = {API_TOKEN_ENV: "t" * 32, UNSUBSCRIBE_SECRET_ENV: "s" * 32}


def test_without_an_http_section_nothing_is_served(tmp_path: Path) -> None:
    assert load_config(tmp_path, "name: Shop\n").http is None


@pytest.mark.parametrize("section", ["http:\n", "http: {}\n"])
def test_http_alone_serves_on_loopback_with_the_defaults(tmp_path: Path, section: str) -> None:
    settings = load_config(tmp_path, section).http
    assert settings == HttpSettings()
    assert (settings.host, settings.port, settings.public_url) == ("127.0.0.1", 8787, None)
    assert (settings.max_body_bytes, settings.max_batch) == (1_048_576, 1000)


def test_every_http_setting(tmp_path: Path) -> None:
    settings = load_config(
        tmp_path,
        """\
        http:
          host: 0.0.0.0
          port: 9000
          public_url: https://touch.example.com/
          max_body_bytes: 65536
          max_batch: 50
        """,
    ).http
    assert settings == HttpSettings(
        host="0.0.0.0",
        port=9000,
        public_url="https://touch.example.com",  # without the trailing slash
        max_body_bytes=65536,
        max_batch=50,
    )


@pytest.mark.parametrize("host", ["::1", "localhost", "touch.internal"])
def test_hosts_may_be_names_or_ipv6(tmp_path: Path, host: str) -> None:
    settings = load_config(tmp_path, f'http:\n  host: "{host}"\n').http
    assert settings is not None and settings.host == host


@pytest.mark.parametrize(
    ("yaml", "where", "message"),
    [
        ("http:\n  port: 70000\n", "touchflow.yaml:2",
         "http.port must be a whole number from 0 to 65535, not 70000"),
        ("http:\n  port: '80'\n", "touchflow.yaml:2",
         "http.port must be a whole number from 0 to 65535, not '80'"),
        ("http:\n  max_batch: 0\n", "touchflow.yaml:2",
         "http.max_batch must be a whole number ≥ 1, not 0"),
        ("http:\n  max_body_bytes: 10\n", "touchflow.yaml:2",
         "http.max_body_bytes must be a whole number ≥ 1024, not 10"),
        ("http:\n  host: 'a b'\n", "touchflow.yaml:2",
         "http.host must be an IP address or host name, not 'a b'"),
        ("http:\n  publc_url: https://x.example\n", "touchflow.yaml:2",
         "unknown key 'publc_url' in http — did you mean \"public_url\"? "
         "(allowed: host, port, public_url, max_body_bytes, max_batch)"),
        ("http: [8787]\n", "touchflow.yaml:1",
         "http must be a mapping (key: value lines), not a list"),
    ],
)  # fmt: skip
def test_a_bad_http_setting_is_reported_at_its_line(
    tmp_path: Path, yaml: str, where: str, message: str
) -> None:
    assert the_problem(config_problems(tmp_path, yaml)) == (where, message)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://touch.example.com", "must be an https:// (or http://) address"),
        ("touch.example.com", "must be an https:// (or http://) address"),
        ("https://touch.example.com/a b", "must be an https:// (or http://) address"),
        ("https://touch.example.com/<x>", "must be an https:// (or http://) address"),
        ("https://touch.example.com/?a=1", "must not have a ?query or #fragment"),
        ("https://touch.example.com/" + "x" * 300, "must be at most 300 characters long"),
    ],
)
def test_a_public_url_must_be_a_plain_web_address(tmp_path: Path, url: str, why: str) -> None:
    where, message = the_problem(config_problems(tmp_path, f'http:\n  public_url: "{url}"\n'))
    assert where == "touchflow.yaml:2"
    assert message.startswith(f"http.public_url {why}, like https://touchflow.example.com")


def test_both_secrets_come_from_the_environment() -> None:
    secrets = read_secrets(GOOD)
    assert (secrets.token, secrets.unsubscribe_key) == ("t" * 32, "s" * 32)
    assert "t" * 32 not in repr(secrets)
    assert "s" * 32 not in repr(secrets)


@pytest.mark.parametrize(
    ("environ", "named", "state"),
    [
        ({UNSUBSCRIBE_SECRET_ENV: "s" * 32}, API_TOKEN_ENV, "it is not set"),
        ({**GOOD, API_TOKEN_ENV: "  "}, API_TOKEN_ENV, "it is empty"),
        ({API_TOKEN_ENV: "t" * 32}, UNSUBSCRIBE_SECRET_ENV, "it is not set"),
        ({**GOOD, UNSUBSCRIBE_SECRET_ENV: "short"}, UNSUBSCRIBE_SECRET_ENV, "too short"),
    ],
)
def test_a_missing_or_weak_secret_names_its_variable_and_never_its_value(
    environ: dict[str, str], named: str, state: str
) -> None:
    with pytest.raises(HttpConfigError) as caught:
        read_secrets(environ)
    message = str(caught.value)
    assert named in message
    assert state in message
    assert "openssl rand -hex 32" in message
    assert "short" not in message.replace("too short", "")
