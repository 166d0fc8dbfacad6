"""`touchflow run` texting an SMS rule's touchpoints through a fake Twilio on 127.0.0.1.

A real daemon process: sms.txt rendered and posted as Twilio's form with Basic auth;
a customer without a phone number held; 429 retried, then sent; 21610 failing the
row and suppressing the number; a daemon killed while Twilio answers texts again on
the next run (Twilio has no idempotency key): the row is sent once in the outbox,
at most twice at Twilio.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from daemon_support import (
    ANA,
    CONFIG,
    DaemonProcess,
    inquiry,
    invoke,
    outbox,
    poll,
    touchflow,
    write_project,
)
from sms_support import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    ENV,
    HOLD,
    RATE_LIMITED,
    UNSUBSCRIBED,
    FakeTwilio,
    messages_path,
    serve,
)

NOW = "2026-11-23T08:00:00Z"
LATER = "2026-11-23T08:05:00Z"  # past the first retry's wait (retry_first: 1 minute)
NUMBER = "+4915112345678"
KEY = "ack-text:c1:q-1:0"

RULES = """\
- id: ack-text
  category: transactional
  trigger: {event: inquiry_received, occurrence: event.data.inquiry_id}
  action: {template: ack, channel: sms}
"""


def sms_config(api_url: str) -> str:
    return CONFIG + (
        f'delivery:\n  sms:\n    provider: twilio\n    from: "+15017122661"\n'
        f"    api_url: {api_url}\n    timeout: 5\n"
    )


def project(tmp_path: Path, api_url: str) -> Path:
    ana = {**ANA, "phone": NUMBER, "consent_sms": True}
    bo = {"id": "c2", "first_name": "Bo", "email": "bo@example.com"}  # no phone number
    root = write_project(
        tmp_path,
        customers=[ana, bo],
        events=[inquiry(1, subject="Opening hours?"), inquiry(2, customer="c2")],
        rules=RULES,
        config=sms_config(api_url),
    )
    text = "Hi {{ customer.first_name }}, we got your question   \n\n"
    (root / "message_templates" / "ack" / "sms.txt").write_text(text, encoding="utf-8")
    return root


def run_once(root: Path, now: str = NOW) -> str:
    """What the run printed and logged."""
    done = touchflow("run", "--once", "--now", now, cwd=root, env={**os.environ, **ENV})
    return done.stdout + done.stderr


def test_run_once_texts_through_twilio_with_its_form_and_basic_auth(tmp_path: Path) -> None:
    fake = FakeTwilio()
    with serve(fake) as api:
        root = project(tmp_path, api)
        said = run_once(root)
    (request,) = fake.requests
    assert request.path == messages_path()
    assert request.auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert request.form == {
        "To": NUMBER,
        "From": "+15017122661",
        "Body": "Hi Ana, we got your question",
    }
    rows = {row["key"]: row for row in outbox(root)}
    assert {k: (r["channel"], r["state"], r["to"]) for k, r in rows.items()} == {
        KEY: ("sms", "sent", NUMBER),
        "ack-text:c2:q-2:0": ("sms", "suppressed", None),
    }
    assert rows["ack-text:c2:q-2:0"]["detail"] == "customer has no phone number"
    assert KEY in said and AUTH_TOKEN not in said + json.dumps(rows)


def test_a_429_is_retried_after_its_wait_and_then_sent(tmp_path: Path) -> None:
    fake = FakeTwilio([RATE_LIMITED, "accept"])
    with serve(fake) as api:
        root = project(tmp_path, api)
        run_once(root)
        (row,) = outbox(root, "retry")
        assert (row["key"], row["reason"]) == (KEY, "temporary_failure")
        assert row["detail"] == "Twilio 20429 (HTTP 429): Too Many Requests"
        run_once(root, LATER)
    (row,) = outbox(root, "sent")
    assert (row["key"], row["attempts"]) == (KEY, 2)
    assert [r.form["To"] for r in fake.requests] == [NUMBER, NUMBER]


def test_21610_fails_the_row_and_suppresses_the_number(tmp_path: Path) -> None:
    fake = FakeTwilio([UNSUBSCRIBED])
    with serve(fake) as api:
        root = project(tmp_path, api)
        run_once(root)
    (row,) = outbox(root, "failed")
    assert (row["key"], row["reason"]) == (KEY, "bad_mailbox")
    assert row["detail"] == "Twilio 21610 (HTTP 400): Attempt to send to unsubscribed recipient"
    listed = invoke(root, "suppressions", "list", "--format", "json").output
    (entry,) = json.loads(listed)["suppressions"]
    assert (entry["email"], entry["scope"]) == (NUMBER, "all")
    assert entry["reason"] == (
        "unsubscribed: Twilio 21610 (HTTP 400): Attempt to send to unsubscribed recipient"
    )


def test_a_kill_while_twilio_answers_texts_again_but_the_row_is_sent_once(
    tmp_path: Path,
) -> None:
    fake = FakeTwilio([HOLD, "accept"])
    with serve(fake) as api:
        root = project(tmp_path, api)
        (root / "sample" / "events.jsonl").write_text(
            json.dumps(inquiry(1, subject="Opening hours?")) + "\n", encoding="utf-8"
        )
        daemon = DaemonProcess(root, "--now", NOW, env=ENV).start()
        assert poll(fake.held.is_set, timeout=60), daemon.log()
        daemon.kill()  # Twilio has the text; the daemon never records its answer
        fake.release()
        run_once(root)
        run_once(root, LATER)  # nothing more to send: the row is done
    texts = [(r.form["To"], r.form["Body"]) for r in fake.requests]
    assert texts == [(NUMBER, "Hi Ana, we got your question")] * 2  # at most twice
    (row,) = outbox(root)
    assert (row["channel"], row["state"], row["attempts"]) == ("sms", "sent", 1)


def test_a_daemon_without_the_token_stops_at_once_naming_the_variable(tmp_path: Path) -> None:
    with serve(FakeTwilio()) as api:
        root = project(tmp_path, api)
        env = {k: v for k, v in os.environ.items() if k != "TWILIO_AUTH_TOKEN"}
        env["TWILIO_ACCOUNT_SID"] = ACCOUNT_SID
        result = touchflow("run", "--once", "--now", NOW, cwd=root, env=env, check=False)
    assert result.returncode != 0
    assert "TWILIO_AUTH_TOKEN, which is not set in the environment" in result.stderr
    assert "Traceback" not in result.stderr and ACCOUNT_SID not in result.stderr


def test_an_sms_rule_whose_template_has_no_sms_txt_does_not_validate(tmp_path: Path) -> None:
    with serve(FakeTwilio()) as api:
        root = project(tmp_path, api)
    (root / "message_templates" / "ack" / "sms.txt").unlink()
    result = touchflow("validate", cwd=root, check=False)
    assert result.returncode != 0
    assert (
        "rules/rules.yaml:1: rule 'ack-text' uses template 'ack', which cannot be sent on its "
        "channel: sms needs sms.txt in message_templates/ack/"
    ) in result.stderr
