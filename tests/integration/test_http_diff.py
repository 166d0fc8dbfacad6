"""GET /v1/diff: `touchflow diff --format json` of the daemon's project against a git
revision of its directory, from the live store."""

from __future__ import annotations

import subprocess
from pathlib import Path

from http_support import AUTH, NOW, Setup, event

SUBJECT = "message_templates/coupon/subject.txt"


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=Ops", "-c", "user.email=ops@example.com", *args],
        cwd=root, check=True, capture_output=True,
    )  # fmt: skip


def commit_other_subject(root: Path) -> None:
    """HEAD has another subject for the coupon; the daemon runs the files as they are."""
    path = root / SUBJECT
    running = path.read_text(encoding="utf-8")
    path.write_text("Your coupon {{ event.data.coupon_code }} expires tomorrow", encoding="utf-8")
    (root / ".gitignore").write_text(".touchflow/\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "the subject before")
    path.write_text(running, encoding="utf-8")


async def test_the_answer_lists_the_keys_whose_message_changed(api: Setup) -> None:
    issued = event("k1", "coupon_issued", coupon_code="X1", expires_at="2026-11-25T08:00:00Z")
    assert (await api.client.post("/v1/events", json=issued, headers=AUTH)).status_code == 201
    commit_other_subject(api.root)
    answer = await api.client.get("/v1/diff", params={"now": NOW.isoformat()}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    document = answer.json()
    assert document["base"]["rev"] == "HEAD"
    assert document["changed"] is True
    (change,) = document["changes"]
    assert (change["key"], change["kinds"]) == ("coupon:c1:X1:1d-before", ["content"])
    assert change["content"]["subject"][-2:] == [
        "-Your coupon X1 expires tomorrow",
        "+Your coupon X1 expires soon",
    ]
    assert document["outbox"] == []


async def test_nothing_changed_since_head(api: Setup) -> None:
    commit_other_subject(api.root)
    git(api.root, "commit", "-qam", "the subject now")
    answer = await api.client.get("/v1/diff", headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["changed"], answer.json()["changes"]) == (False, [])


async def test_wrong_queries_name_the_parameter(api: Setup) -> None:
    answer = await api.client.get("/v1/diff", headers=AUTH)
    assert answer.status_code == 422
    assert "not in a git repository" in answer.json()["message"]
    commit_other_subject(api.root)
    for params, field in (
        ({"base": "no-such-rev"}, "base"),
        ({"days": "0"}, "days"),
        ({"now": "yesterday"}, "now"),
        ({"rule": "nope"}, "rule"),
        ({"category": "spam"}, "category"),
        ({"base_dir": "/tmp"}, "base_dir"),
    ):
        answer = await api.client.get("/v1/diff", params=params, headers=AUTH)
        assert answer.status_code == 422, params
        assert [p["field"] for p in answer.json()["problems"]] == [field]
    answer = await api.client.get("/v1/diff", params={"customer": "c-999"}, headers=AUTH)
    assert answer.status_code == 404


async def test_a_token_is_required(api: Setup) -> None:
    assert (await api.client.get("/v1/diff")).status_code == 401
