"""`touchflow run` with Twilio's `inbound_url`: replies to texts as Twilio posts them.

A real daemon on a real port; the forms are signed as Twilio signs them (the
signature function itself is checked against Twilio's vectors in
tests/unit/test_twilio_signature.py). Nothing here reaches Twilio: the API
address is a port on 127.0.0.1 where nothing listens, and no text falls due.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from daemon_support import ANA, REPO, DaemonProcess, by_key, outbox, touchflow
from docs_support import touchflow_on_path
from http_support import ENV, HTTP_CONFIG, HTTP_RULES, NOW, metric, write_http_project
from smtp_support import free_port

from touchflow.http.sms_inbound import TWIML
from touchflow.http.twilio_signature import signature
from touchflow.models import Customer

TWILIO_TOKEN = "twilio-auth-token-0123456789abcdef"
TWILIO_ENV = {
    **ENV,
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
}
PUBLIC = "https://touch.example.com/v1/sms/inbound"
NUMBER = "+4915112345678"


def sms_config(inbound_url: str | None = PUBLIC) -> str:
    inbound = f"    inbound_url: {inbound_url}\n" if inbound_url else ""
    return HTTP_CONFIG + (
        "delivery:\n  sms:\n    provider: twilio\n"
        '    from: "+15017122661"\n'
        f"    api_url: http://127.0.0.1:{free_port()}\n" + inbound
    )


def signed_text(body: str, *, url: str = PUBLIC, token: str = TWILIO_TOKEN) -> dict[str, object]:
    """What httpx needs to post Twilio's form for a text ``body`` from NUMBER."""
    params = [("AccountSid", "AC" + "0" * 32), ("Body", body), ("From", NUMBER),
              ("FromCity", ""), ("To", "+15017122661")]  # fmt: skip
    return {
        "content": urlencode(params).encode(),
        "headers": {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature(token, url, params),
        },
    }


def suppressions(project: Path) -> list[dict[str, object]]:
    out = touchflow("suppressions", "list", "--format", "json", cwd=project).stdout
    found: list[dict[str, object]] = json.loads(out)["suppressions"]
    return found


@pytest.fixture
def running(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[DaemonProcess]:
    """`touchflow run --now NOW` with the config the test's ``config`` marker names."""
    config = getattr(request, "param", sms_config())
    project = write_http_project(tmp_path, config=config)
    process = DaemonProcess(project, "--now", NOW.isoformat(), env=TWILIO_ENV).start()
    try:
        yield process
    finally:
        process.stop()


@pytest.mark.slow
def test_stop_and_start_texted_to_a_running_daemon(running: DaemonProcess) -> None:
    url = running.http_url() + "/v1/sms/inbound"
    project = running.project
    with httpx.Client(timeout=10) as client:
        forged = client.post(url, **signed_text("STOP", token="not-the-token-0123456789"))
        assert forged.status_code == 403
        assert suppressions(project) == []

        stop = client.post(url, **signed_text("Stop "))
        assert (stop.status_code, stop.text) == (200, TWIML)
        assert stop.headers["content-type"].startswith("text/xml")
        [entry] = suppressions(project)
        assert (entry["email"], entry["scope"], entry["reason"]) == (NUMBER, "all", "texted STOP")

        start = client.post(url, **signed_text("start"))
        assert (start.status_code, start.text) == (200, TWIML)
        assert suppressions(project) == []

        metrics = client.get(running.http_url() + "/metrics").text
        for action, count in (("stop", 1), ("start", 1), ("other", 0), ("refused", 1)):
            assert metric(metrics, f'touchflow_sms_replies_total{{action="{action}"}}') == count
    assert running.stop() == 0
    log = running.log()
    assert "SMS replies (STOP, START) at http://" in log
    assert "+49•••78 texted STOP: suppressed" in log
    assert "+49•••78 texted START: suppression lifted" in log
    assert "SMS reply refused" in log
    assert NUMBER not in log and TWILIO_TOKEN not in log


@pytest.mark.slow
@pytest.mark.parametrize(
    "running", [sms_config("http://127.0.0.1:8787/v1/sms/inbound")], indirect=True
)
def test_an_inbound_url_that_is_not_the_public_one_fails_closed(running: DaemonProcess) -> None:
    """Behind a proxy, Twilio signs the public URL: configured as the local one, every
    reply is refused (and logged), none is acted on."""
    answer = httpx.post(running.http_url() + "/v1/sms/inbound", **signed_text("STOP"))
    assert answer.status_code == 403
    assert suppressions(running.project) == []
    running.wait_for("SMS reply refused")


@pytest.mark.slow
@pytest.mark.parametrize("running", [sms_config(None)], indirect=True)
def test_without_inbound_url_there_is_no_route(running: DaemonProcess) -> None:
    answer = httpx.post(running.http_url() + "/v1/sms/inbound", **signed_text("STOP"))
    assert answer.status_code == 404
    assert "/v1/sms/inbound" not in running.log()


def test_a_missing_auth_token_stops_the_start_naming_the_variable(tmp_path: Path) -> None:
    project = write_http_project(tmp_path, config=sms_config())
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TOUCHFLOW_", "TWILIO_"))}
    environ = {**clean, **{k: v for k, v in TWILIO_ENV.items() if k != "TWILIO_AUTH_TOKEN"}}
    result = touchflow("run", cwd=project, check=False, env=environ)
    assert result.returncode == 2, result.stderr
    assert "TWILIO_AUTH_TOKEN" in result.stderr


@pytest.mark.slow
def test_the_check_in_the_docs_works_as_written(running: DaemonProcess, tmp_path: Path) -> None:
    """docs/channels.md, replies' "Check that it works": its script, run against the daemon."""
    text = (REPO / "docs" / "channels.md").read_text(encoding="utf-8")
    section = text.split("#### Check that it works", 1)[1]
    section = re.split(r"\n#{2,3} ", section, maxsplit=1)[0]  # up to the next section
    [script] = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    [shown] = re.findall(r"```console\n(.*?)```", section, flags=re.DOTALL)
    port = running.http_url().rsplit(":", 1)[1]
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TOUCHFLOW_", "TWILIO_"))}
    environ["PATH"] = f"{touchflow_on_path(tmp_path)}{os.pathsep}{environ.get('PATH', '')}"
    environ["TWILIO_AUTH_TOKEN"] = TWILIO_TOKEN
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script.replace("8787", port)],
        cwd=running.project, capture_output=True, text=True, timeout=120, env=environ,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(shown), result.stdout
    assert [s["email"] for s in suppressions(running.project)] == [NUMBER]


# --- with the SMS planner (helper B's part of issue 19) -----------------------------

SMS_RULES = HTTP_RULES.replace(
    "  send: 24 hours before\n  action: {template: reminder}",
    "  send: 24 hours before\n  action: {template: reminder, channel: sms}",
)


@pytest.mark.slow
def test_a_stop_holds_the_texts_waiting_for_the_number(tmp_path: Path) -> None:
    if "consent_sms" not in Customer.__dataclass_fields__:
        pytest.skip("needs the SMS planner (helper B)")
    ana = {**ANA, "phone": NUMBER, "consent_sms": True}
    booked = {"id": "b1", "type": "appointment_booked", "customer": "c1",
              "at": "{{ at(days=0, time='07:00', tz='UTC') }}",
              "data": {"appointment_id": "a-1",
                       "starts_at": "{{ at(days=2, time='12:00', tz='UTC') }}"}}  # fmt: skip
    project = write_http_project(tmp_path, customers=[ana], events=[booked], config=sms_config())
    (project / "rules" / "rules.yaml").write_text(SMS_RULES, encoding="utf-8")
    sms = project / "message_templates" / "reminder" / "sms.txt"
    sms.write_text("See you {{ event.data.starts_at }}.", encoding="utf-8")
    process = DaemonProcess(project, "--now", NOW.isoformat(), env=TWILIO_ENV).start()
    try:
        url = process.http_url() + "/v1/sms/inbound"
        key = "reminder:c1:a-1:24h-before"
        assert by_key(outbox(project))[key]["state"] == "pending"
        assert httpx.post(url, **signed_text("STOP"), timeout=10).status_code == 200
        deadline = time.monotonic() + 30  # the answer waits up to 1 s for the re-plan
        while by_key(outbox(project))[key]["state"] != "suppressed":
            assert time.monotonic() < deadline, by_key(outbox(project))[key]
            time.sleep(0.2)
    finally:
        assert process.stop() == 0
