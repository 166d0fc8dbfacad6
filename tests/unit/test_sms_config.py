"""`delivery.sms:` in touchflow.yaml: the providers, their defaults, problems with their lines."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest
from support import config_problems, load_config

from touchflow.config.sms import SmsProviderKind, SmsSettings, TwilioSettings


def problems(root: Path, config_yaml: str) -> list[str]:
    return [f"{p.line}: {p.message}" for p in config_problems(root, config_yaml)]


def test_twilio_reads_its_number_and_takes_credentials_from_the_environment(
    tmp_path: Path,
) -> None:
    yaml = 'delivery:\n  sms:\n    provider: twilio\n    from: "+15017122661"\n'
    sms = load_config(tmp_path, yaml).delivery.sms
    assert sms == SmsSettings(
        provider=SmsProviderKind.TWILIO, twilio=TwilioSettings(sender="+15017122661")
    )
    assert sms.twilio is not None
    assert (sms.twilio.account_sid_env, sms.twilio.auth_token_env) == (
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
    )
    assert sms.twilio.api_url == "https://api.twilio.com"
    assert sms.marketing_hours == (time(8), time(21))
    assert sms.max_segments == 3


def test_every_twilio_key_is_read(tmp_path: Path) -> None:
    yaml = """\
delivery:
  sms:
    provider: twilio
    messaging_service_sid: MG0123456789abcdef0123456789abcdef
    account_sid_env: SHOP_TWILIO_SID
    auth_token_env: SHOP_TWILIO_TOKEN
    api_url: http://127.0.0.1:8099/
    timeout: 2.5
    connections: 2
    inbound_url: https://touchflow.example.com/v1/sms/inbound
    max_segments: 2
    marketing_hours: {from: "09:30", to: "19:00"}
"""
    sms = load_config(tmp_path, yaml).delivery.sms
    assert sms is not None and sms.twilio is not None
    assert sms.twilio == TwilioSettings(
        messaging_service_sid="MG0123456789abcdef0123456789abcdef",
        account_sid_env="SHOP_TWILIO_SID",
        auth_token_env="SHOP_TWILIO_TOKEN",
        api_url="http://127.0.0.1:8099",
        timeout=2.5,
        connections=2,
        inbound_url="https://touchflow.example.com/v1/sms/inbound",
    )
    assert (sms.max_segments, sms.marketing_hours) == (2, (time(9, 30), time(19)))


@pytest.mark.parametrize(
    ("written", "sender"),
    [
        ('"Lumen"', "Lumen"),
        ('"Lumen Shop"', "Lumen Shop"),
        ('"L"', "L"),
        ('"Studio 54"', "Studio 54"),
        ('"24365"', "24365"),
        ("24365", "24365"),
        ('"12345678"', "12345678"),
    ],
)
def test_from_may_be_an_alphanumeric_sender_id_or_a_short_code(
    tmp_path: Path, written: str, sender: str
) -> None:
    yaml = f"delivery:\n  sms:\n    provider: twilio\n    from: {written}\n"
    sms = load_config(tmp_path, yaml).delivery.sms
    assert sms is not None and sms.twilio is not None
    assert sms.twilio.sender == sender


def test_the_folder_provider_writes_inside_the_project_by_default(tmp_path: Path) -> None:
    sms = load_config(tmp_path, "delivery:\n  sms:\n    provider: folder\n").delivery.sms
    assert sms is not None and sms.provider is SmsProviderKind.FOLDER
    assert sms.folder == tmp_path.resolve() / ".touchflow" / "sms"
    yaml = "delivery:\n  sms:\n    provider: folder\n    folder: out/texts\n"
    assert load_config(tmp_path, yaml).delivery.sms.folder == tmp_path.resolve() / "out/texts"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("provider: carrier-pigeon", "3: delivery.sms.provider must be twilio or folder"),
        ("provider: twilio", "3: delivery.sms needs exactly one of `from:`"),
        ('provider: twilio\n    from: "015017122661"', "4: delivery.sms.from must be a number"),
        ('provider: twilio\n    from: "12"', "4: delivery.sms.from must be a number"),
        ('provider: twilio\n    from: "Lumen-Studio"', "4: delivery.sms.from must be a number"),
        ('provider: twilio\n    from: "LumenStudio1"', "4: delivery.sms.from must be a number"),
        ('provider: twilio\n    from: "12345 67"', "4: delivery.sms.from must be a number"),
        (
            'provider: twilio\n    from: "+15017122661"\n    auth_token_env: s3cr3t-t0ken',
            "5: delivery.sms.auth_token_env names an environment variable",
        ),
        (
            'provider: twilio\n    from: "+15017122661"\n    api_url: http://api.example.com',
            "5: delivery.sms.api_url must use https://",
        ),
        ('provider: folder\n    from: "+15017122661"', "4: delivery.sms.from does not apply"),
        (
            'provider: twilio\n    from: "+15017122661"\n    connections: 0',
            "5: delivery.sms.connections must be a whole number ≥ 1, not 0",
        ),
        ("provider: folder\n    max_segments: 0", "4: delivery.sms.max_segments must be"),
        (
            'provider: folder\n    marketing_hours: {from: "21:00", to: "08:00"}',
            "4: delivery.sms.marketing_hours: from must come before to",
        ),
        (
            'provider: folder\n    marketing_hours: {from: 8, to: "21:00"}',
            "4: delivery.sms.marketing_hours.from: cannot read time of day",
        ),
    ],
)
def test_sms_problems_name_their_line(tmp_path: Path, body: str, expected: str) -> None:
    found = problems(tmp_path, f"delivery:\n  sms:\n    {body}\n")
    assert len(found) == 1, found
    assert found[0].startswith(expected), found


def test_a_token_written_in_place_of_its_variable_name_is_never_repeated(tmp_path: Path) -> None:
    token = "8f2e4c1b9a7d6e5f4c3b2a1908f7e6d5"
    yaml = (
        'delivery:\n  sms:\n    provider: twilio\n    from: "+15017122661"\n'
        f'    auth_token_env: "{token}"\n'
    )
    found = problems(tmp_path, yaml)
    assert found and all(token not in line for line in found)
