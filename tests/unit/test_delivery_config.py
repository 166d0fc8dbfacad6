"""The `delivery:` section of touchflow.yaml: defaults, problems with their lines, secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import config_problems, load_config

from touchflow.channels.factory import open_channel, open_email_channel
from touchflow.channels.maildir import MaildirChannel
from touchflow.channels.smtp import SmtpChannel
from touchflow.config.delivery import (
    ChannelConfigError,
    ChannelKind,
    DeliverySettings,
    DkimSettings,
    SmtpSettings,
    TlsMode,
)
from touchflow.config.webhook import WebhookSettings


def problems(root: Path, config_yaml: str) -> list[str]:
    """Every problem as ``line: message``."""
    found = config_problems(root, config_yaml)
    assert all(p.path == "touchflow.yaml" for p in found)
    return [f"{p.line}: {p.message}" for p in found]


def the_problem(root: Path, config_yaml: str) -> str:
    found = problems(root, config_yaml)
    assert len(found) == 1, "expected one problem, got:\n" + "\n".join(found)
    return found[0]


# --- defaults ------------------------------------------------------------------------


def test_without_a_delivery_section_messages_go_to_the_local_maildir(tmp_path: Path) -> None:
    delivery = load_config(tmp_path, "name: Lumen Studio\n").delivery
    assert delivery == DeliverySettings()
    assert delivery.channel is ChannelKind.MAILDIR
    channel = open_email_channel(delivery, root=tmp_path, environ={})
    assert isinstance(channel, MaildirChannel)
    assert channel.path == tmp_path / ".touchflow" / "maildir"


def test_a_maildir_path_is_relative_to_the_project(tmp_path: Path) -> None:
    delivery = load_config(tmp_path, "delivery:\n  maildir: out/mail\n").delivery
    root = tmp_path.resolve()
    assert delivery.maildir == root / "out" / "mail"
    assert delivery.maildir.is_absolute()
    assert load_config(tmp_path, "delivery:\n  maildir: /var/mail/tf\n").delivery.maildir == Path(
        "/var/mail/tf"
    )


def test_an_smtp_block_selects_smtp_with_defaults(tmp_path: Path) -> None:
    delivery = load_config(tmp_path, "delivery:\n  smtp:\n    host: smtp.lumen.example\n").delivery
    assert delivery.channel is ChannelKind.SMTP
    assert delivery.smtp == SmtpSettings(
        host="smtp.lumen.example",
        port=587,
        tls=TlsMode.STARTTLS,
        timeout=30.0,
        connections=4,
        rate=None,
    )
    channel = open_email_channel(delivery, root=tmp_path, environ={})
    assert isinstance(channel, SmtpChannel)
    assert channel.name == "smtp smtp.lumen.example:587"


@pytest.mark.parametrize(("tls", "port"), [("starttls", 587), ("implicit", 465), ("none", 25)])
def test_the_default_port_follows_tls(tmp_path: Path, tls: str, port: int) -> None:
    delivery = load_config(
        tmp_path, f"delivery:\n  smtp: {{host: relay.example, tls: {tls}}}\n"
    ).delivery
    assert delivery.smtp is not None
    assert (delivery.smtp.tls, delivery.smtp.port) == (TlsMode(tls), port)


def test_every_smtp_key_is_read(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "ca.pem").write_text("CA\n")
    (tmp_path / "dkim.pem").write_text("KEY\n")
    delivery = load_config(
        tmp_path,
        """\
        delivery:
          channel: maildir          # the smtp block stays, switched off
          smtp:
            host: smtp.lumen.example
            port: 2525
            tls: implicit
            ca_file: certs/ca.pem
            username_env: LUMEN_SMTP_USER
            password_env: LUMEN_SMTP_PASSWORD
            timeout: 12.5
            connections: 8
            rate: 50
            helo: mail.lumen.example
          dkim:
            selector: mail2026
            domain: lumen.example
            key_file: dkim.pem
        """,
    ).delivery
    root = tmp_path.resolve()
    assert delivery.channel is ChannelKind.MAILDIR
    assert delivery.smtp == SmtpSettings(
        host="smtp.lumen.example",
        port=2525,
        tls=TlsMode.IMPLICIT,
        ca_file=root / "certs" / "ca.pem",
        username_env="LUMEN_SMTP_USER",
        password_env="LUMEN_SMTP_PASSWORD",
        timeout=12.5,
        connections=8,
        rate=50.0,
        helo="mail.lumen.example",
    )
    assert delivery.dkim == DkimSettings(
        selector="mail2026", domain="lumen.example", key_file=root / "dkim.pem"
    )


# --- problems, each with its line ------------------------------------------------


@pytest.mark.parametrize(
    ("yaml", "expected"),
    [
        pytest.param(
            "delivery:\n  chanel: smtp\n",
            "2: unknown key 'chanel' in delivery — did you mean \"channel\"? "
            "(allowed: channel, maildir, smtp, dkim, webhook, sms)",
            id="unknown-key",
        ),
        pytest.param(
            "delivery:\n  channel: pigeon\n",
            "2: delivery.channel must be maildir or smtp, not 'pigeon'",
            id="bad-channel",
        ),
        pytest.param(
            "delivery:\n  channel: smtp\n",
            "2: delivery.channel is smtp but there is no delivery.smtp block; "
            "add one with at least `host:` (or use channel: maildir)",
            id="smtp-without-block",
        ),
        pytest.param(
            "delivery: smtp\n",
            "1: delivery must be a mapping (key: value lines), not 'smtp'",
            id="not-a-mapping",
        ),
        pytest.param(
            "delivery:\n  smtp:\n    port: 25\n",
            # Like every "missing key" in touchflow.yaml: at the mapping's first line.
            "3: delivery.smtp is missing required key 'host'",
            id="no-host",
        ),
        pytest.param(
            "delivery:\n  smtp:\n    hots: relay.example\n",
            "3: unknown key 'hots' in delivery.smtp — did you mean \"host\"? (allowed: host, "
            "port, tls, ca_file, username_env, password_env, timeout, connections, rate, helo)",
            id="misspelt-host-reported-once",
        ),
        pytest.param(
            "delivery:\n  smtp:\n    host: relay.example:587\n",
            "3: delivery.smtp.host is a host name without the port; write the port under "
            "`port:`, not 'relay.example:587'",
            id="host-with-port",
        ),
        pytest.param(
            "delivery:\n  smtp:\n    host: smtp://relay.example\n",
            "3: delivery.smtp.host must be a host name or IP address like smtp.example.com, "
            "not 'smtp://relay.example'",
            id="host-url",
        ),
        pytest.param(
            "delivery:\n  smtp:\n    host: relay.example\n    tls: yes please\n",
            "4: delivery.smtp.tls must be starttls, implicit or none, not 'yes please'",
            id="bad-tls",
        ),
        pytest.param(
            "delivery:\n  smtp:\n    host: relay.example\n    port: 70000\n",
            "4: delivery.smtp.port must be a whole number from 1 to 65535, not 70000",
            id="port-range",
        ),
        pytest.param(
            "delivery:\n  smtp:\n    host: relay.example\n    timeout: 0\n",
            "4: delivery.smtp.timeout must be a number > 0 (seconds), not 0",
            id="zero-timeout",
        ),
        pytest.param(
            "delivery:\n  smtp:\n    host: relay.example\n    timeout: 30s\n",
            "4: delivery.smtp.timeout must be a number > 0 (seconds), not '30s'",
            id="timeout-with-unit",
        ),
        pytest.param(
            "delivery:\n  smtp:\n    host: relay.example\n    connections: 0\n",
            "4: delivery.smtp.connections must be a whole number ≥ 1, not 0",
            id="zero-connections",
        ),
        pytest.param(
            "delivery:\n  smtp:\n    host: relay.example\n    rate: -5\n",
            "4: delivery.smtp.rate must be a number > 0 (messages per second), not -5",
            id="negative-rate",
        ),
        pytest.param(
            "delivery:\n  smtp:\n    host: relay.example\n    ca_file: missing.pem\n",
            "4: delivery.smtp.ca_file: no such file '{root}/missing.pem' (a path relative to "
            "the project directory, or an absolute one)",
            id="missing-ca-file",
        ),
        pytest.param(
            "delivery:\n  smtp:\n    host: relay.example\n    username_env: SMTP_USER\n",
            "4: delivery.smtp.username_env needs delivery.smtp.password_env too: "
            "give both (to log in) or neither",
            id="username-without-password",
        ),
        pytest.param(
            "delivery:\n  smtp:\n    host: relay.example\n    helo: my host\n",
            "4: delivery.smtp.helo must be a DNS name like mail.example.com, not 'my host'",
            id="bad-helo",
        ),
    ],
)
def test_delivery_problems(tmp_path: Path, yaml: str, expected: str) -> None:
    root = tmp_path.resolve()
    assert the_problem(tmp_path, yaml) == expected.format(root=root)


HOOK = "delivery:\n  webhook:\n    url: {url}\n    secret_env: {env}\n"


def test_a_webhook_block_reads_url_secret_name_and_defaults(tmp_path: Path) -> None:
    yaml = HOOK.format(url="https://hooks.example.com/t?x=1", env="TF_HOOK")
    webhook = load_config(tmp_path, yaml + "    timeout: 2.5\n").delivery.webhook
    assert webhook == WebhookSettings(
        url="https://hooks.example.com/t?x=1", secret_env="TF_HOOK", timeout=2.5, connections=4
    )
    assert webhook.shown_url == "https://hooks.example.com/t"
    local = HOOK.format(url="http://127.0.0.1:8080/hook", env="TF_HOOK")
    assert load_config(tmp_path, local).delivery.webhook is not None


@pytest.mark.parametrize(
    ("url", "env", "expected"),
    [
        pytest.param(
            "http://hooks.example.com/t", "TF_HOOK",
            "3: delivery.webhook.url must use https:// (plain http:// only to 127.0.0.1, ::1 "
            "or localhost, for a receiver on this machine)",
            id="plain-http-elsewhere",
        ),
        pytest.param(
            "ftp://hooks.example.com/t", "TF_HOOK",
            "3: delivery.webhook.url must be an https:// URL like "
            "https://hooks.example.com/touchflow",
            id="not-http",
        ),
        pytest.param(
            "https://me:s3cret@hooks.example.com/t", "TF_HOOK",
            "3: delivery.webhook.url must not carry a user name or password: the requests "
            "are signed instead",
            id="password-in-url",
        ),
        pytest.param(
            "https://hooks.example.com/t", "whsec_abc123",
            "4: delivery.webhook.secret_env names an environment variable, e.g. "
            "TOUCHFLOW_WEBHOOK_SECRET (capital letters, digits and _); never put the secret "
            "itself in touchflow.yaml",
            id="secret-itself",
        ),
    ],
)  # fmt: skip
def test_webhook_problems_name_the_line_and_never_repeat_a_secret(
    tmp_path: Path, url: str, env: str, expected: str
) -> None:
    found = the_problem(tmp_path, HOOK.format(url=url, env=env))
    assert found == expected
    assert "s3cret" not in found and "whsec_abc123" not in found


def test_a_webhook_needs_a_url_and_a_secret_name_and_each_problem_is_told(
    tmp_path: Path,
) -> None:
    assert problems(tmp_path, "delivery:\n  webhook:\n    timeout: 0\n") == [
        "3: delivery.webhook is missing required key 'url'",
        "3: delivery.webhook is missing required key 'secret_env'",
        "3: delivery.webhook.timeout must be a number > 0 (seconds), not 0",
    ]


@pytest.mark.parametrize("secret", ["hunter2", "Tr0ub4dor&3", "smtp_password", "x y"])
def test_a_password_written_as_a_variable_name_is_never_repeated(
    tmp_path: Path, secret: str
) -> None:
    yaml = (
        "delivery:\n  smtp:\n    host: relay.example\n"
        f"    username_env: SMTP_USER\n    password_env: '{secret}'\n"
    )
    message = the_problem(tmp_path, yaml)
    assert message == (
        "5: delivery.smtp.password_env names an environment variable, e.g. "
        "TOUCHFLOW_SMTP_PASSWORD (capital letters, digits and _); never put the password "
        "itself in touchflow.yaml"
    )
    assert secret not in message


def test_a_password_key_is_reported_without_its_value(tmp_path: Path) -> None:
    message = the_problem(
        tmp_path, "delivery:\n  smtp:\n    host: relay.example\n    password: hunter2\n"
    )
    assert message.startswith("4: unknown key 'password' in delivery.smtp")
    assert 'did you mean "password_env"?' in message
    assert "hunter2" not in message


def test_dkim_needs_all_three_keys_and_an_existing_key_file(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    found = problems(
        tmp_path,
        """\
        delivery:
          dkim:
            selector: mail2026
            key_file: keys/dkim.pem
        """,
    )
    assert found == [
        "3: delivery.dkim is missing required key 'domain'",
        f"4: delivery.dkim.key_file: no such file '{root}/keys/dkim.pem' (a path relative "
        "to the project directory, or an absolute one)",
    ]


def test_every_delivery_problem_is_reported_at_once(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """\
        delivery:
          channel: smtp
          smtp:
            host: relay.example
            port: many
            tls: always
            connections: 1.5
          dkim:
            selector: "bad selector"
            domain: lumen.example
        """,
    )
    assert sorted(found) == [
        "5: delivery.smtp.port must be a whole number from 1 to 65535, not 'many'",
        "6: delivery.smtp.tls must be starttls, implicit or none, not 'always'",
        "7: delivery.smtp.connections must be a whole number ≥ 1, not 1.5",
        "9: delivery.dkim is missing required key 'key_file'",
        "9: delivery.dkim.selector must be a DNS name like mail2026, not 'bad selector'",
    ]


# --- from settings to a channel --------------------------------------------------


def test_opening_smtp_reads_the_credentials_it_names(tmp_path: Path) -> None:
    smtp = SmtpSettings(
        host="relay.example",
        port=25,
        tls=TlsMode.NONE,
        username_env="SMTP_USER",
        password_env="SMTP_PASSWORD",
    )
    settings = DeliverySettings(channel=ChannelKind.SMTP, smtp=smtp)
    environ = {"SMTP_USER": "mailer", "SMTP_PASSWORD": "s3cret"}
    assert isinstance(open_email_channel(settings, root=tmp_path, environ=environ), SmtpChannel)
    with pytest.raises(ChannelConfigError, match="SMTP_PASSWORD, which is not set") as caught:
        open_channel(settings, root=tmp_path, environ={"SMTP_USER": "mailer"})
    assert "mailer" not in str(caught.value)


def test_opening_smtp_without_smtp_settings_is_a_config_error(tmp_path: Path) -> None:
    settings = DeliverySettings(channel=ChannelKind.SMTP)
    with pytest.raises(ChannelConfigError, match=r"delivery\.smtp is not set"):
        open_channel(settings, root=tmp_path, environ={})
