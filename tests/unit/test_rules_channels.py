"""`action: {channels: [sms, email]}`: an ordered fallback, checked item by item."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import project, write_project

from touchflow.config.project_config import load_project
from touchflow.rules.loader import collect_rules

SMS = "delivery:\n  sms: {provider: folder}\n"


def problems(root: Path, action: str, config: str = SMS) -> list[str]:
    yaml = f"""\
- id: remind
  category: transactional
  trigger: {{event: booked}}
  action:
    template: t
{action}"""
    write_project(root, yaml, config)
    _, found = collect_rules(load_project(root))
    return [f"{p.line}: {p.message}" for p in found]


def test_channels_keep_their_order_and_channel_is_the_first(tmp_path: Path) -> None:
    yaml = """
- id: remind
  category: transactional
  trigger: {event: booked}
  action: {channels: [sms, email], template: t}
- id: plain
  category: transactional
  trigger: {event: booked}
  action: {channel: sms, template: t}
- id: mail
  category: transactional
  trigger: {event: booked}
  action: {template: t}
"""
    _, rules = project(tmp_path, yaml, SMS)
    assert [(r.channel, r.channels) for r in rules] == [
        ("sms", ("sms", "email")),
        ("sms", ("sms",)),
        ("email", ("email",)),
    ]


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (
            "    channels:\n      - sms\n      - fax\n",
            ["8: unknown channel 'fax'; available: email, sms, webhook"],
        ),
        (
            "    channels:\n      - sms\n      - webhook\n",
            [
                "8: channel webhook needs a webhook to post to: add delivery.webhook (url and "
                "secret_env) to touchflow.yaml, see docs/channels.md"
            ],
        ),
        (
            "    channels: [sms, email, sms]\n",
            ["6: channels lists sms twice; each is tried once"],
        ),
        (
            "    channels: []\n",
            ["6: channels must be a list of channels, e.g. [sms, email], not []"],
        ),
        (
            "    channels: sms\n",
            ["6: channels must be a list of channels, e.g. [sms, email], not 'sms'"],
        ),
        (
            "    channel: email\n    channels: [sms, email]\n",
            [
                "7: action has channel and channels: give one (channels: [sms, email] tries sms "
                "first, then email)"
            ],
        ),
    ],
)
def test_a_bad_fallback_is_reported_at_its_line(
    tmp_path: Path, action: str, expected: list[str]
) -> None:
    assert problems(tmp_path, action) == expected


def test_sms_in_channels_needs_delivery_sms(tmp_path: Path) -> None:
    [message] = problems(tmp_path, "    channels:\n      - email\n      - sms\n", config="")
    assert message.startswith("8: channel sms needs a provider to send through")
