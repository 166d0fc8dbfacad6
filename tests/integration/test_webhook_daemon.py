"""`touchflow run` posting a webhook rule's touchpoints to a receiver on 127.0.0.1.

A real daemon process: the rule's template rendered into the JSON document, signed,
keyed; the outbox, `why` and the preview naming the channel; a customer without an
email address still posted for; and a daemon killed while its POST is being answered
posts again on the next run with the same Idempotency-Key (nothing lost).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path

from daemon_support import (
    ANA,
    CONFIG,
    DaemonProcess,
    inquiry,
    invoke,
    maildir_messages,
    outbox,
    poll,
    touchflow,
    write_project,
)
from webhook_support import HOLD, Receiver, serve

NOW = "2026-11-23T08:00:00Z"
SECRET = "whsec-daemon-test-42"
ENV = {"TOUCHFLOW_WEBHOOK_SECRET": SECRET}

RULES = """\
- id: ack
  category: transactional
  trigger: {event: inquiry_received, occurrence: event.data.inquiry_id}
  action: {template: ack}

- id: ack-hook
  category: transactional
  trigger: {event: inquiry_received, occurrence: event.data.inquiry_id}
  action: {template: ack, channel: webhook}
"""
HOOK_ONLY = RULES.split("\n\n")[1]


def webhook_config(url: str) -> str:
    return CONFIG + (
        f"delivery:\n  webhook:\n    url: {url}\n    secret_env: TOUCHFLOW_WEBHOOK_SECRET\n"
        "    timeout: 5\n"
    )


def project(tmp_path: Path, url: str, *, rules: str = RULES) -> Path:
    return write_project(
        tmp_path,
        customers=[ANA, {"id": "c2", "first_name": "Bo"}],  # Bo has no email address
        events=[inquiry(1, subject="Opening hours?"), inquiry(2, customer="c2", subject="Price")],
        rules=rules,
        config=webhook_config(url),
    )


def run_once(root: Path) -> str:
    env = {**os.environ, **ENV}
    return touchflow("run", "--once", "--now", NOW, cwd=root, env=env).stdout


def test_run_once_posts_the_webhook_rule_s_touchpoints_signed_and_keyed(tmp_path: Path) -> None:
    receiver = Receiver([200])
    with serve(receiver) as url:
        root = project(tmp_path, url)
        run_once(root)
    posts = {got.headers["idempotency-key"]: got for got in receiver.received}
    assert sorted(posts) == ["ack-hook:c1:q-1:0", "ack-hook:c2:q-2:0"]
    got = posts["ack-hook:c1:q-1:0"]
    document = json.loads(got.body)
    assert document["version"] == 1
    assert (document["key"], document["rule"], document["customer_id"]) == (
        "ack-hook:c1:q-1:0", "ack-hook", "c1"
    )  # fmt: skip
    assert (document["category"], document["occurrence"], document["template"]) == (
        "transactional", "q-1", "ack"
    )  # fmt: skip
    assert document["message"] == {
        "subject": "We got your question: Opening hours?",
        "text": "Hello Ana, thank you.",
        "html": None,
    }
    assert document["due_at"] == "2026-11-23T07:30:00Z"
    assert document["sent_at"].startswith("2026-11-23T08:0")
    stamp, v1 = (part.split("=", 1)[1] for part in got.headers["touchflow-signature"].split(","))
    mac = hmac.new(SECRET.encode(), stamp.encode() + b"." + got.body, hashlib.sha256)
    assert hmac.compare_digest(v1, mac.hexdigest())
    # Email went as before, only to the customer who has an address.
    assert [m["To"] for m in maildir_messages(root)] == ["ana@example.com"]
    rows = {row["key"]: row for row in outbox(root)}
    assert {key: (row["channel"], row["state"]) for key, row in rows.items()} == {
        "ack:c1:q-1:0": ("email", "sent"),
        "ack:c2:q-2:0": ("email", "suppressed"),  # no address
        "ack-hook:c1:q-1:0": ("webhook", "sent"),
        "ack-hook:c2:q-2:0": ("webhook", "sent"),
    }
    assert rows["ack-hook:c1:q-1:0"]["message_id"] == "ack-hook:c1:q-1:0"
    assert rows["ack-hook:c1:q-1:0"]["to"] is None


def test_a_refusal_fails_the_row_with_the_status_and_a_5xx_retries_it(tmp_path: Path) -> None:
    receiver = Receiver([(400, {}, b'{"error": "unknown customer"}'), (503, {}, b"busy")])
    with serve(receiver) as url:
        root = project(tmp_path, url, rules=HOOK_ONLY)
        run_once(root)
    rows = {row["customer"]: row for row in outbox(root)}
    states = {c: (r["state"], r["reason"]) for c, r in rows.items()}
    failed = [r for r in rows.values() if r["state"] == "failed"]
    retrying = [r for r in rows.values() if r["state"] == "retry"]
    assert len(failed) == len(retrying) == 1, states
    assert failed[0]["reason"] == "rejected"
    assert failed[0]["detail"] == f'{url} answered 400: {{"error": "unknown customer"}}'
    assert retrying[0]["reason"] == "temporary_failure"
    assert retrying[0]["detail"] == f"{url} answered 503: busy"


def test_a_webhook_rule_without_delivery_webhook_does_not_validate(tmp_path: Path) -> None:
    root = write_project(tmp_path, customers=[ANA], rules=HOOK_ONLY)
    result = touchflow("validate", cwd=root, check=False)
    assert result.returncode != 0
    assert "rules/rules.yaml:4: channel webhook needs a webhook to post to" in result.stderr


def test_a_kill_while_the_post_is_answered_posts_again_with_the_same_key(tmp_path: Path) -> None:
    receiver = Receiver([HOLD, 200])
    with serve(receiver) as url:
        root = project(tmp_path, url, rules=HOOK_ONLY)
        (root / "sample" / "events.jsonl").write_text(
            json.dumps(inquiry(1, subject="Opening hours?")) + "\n", encoding="utf-8"
        )
        daemon = DaemonProcess(root, "--now", NOW, env=ENV).start()
        assert poll(receiver.held.is_set, timeout=60), daemon.log()
        daemon.kill()  # the receiver has the POST; the daemon never records its answer
        receiver.release()
        run_once(root)
    keys = [got.headers["idempotency-key"] for got in receiver.received]
    assert keys == ["ack-hook:c1:q-1:0", "ack-hook:c1:q-1:0"]
    first, second = (json.loads(got.body) for got in receiver.received)
    assert first["key"] == second["key"] and first["message"] == second["message"]
    (row,) = outbox(root)
    assert (row["channel"], row["state"], row["attempts"]) == ("webhook", "sent", 1)


def test_a_daemon_without_the_secret_stops_at_once_naming_the_variable(tmp_path: Path) -> None:
    with serve(Receiver()) as url:
        root = project(tmp_path, url, rules=HOOK_ONLY)
        env = {k: v for k, v in os.environ.items() if k != "TOUCHFLOW_WEBHOOK_SECRET"}
        result = touchflow("run", "--once", "--now", NOW, cwd=root, env=env, check=False)
    assert result.returncode != 0
    assert "TOUCHFLOW_WEBHOOK_SECRET, which is not set in the environment" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_preview_why_and_the_outbox_table_name_each_touchpoint_s_channel(
    tmp_path: Path,
) -> None:
    with serve(Receiver([200])) as url:
        root = project(tmp_path, url)
        run_once(root)
    early = "2026-11-23T07:00:00Z"  # before the inquiries: both rules still to come
    shown = json.loads(
        invoke(root, "preview", "--now", early, "--days", "1", "--format", "json").output
    )
    assert {(tp["rule"], tp["customer"]): (tp["channel"], tp["to"]) for tp in shown} == {
        ("ack", "c1"): ("email", "ana@example.com"),
        ("ack-hook", "c1"): ("webhook", None),
        ("ack-hook", "c2"): ("webhook", None),
    }
    table = invoke(root, "preview", "--now", early, "--days", "1").output
    assert "channel" in table and "webhook" in table
    why = json.loads(invoke(root, "why", "c2", "--now", NOW, "--format", "json").output)
    rules = {rule["rule"]: rule for rule in why["rules"]}
    assert (rules["ack"]["channel"], rules["ack-hook"]["channel"]) == ("email", "webhook")
    (posted,) = rules["ack-hook"]["touchpoints"]
    assert (posted["outbox"]["channel"], posted["outbox"]["state"]) == ("webhook", "sent")
    text = invoke(root, "why", "c2", "--now", NOW).output
    assert "ack-hook (transactional, event inquiry_received, by webhook)" in text
    listing = invoke(root, "outbox", "--state", "sent").output
    assert "channel" in listing and "webhook" in listing
