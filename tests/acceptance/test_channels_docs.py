"""docs/channels.md as written: the webhook set up in a copy of the sample, and the
signature check in Python run against a request the webhook channel really sent."""

from __future__ import annotations

import hashlib
import hmac
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from docs_support import REPO, example_blocks, run_example, steps, touchflow_on_path
from webhook_support import Receiver, serve

from touchflow.channels import Envelope, Outcome
from touchflow.channels.webhook import WebhookChannel
from touchflow.config.webhook import WebhookSettings

SECRET = "whsec-docs-example"


@pytest.mark.skipif(shutil.which("jq") is None, reason="the example pipes into jq")
def test_setting_up_the_webhook_in_the_sample_works_as_docs_channels_md_shows(
    sample: Path, tmp_path: Path
) -> None:
    found = steps(example_blocks("channels.md", "### Set up the webhook"))
    assert [out is None for _, out in found] == [True, False], "the example lost a step"
    run_example(found, sample, touchflow_on_path(tmp_path))


def documented_verify() -> Callable[..., bool]:
    text = (REPO / "docs" / "channels.md").read_text(encoding="utf-8")
    section = text.split("### Verify the signature", 1)[1].split("\n### ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    scope: dict[str, Any] = {}
    exec(compile(code, "docs/channels.md", "exec"), scope)
    verify: Callable[..., bool] = scope["verify"]
    return verify


async def test_the_documented_check_accepts_a_real_request_and_refuses_forgeries() -> None:
    verify = documented_verify()
    receiver = Receiver([200])
    body = b'{"version":1,"key":"inquiry-to-webhook:c-006:q-3001:0"}'
    with serve(receiver) as url:
        settings = WebhookSettings(url=url, secret_env="SECRET")
        channel = WebhookChannel(settings, environ={"SECRET": SECRET})
        try:
            envelope = Envelope(key="k", sender="", recipient="", data=body, message_id="k")
            assert (await channel.send(envelope)).outcome is Outcome.SENT
        finally:
            await channel.aclose()
    (got,) = receiver.received
    header = got.headers["touchflow-signature"]
    assert verify(SECRET, header, got.body)
    assert not verify(SECRET, header, got.body.replace(b"c-006", b"c-007"))  # tampered
    assert not verify("another-secret", header, got.body)
    assert not verify(SECRET, "v1=abc", got.body)  # no timestamp
    # A recorded request replayed later: signed properly, but too old.
    old = int(time.time()) - 3600
    mac = hmac.new(SECRET.encode(), f"{old}.".encode() + got.body, hashlib.sha256)
    assert not verify(SECRET, f"t={old},v1={mac.hexdigest()}", got.body)
